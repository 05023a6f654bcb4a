"""Tests of .github/workflows and .ci (the CI a team adopts)."""
