"""Tests of components/kubernetes (in-cluster software, monitoring and alerting)."""
