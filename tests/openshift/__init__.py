"""Tests of components/openshift and `gpu-fleet openshift discover`."""
