"""The stack configuration: its typed model (`model`, one module per platform section) and its validation.

`load_fleet` turns a stack's raw `gpu-fleet:*` values into a validated `Fleet`, or raises `ConfigError`
with one `Issue` (key path, value, hint) per problem.
"""

from components.config.errors import ConfigError, Issue
from components.config.model import Fleet
from components.config.validate import load_fleet

__all__ = ["ConfigError", "Fleet", "Issue", "load_fleet"]
