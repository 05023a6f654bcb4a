"""The monitoring components' type tokens, by which the policy pack and the report find them among the resources.

Apart from `rules` (which builds on the stack's alert settings) so that the policy pack loads no stack model.
"""

from __future__ import annotations

MONITORING_TYPES = ("gpufleet:monitoring:GmpMonitoring", "gpufleet:monitoring:PrometheusStack",
                    "gpufleet:monitoring:OpenShiftMonitoring")
"""The components whose outputs say, per cluster, which monitoring stack, rules and receivers it has."""
CAPACITY_SIGNALS_TYPE = "gpufleet:gcp:CapacitySignals"
"""GKE's capacity alerts in Cloud Monitoring (`components.gcp.capacity_signals`), per cluster, beside its stack."""
