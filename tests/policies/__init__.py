"""Tests of policies/ (the CrossGuard pack)."""
