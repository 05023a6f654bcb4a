"""gpu-fleet: reads the stack's configuration once, then composes each platform section it holds."""

import pulumi

from components.capacity.pricing import PriceOverrides
from components.config import ConfigError
from infra import budgets, config, dashboards, eks, gke, openshift

try:
    stack = config.load()
except ConfigError as err:
    raise pulumi.RunError(f"invalid stack configuration ({err.count}):\n{err}") from None

fleet = stack.fleet
labels = {"environment": fleet.environment, "managed-by": "gpu-fleet", **fleet.labels}
teams = fleet.budgets.teams if fleet.budgets is not None else []

PriceOverrides("prices", fleet.prices, discounts=fleet.discounts)

# Budgets first: GKE's Cloud Monitoring alerts notify the budget's on-call channels.
budget_channels = {}
if fleet.budgets is not None:
    budget_channels = budgets.compose(fleet, project=stack.gcp_project, labels=labels, credentials=stack.credentials)

if fleet.gke is not None:
    gcp = gke.compose(fleet.gke, project=stack.gcp_project, labels=labels, observability=fleet.observability,
                      credentials=stack.credentials, prices=fleet.prices, budget_channels=budget_channels,
                      discounts=fleet.discounts)
    pulumi.export("network", gcp.network_id)
    pulumi.export("clusters", gcp.cluster_names)
    pulumi.export("kubeconfigs", pulumi.Output.secret(gcp.kubeconfigs))

if fleet.eks is not None:
    aws = eks.compose(fleet.eks, labels=labels, dashboards=fleet.dashboards, observability=fleet.observability,
                      credentials=stack.credentials, prices=fleet.prices, discounts=fleet.discounts,
                      teams=teams)
    pulumi.export("eks_clusters", aws.cluster_names)
    pulumi.export("eks_kubeconfigs", pulumi.Output.secret(aws.kubeconfigs))

if fleet.openshift is not None:
    console = fleet.dashboards is not None and fleet.dashboards.openshift_console
    pulumi.export("openshift_machine_sets", openshift.compose(fleet.openshift, credentials=stack.credentials,
                                                              labels=labels, console_dashboard=console,
                                                              observability=fleet.observability, prices=fleet.prices,
                                                              discounts=fleet.discounts,
                                                              teams=teams))
dashboards.compose(fleet, project=stack.gcp_project)
