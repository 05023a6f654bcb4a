"""Tests of components/config (the stack model and its validation)."""
