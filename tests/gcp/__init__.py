"""Tests of components/gcp (GKE, its networks and GPU fabric)."""
