"""Sysctls for GPU machines through the Node Tuning Operator: one `Tuned` (tuned.openshift.io/v1) per profile.

The operator's TuneD daemon applies a profile's `[sysctl]` section at run time on every node whose labels match
its `recommend[].match`, so a new GPU machine gets its sysctls without a MachineConfig, without being moved to a
custom MachineConfigPool and without the drain and reboot that move costs. The match is on the node label
`gpu-fleet/tuning: <profile>` that the pool's MachineSet puts on its nodes; never on `machineConfigLabels`, which
makes the operator render a MachineConfig for the profile's pool (and so a reboot per node): its CRD describes it
as "MachineConfig is created automatically ... and setting the profile on all nodes that match the
MachineConfigPools' nodeSelectors" (openshift/cluster-node-tuning-operator `manifests/20-tuned.crd.yaml`).
"""

from __future__ import annotations

from typing import Any

from components.config.openshift import TuningProfile

TUNED_API = "tuned.openshift.io/v1"
TUNED_NAMESPACE = "openshift-cluster-node-tuning-operator"
TUNING_LABEL = "gpu-fleet/tuning"
"""Node label (the profile's name) the profile's Tuned matches on."""
PRIORITY = 20
"""Lower is stronger: the operator's default `openshift-node` is 40 (`assets/tuned/manifests/default-cr-tuned.yaml`),
and a node gets the strongest profile that matches, so gpu-fleet's wins on its nodes; `include=openshift-node`
keeps the default's settings underneath."""


def tuned_name(profile: TuningProfile) -> str:
    return f"gpu-fleet-{profile.name}"


def _value(value: str) -> str:
    # TuneD reads a value with blanks quoted, as the operator's README writes `ip_local_port_range="1024 65535"`.
    return f'"{value}"' if any(c.isspace() for c in value) else value


def profile_data(profile: TuningProfile) -> str:
    """The TuneD profile: the OpenShift node defaults plus the profile's sysctls."""
    lines = [f"{k}={_value(v)}" for k, v in sorted(profile.sysctls.items())]
    return "\n".join(["[main]", f"summary=gpu-fleet GPU tuning profile {profile.name}", "include=openshift-node",
                      "[sysctl]", *lines]) + "\n"


def tuned(profile: TuningProfile) -> dict[str, Any] | None:
    """The profile's Tuned, or None when it has no sysctls."""
    if not profile.sysctls:
        return None
    name = tuned_name(profile)
    return {
        "metadata": {"name": name, "namespace": TUNED_NAMESPACE},
        "spec": {
            "profile": [{"name": name, "data": profile_data(profile)}],
            "recommend": [{"profile": name, "priority": PRIORITY,
                           "match": [{"label": TUNING_LABEL, "value": profile.name}]}],
        },
    }
