"""The GKE path as a real `pulumi up` needs it: reachable control planes, no capacity bets at create time,
ordering that holds on a real engine, and what a GPU platform team expects of a cluster (issue 8, §1-§4)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pulumi.runtime import rpc

from components import catalog
from components.config import ConfigError
from gpufleet import offline
from gpufleet.report import Plan
from policies.pack import POLICIES
from tests.support.engine import engine_config, gpu_pool, run_resource_policy, run_resource_policy_over
from tests.support.plans import budgets_of, eks_provider_names, gke_of, gke_only, stack_doc
from tests.support.small_stacks import gke_cluster

CLUSTER = "gcp:container/cluster:Cluster"
NODE_POOL = "gcp:container/nodePool:NodePool"


def of_type(plan: Plan, typ: str) -> list[offline.Recorded]:
    return [r for r in plan.resources if r.type == typ]


def by_name(plan: Plan, name: str) -> offline.Recorded:
    """The custom resource of that logical name (a pool's component shares its name)."""
    return next(r for r in plan.resources if r.name == name and r.custom)


@pytest.fixture
def dev_doc() -> dict[str, Any]:
    """dev's GKE side alone (`gke_only`; conftest's `dev_doc` is all of dev): every dev edit here is a GKE cluster's,
    and the GKE side's plan is 54 of dev's 183 resources, under half the CPU (issue 22)."""
    return gke_only(stack_doc("dev"))


def dev_cluster(doc: dict[str, Any]) -> dict[str, Any]:
    return gke_of(doc)["regions"][0]["clusters"][0]  # type: ignore[no-any-return]


@pytest.fixture
def kubeconfigs(monkeypatch: pytest.MonkeyPatch) -> dict[str, dict[str, Any]]:
    """Kubeconfigs handed to each Kubernetes provider, unmasked (the plan itself only shows `[secret]`)."""
    seen: dict[str, dict[str, Any]] = {}
    original = offline._Mocks.new_resource

    def capture(self: offline._Mocks, args: Any) -> Any:
        # OpenShift's providers take a kubeconfig gpu-fleet never builds (a secret or a path): not checked here.
        if args.typ == "pulumi:providers:kubernetes" and not args.name.startswith("openshift-"):
            value = args.inputs["kubeconfig"]
            seen[args.name] = json.loads(value["value"] if rpc.is_rpc_secret(value) else value)
        return original(self, args)

    monkeypatch.setattr(offline._Mocks, "new_resource", capture)
    return seen


# --- 1. CI reaches every control plane ----------------------------------------------------------------


def _svc_1_of_each_region(doc: dict[str, Any]) -> dict[str, Any]:
    """prod's GKE side cut to the cluster each of its three regions names `svc-1` (no GPU pools: the cheapest plan of
    three same-named clusters), without the team budgets (their namespaces are on clusters left out) and OpenShift."""
    doc = gke_only(doc)
    for region in gke_of(doc)["regions"]:
        region["clusters"] = [c for c in region["clusters"] if c["name"] == "svc-1"]
    budgets_of(doc).pop("teams", None)
    for key in ("gpu-fleet:openshift", "gpu-fleet:openshift-ocp-ai-kubeconfig"):
        doc["config"].pop(key, None)
    return doc


def test_kubeconfig_uses_the_dns_endpoint_with_gcloud_context_names(kubeconfigs: dict[str, Any],
                                                                     prod_doc: dict[str, Any],
                                                                     fresh_plan_doc: Any) -> None:
    prod_doc = _svc_1_of_each_region(prod_doc)
    plan = fresh_plan_doc(prod_doc, "prod")  # planned here: the kubeconfigs fixture watches this run
    clusters = of_type(plan, CLUSTER)
    assert len(clusters) == 3
    for cluster in clusters:
        endpoints = cluster.inputs["controlPlaneEndpointsConfig"]
        assert endpoints["dnsEndpointConfig"]["allowExternalTraffic"] is True
        assert endpoints["ipEndpointsConfig"]["enabled"] is True
    contexts = {}
    eks = eks_provider_names(prod_doc)
    for provider, kc in ((p, kc) for p, kc in kubeconfigs.items() if p not in eks):
        (cluster,) = kc["clusters"]
        # The DNS endpoint GKE reports (the mock's form of it), with the system's trusted roots.
        assert cluster["cluster"]["server"].startswith("https://gke-") and \
            cluster["cluster"]["server"].endswith(".gke.goog")
        assert "certificate-authority-data" not in cluster["cluster"]
        assert kc["users"][0]["user"]["exec"]["command"] == "gke-gcloud-auth-plugin"
        contexts[provider] = kc["current-context"]
    # Three regions each hold a svc-1 (and an ml-1): a merged kubeconfig must keep them apart, as gcloud names them.
    assert contexts == {f"{region}-svc-1-k8s": f"gke_acme-ml-prod_{region}_svc-1"
                        for region in ("europe-west4", "us-central1", "us-east4")}


def test_without_the_dns_endpoint_the_ip_endpoint_and_its_ca_are_used(kubeconfigs: dict[str, Any],
                                                                      dev_doc: dict[str, Any],
                                                                      fresh_plan_doc: Any) -> None:
    dev_cluster(dev_doc)["dns_endpoint"] = False
    plan = fresh_plan_doc(dev_doc)
    (cluster,) = of_type(plan, CLUSTER)
    assert cluster.inputs["controlPlaneEndpointsConfig"]["dnsEndpointConfig"]["allowExternalTraffic"] is False
    (kc,) = [kc for p, kc in kubeconfigs.items() if p not in eks_provider_names(dev_doc)]
    assert kc["clusters"][0]["cluster"]["server"] == f"https://{offline.PLACEHOLDERS[CLUSTER]['endpoint']}"
    assert kc["clusters"][0]["cluster"]["certificate-authority-data"]


def test_dns_only_clusters_need_no_authorized_networks(dev_doc: dict[str, Any], plan_doc: Any) -> None:
    dev_cluster(dev_doc).update(ip_endpoint=False, authorized_networks=[])
    (cluster,) = of_type(plan_doc(dev_doc), CLUSTER)
    assert cluster.inputs["controlPlaneEndpointsConfig"]["ipEndpointsConfig"]["enabled"] is False
    assert run_resource_policy("gke-control-plane-access", CLUSTER, cluster.inputs, {"exempt": []}) == []
    cluster.inputs["controlPlaneEndpointsConfig"]["ipEndpointsConfig"]["enabled"] = True
    assert run_resource_policy("gke-control-plane-access", CLUSTER, cluster.inputs, {"exempt": []})


def test_a_cluster_nobody_can_reach_is_refused(dev_doc: dict[str, Any], plan_doc: Any) -> None:
    dev_cluster(dev_doc).update(dns_endpoint=False, ip_endpoint=False)
    with pytest.raises(ConfigError, match=r"clusters\[dev-1\]\.ip_endpoint: .*nothing could reach"):
        plan_doc(dev_doc)


# --- 2. no capacity bets at create time --------------------------------------------------------------


def test_gpu_pools_start_empty_and_the_autoscaler_reaches_the_minimum(prod_plan: Plan) -> None:
    pools = [p for p in of_type(prod_plan, NODE_POOL) if p.inputs["name"] != "system"]
    assert pools and all(p.inputs["initialNodeCount"] == 0 for p in pools)
    serving = by_name(prod_plan, "us-central1-ml-1-l4-serve").inputs["autoscaling"]
    assert serving["minNodeCount"] == 1  # the floor the autoscaler brings it to
    # The capacity view still counts the floor: 1 node per zone x 3 zones.
    row = next(r for r in prod_plan.capacity if r.cluster == "ml-1" and r.pool == "l4-serve"
               and r.region == "us-central1")
    assert (row.min_nodes, row.max_nodes) == (3, 9)


def test_location_policy_defaults_to_any_across_zones_and_can_be_set(dev_doc: dict[str, Any],
                                                                     plan_doc: Any) -> None:
    pools = dev_cluster(dev_doc)["gpu_pools"]
    pools.append({"name": "l4-one-zone", "machine_type": "g2-standard-8", "zones": ["us-central1-a"],
                  "autoscaling": {"per": "zone", "min_nodes": 0, "max_nodes": 1}})
    pools.append({"name": "l4-balanced", "machine_type": "g2-standard-8", "location_policy": "BALANCED",
                  "zones": ["us-central1-a", "us-central1-b"],
                  "autoscaling": {"per": "total", "min_nodes": 0, "max_nodes": 2}})
    plan = plan_doc(dev_doc)
    policy = {p.inputs["name"]: p.inputs["autoscaling"]["locationPolicy"] for p in of_type(plan, NODE_POOL)
              if "autoscaling" in p.inputs and p.inputs["name"] != "system"}
    assert policy == {"l4": "ANY", "h100-spot": "ANY", "l4-one-zone": "BALANCED", "l4-balanced": "BALANCED"}


def test_dws_pools_refuse_a_balanced_location_policy(dev_doc: dict[str, Any], plan_doc: Any) -> None:
    dev_cluster(dev_doc)["gpu_pools"][1].update(capacity="flex-start", location_policy="BALANCED")
    with pytest.raises(ConfigError, match=r"gpu_pools\[h100-spot\]\.location_policy: flex-start pools"):
        plan_doc(dev_doc)


def test_unreserved_production_h100s_are_an_advisory_violation(prod_plan: Plan, prod_doc: dict[str, Any],
                                                               plan_doc: Any) -> None:
    name = "gpu-critical-capacity-reserved"
    config = engine_config(name, "prod")
    flagged = run_resource_policy_over(name, prod_plan, config)
    # Prod's H100 pools stand on reservations; its A100 production pools do not, and are named.
    assert len(flagged) == 2 and all("a100-prod" in m for m in flagged)
    del gpu_pool(prod_doc, "us-east4", "ml-1", "h100-prod")["reservation"]
    plan = plan_doc(gke_cluster(prod_doc, "us-east4", "ml-1"), "prod")  # the pool's cluster: the policy judges pools
    (msg,) = [m for m in run_resource_policy_over(name, plan, config) if "h100" in m]
    assert "gke.regions[us-east4].clusters[ml-1].gpu_pools[h100-prod]" in msg and "a3-megagpu-8g" in msg
    assert next(p.enforcement_level for p in POLICIES if p.name == name).value == "advisory"


def test_only_critical_on_demand_scarce_gpus_need_a_reservation(dev_plan: Plan) -> None:
    name = "gpu-critical-capacity-reserved"
    pool = by_name(dev_plan, "us-central1-dev-1-l4")
    props = json.loads(json.dumps(pool.inputs))
    props["nodeConfig"]["labels"]["gpu-fleet/production-critical"] = "true"
    assert run_resource_policy(name, NODE_POOL, props, {"exempt": []}) == []  # L4: not capacity-constrained
    props["nodeConfig"]["machineType"] = "a3-highgpu-8g"
    assert run_resource_policy(name, NODE_POOL, props, {"exempt": []})
    props["nodeConfig"]["reservationAffinity"] = {"consumeReservationType": "SPECIFIC_RESERVATION"}
    assert run_resource_policy(name, NODE_POOL, props, {"exempt": []}) == []


# --- 3. ordering ---------------------------------------------------------------------------------------


def test_nothing_uses_the_node_service_account_before_its_roles_propagate(dev_plan: Plan) -> None:
    # GKE's IAM wait (EKS clusters have their own access-propagation wait: tests/aws/test_eks_access.py).
    (sleep,) = [r for r in of_type(dev_plan, "time:index/sleep:Sleep") if r.name.endswith("-iam-propagation")]
    bindings = {r.urn for r in of_type(dev_plan, "gcp:projects/iAMMember:IAMMember")}
    assert len(bindings) == 2 and bindings <= set(sleep.dependencies)
    assert sleep.inputs["createDuration"] == "30s"
    for r in [*of_type(dev_plan, CLUSTER), *of_type(dev_plan, NODE_POOL)]:
        assert sleep.urn in r.dependencies, r.name


def test_the_cluster_waits_for_its_secrets_key_grant(dev_plan: Plan) -> None:
    (cluster,) = of_type(dev_plan, CLUSTER)
    (grant,) = of_type(dev_plan, "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember")
    assert grant.urn in cluster.dependencies
    agent = "service-000000000000@container-engine-robot.iam.gserviceaccount.com"  # GKE's service agent
    assert grant.inputs["member"] == f"serviceAccount:{agent}"
    assert grant.inputs["role"] == "roles/cloudkms.cryptoKeyEncrypterDecrypter"


# --- 4. what a GPU platform team expects ----------------------------------------------------------------


def test_maintenance_window_exclusions_and_upgrade_notifications(prod_plan: Plan) -> None:
    cluster = by_name(prod_plan, "us-central1-ml-1")
    policy = cluster.inputs["maintenancePolicy"]
    assert policy["recurringWindow"] == {"startTime": "2026-01-01T02:00:00Z", "endTime": "2026-01-01T08:00:00Z",
                                         "recurrence": "FREQ=WEEKLY;BYDAY=SA,SU"}
    (exclusion,) = policy["maintenanceExclusions"]
    assert exclusion["exclusionOptions"] == {"scope": "NO_MINOR_OR_NODE_UPGRADES",
                                             "endTimeBehavior": "UNTIL_END_OF_SUPPORT"}
    topic = by_name(prod_plan, "us-central1-ml-1-upgrades")
    assert topic.type == "gcp:pubsub/topic:Topic"
    pubsub = cluster.inputs["notificationConfig"]["pubsub"]
    assert pubsub["enabled"] is True and pubsub["topic"] == "us-central1-ml-1-upgrades-id"
    assert "UPGRADE_EVENT" in pubsub["filter"]["eventTypes"]
    assert "maintenanceExclusions" not in by_name(prod_plan, "us-central1-svc-1").inputs["maintenancePolicy"]


@pytest.mark.parametrize(("window", "ok"), [
    ({"days": ["SA", "SU"], "duration_hours": 6}, True),   # 8 runs x 6 h = 48 h in the leanest 32 days
    ({"days": ["SA", "SU"], "duration_hours": 5}, False),  # 40 h
    ({"days": ["SU"], "duration_hours": 12}, True),         # 4 x 12 = 48 h
    ({"days": ["SU"], "duration_hours": 11}, False),
    ({"days": ["MO", "TU", "WE", "TH", "FR"], "duration_hours": 4}, True),  # (20 + 2) x 4 = 88 h
])
def test_maintenance_window_must_leave_gke_48_hours_in_32_days(window: dict[str, Any], ok: bool,
                                                                dev_doc: dict[str, Any], plan_doc: Any) -> None:
    dev_cluster(dev_doc)["maintenance"] = {"window": window}
    if ok:
        plan_doc(dev_doc)
    else:
        with pytest.raises(ConfigError, match=r"maintenance\.window: allows only \d+ hours .* GKE requires 48"):
            plan_doc(dev_doc)


@pytest.mark.parametrize(("exclusion", "message"), [
    ({"name": "freeze", "start": "2026-12-01T00:00:00Z", "scope": "no-upgrades"}, r"needs an end"),
    ({"name": "freeze", "start": "2026-12-01T00:00:00Z", "end": "2027-01-15T00:00:00Z", "scope": "no-upgrades"},
     r"at most 30 days"),
    ({"name": "freeze", "start": "2026-12-01", "end": "2026-12-02T00:00:00Z"}, r"not an RFC 3339 time"),
    ({"name": "freeze", "start": "2026-12-02T00:00:00Z", "end": "2026-12-01T00:00:00Z"}, r"ends before it starts"),
])
def test_maintenance_exclusions_follow_gke_rules(exclusion: dict[str, Any], message: str,
                                                 dev_doc: dict[str, Any], plan_doc: Any) -> None:
    dev_cluster(dev_doc)["maintenance"] = {"exclusions": [exclusion]}
    with pytest.raises(ConfigError, match=rf"maintenance\.exclusions\[freeze\]\.\w+: .*{message}"):
        plan_doc(dev_doc)


def test_pool_upgrade_strategy_surge_or_blue_green(dev_doc: dict[str, Any], plan_doc: Any) -> None:
    pools = dev_cluster(dev_doc)["gpu_pools"]
    pools[0]["upgrade"] = {"strategy": "blue-green", "batch_node_count": 2, "batch_soak": "600s"}
    plan = plan_doc(dev_doc)
    settings = by_name(plan, "us-central1-dev-1-l4").inputs["upgradeSettings"]
    assert settings == {"strategy": "BLUE_GREEN", "blueGreenSettings": {
        "standardRolloutPolicy": {"batchNodeCount": 2, "batchSoakDuration": "600s"},
        "nodePoolSoakDuration": "3600s"}}
    assert by_name(plan, "us-central1-dev-1-h100-spot").inputs["upgradeSettings"] == {
        "strategy": "SURGE", "maxSurge": 0, "maxUnavailable": 1}
    pools[1]["upgrade"] = {"max_surge": 0, "max_unavailable": 0}
    with pytest.raises(ConfigError, match=r"upgrade\.max_unavailable: .*can never replace a node"):
        plan_doc(dev_doc)


def test_bundled_local_nvme_is_used_as_ephemeral_storage(prod_plan: Plan, dev_doc: dict[str, Any],
                                                         plan_doc: Any) -> None:
    nc = by_name(prod_plan, "us-central1-ml-1-h100-prod").inputs["nodeConfig"]
    # a3-megagpu-8g bundles 6,000 GB: 16 x 375 GB, the count cluster-toolkit gives it.
    assert catalog.machine_type("a3-megagpu-8g").local_ssd_gb // catalog.LOCAL_SSD_GB == 16
    assert nc["ephemeralStorageLocalSsdConfig"] == {"localSsdCount": 16}
    assert "ephemeralStorageLocalSsdConfig" not in by_name(prod_plan, "us-central1-ml-1-l4-serve").inputs[
        "nodeConfig"]  # G2 bundles none
    pools = dev_cluster(dev_doc)["gpu_pools"]
    pools[1]["local_ssd_mode"] = "raw-block"
    nc = by_name(plan_doc(dev_doc), "us-central1-dev-1-h100-spot").inputs["nodeConfig"]
    assert nc["localNvmeSsdBlockConfig"] == {"localSsdCount": 2} and "ephemeralStorageLocalSsdConfig" not in nc
    pools[1]["local_ssd_count"] = 0
    nc = by_name(plan_doc(dev_doc), "us-central1-dev-1-h100-spot").inputs["nodeConfig"]
    assert "localNvmeSsdBlockConfig" not in nc and "ephemeralStorageLocalSsdConfig" not in nc
    pools[1]["local_ssd_count"] = 3
    with pytest.raises(ConfigError, match=r"local_ssd_count: a3-highgpu-1g comes with exactly 2 .*leave it unset"):
        plan_doc(dev_doc)


def test_secrets_are_encrypted_with_a_cluster_key_or_the_configured_one(dev_plan: Plan, dev_doc: dict[str, Any],
                                                                        plan_doc: Any) -> None:
    (cluster,) = of_type(dev_plan, CLUSTER)
    (key,) = of_type(dev_plan, "gcp:kms/cryptoKey:CryptoKey")
    (ring,) = of_type(dev_plan, "gcp:kms/keyRing:KeyRing")
    assert ring.inputs["location"] == cluster.inputs["location"]
    assert cluster.inputs["databaseEncryption"] == {"state": "ENCRYPTED", "keyName": f"{key.name}-id"}
    assert run_resource_policy("gke-secrets-encryption", CLUSTER, cluster.inputs, {"exempt": []}) == []
    own = "projects/acme-sec/locations/us-central1/keyRings/gke/cryptoKeys/dev-1"
    dev_cluster(dev_doc)["secrets_encryption"] = {"kms_key": own}
    plan = plan_doc(dev_doc)
    assert of_type(plan, CLUSTER)[0].inputs["databaseEncryption"] == {"state": "ENCRYPTED", "keyName": own}
    assert not of_type(plan, "gcp:kms/keyRing:KeyRing")
    dev_cluster(dev_doc)["secrets_encryption"] = {"kms_key": own.replace("us-central1", "us-east4")}
    with pytest.raises(ConfigError, match=r"secrets_encryption\.kms_key: the key is in us-east4"):
        plan_doc(dev_doc)
    dev_cluster(dev_doc)["secrets_encryption"] = {"enabled": False}
    (cluster,) = of_type(plan_doc(dev_doc), CLUSTER)
    (msg,) = run_resource_policy("gke-secrets-encryption", CLUSTER, cluster.inputs, {"exempt": []})
    assert "5.3.1" in msg and "secrets_encryption.enabled: true" in msg


def test_kubelet_read_only_port_is_off_everywhere(prod_plan: Plan) -> None:
    for pool in of_type(prod_plan, NODE_POOL):
        assert pool.inputs["nodeConfig"]["kubeletConfig"] == {"insecureKubeletReadonlyPortEnabled": "FALSE"}
        assert run_resource_policy("gke-kubelet-read-only-port", NODE_POOL, pool.inputs, {"exempt": []}) == []
    defaults = by_name(prod_plan, "us-east4-ml-1").inputs["nodePoolDefaults"]["nodeConfigDefaults"]
    assert defaults["insecureKubeletReadonlyPortEnabled"] == "FALSE"
    props = json.loads(json.dumps(by_name(prod_plan, "us-east4-ml-1-l4-serve").inputs))
    del props["nodeConfig"]["kubeletConfig"]
    (msg,) = run_resource_policy("gke-kubelet-read-only-port", NODE_POOL, props, {"exempt": []})
    assert "3.2.4" in msg and "gke.regions[us-east4].clusters[ml-1].gpu_pools[l4-serve]" in msg


def test_nat_allocates_ports_dynamically_and_cost_allocation_is_on(dev_plan: Plan, dev_doc: dict[str, Any],
                                                                   plan_doc: Any) -> None:
    (nat,) = of_type(dev_plan, "gcp:compute/routerNat:RouterNat")
    assert nat.inputs["enableDynamicPortAllocation"] is True
    assert nat.inputs["enableEndpointIndependentMapping"] is False
    assert (nat.inputs["minPortsPerVm"], nat.inputs["maxPortsPerVm"]) == (128, 16384)
    assert of_type(dev_plan, CLUSTER)[0].inputs["costManagementConfig"] == {"enabled": True}
    gke_of(dev_doc)["network"]["nat"] = {"min_ports_per_vm": 100}
    with pytest.raises(ConfigError, match=r"gke\.network\.nat\.min_ports_per_vm: .*power of two .*e\.g\. 64 or 128"):
        plan_doc(dev_doc)

