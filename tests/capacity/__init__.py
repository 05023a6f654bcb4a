"""Tests of components/capacity (GPUs, cost and budgets)."""
