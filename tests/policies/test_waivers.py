"""Policy waivers (issue 22 §4), through the real pack over its analyzer protocol, as `pulumi preview` loads it.

Each test writes a policy config next to dev's (policies/config/dev.json) with the one change it needs: a quota
taken away so `gpu-quota` fails (a stack policy), deletion protection required so `gke-deletion-protection` fails
(a resource policy), and waivers over them with expiries relative to today. The plan is dev's GKE side alone
(`dev_gke_plan`): both policies judge GKE, and the pack deserializes a third of dev's resources per policy.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from components.config import ConfigError
from gpufleet import policy_gate
from gpufleet.report import Plan, markdown
from gpufleet.waivers_section import section
from policies import waivers
from tests.support.pack_configs import disable_all_but
from tests.support.plans import ROOT
from tests.support.verdicts import reconcile

PACK = ROOT / "policies"
TODAY = waivers.today()
SOON = str(TODAY + timedelta(days=30))
QUOTA = "us-central1 NVIDIA_L4_GPUS"
WAIVED_HERE = ("gpu-quota", "gke-deletion-protection")


def _config(tmp_path: Path, **policies: dict[str, Any]) -> Path:
    """dev's pack config with the change; only the two policies waived here and `policy-waivers` left on."""
    config = json.loads((PACK / "config" / "dev.json").read_text())
    config["gpu-quota"]["quotas"]["us-central1"]["NVIDIA_L4_GPUS"] = 0
    for name, settings in policies.items():
        config[name.replace("_", "-")] = {**config.get(name.replace("_", "-"), {}), **settings}
    path = tmp_path / "dev.json"
    path.write_text(json.dumps(disable_all_but(config, [*WAIVED_HERE, waivers.NAME])))
    return path


def _run(plan: Plan, config: Path) -> policy_gate.PolicyResult:
    return policy_gate.run_pack(PACK, config, plan.resources, stack="dev", project="gpu-fleet")


def _waiver(covers: str, expires: str = SOON, **extra: str) -> dict[str, str]:
    return {"covers": covers, "owner": "ml-platform", "ticket": "OPS-4711", "expires": expires, **extra}


def _quota_failures(result: policy_gate.PolicyResult) -> list[dict[str, str]]:
    return [v for v in result.violations if v["policy"] == "gpu-quota" and v["message"].startswith(QUOTA)]


def test_without_a_waiver_the_quota_failure_is_mandatory(dev_gke_plan: Plan, tmp_path: Path) -> None:
    result = _run(dev_gke_plan, _config(tmp_path))
    assert _quota_failures(result) and result.mandatory_failed
    assert result.waivers == []


def test_a_waiver_accepts_the_violation_until_it_expires(dev_gke_plan: Plan, tmp_path: Path) -> None:
    result = _run(dev_gke_plan, _config(tmp_path, gpu_quota={"waivers": [_waiver(QUOTA)]}))
    assert not _quota_failures(result)
    assert not result.mandatory_failed
    [record] = result.waivers
    assert record["state"] == "waived"
    assert record["message"].startswith(f"waived until {SOON} by ml-platform: OPS-4711 [gpu-quota on {QUOTA}] "
                                        f"{QUOTA}: ")
    # Its own section in the comment, and in the JSON the plan writes.
    plan = Plan(dev_gke_plan.stack, dev_gke_plan.resources, dev_gke_plan.capacity, dev_gke_plan.cost,
                policy={**result.to_json(), "config": "policies/config/dev.json"})
    assert "Waivers: 1 violation waived" in markdown(plan)
    sec = section(plan.policy)
    assert sec is not None and sec.data == result.waivers and sec.changed


def test_an_expired_waiver_fails_like_the_violation_and_says_so(dev_gke_plan: Plan, tmp_path: Path) -> None:
    yesterday = str(TODAY - timedelta(days=1))
    result = _run(dev_gke_plan, _config(tmp_path, gpu_quota={"waivers": [_waiver(QUOTA, yesterday)]}))
    [failure] = [v for v in result.violations if v["policy"] == "gpu-quota" and "waiver expired" in v["message"]]
    assert failure["level"] == "mandatory" and result.mandatory_failed
    assert failure["message"].startswith(f"waiver expired on {yesterday} (ml-platform: OPS-4711); renew it or fix "
                                         f"this: {QUOTA}: ")
    assert result.waivers == []  # matched, so not "unused" either


def test_a_waiver_matching_nothing_is_reported(dev_gke_plan: Plan, tmp_path: Path) -> None:
    stale = _waiver("us-central1 NVIDIA_H100_GPUS", reason="the old H100 pool")
    result = _run(dev_gke_plan, _config(tmp_path, gpu_quota={"waivers": [stale]}))
    assert _quota_failures(result) and result.mandatory_failed
    [record] = result.waivers
    assert record["state"] == "unused"
    assert "gpu-quota on us-central1 NVIDIA_H100_GPUS (by ml-platform" in record["message"]


def test_a_resource_policy_is_waived_by_the_resource_name(dev_gke_plan: Plan, tmp_path: Path) -> None:
    clusters = [r for r in dev_gke_plan.resources if r.type == "gcp:container/cluster:Cluster"]
    assert clusters
    name = str(clusters[0].inputs["name"])
    required = {"required": True, "waivers": [_waiver(name, reason="dev clusters are disposable")]}
    config = _config(tmp_path, gke_deletion_protection=required)
    result = _run(dev_gke_plan, config)
    protection = [v for v in result.violations if v["policy"] == "gke-deletion-protection"]
    assert len(protection) == len(clusters) - 1
    assert [r["message"].split(" [")[1].split("]")[0] for r in result.waivers] == [
        f"gke-deletion-protection on {name}"]


@pytest.mark.parametrize(("waiver", "key", "fragment"), [
    ({"covers": QUOTA, "ticket": "OPS-1", "expires": SOON}, "gpu-quota.waivers.0", "'owner' is a required"),
    ({"covers": QUOTA, "owner": "ml", "ticket": "OPS-1"}, "gpu-quota.waivers.0", "'expires' is a required"),
    ({"covers": QUOTA, "owner": "ml", "expires": SOON}, "gpu-quota.waivers.0", "has no reason or ticket"),
    (_waiver(QUOTA, "2027-13-01"), "gpu-quota.waivers.0.expires", "is not a date"),
    (_waiver(QUOTA, str(TODAY.replace(year=TODAY.year + 181))), "gpu-quota.waivers.0.expires",
     "more than a year after today"),
    (_waiver(QUOTA, str(TODAY.replace(year=TODAY.year - 10))), "gpu-quota.waivers.0.expires",
     "days before today"),
    ({**_waiver(QUOTA), "until": SOON}, "gpu-quota.waivers.0", "Additional properties"),
])
def test_bad_waivers_are_input_errors(tmp_path: Path, waiver: dict[str, str], key: str, fragment: str) -> None:
    """Reconciled against the schemas the real pack serves, run_pack's first step (the test below runs the pack)."""
    config = _config(tmp_path, gpu_quota={"waivers": [waiver]})
    with pytest.raises(ConfigError) as exc:
        reconcile(config)
    [issue] = exc.value.issues
    assert issue.path == f"{config}: {key}" and fragment in str(issue), issue


def test_a_waiver_for_an_unknown_policy_is_refused(dev_gke_plan: Plan, tmp_path: Path) -> None:
    config = _config(tmp_path, gpu_quotas={"waivers": [_waiver(QUOTA)]})
    with pytest.raises(ConfigError) as exc:
        _run(dev_gke_plan, config)
    assert [i.path for i in exc.value.issues] == [f"{config}: gpu-quotas"]


@pytest.mark.parametrize(("message", "subject"), [
    ("gke.regions[us-central1].clusters[ml-1].gpu_pools[a100-prod] is production-critical on a2-highgpu-8g",
     "gke.regions[us-central1].clusters[ml-1].gpu_pools[a100-prod]"),
    ("us-east-1 L-417A185B: 1344 vCPUs (Running On-Demand P instances) requested", "us-east-1 L-417A185B"),
    ("all regions NETWORKS: 9 VPC networks created", "all regions NETWORKS"),
    ("GPU capacity at maximum scale would use 89% of the daily budget", "stack"),
])
def test_stack_violation_subjects(message: str, subject: str) -> None:
    assert waivers.stack_subjects(message) == [subject]


def test_a_key_prefix_covers_what_is_below_it_only() -> None:
    w = waivers.Waiver("p", "gke.regions[us-central1].clusters[ml-1]", "o", "r", TODAY)
    assert w.covers_any(["gke.regions[us-central1].clusters[ml-1].gpu_pools[h100]"])
    assert not w.covers_any(["gke.regions[us-central1].clusters[ml-10].gpu_pools[h100]"])
