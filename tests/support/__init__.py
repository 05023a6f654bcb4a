"""Helpers shared by test modules (never imported from product code)."""
