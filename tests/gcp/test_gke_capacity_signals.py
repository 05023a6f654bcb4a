"""GKE's capacity signals: log-based metrics over the cluster autoscaler's visibility events and Compute Engine's
preemptions, and the Cloud Monitoring policies that alert on them (issue 19 §6; observability-review.md, "What an
on-call engineer would add" 3 and 4).

The filters are run, by a local evaluator of the Logging query language (`tests/support/logging_filter.py`), against
log entries shaped as GKE and Compute Engine write them (`tests/support/gke_log_entries.py`, with their sources).
"""

from __future__ import annotations

from typing import Any

import pytest

from components.gcp.capacity_signals import (
    NAP_GPU_REASONS,
    PREEMPTIONS,
    SCALE_UP_ERRORS,
    STOCKOUT,
    GpuPoolTarget,
    metric_name,
    node_prefix,
    preemption_filter,
    scale_up_error_filter,
    stockout_filter,
)
from gpufleet import report
from gpufleet.report import Plan
from tests.support import gke_log_entries as logs
from tests.support.logging_filter import matches
from tests.support.plans import gke_of, gke_only

METRIC = "gcp:logging/metric:Metric"
POLICY = "gcp:monitoring/alertPolicy:AlertPolicy"
CHANNEL = "gcp:monitoring/notificationChannel:NotificationChannel"


def _of(plan: Plan, typ: str, prefix: str) -> dict[str, dict[str, Any]]:
    return {r.name: r.inputs for r in plan.resources if r.type == typ and r.name.startswith(prefix)}


# --- the filters, against entries as GKE and Compute Engine write them ------------------------------------------


def test_a_stockout_of_a_gpu_pool_matches_and_nothing_else_does() -> None:
    f = stockout_filter("ml-1", "us-central1", ["h100-prod", "a100-prod"])
    mig = "gke-ml-1-h100-prod-1a2b3c4d-grp"
    assert matches(f, logs.scale_up_failed("ml-1", "us-central1", "us-central1-a", mig,
                                           "scale.up.error.out.of.resources"))
    assert matches(f, logs.scale_up_failed("ml-1", "us-central1", "us-central1-a", mig,
                                           "scale.up.error.waiting.for.instances.timeout"))
    # Not a stockout, not a GPU pool, not this cluster: the same name in another region is another cluster.
    assert not matches(f, logs.scale_up_failed("ml-1", "us-central1", "us-central1-a", mig,
                                               "scale.up.error.quota.exceeded"))
    assert not matches(f, logs.scale_up_failed("ml-1", "us-central1", "us-central1-a", "gke-ml-1-system-9f8e7d6c-grp",
                                               "scale.up.error.out.of.resources"))
    assert not matches(f, logs.scale_up_failed("ml-1", "us-east4", "us-east4-a", mig,
                                               "scale.up.error.out.of.resources"))
    assert not matches(f, logs.scale_up_failed("research-1", "us-central1", "us-central1-b",
                                               "gke-research-1-a100-research-5e6f7a8b-grp",
                                               "scale.up.error.out.of.resources"))
    # A successful result event names no error at all.
    ok = logs.scale_up_failed("ml-1", "us-central1", "us-central1-a", mig, "scale.up.error.out.of.resources")
    ok["jsonPayload"]["resultInfo"]["results"] = ok["jsonPayload"]["resultInfo"]["results"][:1]
    assert not matches(f, ok)


def test_errors_that_need_someone_are_the_other_scale_up_errors() -> None:
    f = scale_up_error_filter("ml-1", "us-central1", ["h100-prod"], auto_provisioning=False)
    mig = "gke-ml-1-h100-prod-1a2b3c4d-grp"
    for reason in ("scale.up.error.quota.exceeded", "scale.up.error.ip.space.exhausted",
                   "scale.up.error.service.account.deleted", "scale.up.error.reservation.not.found"):
        assert matches(f, logs.scale_up_failed("ml-1", "us-central1", "us-central1-a", mig, reason)), reason
    assert not matches(f, logs.scale_up_failed("ml-1", "us-central1", "us-central1-a", mig,
                                               "scale.up.error.out.of.resources"))
    assert not matches(f, logs.scale_up_failed("ml-1", "us-central1", "us-central1-a", "gke-ml-1-system-9f8e7d6c-grp",
                                               "scale.up.error.quota.exceeded"))
    # Auto-provisioning's GPU refusals count only where it provisions GPUs.
    refused = logs.no_scale_up("ml-1", "us-central1", NAP_GPU_REASONS[0], "gke-ml-1-system-9f8e7d6c-grp",
                               "us-central1-a")
    assert not matches(f, refused)
    nap = scale_up_error_filter("ml-1", "us-central1", ["h100-prod"], auto_provisioning=True)
    assert matches(nap, refused)
    assert matches(nap, logs.scale_up_failed("ml-1", "us-central1", "us-central1-a", mig,
                                             "scale.up.error.quota.exceeded"))
    assert not matches(nap, logs.no_scale_up("ml-1", "us-central1", "no.scale.up.nap.pod.zonal.resources.exceeded",
                                             "gke-ml-1-system-9f8e7d6c-grp", "us-central1-a"))
    only_nap = scale_up_error_filter("ml-1", "us-central1", [], auto_provisioning=True)
    assert matches(only_nap, refused)


def test_a_preemption_of_a_spot_gpu_node_matches_in_its_zones_only() -> None:
    pools = [GpuPoolTarget("a100-research", ("us-central1-b", "us-central1-c"), spot=True),
             GpuPoolTarget("a100-serve", ("us-central1-b",), spot=False)]
    f = preemption_filter("research-1", pools)
    assert matches(f, logs.preempted("gke-research-1-a100-research-5e6f7a8b-x7k2", "us-central1-c"))
    # europe-west4's research-1 has the same node names: the zone tells them apart.
    assert not matches(f, logs.preempted("gke-research-1-a100-research-5e6f7a8b-x7k2", "europe-west4-a"))
    assert not matches(f, logs.preempted("gke-research-1-a100-serve-1a2b3c4d-q9w8", "us-central1-b"))
    assert not matches(f, logs.preempted("spot-vm-termination", "us-central1-c"))
    stopped = logs.preempted("gke-research-1-a100-research-5e6f7a8b-x7k2", "us-central1-c")
    stopped["protoPayload"]["methodName"] = "v1.compute.instances.stop"
    assert not matches(f, stopped)


def test_long_names_are_cut_as_gke_cuts_them() -> None:
    # `gke-<cluster>` at 24 characters, the pool at 16 (the docs' MIG `...-nap-n1-standard--b4fcc348-grp`).
    assert node_prefix("ml-1", "nap-n1-standard-1-1kwag2qv") == "gke-ml-1-nap-n1-standard--"
    assert node_prefix("training-europe-west-42", "h100-prod") == "gke-training-europe-west-h100-prod-"
    f = stockout_filter("training-europe-west-42", "europe-west4", ["h100-reserved-training"])
    assert matches(f, logs.scale_up_failed("training-europe-west-42", "europe-west4", "europe-west4-b",
                                           "gke-training-europe-west-h100-reserved-tr-0a1b2c3d-grp",
                                           "scale.up.error.out.of.resources"))


def test_the_evaluator_refuses_what_it_does_not_know() -> None:
    entry = logs.preempted("gke-x-y-1-a", "us-central1-a")
    with pytest.raises(ValueError):
        matches('protoPayload.methodName=~"preempted"', entry)
    assert matches('resource.labels.zone="US-CENTRAL1-A" OR resource.labels.zone:"central1"', entry)
    assert not matches('resource.labels.zone="US-CENTRAL1-A"', entry)


# --- the plan: per GPU cluster, its metrics and policies -------------------------------------------------------


def test_dev_plans_the_three_signals_of_its_gpu_cluster(dev_plan: Plan) -> None:
    metrics = _of(dev_plan, METRIC, "us-central1-dev-1-capacity-")
    policies = _of(dev_plan, POLICY, "us-central1-dev-1-capacity-")
    assert set(metrics) == set(policies) == {f"us-central1-dev-1-capacity-{s.metric}"
                                             for s in (STOCKOUT, SCALE_UP_ERRORS, PREEMPTIONS)}
    stockout = metrics["us-central1-dev-1-capacity-gpu-stockouts"]
    assert stockout["name"] == metric_name("us-central1-dev-1", STOCKOUT) == "gpufleet/us-central1-dev-1/gpu-stockouts"
    assert stockout["metricDescriptor"] == {"metricKind": "DELTA", "valueType": "INT64", "unit": "1",
                                            "displayName": "gpu-fleet us-central1-dev-1 gpu-stockouts"}
    assert stockout["filter"] == stockout_filter("dev-1", "us-central1", ["l4", "h100-spot"])
    assert matches(stockout["filter"], logs.scale_up_failed("dev-1", "us-central1", "us-central1-a",
                                                            "gke-dev-1-h100-spot-0a1b2c3d-grp",
                                                            "scale.up.error.out.of.resources"))
    assert matches(metrics["us-central1-dev-1-capacity-gpu-spot-preemptions"]["filter"],
                   logs.preempted("gke-dev-1-h100-spot-0a1b2c3d-abcd", "us-central1-a"))
    assert not matches(metrics["us-central1-dev-1-capacity-gpu-spot-preemptions"]["filter"],
                       logs.preempted("gke-dev-1-l4-0a1b2c3d-abcd", "us-central1-a"))  # l4 is on-demand

    policy = policies["us-central1-dev-1-capacity-gpu-stockouts"]
    (cond,) = policy["conditions"]
    threshold = cond["conditionThreshold"]
    assert threshold["filter"] == ('metric.type="logging.googleapis.com/user/gpufleet/us-central1-dev-1/'
                                   'gpu-stockouts" AND resource.type="k8s_cluster"')
    assert threshold["comparison"] == "COMPARISON_GT" and threshold["thresholdValue"] == 1  # two in 30 minutes
    assert threshold["aggregations"] == [{"alignmentPeriod": "1800s", "perSeriesAligner": "ALIGN_SUM",
                                          "crossSeriesReducer": "REDUCE_SUM"}]
    assert threshold["evaluationMissingData"] == "EVALUATION_MISSING_DATA_INACTIVE"
    assert policy["severity"] == "WARNING"
    assert "docs/runbooks/GkeGpuStockout.md" in policy["documentation"]["content"]
    errors = policies["us-central1-dev-1-capacity-gpu-scale-up-errors"]
    assert errors["severity"] == "CRITICAL"
    assert errors["conditions"][0]["conditionThreshold"]["thresholdValue"] == 0
    preempt = policies["us-central1-dev-1-capacity-gpu-spot-preemptions"]["conditions"][0]["conditionThreshold"]
    assert preempt["filter"].endswith('resource.type="gce_instance"')
    # dev has no receivers: the policies notify nobody, and the plan says so.
    assert all(p["notificationChannels"] == [] for p in policies.values())
    (dev1,) = [m for m in dev_plan.to_json()["monitoring"] if m["cluster"] == "us-central1-dev-1"]
    assert {"GkeGpuStockout", "GkeGpuScaleUpErrors", "GkeGpuSpotPreemptions"} <= set(dev1["alerts"])
    assert dev1["capacity_signals"] == ["gpufleet/us-central1-dev-1/gpu-stockouts",
                                        "gpufleet/us-central1-dev-1/gpu-scale-up-errors",
                                        "gpufleet/us-central1-dev-1/gpu-spot-preemptions"]
    assert "us-central1-dev-1: its capacity alerts (Cloud Monitoring) reach no receiver" in \
        report.markdown(dev_plan, None)


def test_prod_watches_every_gpu_cluster_and_spot_only_where_pools_are_spot(prod_plan: Plan) -> None:
    metrics = {r.name for r in prod_plan.resources if r.type == METRIC}
    for region in ("us-central1", "us-east4", "europe-west4"):
        assert f"{region}-ml-1-capacity-gpu-stockouts" in metrics
        assert f"{region}-research-1-capacity-gpu-spot-preemptions" in metrics
        assert f"{region}-ml-1-capacity-gpu-spot-preemptions" not in metrics  # on-demand and reserved only
        assert not [m for m in metrics if m.startswith(f"{region}-svc-1-")]  # no GPUs
    # The paging receiver (critical only) gets the errors; the Slack one cannot be reached from Cloud Monitoring.
    (ml1,) = [m for m in prod_plan.to_json()["monitoring"] if m["cluster"] == "us-central1-ml-1"]
    assert ml1["capacity_receivers"] == ["gpu-oncall"] and ml1["unreached"] == ["ml-platform"]
    policies = _of(prod_plan, POLICY, "us-central1-ml-1-capacity-")
    assert len(policies["us-central1-ml-1-capacity-gpu-scale-up-errors"]["notificationChannels"]) == 1
    assert policies["us-central1-ml-1-capacity-gpu-stockouts"]["notificationChannels"] == []


def test_the_capacity_alerts_notify_the_budgets_channels(prod_doc: dict[str, Any], plan_doc: Any,
                                                        prod_plan: Plan) -> None:
    """gpu-oncall already has the budget's PagerDuty channel: the capacity alerts use it, making none of their own;
    a receiver the budget does not notify gets a project-wide channel of its own, once."""
    channels = {r.name: r for r in prod_plan.resources if r.type == CHANNEL}
    assert "budget-gcp-oncall-gpu-oncall" in channels
    assert not [n for n in channels if n.startswith("oncall-gcp")]
    doc = gke_only(prod_doc)  # prod's GKE side in us-central1: the channels are GCP's, its GPU clusters several
    gke_of(doc)["regions"] = gke_of(doc)["regions"][:1]
    doc["config"]["gpu-fleet:observability"]["receivers"]["capacity-mail"] = {
        "type": "email", "to": ["gpu-capacity@acme.example"], "from": "gpu-fleet@acme.example",
        "smarthost": "smtp.acme.example:587", "severities": ["warning"]}
    plan = plan_doc(doc, "prod")
    own = {r.name: r.inputs for r in plan.resources if r.type == CHANNEL and r.name.startswith("oncall-gcp")}
    assert set(own) == {"oncall-gcp-capacity-mail-gpu-capacity-acme-example"}
    assert own["oncall-gcp-capacity-mail-gpu-capacity-acme-example"]["labels"] == {
        "email_address": "gpu-capacity@acme.example"}
    (ml1,) = [m for m in plan.to_json()["monitoring"] if m["cluster"] == "us-central1-ml-1"]
    assert ml1["capacity_receivers"] == ["capacity-mail", "gpu-oncall"]
    stockouts = _of(plan, POLICY, "us-central1-ml-1-capacity-gpu-stockouts")["us-central1-ml-1-capacity-gpu-stockouts"]
    assert len(stockouts["notificationChannels"]) == 1
