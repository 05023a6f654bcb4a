"""Google Cloud: the fleet VPC, GKE clusters and GKE GPU node pools."""
