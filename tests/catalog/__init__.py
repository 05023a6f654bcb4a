"""Tests of components/catalog (the GPU catalog and its prices)."""
