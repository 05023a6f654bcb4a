"""Issue 20 §5: hurried edits of every section, each refused by the real CLI with exit 2 and one line.

Each row edits a shipped stack file (section, edit) and names what the one line must hold: the key path, the value
(None where the value may be a credential: then the test asserts it is absent) and a piece of the hint. Every row
runs `gpufleet.cli.main(["plan", ...])` on a temporary stack file; validation refuses it before the program runs,
so a row costs milliseconds. The valid edits beside them are planned once, together, and must still plan. The
policy config rows go through `policy_gate.reconcile_config`, the function the CLI reconciles a pack config with.

Every new key a later change adds joins this table (and `components.config.units` if it is a number).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import yaml

from components.config import ConfigError
from gpufleet import cli
from tests.support.plans import ROOT

Doc = dict[str, Any]
SECRET_TEXT = "https://hooks.slack.com/services/T0ACME/B0ACME/TOPSECRETVALUE"
"""A credential a hurried edit writes into the stack file: it must never reach the output."""


def _prod() -> Doc:
    return dict(yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text()))


PROD = _prod()


class Row(NamedTuple):
    section: str
    edit: Callable[[Doc], object]
    path: str
    value: str | None
    """A piece of the `(got ...)` part; None: the value must not be printed at all (it may be a credential)."""
    hint: str


def cfg(doc: Doc, key: str) -> Any:
    return doc["config"][f"gpu-fleet:{key}"]


def obs(doc: Doc) -> Any:
    return cfg(doc, "observability")


def _set_receiver(doc: Doc, name: str, **change: Any) -> None:
    r = obs(doc)["receivers"][name]
    for key, value in change.items():
        if value is None:
            r.pop(key, None)
        else:
            r[key] = value


def ocp(doc: Doc) -> Any:
    return cfg(doc, "openshift")["clusters"][0]


def region(doc: Doc, i: int = 0) -> Any:
    return cfg(doc, "gke")["regions"][i]


def eks_pool(doc: Doc) -> Any:
    return cfg(doc, "eks")["regions"][0]["clusters"][0]["gpu_pools"][0]


def _dup_region(doc: Doc) -> None:
    regions = cfg(doc, "gke")["regions"]
    regions.append(copy.deepcopy(regions[0]))


def _prices(doc: Doc, *extra: dict[str, Any]) -> None:
    doc["config"]["gpu-fleet:prices"] = [*cfg(doc, "prices"), *extra]


EKS_POOL = "eks.regions[us-east-1].clusters[ml-aws].gpu_pools[h100]"
OCP = "openshift.clusters[ocp-ai]"
REGION = "gke.regions[us-central1]"
ML = "observability.receivers.ml-platform"

ROWS = [
    # eks
    Row("eks", lambda d: eks_pool(d).update(gpu_limit=True), f"{EKS_POOL}.gpu_limit", "True", "whole number"),
    Row("eks", lambda d: eks_pool(d).update(gpu_limit=0), f"{EKS_POOL}.gpu_limit", "0", "unit: GPUs"),
    Row("eks", lambda d: eks_pool(d).update(capacity_type=["spot"]), f"{EKS_POOL}.capacity_type", None,
        "did you mean capacity_types?"),
    Row("eks", lambda d: cfg(d, "eks")["regions"].append(copy.deepcopy(cfg(d, "eks")["regions"][0])),
        "eks.regions[us-east-1]", "us-east-1", "unique"),
    # openshift: the kubeconfig is a credential, however it is written
    Row("openshift", lambda d: ocp(d).update(kubeconfig=f"apiVersion: v1\nusers: [{{token: {SECRET_TEXT}}}]"),
        f"{OCP}.kubeconfig", None, "kubeconfig: {secret: <key>}"),
    Row("openshift", lambda d: ocp(d).update(kubeconfig={"secret": SECRET_TEXT}), f"{OCP}.kubeconfig.secret", None,
        "pulumi config set --secret gpu-fleet:<name>"),
    Row("openshift", lambda d: ocp(d)["kubeconfig"].update(token=SECRET_TEXT), f"{OCP}.kubeconfig.token", None,
        "known keys here: secret, path, context"),
    Row("openshift", lambda d: cfg(d, "openshift").update(clusters={"ocp-ai": ocp(d)}), "openshift.clusters", None,
        "a YAML list of entries"),
    Row("openshift", lambda d: ocp(d).update(regon=ocp(d).pop("region")), f"{OCP}.regon", "us-east-2",
        "did you mean region?"),
    Row("openshift", lambda d: ocp(d).update(kubeconfig={"secret": "openshift-ocp-ai-kubeconfg"}),
        f"{OCP}.kubeconfig.secret", "openshift-ocp-ai-kubeconfg", "did you mean openshift-ocp-ai-kubeconfig?"),
    # observability: units, and every way of missing the `secret:` key
    Row("observability", lambda d: obs(d).update(alerts={"gpu_utilization": {"percent": 0.85}}),
        "observability.alerts.gpu_utilization.percent", "0.85", "85 for 85%"),
    Row("observability", lambda d: obs(d).update(alerts={"network_saturation": {"percent": 0.8}}),
        "observability.alerts.network_saturation.percent", "0.8", "80 for 80%"),
    Row("observability", lambda d: obs(d).update(alerts={"gpu_idle": {"percent": 0.05}}),
        "observability.alerts.gpu_idle.percent", "0.05", "5 for 5%"),
    Row("observability", lambda d: obs(d).update(alerts={"cost_spike": {"factor": 200}}),
        "observability.alerts.cost_spike.factor", "200", "factor 2 is seed 002's 200%"),
    Row("observability", lambda d: obs(d).update(alerts={"cost_spike": {"factor": 1}}),
        "observability.alerts.cost_spike.factor", "1", "2 means twice"),
    Row("observability", lambda d: obs(d).update(alerts={"gpu_memory": {"percent": True}}),
        "observability.alerts.gpu_memory.percent", "True", "true/false"),
    Row("observability", lambda d: _set_receiver(d, "ml-platform", secret="slack-alert-webhook"), f"{ML}.secret",
        "slack-alert-webhook", "did you mean slack-alerts-webhook?"),
    Row("observability", lambda d: obs(d).update(receivers=[{"name": k, **v} for k, v in obs(d)["receivers"].items()]),
        "observability.receivers", None, "keyed by name, not a list"),
    Row("observability", lambda d: obs(d).update(receiver=obs(d).pop("receivers")), "observability.receiver", None,
        "did you mean receivers?"),
    Row("observability", lambda d: _set_receiver(d, "ml-platform", secret=None, api_url=SECRET_TEXT), f"{ML}.api_url",
        None, "Pulumi secrets"),
    Row("observability", lambda d: _set_receiver(d, "gpu-oncall", secret=None, routing_key=SECRET_TEXT),
        "observability.receivers.gpu-oncall.routing_key", None, "Pulumi secrets"),
    Row("observability", lambda d: _set_receiver(d, "ml-platform", secret=SECRET_TEXT), f"{ML}.secret", None,
        "pulumi config set --secret gpu-fleet:<name>"),
    Row("observability", lambda d: _set_receiver(d, "ml-platform", secret="budgets"), f"{ML}.secret", "budgets",
        "a key of its own"),
    Row("observability", lambda d: d["config"].update({"gpu-fleet:slack-webhok": SECRET_TEXT}), "slack-webhok", None,
        "pulumi config set --secret gpu-fleet:<name>"),
    # budgets
    Row("budgets", lambda d: cfg(d, "budgets").update(daily_usd=True), "budgets.daily_usd", "True",
        "unit: USD a day"),
    Row("budgets", lambda d: cfg(d, "budgets").update(monthly_usd=50000), "budgets.monthly_usd", "50000",
        "swapped, or a daily figure?"),
    Row("budgets", lambda d: cfg(d, "budgets").update(monthly_usd=900), "budgets.monthly_usd", "900", "USD a month"),
    Row("budgets", lambda d: cfg(d, "budgets").update(thresholds=[70, 90]), "budgets.thresholds[0]", "70",
        "0.8 means 80%"),
    Row("budgets", lambda d: cfg(d, "budgets")["aws"].update(share=20), "budgets.aws.share", "20", "0.8 means 80%"),
    Row("budgets", lambda d: cfg(d, "budgets")["teams"][0].update(daily_usd=float("inf")),
        "budgets.teams[training].daily_usd", "inf", "a finite number"),
    # fabric (a region's gpu_cidr) and the GKE regions it lives in
    Row("fabric", lambda d: region(d).update(gpu_cidr="10.160.0.1/16"), f"{REGION}.gpu_cidr", "10.160.0.1/16",
        "host bits set"),
    Row("fabric", lambda d: region(d).update(gpu_cidr="fd00:160::/48"), f"{REGION}.gpu_cidr", "fd00:160::/48",
        "an IPv4 CIDR"),
    Row("fabric", lambda d: region(d).update(gpu_cidr="10.160.0.0/24"), f"{REGION}.gpu_cidr", "10.160.0.0/24",
        "192.168.0.0/16"),
    Row("fabric", lambda d: region(d).update(gpu_cidr="10.160.0.0/33"), f"{REGION}.gpu_cidr", "10.160.0.0/33",
        "does not appear to be"),
    Row("fabric", _dup_region, REGION, "us-central1", "unique"),
    # prices
    Row("prices", lambda d: _prices(d, {"machine_type": "g2-standard-24", "region": "us-centrl1",
                                        "on_demand_hourly_usd": 2.0}), "prices[1].region", "us-centrl1",
        "did you mean us-central1?"),
    Row("prices", lambda d: _prices(d, {"machine_type": "p5.48xlarge", "region": "us-east-7",
                                        "on_demand_hourly_usd": 55.0}), "prices[1].region", "us-east-7",
        "did you mean us-east-2 or us-east-1?"),
    Row("prices", lambda d: _prices(d, dict(cfg(d, "prices")[0])), "prices[1].region", "us-central1",
        "one override per machine type and region"),
    Row("prices", lambda d: _prices(d, {"machine_type": "a3-megagpu-8g", "region": "us-east1",
                                        "on_demand_hourly_usd": 90.0}), "prices[1].region", "us-east1",
        "regions with NVIDIA H100"),
    Row("prices", lambda d: cfg(d, "prices")[0].update(on_demand_hourly_usd=True),
        "prices[0].on_demand_hourly_usd", "True", "USD an hour"),
    # the config block itself
    Row("config", lambda d: d.update(config=None), "config", None, "gpu-fleet:environment"),
    Row("config", lambda d: d.update(config={"gcp:project": "acme-ml-prod"}), "config", None, "gpu-fleet:gke"),
    Row("config", lambda d: d["config"].pop("gpu-fleet:environment"), "environment", None,
        "labels every resource"),
]


def _run(tmp_path: Path, doc: Doc, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    path = tmp_path / "Pulumi.t.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    code = cli.main(["plan", "t", "--config", str(path), "--no-policy"])
    return code, capsys.readouterr().err


@pytest.mark.parametrize("row", ROWS, ids=[f"{r.section}-{r.path}-{i}" for i, r in enumerate(ROWS)])
def test_a_hurried_edit_exits_2_with_key_value_and_hint_on_one_line(
        row: Row, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = copy.deepcopy(PROD)
    row.edit(doc)
    code, err = _run(tmp_path, doc, capsys)
    assert code == 2, err
    assert "Traceback" not in err and SECRET_TEXT not in err and "TOPSECRET" not in err, err
    lines = [ln.strip() for ln in err.splitlines() if ln.strip().startswith(f"{row.path}:")]
    assert lines, err
    line = lines[0]
    assert "hint: " in line and row.hint in line.split("hint: ", 1)[1], line
    if row.value is None:
        assert "(got " not in line, line
    else:
        assert re.search(r"\(got .*" + re.escape(row.value), line), line
    # Never the hint that writes a credential into the stack file.
    assert "plain text:" not in err and "without --secret" not in err, err


# --- the policy config ---------------------------------------------------------------------------------------

POLICY_ROWS = [
    ({"gpu-quota": {"quotas": {"us-central1": {"L-417A185B": 64}}}}, "gpu-quota.quotas.us-central1.L-417A185B",
     "under the AWS region"),
    ({"gpu-quota": {"quotas": {"us-east-1": {"NVIDIA_H100_GPUS": 8}}}}, "gpu-quota.quotas.us-east-1.NVIDIA_H100_GPUS",
     "under the GCP region"),
    ({"gpu-quota": {"quotas": {"us-east-2": {"PREEMPTIBLE_NVIDIA_L4_GPUS": 8}}}},
     "gpu-quota.quotas.us-east-2.PREEMPTIBLE_NVIDIA_L4_GPUS", "L-417A185B"),
    ({"gpu-quota": {"quotas": {"us-central1": {"NVIDIA_L4_GPUS": True}}}},
     "gpu-quota.quotas.us-central1.NVIDIA_L4_GPUS", "Granted quota"),
    ({"gpu-spot-share": {"max_spot_share": 70}}, "gpu-spot-share.max_spot_share", "0.7 for 70%"),
    ({"gpu-quota": {"quotas": {"us-centrall1": {"NVIDIA_L4_GPUS": 8}}}}, "gpu-quota.quotas.us-centrall1",
     "did you mean us-central1?"),
]


@pytest.fixture(scope="module")
def analyzer_info() -> Any:
    from pulumi_policy import EnforcementLevel
    from pulumi_policy.policy import _PolicyAnalyzerServicer

    from policies.pack import PACK_NAME, POLICIES

    return _PolicyAnalyzerServicer(PACK_NAME, "0.0.0", POLICIES, EnforcementLevel.MANDATORY).GetAnalyzerInfo(
        None, None)


@pytest.mark.parametrize(("config", "path", "hint"), POLICY_ROWS, ids=[r[1] for r in POLICY_ROWS])
def test_a_policy_config_edit_is_refused_naming_its_key(config: dict[str, Any], path: str, hint: str,
                                                        analyzer_info: Any) -> None:
    from gpufleet import policy_gate

    with pytest.raises(ConfigError) as caught:
        policy_gate.reconcile_config(analyzer_info, config, "t.json")
    lines = [str(i) for i in caught.value.issues if str(i).startswith(f"t.json: {path}:")]
    assert len(lines) == 1, [str(i) for i in caught.value.issues]
    assert hint in lines[0].split("hint: ", 1)[1], lines[0]


def test_the_shipped_policy_configs_are_valid(analyzer_info: Any) -> None:
    """Both clouds' quotas under their own regions, as prod grants them, pass: the controls of the rows above."""
    from gpufleet import policy_gate

    for stack in ("dev", "prod"):
        config = policy_gate.load_config(ROOT / "policies" / "config" / f"{stack}.json")
        policy_gate.reconcile_config(analyzer_info, config, f"{stack}.json")


# --- the controls: valid edits beside the rows, planned once ---------------------------------------------------

def _controls(doc: Doc) -> None:
    budgets = cfg(doc, "budgets")
    budgets.update(thresholds=[0.7, 1.2], monthly_usd=1_200_000)  # above 100% is valid; a month above a day
    budgets["aws"]["thresholds"] = [0.8, 1.0, 1.5]
    obs(doc)["alerts"] = {"gpu_idle": {"percent": 1}, "gpu_utilization": {"percent": 100},
                          "cost_spike": {"factor": 20}, "network_saturation": {"percent": 1.5}}
    _prices(doc, {"machine_type": "g2-standard-24", "region": "us-east4", "on_demand_hourly_usd": 2.0},
            {"machine_type": "g2-standard-24", "region": "us-central1", "on_demand_hourly_usd": 2.1},
            {"machine_type": "p5.48xlarge", "region": "us-east-1", "on_demand_hourly_usd": 55.04})
    # A kubeconfig kept after the cluster moved to a file: planned, with a warning that names it.
    ocp(doc)["kubeconfig"] = {"path": "/etc/ci/ocp-ai.kubeconfig"}


def test_the_valid_edits_beside_them_still_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = copy.deepcopy(PROD)
    _controls(doc)
    # prod without europe-west4, which no control names (a fifth of the plan): the price controls' regions stay.
    cfg(doc, "gke")["regions"] = [r for r in cfg(doc, "gke")["regions"] if r["name"] in ("us-central1", "us-east4")]
    code, err = _run(tmp_path, doc, capsys)
    assert code == 0, err
    (warning,) = [ln for ln in err.splitlines() if "openshift-ocp-ai-kubeconfig" in ln]
    assert warning.startswith("warning: gpu-fleet:openshift-ocp-ai-kubeconfig is stored as a secret, but no section "
                              "refers to it; hint: remove it with `pulumi config rm gpu-fleet:openshift-ocp-ai-"
                              "kubeconfig`"), warning
    assert cfg(PROD, "openshift")["clusters"][0]["kubeconfig"] == {"secret": "openshift-ocp-ai-kubeconfig"}


# --- every number has a unit and a range, in the README ---------------------------------------------------------

def _numbers_block() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    return readme.split("<!-- generated: config-numbers", 1)[1].split("<!-- end: config-numbers -->", 1)[0]


def test_every_numeric_key_has_a_unit_and_the_readme_lists_it() -> None:
    from components.config.units import UNITS
    from gpufleet import docs

    readme = _numbers_block()
    keys = [key for key, _ in docs.numeric_keys()]
    assert "budgets.daily_usd" in keys and "observability.alerts.cost_spike.factor" in keys
    assert [k for k in keys if k not in UNITS] == [], "add these numbers' units to components/config/units.py"
    assert sorted(set(UNITS) - set(keys)) == [], "units.py names keys the model no longer has"
    for key in keys:
        row = next((ln for ln in readme.splitlines() if ln.startswith(f"| `{key}` | {UNITS[key].unit} | ")), None)
        assert row is not None, f"README.md lists no unit for {key}: run python -m gpufleet.docs"
        assert "number" in row.split(" | ")[2], row


@pytest.mark.parametrize("key", ["budgets.thresholds[]", "observability.alerts.gpu_utilization.percent",
                                 "observability.alerts.cost_spike.factor", "budgets.monthly_usd"])
def test_the_readme_range_says_what_the_rules_add(key: str) -> None:
    row = next(ln for ln in _numbers_block().splitlines() if ln.startswith(f"| `{key}` |"))
    expected = {"budgets.thresholds[]": "<= 5", "observability.alerts.gpu_utilization.percent": "above 1",
                "observability.alerts.cost_spike.factor": "<= 20", "budgets.monthly_usd": "above daily_usd"}[key]
    assert expected in row, row


def test_a_boolean_is_no_number_anywhere() -> None:
    """Each numeric field of every model refuses `true` (pydantic's lax mode reads it as 1)."""
    from pydantic import BaseModel, ValidationError

    from components.config.model import Fleet
    from gpufleet import docs

    models: list[type[BaseModel]] = []
    todo: list[type[BaseModel]] = [Fleet]
    while todo:
        model = todo.pop()
        if model in models:
            continue
        models.append(model)
        for field in model.model_fields.values():
            todo += docs._models(field.annotation)
    checked = 0
    for model in models:
        for name, field in model.model_fields.items():
            if not docs._numeric(field.annotation):
                continue
            is_list = "list[" in repr(field.annotation)
            try:
                model.model_validate({field.alias or name: [True] if is_list else True})
            except ValidationError as exc:
                kinds = {e["type"] for e in exc.errors() if e["loc"][0] == (field.alias or name)}
            else:
                kinds = set()
            assert kinds & {"count_bool", "number_bool"}, f"{model.__name__}.{name} reads true as a number: {kinds}"
            checked += 1
    assert checked >= 55
