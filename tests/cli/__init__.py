"""Tests of gpufleet/ (the gpu-fleet command, its reports and the review comment)."""
