"""How long the pull-request comment may be: GitHub's limit and the share `--markdown` fills by default.

Its own module, with no imports, so the command line can show the default in `plan --help` without loading the
renderers (`gpufleet/layout.py` lays the comment out to these numbers).
"""

COMMENT_LIMIT = 65_536
"""GitHub refuses an issue or pull-request comment body longer than 65,536 characters (REST API: 422 "body is too
long (maximum is 65536 characters)")."""
COMMENT_BUDGET = 64_000
"""What `--markdown` fills by default: the rest is room for the workflow's marker line and exit note."""
