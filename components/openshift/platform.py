"""GPU capacity on an existing OpenShift cluster, declared through its own Kubernetes API.

One component per cluster: a Kubernetes provider from the cluster's kubeconfig (a secret or a path), the
Tuned profiles and (for kernel arguments and units) MachineConfigPools with MachineConfigs, a MachineSet,
MachineAutoscaler and MachineHealthCheck per GPU pool and zone, the cluster autoscaler's GPU limits, NFD and the
GPU Operator through OLM with their instances (and the device plugin's sharing configs), and the shared
add-ons (priority classes, team namespaces with GPU quotas). Every object has an explicit name;
`openshift-machine-api` and the cluster itself are never declared.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.catalog.price_book import PriceBook
from components.config.budgets import TeamBudget
from components.config.observability import Observability
from components.config.openshift import AutoscalerMode, Capacity, OpenShiftCluster
from components.kubernetes.conventions import LABEL_CLUSTER
from components.kubernetes.gpu_addons import GpuAddons, GpuAddonsArgs
from components.kubernetes.monitoring.budget_guard import with_team_guard
from components.kubernetes.monitoring.dashboard_configmap import openshift_console_dashboard
from components.kubernetes.monitoring.rules import MetricSource, RuleGroup, RuleTargets, gpu_rule_groups
from components.kubernetes.monitoring.targets import PoolPricing, gpu_prices, nic_bandwidths
from components.openshift import autoscaler, machine_config, machines, operators, sharing
from components.openshift import tuning as tuning_
from components.openshift.monitoring import OpenShiftMonitoring, OpenShiftMonitoringArgs

TYPE = "gpufleet:openshift:GpuPlatform"


@dataclass(frozen=True)
class OpenShiftGpuPlatformArgs:
    spec: OpenShiftCluster
    kubeconfig: pulumi.Input[str]
    """The kubeconfig's contents (a Pulumi secret) or its path."""
    tags: dict[str, str]
    """EC2 tags of the GPU machines and their volumes (cost allocation)."""
    console_dashboard: bool = False
    """The GPU fleet dashboard in the console (Observe > Dashboards), from platform monitoring's DCGM metrics."""
    observability: Observability = field(default_factory=Observability)
    """Alert thresholds and receivers (the stack's `observability:`), evaluated by platform monitoring."""
    credentials: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """The receivers' secret config values."""
    prices: PriceBook = field(default_factory=PriceBook)
    """The plan's prices, for the cost recording rules."""
    teams: Sequence[TeamBudget] = ()
    """The stack's team budgets: platform monitoring guards those whose namespace this cluster runs."""


def _custom(name: str, api_version: str, kind: str, manifest: dict[str, Any],
            opts: pulumi.ResourceOptions) -> k8s.apiextensions.CustomResource:
    return k8s.apiextensions.CustomResource(name, api_version=api_version, kind=kind,
                                            metadata=manifest["metadata"], spec=manifest.get("spec"), opts=opts)


def rule_groups(spec: OpenShiftCluster, obs: Observability, book: PriceBook) -> list[RuleGroup]:
    """The cluster's GPU rules over the GPU Operator's dcgm-exporter, priced as its pools are planned."""
    if not spec.gpu_pools:
        return []
    pools = [PoolPricing((p.instance_type,), spec.region, spot=p.capacity is Capacity.SPOT) for p in spec.gpu_pools]
    machines_ = sorted({p.instance_type for p in spec.gpu_pools})
    # Every gpu-fleet OpenShift cluster runs a ClusterAutoscaler, whose metrics platform monitoring scrapes.
    # gpu-fleet's own Watchdog when a dead man's switch is set: the platform's (openshift-monitoring) never
    # reaches gpu-fleet's AlertmanagerConfig (see `components/openshift/monitoring.alertmanager_config`).
    return gpu_rule_groups(obs.alerts, RuleTargets(MetricSource.DCGM_EXPORTER, gpu_prices(pools, book),
                                                   nic_bandwidths(machines_), cluster_autoscaler=True,
                                                   heartbeat=obs.deadmans_switch is not None))


class OpenShiftGpuPlatform(pulumi.ComponentResource):
    machine_sets: list[str]
    """Names of the GPU MachineSets, in openshift-machine-api."""

    def __init__(self, name: str, args: OpenShiftGpuPlatformArgs,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE, name, None, opts)
        spec = args.spec
        self.provider = k8s.Provider(f"{name}-k8s", kubeconfig=args.kubeconfig, context=spec.kubeconfig.context,
                                     opts=pulumi.ResourceOptions(parent=self))
        in_cluster = pulumi.ResourceOptions(parent=self, provider=self.provider)

        tuning = self._node_tuning(name, spec, in_cluster)
        self.machine_sets = self._machines(name, spec, args.tags, tuning, in_cluster)
        self._cluster_autoscaler(name, spec, in_cluster)
        gpu_namespace = self._operators(name, spec, in_cluster)
        OpenShiftMonitoring(f"{name}-monitoring", OpenShiftMonitoringArgs(
            cluster=spec.name, groups=with_team_guard(rule_groups(spec, args.observability, args.prices), args.teams,
                                                     spec.addons.namespaces),
            receivers=dict(args.observability.receivers), credentials=args.credentials, provider=self.provider,
            gpu_namespace=gpu_namespace, deadmans_switch=args.observability.deadmans_switch),
            opts=pulumi.ResourceOptions(parent=self))
        # The shared add-ons only: the GPU software is the GPU Operator's (from OLM), storage the cluster's own.
        GpuAddons(f"{name}-addons", GpuAddonsArgs(provider=self.provider,
                                                  priority_classes=spec.addons.priority_classes,
                                                  namespaces=list(spec.addons.namespaces)),
                  opts=pulumi.ResourceOptions(parent=self))
        if args.console_dashboard:
            openshift_console_dashboard(f"{name}-dashboard", cluster=spec.name, provider=self.provider,
                                        opts=pulumi.ResourceOptions(parent=self))
        self.register_outputs({"machine_sets": self.machine_sets})

    @staticmethod
    def _node_tuning(name: str, spec: OpenShiftCluster, opts: pulumi.ResourceOptions) -> list[pulumi.Resource]:
        """Tuned profiles (sysctls, no reboot), and a pool with its MachineConfig only for profiles that need one.

        Both come before the machines: a machine boots into what exists, and is destroyed before it.
        """
        tuning: list[pulumi.Resource] = []
        for t in spec.tuning:
            profile = tuning_.tuned(t)
            if profile is not None:
                tuning.append(_custom(f"{name}-tuned-{t.name}", tuning_.TUNED_API, "Tuned", profile, opts))
            mc = machine_config.machine_config(t)
            if mc is None:
                continue
            role = machine_config.profile_role(t)
            tuning.append(_custom(f"{name}-mcp-{role}", machine_config.MCO_API, "MachineConfigPool",
                                  machine_config.machine_config_pool(role, t.max_unavailable), opts))
            tuning.append(_custom(f"{name}-mc-{t.name}", machine_config.MCO_API, "MachineConfig", mc, opts))
        return tuning

    @staticmethod
    def _machines(name: str, spec: OpenShiftCluster, tags: dict[str, str], tuning: list[pulumi.Resource],
                  opts: pulumi.ResourceOptions) -> list[str]:
        """Per pool and zone: the MachineSet, its MachineAutoscaler and its MachineHealthCheck."""
        names = []
        for pool in spec.gpu_pools:
            for zone in pool.zones:
                manifest = machines.machine_set(spec, pool, zone, tags)
                machine_set = _custom(
                    f"{name}-{pool.name}-{zone}", machines.MACHINE_API, "MachineSet", manifest,
                    pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(
                        depends_on=tuning, ignore_changes=machines.ignored_fields(spec, pool))))
                names.append(manifest["metadata"]["name"])
                after_set = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[machine_set]))
                if pool.autoscaling is not None:
                    _custom(f"{name}-{pool.name}-{zone}-autoscaler", machines.AUTOSCALING_API, "MachineAutoscaler",
                            machines.machine_autoscaler(spec, pool, zone), after_set)
                check = machines.machine_health_check(spec, pool, zone)
                if check is not None:
                    _custom(f"{name}-{pool.name}-{zone}-health", machines.MACHINE_API, "MachineHealthCheck", check,
                            after_set)
        return names

    def _cluster_autoscaler(self, name: str, spec: OpenShiftCluster, opts: pulumi.ResourceOptions) -> None:
        metadata: dict[str, Any] = {"name": autoscaler.AUTOSCALER_NAME, "labels": {LABEL_CLUSTER: spec.name}}
        if spec.autoscaler.mode is AutoscalerMode.CREATE:
            # `pulumi destroy` deletes `default`, which stops all autoscaling on the cluster (README).
            k8s.apiextensions.CustomResource(f"{name}-cluster-autoscaler", api_version=autoscaler.AUTOSCALER_API,
                                             kind="ClusterAutoscaler", metadata=metadata,
                                             spec=autoscaler.cluster_autoscaler_spec(spec), opts=opts)
            return
        metadata["annotations"] = {autoscaler.PATCH_FORCE: "true"}
        # Deleting a Patch relinquishes its fields (pulumi-kubernetes ssa.Relinquish): the atomic `gpus` list it
        # force-owns would go whole, the other teams' entries with it. Retained, `destroy` leaves it as it is.
        k8s.apiextensions.CustomResourcePatch(
            f"{name}-cluster-autoscaler", api_version=autoscaler.AUTOSCALER_API, kind="ClusterAutoscaler",
            metadata=metadata, spec=autoscaler.patch_spec(spec),
            opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(retain_on_delete=True)))

    def _operators(self, name: str, spec: OpenShiftCluster, opts: pulumi.ResourceOptions) -> list[pulumi.Resource]:
        """Declare both operators and their instances; returns what the GPU Operator's namespace is made by."""
        ops = spec.operators
        nfd_ready = self._install(f"{name}-nfd", operators.NFD_NAMESPACE, "openshift-nfd",
                                  operators.nfd_subscription(ops.nfd), ops.nfd.manage, opts)
        _custom(f"{name}-nfd-instance", operators.NFD_API, "NodeFeatureDiscovery",
                operators.node_feature_discovery(),
                pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=nfd_ready)))
        gpu_ready = self._install(f"{name}-gpu-operator", operators.GPU_NAMESPACE, "nvidia-gpu-operator-group",
                                  operators.gpu_operator_subscription(ops.gpu_operator),
                                  ops.gpu_operator.manage, opts)
        # dcgm-exporter's counters file (hardware-health fields), which the ClusterPolicy names.
        after_operator: pulumi.ResourceOptions = pulumi.ResourceOptions.merge(
            opts, pulumi.ResourceOptions(depends_on=gpu_ready))
        meta = operators.dcgm_counters_metadata()
        configs: list[pulumi.Resource] = [k8s.core.v1.ConfigMap(
            f"{name}-dcgm-counters", metadata={"name": meta["name"], "namespace": meta["namespace"],
                                               "labels": meta["labels"]},
            data=operators.dcgm_counters_data(), opts=after_operator)]
        plugin = sharing.device_plugin_configmap(spec, operators.GPU_NAMESPACE)
        if plugin is not None:
            configs.append(k8s.core.v1.ConfigMap(
                f"{name}-device-plugin-config", metadata=plugin["metadata"], data=plugin["data"],
                opts=after_operator))
        # The ClusterPolicy needs NFD's labels to find GPU nodes: it waits for both operators.
        _custom(f"{name}-cluster-policy", operators.CLUSTER_POLICY_API, "ClusterPolicy",
                operators.cluster_policy(sharing.DEVICE_PLUGIN_CONFIGMAP if plugin is not None else None),
                pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(
                    depends_on=[*gpu_ready, *nfd_ready, *configs])))
        return gpu_ready

    @staticmethod
    def _install(name: str, namespace: str, group: str, subscription: dict[str, Any], manage: bool,
                 opts: pulumi.ResourceOptions) -> list[pulumi.Resource]:
        """Namespace, OperatorGroup and the Subscription OLM installs from; what the operator's CRs wait on."""
        if not manage:
            return []
        ns = k8s.core.v1.Namespace(f"{name}-namespace", metadata=operators.namespace(namespace)["metadata"],
                                   opts=opts)
        within = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[ns]))
        og = _custom(f"{name}-operatorgroup", operators.OPERATOR_GROUP_API, "OperatorGroup",
                     operators.operator_group(group, namespace), within)
        sub = _custom(f"{name}-subscription", operators.SUBSCRIPTION_API, "Subscription", subscription,
                      pulumi.ResourceOptions.merge(within, pulumi.ResourceOptions(depends_on=[ns, og])))
        return [sub]
