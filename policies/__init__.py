"""gpu-fleet's CrossGuard policies: GPU quota, budget, spot share, runtime caps and GKE security."""
