"""In-cluster software every platform installs through a Kubernetes provider it is handed.

Nothing here imports a cloud wing (`components.gcp`, `components.aws`, ...): platform facts arrive as arguments.
"""
