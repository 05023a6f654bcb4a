"""NFD and the NVIDIA GPU Operator through OLM, then their instances once the operators' CRDs exist.

OLM installs an operator some minutes after its Subscription is created, and only then do the
NodeFeatureDiscovery and ClusterPolicy kinds exist. pulumi-kubernetes retries an unknown kind for about 30
seconds only, so each Subscription carries `pulumi.com/waitFor` on `status.installedCSV` (the provider waits
until OLM reports the CSV installed, up to `pulumi.com/timeoutSeconds`) and each instance depends on its
Subscription: the ordering holds on a real `pulumi up`, not just in the plan. The channel is pinned. Approval is
Automatic unless configured Manual. OLM creates every InstallPlan of a Manual Subscription unapproved, the first
one included (operator-framework/operator-lifecycle-manager `pkg/controller/operators/catalog/operator.go`
`ensureInstallPlan`: `Approved: installPlanApproval == ApprovalAutomatic`), so a Manual Subscription pins
`startingCSV` (the first InstallPlan installs exactly that CSV) and someone approves that plan while `pulumi up`
waits for `installedCSV` (README); every later upgrade then waits for its own approval. The catalog source is
config (mirrored or disconnected clusters name theirs). gpu-fleet does not wait for the ClusterPolicy to be
`ready`: that needs GPU nodes, which scale from zero.
"""

from __future__ import annotations

from typing import Any

import yaml

from components.config.openshift import Approval, Operator
from components.config.openshift_rules import starting_csv
from components.kubernetes.dcgm_counters import COUNTERS_CONFIGMAP, counters_csv
from components.kubernetes.monitoring.prometheus_stack import SCRAPE_RELABELINGS
from components.openshift.olm import WAIT_FOR_CSV

OLM_API = "operators.coreos.com"
SUBSCRIPTION_API = f"{OLM_API}/v1alpha1"
OPERATOR_GROUP_API = f"{OLM_API}/v1"
NFD_API = "nfd.openshift.io/v1"
CLUSTER_POLICY_API = "nvidia.com/v1"
NFD_NAMESPACE = "openshift-nfd"
GPU_NAMESPACE = "nvidia-gpu-operator"
"""The GPU Operator CSV's suggested namespace; only there does the operator manage its monitoring label itself."""
NFD_SOURCE = "redhat-operators"
GPU_OPERATOR_SOURCE = "certified-operators"
CLUSTER_MONITORING = "openshift.io/cluster-monitoring"
"""Platform Prometheus scrapes ServiceMonitors (the operator's dcgm-exporter one) only in namespaces with it."""
MANAGED_BY = "gpu-fleet"
"""`app.kubernetes.io/managed-by` of gpu-fleet's Subscriptions: discover tells them from operators installed by hand."""
INSTALL_TIMEOUT_SECONDS = 900


def namespace(name: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": {"name": name, CLUSTER_MONITORING: "true"}}}


def operator_group(name: str, ns: str) -> dict[str, Any]:
    """Both operators support only OwnNamespace/SingleNamespace install modes."""
    return {"metadata": {"name": name, "namespace": ns}, "spec": {"targetNamespaces": [ns]}}


def subscription(name: str, ns: str, *, package: str, op: Operator, default_source: str,
                 csv: str | None) -> dict[str, Any]:
    spec: dict[str, Any] = {"channel": op.channel, "name": package, "source": op.source or default_source,
                            "sourceNamespace": op.source_namespace,
                            "installPlanApproval": "Manual" if op.approval is Approval.MANUAL else "Automatic"}
    if csv is not None:
        spec["startingCSV"] = csv
    return {"metadata": {"name": name, "namespace": ns, "labels": {"app.kubernetes.io/managed-by": MANAGED_BY},
                         "annotations": {"pulumi.com/waitFor": WAIT_FOR_CSV,
                                         "pulumi.com/timeoutSeconds": str(INSTALL_TIMEOUT_SECONDS)}},
            "spec": spec}


def nfd_subscription(op: Operator) -> dict[str, Any]:
    return subscription("nfd", NFD_NAMESPACE, package="nfd", op=op, default_source=NFD_SOURCE,
                        csv=starting_csv(op, gpu_operator=False))


def gpu_operator_subscription(op: Operator) -> dict[str, Any]:
    # The pinned CSV only belongs to the pinned channel; another channel starts at its own head.
    return subscription("gpu-operator-certified", GPU_NAMESPACE, package="gpu-operator-certified", op=op,
                        default_source=GPU_OPERATOR_SOURCE, csv=starting_csv(op, gpu_operator=True))


NFD_WORKER_CONFIG = {
    # Label PCI devices of the network (0200), display (03) and processing-accelerator (12) classes by vendor:
    # NVIDIA GPUs get feature.node.kubernetes.io/pci-10de.present=true, which the GPU Operator selects on.
    "sources": {"pci": {"deviceClassWhitelist": ["0200", "03", "12"], "deviceLabelFields": ["vendor"]}},
}


def node_feature_discovery() -> dict[str, Any]:
    """`operand.image` stays empty: the operator then runs its own, matching NFD image across upgrades."""
    return {"metadata": {"name": "nfd-instance", "namespace": NFD_NAMESPACE},
            "spec": {"workerConfig": {"configData": yaml.safe_dump(NFD_WORKER_CONFIG, sort_keys=True)}}}


OPERATOR_COUNTERS_KEY = "dcgm-metrics.csv"
"""The key the GPU Operator reads a `dcgmExporter.config.name` ConfigMap's counters from (NVIDIA/gpu-operator
`controllers/object_controls.go` MetricsConfigFileName), pointing `DCGM_EXPORTER_COLLECTORS` at it."""


def dcgm_counters_metadata() -> dict[str, Any]:
    """The counters ConfigMap beside the operator, which its ClusterPolicy names in `dcgmExporter.config.name`."""
    return {"name": COUNTERS_CONFIGMAP, "namespace": GPU_NAMESPACE,
            "labels": {"app.kubernetes.io/managed-by": MANAGED_BY}}


def dcgm_counters_data() -> dict[str, str]:
    """gpu-fleet's dcgm-exporter counters file (components/kubernetes/dcgm_counters.py)."""
    return {OPERATOR_COUNTERS_KEY: counters_csv()}


def cluster_policy(device_plugin_config: str | None = None) -> dict[str, Any]:
    """The OpenShift ClusterPolicy of the v26.7.0 bundle's example, with the nine keys the CRD requires.

    The driver is built with the OpenShift Driver Toolkit (`operator.use_ocp_driver_toolkit`); dcgm-exporter's
    ServiceMonitor is on, so cluster monitoring scrapes it. Operands tolerate the `nvidia.com/gpu` taint by
    default; `daemonsets.tolerations` would replace those defaults, so it is left unset. `device_plugin_config`
    names the ConfigMap of time-slicing configs, when a pool shares its GPUs.
    """
    plugin: dict[str, Any] = {"enabled": True}
    if device_plugin_config is not None:
        plugin["config"] = {"name": device_plugin_config}
    return {
        "metadata": {"name": "gpu-cluster-policy"},
        "spec": {
            "operator": {"use_ocp_driver_toolkit": True},
            "daemonsets": {"updateStrategy": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "1"}},
            "driver": {"enabled": True, "kernelModuleType": "auto",
                       "upgradePolicy": {"autoUpgrade": True, "maxParallelUpgrades": 1, "maxUnavailable": "25%",
                                         "drain": {"enable": False}}},
            "toolkit": {"enabled": True},
            "devicePlugin": plugin,
            "dcgm": {"enabled": True},
            # Relabelled as gpu-fleet scrapes dcgm-exporter everywhere: the workload's namespace stays `namespace`
            # (not `exported_namespace`), which the cost rules and dashboards group by.
            "dcgmExporter": {"enabled": True, "serviceMonitor": {"enabled": True, "honorLabels": False,
                                                                 "relabelings": SCRAPE_RELABELINGS},
                             "config": {"name": COUNTERS_CONFIGMAP}},
            "gfd": {"enabled": True},
            "nodeStatusExporter": {"enabled": True},
            "migManager": {"enabled": True},
            "mig": {"strategy": "single"},
            "cdi": {"enabled": True},
            "validator": {"plugin": {"env": []}},
            "sandboxWorkloads": {"enabled": False},
        },
    }
