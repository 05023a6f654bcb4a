"""Helpers shared by test modules (fixtures and tool harnesses that are not tests themselves)."""
