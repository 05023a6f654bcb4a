"""Log entries as GKE's cluster autoscaler and Compute Engine write them, for the capacity signals' filters.

Shapes, not invented fields:
- `preempted()`: the entry gcpdiag recorded from the Logging API for a Spot VM preemption
  (GoogleCloudPlatform/gcpdiag@06ec858 `test-data/gce5/json-dumps/logging-entries-1.json`, the entry with
  `methodName: compute.instances.preempted`, fetched by that directory's Makefile from
  https://logging.googleapis.com/v2/entries:list); only the project, zone and VM name differ (a GKE node's name).
- `visibility()`: the envelope of a cluster autoscaler visibility event, as the GKE docs' query names it
  (https://cloud.google.com/kubernetes-engine/docs/how-to/cluster-autoscaler-visibility: `resource.type="k8s_cluster"`,
  `resource.labels.location`, `resource.labels.cluster_name`, `logName=projects/<p>/logs/container.googleapis.com%2F
  cluster-autoscaler-visibility`), around the docs' own payload examples as GoogleCloudPlatform/khi@6d543af
  `pkg/task/inspection/googlecloudloggkeautoscaler/contract/types_test.go` records them: `resultInfo` (measureTime,
  results[].eventId/errorMsg{messageId, parameters}) and `noDecisionStatus.noScaleUp` (skippedMigs,
  unhandledPodGroups[].napFailureReasons/podGroup/rejectedMigs, unhandledPodGroupsTotalCount).
- A scale-up error's parameter is the failing instance group's URL (gcpdiag `err_2021_006_scaleup_failed.py` reads
  the MIG name with `/instanceGroups/([^/]+)$`); a GKE MIG is `gke-<cluster>-<pool>-<hash>-grp`.
"""

from __future__ import annotations

import copy
from typing import Any

PROJECT = "acme-ml-prod"

_PREEMPTED: dict[str, Any] = {
    "insertId": "-ugcy3ke3z2p0",
    "labels": {"compute.googleapis.com/root_trigger_id": "2ebc4490-e78d-46c2-8a7d-2bb8b1f51e05"},
    "logName": "projects/gcpdiag-gce5-aaaa/logs/cloudaudit.googleapis.com%2Fsystem_event",
    "operation": {"first": True, "id": "systemevent-1742191214262-630838074f9b5-9fa4f9d5-b984944c", "last": True,
                  "producer": "compute.instances.preempted"},
    "protoPayload": {
        "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
        "authenticationInfo": {"principalEmail": "testuser@example.com"},
        "methodName": "compute.instances.preempted",
        "request": {"@type": "type.googleapis.com/compute.instances.preempted"},
        "resourceName": "projects/gcpdiag-gce5-aaaa/zones/us-central1-c/instances/spot-vm-termination",
        "serviceName": "compute.googleapis.com",
        "status": {"message": "Instance was preempted."},
    },
    "receiveTimestamp": "2025-03-17T06:00:15.268708125Z",
    "resource": {"labels": {"instance_id": "2093000891450668968", "project_id": "gcpdiag-gce5-aaaa",
                            "zone": "us-central1-c"}, "type": "gce_instance"},
    "severity": "INFO",
    "timestamp": "2025-03-17T06:00:14.413235Z",
}


def preempted(instance: str, zone: str, project: str = PROJECT) -> dict[str, Any]:
    """Compute Engine's system event for the preemption of VM `instance` in `zone`."""
    entry = copy.deepcopy(_PREEMPTED)
    entry["logName"] = f"projects/{project}/logs/cloudaudit.googleapis.com%2Fsystem_event"
    entry["protoPayload"]["resourceName"] = f"projects/{project}/zones/{zone}/instances/{instance}"
    entry["resource"]["labels"].update(project_id=project, zone=zone)
    return entry


def visibility(cluster: str, location: str, payload: dict[str, Any], project: str = PROJECT) -> dict[str, Any]:
    """A cluster autoscaler visibility event of `cluster` carrying `payload` as its jsonPayload."""
    return {
        "insertId": "1gxx8m6f1nuy7x",
        "jsonPayload": payload,
        "logName": f"projects/{project}/logs/container.googleapis.com%2Fcluster-autoscaler-visibility",
        "receiveTimestamp": "2026-11-30T09:12:44.611298101Z",
        "resource": {"type": "k8s_cluster",
                     "labels": {"cluster_name": cluster, "location": location, "project_id": project}},
        "severity": "DEFAULT",
        "timestamp": "2026-11-30T09:12:40.201Z",
    }


def mig_url(zone: str, mig: str, project: str = PROJECT) -> str:
    return f"https://www.googleapis.com/compute/v1/projects/{project}/zones/{zone}/instanceGroups/{mig}"


def scale_up_failed(cluster: str, location: str, zone: str, mig: str, message_id: str) -> dict[str, Any]:
    """The `resultInfo` event of a failed scale-up of instance group `mig` (one ok result beside it, as the docs')."""
    return visibility(cluster, location, {"resultInfo": {"measureTime": "1582878896", "results": [
        {"eventId": "2fca91cd-7345-47fc-9770-838e05e28b17"},
        {"errorMsg": {"messageId": message_id, "parameters": [mig_url(zone, mig)]},
         "eventId": "ea2e964c-49b8-4cd7-8fa9-fefb0827f9a6"},
    ]}})


def no_scale_up(cluster: str, location: str, nap_reason: str, rejected_mig: str, zone: str) -> dict[str, Any]:
    """The docs' `noScaleUp` example, with the pod group's auto-provisioning refusal `nap_reason`."""
    return visibility(cluster, location, {"noDecisionStatus": {"measureTime": "1582523362", "noScaleUp": {
        "skippedMigs": [],
        "unhandledPodGroups": [{
            "napFailureReasons": [{"messageId": nap_reason, "parameters": [zone]}],
            "podGroup": {"samplePod": {"controller": {"apiVersion": "batch/v1", "kind": "Job", "name": "train"},
                                       "name": "train-6zg8m", "namespace": "training"}, "totalPodCount": 1},
            "rejectedMigs": [{"mig": {"name": rejected_mig, "nodepool": "default-pool", "zone": zone},
                              "reason": {"messageId": "no.scale.up.mig.failing.predicate",
                                         "parameters": ["NodeResourcesFit", "Insufficient nvidia.com/gpu"]}}],
        }],
        "unhandledPodGroupsTotalCount": 1,
    }}})
