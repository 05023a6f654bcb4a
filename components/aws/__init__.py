"""The AWS wing: a VPC per EKS cluster, the cluster with its IAM, add-ons and system nodes, Karpenter, GPU pools."""
