"""gpu-fleet's tests, one package per wing of the code (tests/test_layout.py keeps it so)."""
