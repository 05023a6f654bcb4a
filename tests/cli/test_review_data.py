"""The review's data sections on the scenarios of pr-review.md §2.1: each planned with the pack against prod's base.

a+f. raise us-central1 h100-prod 4→5 with its quota 32→40, and EKS l40s gpu_limit 16→32 (one plan); d. europe-west4
h100-prod 4→6 without quota; e+g+h. the daily budget 50,000→42,000, a label and two alert thresholds (one plan); q. a
quota grant only; and dev planned into prod's GCP project. Figures are checked against the pack's own verdicts.
Scenarios share a plan where no edit moves a figure another's test reads: a prod plan costs about 4 s of CPU.

Every scenario, the base included, runs the real pack with only the policies these sections read (`REVIEW_POLICIES`,
the rest `disabled` alike on both sides, so no enforcement level differs between head and base): the other policies
would cost about 6 s of CPU per prod plan to report what no test here reads.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from gpufleet import changes, cli, headroom, layout, links, report
from gpufleet.report import Plan
from gpufleet.sections import Section
from tests.support import review_scenarios
from tests.support.pack_configs import disable_others
from tests.support.review_scenarios import ROOT, Edit, eks_pool, gke_pool

Pair = tuple[Plan, Path]

REVIEW_POLICIES = ("gpu-quota", "gpu-budget", "gpu-budget-warning")
"""The policies whose settings and verdicts the quota, budget, where-else and changes sections read."""


def scenario(factory: pytest.TempPathFactory, stack: str, edit: Edit | None = None,
             policy_edit: Edit | None = None) -> Pair:
    """`review_scenarios.scenario` with the stack's shipped policy config cut to `REVIEW_POLICIES`, then edited."""

    def policy(config: dict[str, Any]) -> None:
        disable_others(config, REVIEW_POLICIES)
        if policy_edit is not None:
            policy_edit(config)

    return review_scenarios.scenario(factory, stack, edit, policy)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    plan, _ = scenario(tmp_path_factory, "prod")
    return json.loads(json.dumps(plan.to_json()))


def _quota(section: Section, region: str, metric: str) -> dict[str, Any]:
    assert isinstance(section.data, dict)
    return next(q for q in section.data["quotas"] if (q["region"], q["metric"]) == (region, metric))


def _row(section: Section, *first: str) -> tuple[str, ...]:
    return next(r for r in section.rows if r[:len(first)] == first)


def _violations(plan: Plan, policy: str) -> list[str]:
    assert plan.policy is not None
    return [v["message"] for v in plan.policy["violations"] if v["policy"] == policy]


@pytest.fixture(scope="module")
def raise_h100(tmp_path_factory: pytest.TempPathFactory) -> Pair:
    """Scenarios a and f in one plan: us-central1's h100-prod 4→5 with its grant 32→40, and EKS l40s 16→32 (a vCPU
    quota of another cloud: neither moves a figure the other's test reads). Together they add one a3-megagpu-8g
    ($92.94/h, Pulumi.prod.yaml's price override: 2,231 USD/day) and 16 L40S ($3.77/GPU-h in g6e.24xlarge and
    g6e.48xlarge, the catalog's us-east-1 on-demand: 1,446 USD/day) to the base's 45,138 USD/day ceiling: 48,814,
    98% of the 50,000 budget, still in the warning band a reads (at 100% the warning becomes gpu-budget's failure)."""

    def edit(doc: dict[str, Any]) -> None:
        gke_pool(doc, "us-central1", "ml-1", "h100-prod")["autoscaling"]["max_nodes"] = 5
        eks_pool(doc, "us-east-1", "ml-aws", "l40s")["gpu_limit"] = 32

    def grant(policy: dict[str, Any]) -> None:
        policy["gpu-quota"]["quotas"]["us-central1"]["NVIDIA_H100_MEGA_GPUS"] = 40

    return scenario(tmp_path_factory, "prod", edit, grant)


def test_a_quota_raised_with_the_pool_shows_the_grant_change_and_the_budget_crossing(
        raise_h100: Pair, base: dict[str, Any]) -> None:
    plan, _ = raise_h100
    quota = headroom.section(plan, base)
    q = _quota(quota, "us-central1", "NVIDIA_H100_MEGA_GPUS")
    assert (q["used"], q["granted"], q["granted_before"], q["change"], q["grant_changed"]) == (40, 40, 32, 8, True)
    assert _row(quota, "us-central1", "NVIDIA_H100_MEGA_GPUS")[3] == "32 → 40 (changed in this PR)"
    assert _quota(quota, "us-central1", "NVIDIA_L4_GPUS")["grant_changed"] is False
    budget = headroom.budget_section(plan, base)
    assert budget is not None and budget.headline is not None
    # The pack's own advisory says the same share: one arithmetic.
    share = _violations(plan, "gpu-budget-warning")[0].split("would use ")[1].split(" of")[0]
    # prod's base already sits at 90% (GCP's prices of 2026-07-30), so the warning is not newly crossed.
    assert budget.headline.endswith(f"= {share} of 50,000 USD/day, was 90%")


@pytest.fixture(scope="module")
def break_quota(tmp_path_factory: pytest.TempPathFactory) -> Pair:
    def edit(doc: dict[str, Any]) -> None:
        gke_pool(doc, "europe-west4", "ml-1", "h100-prod")["autoscaling"]["max_nodes"] = 6
        # The fleet's ceiling is then 50,812.80 USD/day: a budget a hair above it puts the share at 99.95%, which
        # must read 99.9%, never a rounded 100% that would look like the limit.
        doc["config"]["gpu-fleet:budgets"]["daily_usd"] = 50840

    return scenario(tmp_path_factory, "prod", edit)


def test_d_quota_over_is_the_headline_and_the_share_never_rounds_to_100(break_quota: Pair,
                                                                        base: dict[str, Any]) -> None:
    plan, _ = break_quota
    quota = headroom.section(plan, base)
    assert quota.mandatory and quota.headline is not None
    assert "europe-west4 NVIDIA_H100_MEGA_GPUS 48 of 32 granted (16 over)" in quota.headline
    assert any("europe-west4 NVIDIA_H100_MEGA_GPUS: 48 GPUs" in m for m in _violations(plan, "gpu-quota"))
    assert _quota(quota, "europe-west4", "NVIDIA_H100_MEGA_GPUS")["change"] == 16
    assert _quota(quota, "global", "GPUS_ALL_REGIONS")["used"] == 270
    budget = headroom.budget_section(plan, base)
    assert budget is not None and budget.headline is not None and "= 99.9% of 50,840 USD/day" in budget.headline
    where = headroom.where_else_section(plan, base)
    assert where is not None and isinstance(where.data, dict)
    assert "gke.regions[europe-west4].clusters[ml-1].gpu_pools[h100-prod]" in where.data["nowhere"]


@pytest.fixture(scope="module")
def relabel_and_alerts(tmp_path_factory: pytest.TempPathFactory) -> Pair:
    """Scenarios e, g and h in one plan: the daily budget 50,000→42,000, a label and two alert thresholds. None
    moves a GPU: the budget section reads the same ceiling, the changes section the resources each edit touches."""

    def edit(doc: dict[str, Any]) -> None:
        doc["config"]["gpu-fleet:budgets"]["daily_usd"] = 42000
        doc["config"]["gpu-fleet:labels"]["data-classification"] = "internal"
        alerts = doc["config"]["gpu-fleet:observability"].setdefault("alerts", {})
        alerts["gpu_utilization"] = {"percent": 95, "window": "10m"}
        alerts["gpu_idle"] = {"percent": 5, "window": "2h"}

    return scenario(tmp_path_factory, "prod", edit)


def test_e_budget_cut_reads_in_its_own_period_with_the_old_amount(relabel_and_alerts: Pair,
                                                                  base: dict[str, Any]) -> None:
    plan, _ = relabel_and_alerts  # the daily budget 50,000→42,000
    budget = headroom.budget_section(plan, base)
    assert budget is not None and budget.mandatory and budget.changed
    assert budget.headline == ("fleet: ceiling 45,138 USD/day = 107% of 42,000 USD/day, was 90% of 50,000 USD/day, "
                               "budget exceeded")
    assert _violations(plan, "gpu-budget")  # the pack fails it too
    training = _row(budget, "training")
    assert training[1] == "budgets.teams[training]" and "of 30,000 USD/day, unchanged" in training[2]


def test_without_the_pack_no_grant_is_known_and_nowhere_is_suggested(prod_plan: Plan) -> None:
    unpacked = dataclasses.replace(prod_plan, policy=None)  # the shared plan may carry a verdict another test added
    quota = headroom.section(unpacked, None)
    assert any("without the policy pack" in n for n in quota.notes)
    assert headroom.where_else_section(unpacked, None) is None


def test_f_aws_vcpu_quotas_read_in_vcpus_and_gpus(raise_h100: Pair, base: dict[str, Any]) -> None:
    plan, _ = raise_h100  # l40s at 32 GPUs
    quota = headroom.section(plan, base)
    q = _quota(quota, "us-east-1", "L-DB2E81BA")
    assert (q["used"], q["granted"], q["gpus"], q["status"]) == (768, 384, 32, "over")
    assert _row(quota, "us-east-1", "L-DB2E81BA")[2] == "768 vCPUs (32 GPUs)"
    assert any("L-DB2E81BA: 768 vCPUs" in m for m in _violations(plan, "gpu-quota"))


def test_g_h_labels_and_alert_thresholds_are_visible(relabel_and_alerts: Pair, base: dict[str, Any]) -> None:
    plan, _ = relabel_and_alerts
    found = changes.section(plan, base)
    assert found is not None and found.changed and isinstance(found.data, dict)
    by_action = found.data["resources"]
    assert by_action["update"]["NodePool"] == 20  # labels update GKE node pools in place: not ForceNew
    assert "replace" not in by_action and "create" not in by_action and "delete" not in by_action
    assert sum(by_action["update (may replace)"].values()) > 0  # AWS tags: the offline plan cannot tell
    assert ("alert", "GpuUtilizationHigh", "85/5m → 95/10m (8 rule objects)") in found.rows
    assert ("alert", "GpuIdle", "5/30m → 5/2h (8 rule objects)") in found.rows
    assert "2 alert threshold changes" in str(found.headline)
    assert headroom.section(plan, base).changed is False


@pytest.fixture(scope="module")
def raise_l4_grant(tmp_path_factory: pytest.TempPathFactory) -> Pair:
    """Scenario q, a quota grant only: us-central1 NVIDIA_L4_GPUS 24→48 in the policy config (pr-review.md's 24→32
    gives where-else no room for a 16-GPU pool; one grant serves both tests, with one pack run on the base's plan)."""

    def grant(policy: dict[str, Any]) -> None:
        policy["gpu-quota"]["quotas"]["us-central1"]["NVIDIA_L4_GPUS"] = 48

    return scenario(tmp_path_factory, "prod", None, grant)


def test_q_quota_only_change_shows_the_grant_and_the_policy_config(raise_l4_grant: Pair,
                                                                   base: dict[str, Any]) -> None:
    plan, _ = raise_l4_grant
    quota = headroom.section(plan, base)
    assert quota.changed
    # Headroom 48 - 18: us-central1's l4-serve, 3 g2-standard-24 (2 L4 each) in each of its 3 zones.
    assert _row(quota, "us-central1", "NVIDIA_L4_GPUS")[3:5] == ("24 → 48 (changed in this PR)", "30")
    found = changes.section(plan, base)
    assert found is not None and found.rows == [
        ("policy config", "gpu-quota.quotas.us-central1.NVIDIA_L4_GPUS", "24 → 48")]
    assert found.headline == "1 policy-config change"


def test_an_unchanged_branch_says_so_in_one_line(base: dict[str, Any],
                                                 tmp_path_factory: pytest.TempPathFactory) -> None:
    plan, _ = scenario(tmp_path_factory, "prod")
    found = changes.section(plan, base)
    assert found is not None and not found.changed
    assert found.headline == "no resource, alert or policy-config change"


def test_where_else_finds_a_region_with_headroom_and_prices_it(raise_l4_grant: Pair) -> None:
    # us-east4's spot L4 pool fills PREEMPTIBLE_NVIDIA_L4_GPUS (16 of 16); us-central1 grants no preemptible L4,
    # so there spot counts against NVIDIA_L4_GPUS, raised to 48 (18 used): room for its 16 GPUs.
    plan, _ = raise_l4_grant
    where = headroom.where_else_section(plan, None)
    assert where is not None and isinstance(where.data, dict)
    moves = [m for m in where.data["moves"] if m["pool"].startswith("gke.regions[us-east4]")
             and m["region"] == "us-central1"]
    assert moves and moves[0]["headroom_gpus"] == 30
    assert moves[0]["delta_usd_per_gpu_hour"] is not None


@pytest.fixture(scope="module")
def dev_in_prod_project(tmp_path_factory: pytest.TempPathFactory) -> Pair:
    def edit(doc: dict[str, Any]) -> None:
        doc["config"]["gcp:project"] = "acme-ml-prod"
        gke_pool(doc, "us-central1", "dev-1", "l4")["autoscaling"]["max_nodes"] = 8

    return scenario(tmp_path_factory, "dev", edit)


def test_stacks_sharing_a_project_sum_their_quota(dev_in_prod_project: Pair, base: dict[str, Any],
                                                  tmp_path_factory: pytest.TempPathFactory) -> None:
    dev, _ = dev_in_prod_project
    dev_doc = json.loads(json.dumps(dev.to_json()))
    prod, _ = scenario(tmp_path_factory, "prod")
    shared = headroom.shared_section(prod, [dev_doc])
    assert shared is not None and shared.mandatory and shared.headline is not None
    assert "gcp:acme-ml-prod us-central1 NVIDIA_L4_GPUS: 26 GPUs across stacks (prod 18, dev 8), granted 24" \
        in shared.headline
    assert headroom.shared_over(prod, [dev_doc])
    assert any(line.startswith("prod: gcp:acme-ml-prod us-central1 NVIDIA_L4_GPUS: 26")
               for line in headroom.shared_findings([base, dev_doc]))
    # The real dev lives in its own project: nothing is shared.
    assert headroom.shared_section(prod, [{**dev_doc, "resources": [
        {**r, "inputs": {**r["inputs"], "project": "acme-ml-dev"}} if r["type"] == "gcp:container/cluster:Cluster"
        else r for r in dev_doc["resources"]]}]) is None


def test_with_refuses_a_file_that_is_not_a_plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    bogus = tmp_path / "dev.json"
    bogus.write_text('{"hello": 1}')
    monkeypatch.chdir(ROOT)
    assert cli.main(["plan", "prod", "--no-policy", "--with", str(bogus)]) == cli.EXIT_CONFIG
    err = capsys.readouterr().err
    assert f"--with {bogus}: not a gpu-fleet plan" in err and "Traceback" not in err


def test_config_line_follows_the_yaml_parse() -> None:
    prod = ROOT / "Pulumi.prod.yaml"
    lines = prod.read_text().splitlines()
    daily = links.config_line(prod, "budgets.daily_usd")
    assert daily is not None and lines[daily - 1].strip() == "daily_usd: 50000"
    pool = links.config_line(prod, "gke.regions[europe-west4].clusters[ml-1].gpu_pools[h100-prod]")
    assert pool is not None and lines[pool - 1].strip() == "- name: h100-prod"
    cluster = links.config_line(prod, "gke.regions[europe-west4].clusters[ml-1]")
    assert cluster is not None and cluster < pool and lines[cluster - 1].strip() == "- name: ml-1"
    assert links.config_line(prod, "gke.regions[mars-1]") is None


def test_links_are_relative_or_under_the_link_base(monkeypatch: pytest.MonkeyPatch) -> None:
    prod = ROOT / "Pulumi.prod.yaml"
    line = links.config_line(prod, "budgets.teams[training]")
    assert links.link(prod, "budgets.teams[training]", root=ROOT) == \
        f"[`budgets.teams[training]`](Pulumi.prod.yaml#L{line})"
    base = "https://github.com/acme/gpu-fleet/blob/abc123"
    assert links.link(prod, "budgets.daily_usd", base=base, root=ROOT) == \
        f"[`budgets.daily_usd`]({base}/Pulumi.prod.yaml#L{links.config_line(prod, 'budgets.daily_usd')})"
    monkeypatch.setenv(links.LINK_BASE_ENV, base)
    assert str(links.link(prod, "budgets.daily_usd", root=ROOT)).startswith(f"[`budgets.daily_usd`]({base}/")


def test_the_comment_carries_the_sections_and_links(break_quota: Pair, base: dict[str, Any]) -> None:
    plan, stack_file = break_quota
    md = report.markdown(plan, base, links=layout.Links().for_stack(stack_file, root=stack_file.parent))
    assert "- Quota headroom: europe-west4 NVIDIA_H100_MEGA_GPUS 48 of 32 granted (16 over)" in md
    daily = links.config_line(stack_file, "budgets.daily_usd")
    assert f"| [`budgets.daily_usd`](Pulumi.prod.yaml#L{daily}) |" in md
    assert {"quota", "budget", "where_else"} <= set(plan.to_json())


def test_replacement_follows_the_providers_force_new_fields() -> None:
    pool = {"nodeConfig": {"labels": {"a": "1"}, "guestAccelerators": [{"count": 8, "type": "nvidia-h100-80gb"}]}}
    relabel = {"nodeConfig": {"labels": {"a": "2"}, "guestAccelerators": [{"count": 8, "type": "nvidia-h100-80gb"}]}}
    regpu = {"nodeConfig": {"labels": {"a": "1"}, "guestAccelerators": [{"count": 4, "type": "nvidia-h100-80gb"}]}}
    node_pool = "gcp:container/nodePool:NodePool"
    assert changes.action(node_pool, pool, relabel) == "update"
    assert changes.action(node_pool, pool, regpu) == "replace"
    assert changes.action(node_pool, {"autoscaling": {"maxNodeCount": 4}}, {"autoscaling": {"maxNodeCount": 5}}) \
        == "update"
    k8s = "kubernetes:core/v1:Namespace"
    assert changes.action(k8s, {"metadata": {"name": "a"}}, {"metadata": {"name": "b"}}) == "replace"
    assert changes.action(k8s, {"metadata": {"name": "a", "labels": {}}},
                          {"metadata": {"name": "a", "labels": {"x": "y"}}}) == "update"
    assert changes.action("aws:ec2/vpc:Vpc", {"tags": {}}, {"tags": {"x": "y"}}) == "update (may replace)"
