"""OpenShift (self-managed, on AWS): GPU machines, node tuning, autoscaling and the NVIDIA operators via OLM."""
