"""EKS EFA: interfaces per instance from the catalog, one zone and a cluster placement group per pool, the security
group and the device plugin, and the config the EFA layout refuses."""

from __future__ import annotations

import copy

import pytest
import yaml

from components import catalog, versions
from components.aws.efa import device_plugin_values
from components.kubernetes.conventions import GPU_TAINT
from gpufleet.offline import OFFLINE_SECURITY_GROUP
from gpufleet.report import Plan
from infra.config import parse
from tests.support.cel_rules import violations as cel_violations
from tests.support.cel_rules import with_defaults
from tests.support.config_builders import errors
from tests.support.efa_docs import EKS_POOL, _eks_pool, _eks_values, _nodeclasses, _nodepools
from tests.support.k8s_schemas import crd_schemas, unknown_helm_keys, validate
from tests.support.plans import REFERENCE

# --- EKS: EFA -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("pool", "instance", "efa"), [("h100", "p5.48xlarge", 32), ("a100", "p4d.24xlarge", 4)])
def test_efa_pools_get_one_ena_and_the_catalogs_efa_only_interfaces(prod_plan: Plan, pool: str, instance: str,
                                                                    efa: int) -> None:
    node_class = _nodeclasses(prod_plan)[pool]
    interfaces = node_class["spec"]["networkInterfaces"]
    assert efa == catalog.machine_type(instance).efa_interfaces
    assert [i for i in interfaces if i["interfaceType"] == "interface"] == \
        [{"networkCardIndex": 0, "deviceIndex": 0, "interfaceType": "interface"}]
    efa_only = [i for i in interfaces if i["interfaceType"] == "efa-only"]
    assert len(efa_only) == efa and len({i["networkCardIndex"] for i in efa_only}) == efa
    schema = crd_schemas()[("karpenter.k8s.aws/v1", "EC2NodeClass")]
    validate(node_class)
    assert not list(cel_violations(schema, with_defaults(schema, node_class)))


def test_the_ec2nodeclass_cel_rules_refuse_a_broken_efa_layout(prod_plan: Plan) -> None:
    schema = crd_schemas()[("karpenter.k8s.aws/v1", "EC2NodeClass")]
    node_class = copy.deepcopy(_nodeclasses(prod_plan)["h100"])
    node_class["spec"]["networkInterfaces"].append(
        {"networkCardIndex": 1, "deviceIndex": 1, "interfaceType": "efa-only"})
    assert any("at most one efa device per network card" in v
               for v in cel_violations(schema, with_defaults(schema, node_class)))
    node_class["spec"]["networkInterfaces"] = node_class["spec"]["networkInterfaces"][1:]
    assert any("must include a primary interface" in v
               for v in cel_violations(schema, with_defaults(schema, node_class)))


def test_efa_pools_sit_in_one_zone_and_a_cluster_placement_group(prod_plan: Plan) -> None:
    groups = {r.inputs["name"]: r.inputs for r in prod_plan.resources
              if r.type == "aws:ec2/placementGroup:PlacementGroup"}
    pools = _nodepools(prod_plan)
    for name, node_class in _nodeclasses(prod_plan).items():
        selector = node_class["spec"].get("placementGroupSelector")
        zones = next(r["values"] for r in pools[name]["spec"]["template"]["spec"]["requirements"]
                     if r["key"] == "topology.kubernetes.io/zone")
        if name == "l40s":  # g6e: no EFA by default
            assert selector is None and "networkInterfaces" not in node_class["spec"]
            continue
        if name == "cpu":  # the CPU pool (tests/aws/test_eks_karpenter.py)
            continue
        assert zones == ["us-east-1a"]
        if name == "h100":  # reserved capacity: no group gpu-fleet creates (issue 17 W1)
            assert selector is None
            continue
        assert groups[selector["name"]]["strategy"] == "cluster"


def test_efa_security_group_allows_all_traffic_between_its_members_both_ways(prod_plan: Plan) -> None:
    (sg,) = [r for r in prod_plan.resources if r.type == "aws:ec2/securityGroup:SecurityGroup"]
    # The EFA group's own rules (the cluster security group also admits CI's runner: tests/aws/test_eks_access.py).
    rules = [r for r in prod_plan.resources if r.type in ("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
                                                        "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule")
             and r.inputs["securityGroupId"] != OFFLINE_SECURITY_GROUP]
    assert sorted(r.type.rsplit(":", 1)[1] for r in rules) == ["SecurityGroupEgressRule", "SecurityGroupIngressRule"]
    for rule in rules:
        assert rule.inputs["ipProtocol"] == "-1"
        assert rule.inputs["securityGroupId"] == rule.inputs["referencedSecurityGroupId"] == f"{sg.name}-id"
    for name in ("h100", "a100"):
        terms = _nodeclasses(prod_plan)[name]["spec"]["securityGroupSelectorTerms"]
        assert any(all(sg.inputs["tags"].get(k) == v for k, v in t["tags"].items()) for t in terms)


def test_efa_device_plugin_runs_only_on_efa_nodes_and_tolerates_the_gpu_taint(prod_plan: Plan) -> None:
    (release,) = [r for r in prod_plan.resources if r.type == "kubernetes:helm.sh/v3:Release"
                  and r.inputs["chart"] == versions.EFA_DEVICE_PLUGIN.chart]
    assert release.inputs["version"] == versions.EFA_DEVICE_PLUGIN.version
    reference = yaml.safe_load((REFERENCE / "charts/aws-efa-k8s-device-plugin/Chart.yaml").read_text())
    assert reference["version"] == versions.EFA_DEVICE_PLUGIN.version
    values = release.inputs["values"]
    assert values == device_plugin_values() and not unknown_helm_keys("aws-efa-k8s-device-plugin", values)
    assert {"key": GPU_TAINT[0], "operator": "Exists", "effect": "NoSchedule"} in values["tolerations"]
    selector = values["nodeSelector"]
    for name, pool in _nodepools(prod_plan).items():
        labels = pool["spec"]["template"]["metadata"]["labels"]
        on_efa = all(labels.get(k) == v for k, v in selector.items())
        assert on_efa == (name in ("h100", "a100")), name
    # Every instance type the EFA pools allow is in the chart's own allow-list (its required node affinity).
    chart_types = yaml.safe_load((REFERENCE / "charts/aws-efa-k8s-device-plugin/values.yaml").read_text())[
        "supportedInstanceLabels"]["values"]
    assert {"p5.48xlarge", "p4d.24xlarge"} <= set(chart_types)


def test_an_efa_pool_may_not_mix_efa_counts() -> None:
    raw = _eks_values()
    _eks_pool(raw, "h100").update(instance_types=["p5e.48xlarge", "p5en.48xlarge"], capacity_types=["reserved"])
    (line,) = errors(raw)
    assert line.startswith(f"{EKS_POOL}[h100].instance_types: an EFA pool's EC2NodeClass has one network-interface")
    assert "p5e.48xlarge 32, p5en.48xlarge 16" in line and "one pool per EFA count" in line


def test_an_efa_pool_needs_one_zone() -> None:
    raw = _eks_values()
    del _eks_pool(raw, "h100")["zones"]
    (line,) = [e for e in errors(raw) if e.startswith(f"{EKS_POOL}[h100].zones")]
    assert "one zone" in line and "zones: [us-east-1a]" in line
    _eks_pool(raw, "h100")["efa"] = False  # opting out lifts the one-zone rule
    parse(raw, gcp_project="acme-ml-prod")


def test_efa_on_an_instance_without_it_is_refused() -> None:
    raw = _eks_values()
    _eks_pool(raw, "l40s").update(instance_types=["g6e.xlarge"], efa=True, zones=["us-east-1a"])
    assert any(e.startswith(f"{EKS_POOL}[l40s].efa: g6e.xlarge has no EFA") for e in errors(raw))


def test_g6e_opts_into_efa_with_one_line() -> None:
    raw = _eks_values()
    _eks_pool(raw, "l40s").update(instance_types=["g6e.48xlarge"], efa=True, zones=["us-east-1b"])
    parse(raw, gcp_project="acme-ml-prod")
