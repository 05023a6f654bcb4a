"""EKS hardening (issue 17 §4 part, §5): what a scanner asks of the VPC and the cost alert topic, and input EC2, EKS
or Karpenter would refuse refused at plan time (exit 2, one line naming key, value and hint) while every valid
value is accepted.

Instance types are held against Karpenter's generated table in ../shared/reference/aws, and durations against the
NodePool CRD's own patterns in ../shared/reference/crds.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
import typing
from functools import cache
from typing import Any

import pytest
import yaml

from components.catalog import aws_instance_types, aws_limits
from gpufleet import cli
from gpufleet.report import Plan
from tests.support.cel_rules import violations, with_defaults
from tests.support.config_builders import fleet_issues
from tests.support.eks_config import pool_of as shared_pool_of
from tests.support.eks_config import raw_eks as shared_raw_eks
from tests.support.k8s_schemas import crd_schemas, manifests, validate
from tests.support.plans import REFERENCE, ROOT, stack_doc
from tests.support.small_stacks import eks_only

CLUSTER = "eks.regions[us-east-1].clusters[ml-aws]"
POOL = f"{CLUSTER}.gpu_pools[pool]"


def raw_eks() -> dict[str, Any]:
    """The shared minimal section (tests/support/eks_config.py) with an EFA pool: 8 x H100 in one zone."""
    raw = shared_raw_eks()
    shared_pool_of(raw).update(instance_types=["p5.48xlarge"], zones=["us-east-1a"])
    return raw


def cluster_of(raw: dict[str, Any]) -> dict[str, Any]:
    return raw["eks"]["regions"][0]["clusters"][0]


def pool_of(raw: dict[str, Any]) -> dict[str, Any]:
    return cluster_of(raw)["gpu_pools"][0]


def set_path(raw: dict[str, Any], where: str, key: str, value: Any) -> None:
    """Set `key` in the eks section (`eks`), the cluster, the pool, the pool's disruption or the system nodes."""
    target = {"eks": lambda: raw["eks"], "region": lambda: raw["eks"]["regions"][0],
              "cluster": lambda: cluster_of(raw), "pool": lambda: pool_of(raw),
              "disruption": lambda: pool_of(raw).setdefault("disruption", {}),
              "system": lambda: cluster_of(raw).setdefault("system_nodes", {}),
              "flow": lambda: raw["eks"].setdefault("flow_logs", {})}[where]()
    target[key] = value


# --- §5: refused, one line each: key, value, hint --------------------------------------------------------

REFUSED: list[tuple[str, str, Any, str]] = [
    # booleans are never counts anywhere in the section
    ("pool", "gpu_limit", True, f"{POOL}.gpu_limit: expected a whole number, not true/false (got True); hint:"),
    ("pool", "weight", True, f"{POOL}.weight: expected a whole number"),
    ("pool", "root_volume_gb", True, f"{POOL}.root_volume_gb: expected a whole number"),
    ("system", "min_size", True, f"{CLUSTER}.system_nodes.min_size: expected a whole number"),
    ("system", "max_size", False, f"{CLUSTER}.system_nodes.max_size: expected a whole number"),
    ("flow", "retention_days", True, "eks.flow_logs.retention_days: expected a whole number"),
    ("pool", "weight", 0, f"{POOL}.weight: Input should be greater than or equal to 1"),
    # capacity reservation selectors Karpenter or EC2 would refuse, or that would select every reservation
    ("pool", "capacity_reservations", [{"tags": {}}],
     f"{POOL}.capacity_reservations[0].tags: an empty tag selector matches every capacity reservation"),
    ("pool", "capacity_reservations", [{"tags": {"": "x"}}],
     f"{POOL}.capacity_reservations[0].tags: tag key is empty"),
    ("pool", "capacity_reservations", [{"tags": {"purpose": ""}}],
     f"{POOL}.capacity_reservations[0].tags.purpose: tag value is empty"),
    ("pool", "capacity_reservations", [{"tags": {"team#1": "ml"}}],
     f"{POOL}.capacity_reservations[0].tags: tag key holds '#', which EC2 tags cannot (got 'team#1')"),
    ("pool", "capacity_reservations", [{"tags": {"k" * 129: "v"}}],
     f"{POOL}.capacity_reservations[0].tags: tag key is 129 characters long; EC2 allows 128"),
    ("pool", "capacity_reservations", [{"tags": {f"k{i}": "v" for i in range(21)}}],
     f"{POOL}.capacity_reservations[0].tags: 21 tags; Karpenter's selector takes at most 20"),
    # regions and zones from the catalog
    ("cluster", "zones", ["us-east-1a", "us-east-1g"], f"{CLUSTER}.zones: us-east-1 has no zone g (got "
                                                       "'us-east-1g'); hint: us-east-1's zones are us-east-1a,"),
    ("cluster", "zones", ["us-east-1a", "us-east-1b", "us-east-1a"], f"{CLUSTER}.zones[us-east-1a]: duplicate name"),
    # instance types from Karpenter's table
    ("system", "instance_type", "m7i.xlarg", f"{CLUSTER}.system_nodes.instance_type: not an EC2 instance type "
                                             "Karpenter's table lists (got 'm7i.xlarg'); hint: did you mean "
                                             "m7i.xlarge"),
    ("system", "instance_type", "m7g.xlarge", f"{CLUSTER}.system_nodes.instance_type: an arm64 (Graviton) type"),
    ("system", "instance_type", "m7i", f"{CLUSTER}.system_nodes.instance_type: not an EC2 instance type"),
    # AMI versions: real days, and releases that exist
    ("cluster", "ami_version", "v20261324", f"{CLUSTER}.ami_version: not a date: AMI versions are "
                                            "v<year><month><day> (got 'v20261324')"),
    ("cluster", "ami_version", "v20260230", f"{CLUSTER}.ami_version: not a date"),
    ("cluster", "ami_version", "v20991231", f"{CLUSTER}.ami_version: a date in the future: no AMI can have been "
                                            "released that day"),
    ("cluster", "ami_version", "v20260723", f"{CLUSTER}.ami_version: no AL2023 EKS AMI was released that day (got "
                                            "'v20260723'); hint: the nearest releases are v20260714 and v20260724"),
    ("cluster", "ami_version", "v20230601", f"{CLUSTER}.ami_version: older than the first AL2023 EKS AMI"),
    ("cluster", "ami_version", "v20251217", f"{CLUSTER}.ami_version: older than the first release with Kubernetes "
                                            "1.35 images (v20260114) (got 'v20251217'); hint: use v20260114"),
    # durations: Karpenter's own patterns, field by field
    ("disruption", "consolidate_after", "1d", f"{POOL}.disruption.consolidate_after: String should match pattern"),
    ("disruption", "consolidate_after", "never", f"{POOL}.disruption.consolidate_after: String should match"),
    ("disruption", "expire_after", "30 days", f"{POOL}.disruption.expire_after: String should match pattern"),
    ("disruption", "termination_grace_period", "Never",
     f"{POOL}.disruption.termination_grace_period: String should match pattern"),
    ("disruption", "termination_grace_period", "1.5h",
     f"{POOL}.disruption.termination_grace_period: String should match pattern"),
    ("disruption", "budget_nodes", "101%", f"{POOL}.disruption.budget_nodes: String should match pattern"),
    # networks EC2 or the endpoint would never accept or use
    ("cluster", "vpc_cidr", "10.40.0.1/16", f"{CLUSTER}.vpc_cidr: not a valid CIDR"),
    ("cluster", "vpc_cidr", "fd00:40::/48", f"{CLUSTER}.vpc_cidr: not an IPv4 range"),
    ("cluster", "public_access_cidrs", ["2001:db8::/32"], f"{CLUSTER}.public_access_cidrs: not an IPv4 range"),
    ("cluster", "addons", {"namespaces": [{"name": "team-a", "gpus": True}]},
     f"{CLUSTER}.addons.namespaces[team-a].gpus: expected a whole number"),
    ("cluster", "vpc_cidr", "169.254.0.0/16", f"{CLUSTER}.vpc_cidr: a range AWS does not allow for a VPC"),
    ("cluster", "public_access_cidrs", ["198.51.100.0/24", "198.51.100.0/24"],
     f"{CLUSTER}.public_access_cidrs[198.51.100.0/24]: duplicate name"),
    ("cluster", "public_access_cidrs", ["198.51.100.7/24"], f"{CLUSTER}.public_access_cidrs: not a valid CIDR"),
    ("cluster", "public_access_cidrs", ["10.0.0.0/16"], f"{CLUSTER}.public_access_cidrs: a private range"),
    ("cluster", "public_access_cidrs", ["192.168.1.0/24"], f"{CLUSTER}.public_access_cidrs: a private range"),
    # pool labels and the flow logs
    ("pool", "labels", {"team": "ml research"}, f"{POOL}.labels.team: not a Kubernetes label value"),
    ("flow", "retention_days", 100, "eks.flow_logs.retention_days: not a retention period CloudWatch Logs "
                                    "accepts (got 100); hint: one of 1, 3,"),
    ("flow", "traffic", "all", "eks.flow_logs.traffic: Input should be 'ALL', 'ACCEPT' or 'REJECT'"),
]


@pytest.mark.parametrize(("where", "key", "value", "expected"), REFUSED,
                         ids=[f"{k}={v!r}"[:60] for _, k, v, _ in REFUSED])
def test_input_a_cloud_or_karpenter_would_refuse_is_refused(where: str, key: str, value: Any, expected: str) -> None:
    raw = raw_eks()
    set_path(raw, where, key, value)
    found = fleet_issues(raw)
    assert any(line.startswith(expected) for line in found), found
    assert all("\n" not in line and "; hint: " in line for line in found), found


def test_a_region_aws_does_not_have_is_named_with_the_likely_region() -> None:
    raw = raw_eks()
    raw["eks"]["regions"][0]["name"] = "us-east-3"
    cluster_of(raw)["zones"] = ["us-east-3a", "us-east-3b"]
    pool_of(raw)["zones"] = ["us-east-3a"]
    found = fleet_issues(raw)
    assert "eks.regions[us-east-3].name: not an AWS region (got 'us-east-3'); hint: did you mean us-east-2 or " \
           "us-east-1?" in found
    assert not any("no zone" in line for line in found)  # the region's hint is the fix; its zones are not repeated


ACCEPTED: list[tuple[str, str, Any]] = [
    ("disruption", "consolidate_after", "Never"),  # Karpenter's pattern admits Never (issue 17 §5)
    ("disruption", "expire_after", "Never"),
    ("disruption", "consolidate_after", "0s"),
    ("disruption", "consolidate_after", "1h30m"),
    ("disruption", "expire_after", "2160h"),
    ("disruption", "termination_grace_period", "48h"),
    ("disruption", "budget_nodes", "0"),
    ("disruption", "budget_nodes", "100%"),
    ("pool", "weight", 1),
    ("pool", "weight", 100),
    ("pool", "capacity_reservations", None),
    ("cluster", "zones", ["us-east-1a", "us-east-1f"]),
    ("cluster", "public_access_cidrs", ["198.51.100.0/24", "192.0.2.10/32"]),
    ("cluster", "vpc_cidr", "172.31.0.0/20"),
    ("system", "instance_type", "m7a.2xlarge"),
    ("system", "instance_type", "c8i.metal-48xl"),
    ("cluster", "ami_version", "v20260114"),  # the first release with 1.35 images (the default version)
    # Newer than the catalog's last known release (v20260724) and already past: amazon-eks-ami tags about weekly,
    # so such a tag is taken as real rather than refused until the catalog catches up.
    ("cluster", "ami_version", "v20261124"),
    ("eks", "kubernetes_version", "1.30"),
    ("flow", "retention_days", 3653),
    ("flow", "traffic", "REJECT"),
    ("flow", "enabled", False),
]


@pytest.mark.parametrize(("where", "key", "value"), ACCEPTED, ids=[f"{k}={v!r}"[:60] for _, k, v in ACCEPTED])
def test_every_valid_value_is_accepted(where: str, key: str, value: Any) -> None:
    raw = raw_eks()
    if key == "capacity_reservations":  # reserved capacity with a tag selector and a `*` value
        pool_of(raw).update(capacity_types=["reserved", "on-demand"],
                            capacity_reservations=[{"tags": {"purpose": "training", "aws:owner": "*"}},
                                                   {"id": "cr-0123456789abcdef0"}])
    else:
        set_path(raw, where, key, value)
    assert fleet_issues(raw) == []


def test_every_catalogued_zone_of_every_region_is_accepted() -> None:
    for region, letters in aws_limits.AWS_REGIONS.items():
        zones = aws_limits.aws_zones(region)
        assert [z[-1] for z in zones] == list(letters) and len(zones) >= 2, region
        raw = raw_eks()
        raw["eks"]["regions"][0]["name"] = region
        cluster_of(raw).update(zones=list(zones[:6]), gpu_pools=[])
        assert fleet_issues(raw) == [], region


def test_us_west_2_has_zones_a_to_d_only() -> None:
    assert aws_limits.aws_zones("us-west-2") == ("us-west-2a", "us-west-2b", "us-west-2c", "us-west-2d")
    raw = raw_eks()
    raw["eks"]["regions"][0]["name"] = "us-west-2"
    cluster_of(raw).update(zones=["us-west-2a", "us-west-2e"], gpu_pools=[])
    assert fleet_issues(raw) == [
        "eks.regions[us-west-2].clusters[ml-aws].zones: us-west-2 has no zone e (got 'us-west-2e'); hint: us-west-2's "
        "zones are us-west-2a, us-west-2b, us-west-2c, us-west-2d (which of them your account may use: aws ec2 "
        "describe-availability-zones --region us-west-2)"]


def test_openshift_regions_and_zones_get_the_same_check() -> None:
    doc = copy.deepcopy(stack_doc("prod")["config"]["gpu-fleet:openshift"])
    cluster = doc["clusters"][0]
    raw = {"environment": "prod", "openshift": doc}
    cluster["subnets"] = {**cluster["subnets"], f"{cluster['region']}z": {"id": "subnet-0123456789abcdef0"}}
    assert any(line.startswith(f"openshift.clusters[{cluster['name']}].subnets.{cluster['region']}z: "
                               f"{cluster['region']} has no zone z") for line in fleet_issues(raw)), fleet_issues(raw)
    cluster["region"] = "us-eats-2"
    assert any(line.startswith(f"openshift.clusters[{cluster['name']}].region: not an AWS region (got "
                               "'us-eats-2'); hint: did you mean us-east-2")
               for line in fleet_issues(raw)), fleet_issues(raw)


def test_refused_input_exits_2_with_one_line_and_no_traceback(tmp_path: Any,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    doc = stack_doc("dev")
    eks = doc["config"]["gpu-fleet:eks"]
    eks["regions"][0]["clusters"][0]["zones"].append("us-west-2e")
    path = tmp_path / "Pulumi.dev.yaml"
    path.write_text(yaml.safe_dump(doc))
    run = subprocess.run([sys.executable, "-m", "gpufleet.cli", "plan", "dev", "--config", str(path), "--no-policy"],
                         capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr
    cluster = "eks.regions[us-west-2].clusters[dev-aws]"
    assert f"{cluster}.zones: us-west-2 has no zone e (got 'us-west-2e'); hint: us-west-2's zones are " in run.stderr
    eks["regions"][0]["clusters"][0]["zones"].pop()
    eks["regions"][0]["clusters"][0]["gpu_pools"][0]["gpu_limit"] = True
    path.write_text(yaml.safe_dump(doc))
    # In-process, the CLI's own main: the console script's exit and stderr are the run above's.
    code = cli.main(["plan", "dev", "--config", str(path), "--no-policy"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert re.search(rf"{re.escape(cluster)}\.gpu_pools\[[a-z0-9-]+\]\.gpu_limit: expected a whole number, not "
                     r"true/false \(got True\); hint: ", err)


# --- the catalog against its sources ----------------------------------------------------------------------

@cache
def reference_instance_types() -> dict[str, str]:
    """Instance type -> its `kubernetes.io/arch`, from Karpenter's generated table in ../shared/reference."""
    text = (REFERENCE / "aws" / "karpenter-instance-types.md").read_text()
    found: dict[str, str] = {}
    for block in re.split(r"^### `", text, flags=re.M)[1:]:
        name = block.split("`", 1)[0]
        arch = re.search(r"\|kubernetes\.io/arch\|(\w+)\|", block)
        assert arch is not None, name
        found[name] = arch.group(1)
    return found


def test_vendored_instance_types_are_karpenters_table() -> None:
    reference = reference_instance_types()
    assert aws_instance_types.instance_type_names() == frozenset(reference)
    arm = {n.split(".")[0] for n, arch in reference.items() if arch == "arm64"}
    assert arm == aws_instance_types.ARM64_FAMILIES
    assert {"m7i.xlarge", "p5.48xlarge", "p5.4xlarge"} <= aws_instance_types.instance_type_names()


def test_every_catalog_gpu_instance_type_is_in_the_table() -> None:
    from components import catalog

    aws = {m.name for m in catalog.machine_types(catalog.Cloud.AWS)}
    assert aws <= aws_instance_types.instance_type_names()


def test_an_older_kubernetes_version_takes_an_older_release() -> None:
    raw = raw_eks()
    raw["eks"]["kubernetes_version"] = "1.30"
    cluster_of(raw)["ami_version"] = "v20240514"
    assert fleet_issues(raw) == []
    cluster_of(raw)["ami_version"] = "v20240506"
    assert [i.split(" (got")[0] for i in fleet_issues(raw)] == [
        f"{CLUSTER}.ami_version: older than the first release with Kubernetes 1.30 images (v20240514)"]


def test_ami_releases_are_real_days_and_the_stacks_use_one() -> None:
    assert all(aws_limits.release_date(r) is not None for r in aws_limits.AL2023_RELEASES)
    assert set(aws_limits.FIRST_RELEASE_FOR.values()) <= aws_limits.AL2023_RELEASES
    from components.config.eks_rules import KUBERNETES_VERSIONS

    assert set(aws_limits.FIRST_RELEASE_FOR) == set(KUBERNETES_VERSIONS)
    assert aws_limits.release_date("v20261324") is None
    for stack in ("dev", "prod"):
        for region in stack_doc(stack)["config"]["gpu-fleet:eks"]["regions"]:
            for cluster in region["clusters"]:
                assert cluster["ami_version"] in aws_limits.AL2023_RELEASES


@cache
def _duration_patterns() -> dict[str, str]:
    schema = crd_schemas()[("karpenter.sh/v1", "NodePool")]["properties"]["spec"]["properties"]
    template = schema["template"]["properties"]["spec"]["properties"]
    return {"consolidateAfter": schema["disruption"]["properties"]["consolidateAfter"]["pattern"],
            "expireAfter": template["expireAfter"]["pattern"],
            "terminationGracePeriod": template["terminationGracePeriod"]["pattern"],
            "nodes": schema["disruption"]["properties"]["budgets"]["items"]["properties"]["nodes"]["pattern"]}


def test_duration_patterns_are_karpenters_own() -> None:
    from components.config import eks

    def pattern(annotation: Any) -> str:
        """The pattern of a constrained str field, also inside `X | None` (a default that depends on the pool)."""
        for arg in (annotation, *typing.get_args(annotation)):
            found = [m.pattern for m in getattr(arg, "__metadata__", ()) if hasattr(m, "pattern")]
            if found:
                return str(found[0])
        raise AssertionError(f"no pattern on {annotation}")

    fields = eks.Disruption.model_fields
    mine = {name: pattern(fields[key].annotation if not fields[key].metadata else
                          typing.Annotated[str, *fields[key].metadata])
            for name, key in (("consolidateAfter", "consolidate_after"), ("expireAfter", "expire_after"),
                              ("terminationGracePeriod", "termination_grace_period"), ("nodes", "budget_nodes"))}
    assert mine == _duration_patterns()


# --- §4: what a scanner finds on the VPC and the cost alert topic ----------------------------------------

def of_type(plan: Plan, kind: str) -> list[Any]:
    return [r for r in plan.resources if r.type == kind]


@pytest.mark.parametrize(("stack", "region"), [("dev", "us-west-2"), ("prod", "us-east-1")])
def test_every_vpc_has_flow_logs_to_an_encrypted_log_group(stack: str, region: str, dev_plan: Plan,
                                                            prod_plan: Plan) -> None:
    plan = dev_plan if stack == "dev" else prod_plan
    vpcs = of_type(plan, "aws:ec2/vpc:Vpc")
    flows = of_type(plan, "aws:ec2/flowLog:FlowLog")
    assert vpcs and len(flows) == len(vpcs)
    groups = {r.urn: r for r in of_type(plan, "aws:cloudwatch/logGroup:LogGroup")}
    keys = {r.urn: r for r in of_type(plan, "aws:kms/key:Key")}
    for flow in flows:
        assert flow.inputs["trafficType"] == "ALL" and flow.inputs["logDestinationType"] == "cloud-watch-logs"
        assert any(d.endswith("-vpc-vpc") for d in flow.dependencies)  # its vpc_id is a gpu-fleet VPC's
        (group,) = [groups[d] for d in flow.dependencies if d in groups]
        assert group.inputs["retentionInDays"] == 365
        (key,) = [keys[d] for d in group.dependencies if d in keys]
        assert key.inputs["enableKeyRotation"] is True
        logs = next(s for s in json.loads(key.inputs["policy"])["Statement"]
                    if s.get("Principal", {}).get("Service", "").startswith("logs."))
        assert logs["Principal"]["Service"] == f"logs.{region}.amazonaws.com"
        assert logs["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"] == \
            f"arn:aws:logs:{region}:000000000000:log-group:{group.inputs['name']}"


def test_the_flow_log_role_is_trusted_by_flow_logs_alone_and_writes_one_group(prod_plan: Plan) -> None:
    (flow,) = of_type(prod_plan, "aws:ec2/flowLog:FlowLog")
    roles = {r.urn: r for r in of_type(prod_plan, "aws:iam/role:Role")}
    (role,) = [roles[d] for d in flow.dependencies if d in roles]
    (trust,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": "vpc-flow-logs.amazonaws.com"}
    assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": "000000000000"}
    assert trust["Condition"]["ArnLike"]["aws:SourceArn"] == "arn:aws:ec2:us-east-1:000000000000:vpc-flow-log/*"
    (policy,) = [r for r in of_type(prod_plan, "aws:iam/rolePolicy:RolePolicy") if role.urn in r.dependencies]
    statements = json.loads(policy.inputs["policy"])["Statement"]
    actions = {a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert actions == {"logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams", "logs:DescribeLogGroups"}
    assert all(r != "*" for s in statements for r in ([s["Resource"]] if isinstance(s["Resource"], str)
                                                       else s["Resource"]))


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_vpc_default_security_group_has_no_rules(stack: str, dev_plan: Plan, prod_plan: Plan) -> None:
    plan = dev_plan if stack == "dev" else prod_plan
    defaults = of_type(plan, "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")
    assert len(defaults) == len(of_type(plan, "aws:ec2/vpc:Vpc"))
    for group in defaults:
        assert group.inputs.get("ingress", []) == [] and group.inputs.get("egress", []) == []
        assert any(d.endswith("-vpc-vpc") for d in group.dependencies)


def test_flow_logs_off_creates_none(plan_doc: Any) -> None:
    doc = stack_doc("dev")
    doc["config"]["gpu-fleet:eks"]["flow_logs"] = {"enabled": False}
    plan = plan_doc(eks_only(doc), "dev")  # dev's EKS side: flow logs are EKS's alone
    assert of_type(plan, "aws:ec2/flowLog:FlowLog") == []
    assert of_type(plan, "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup")  # emptied all the same


def test_cost_alert_topic_is_encrypted_with_a_key_the_publishers_may_use(prod_plan: Plan) -> None:
    (topic,) = [t for t in of_type(prod_plan, "aws:sns/topic:Topic") if t.name.endswith("-anomalies")]
    keys = {r.urn: r for r in of_type(prod_plan, "aws:kms/key:Key")}
    (key,) = [keys[d] for d in topic.dependencies if d in keys]
    assert topic.inputs["kmsMasterKeyId"] not in (None, "", "alias/aws/sns")  # a customer key, not SNS's own
    statements = json.loads(key.inputs["policy"])["Statement"]
    publish = next(s for s in statements if s["Sid"] == "CostAlertsPublish")
    assert sorted(publish["Principal"]["Service"]) == ["budgets.amazonaws.com", "costalerts.amazonaws.com"]
    assert publish["Action"] == ["kms:GenerateDataKey*", "kms:Decrypt"]
    assert publish["Condition"] == {"StringEquals": {"aws:SourceAccount": "000000000000"}}
    (policy,) = [p for p in of_type(prod_plan, "aws:sns/topicPolicy:TopicPolicy") if topic.urn in p.dependencies]
    publishers = {s["Principal"]["Service"] for s in json.loads(policy.inputs["policy"])["Statement"]
                  if s["Action"] == "SNS:Publish"}
    assert publishers == {"costalerts.amazonaws.com", "budgets.amazonaws.com"}


def test_existing_resources_keep_their_names(dev_plan: Plan, prod_plan: Plan) -> None:
    for stack, plan in (("dev", dev_plan), ("prod", prod_plan)):
        golden = set((ROOT / "tests" / "golden" / f"urns-{stack}.txt").read_text().split())
        assert golden <= {r.urn for r in plan.resources}, stack


def test_a_never_consolidating_pool_passes_the_nodepool_crd(plan_doc: Any) -> None:
    doc = stack_doc("dev")
    pool = doc["config"]["gpu-fleet:eks"]["regions"][0]["clusters"][0]["gpu_pools"][0]
    pool["disruption"] = {"consolidate_after": "Never", "expire_after": "Never"}
    plan = plan_doc(eks_only(doc), "dev")  # dev's EKS side: Karpenter's NodePools are EKS's alone
    node_pools = [m for m in manifests(plan) if m["kind"] == "NodePool" and m["metadata"]["name"] == pool["name"]]
    (node_pool,) = node_pools
    assert node_pool["spec"]["disruption"]["consolidateAfter"] == "Never"
    assert node_pool["spec"]["template"]["spec"]["expireAfter"] == "Never"
    validate(node_pool)
    schema = crd_schemas()[("karpenter.sh/v1", "NodePool")]
    assert not list(violations(schema, with_defaults(schema, node_pool)))
