"""Tests of components/aws (EKS, Karpenter, EFA)."""
