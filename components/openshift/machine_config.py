"""Node tuning that needs the Machine Config Operator: MachineConfigPools and MachineConfigs.

Only what exists nowhere else goes here: kernel arguments and systemd units (sysctls go through the Node Tuning
Operator, `components/openshift/tuning.py`). A profile with either gets a custom pool `worker-gpu-<profile>`
that inherits every `worker` MachineConfig (OS updates included) and adds the profile's, as Ignition 3.2.0
(parsed by the MCO of every release the GPU Operator supports). A new node boots from the `worker` config and is
then moved to that pool, which costs it one drain and reboot; nodes of other GPU pools join no custom pool. A
node belongs to one custom pool only. Nothing here loads a driver: on RHCOS the GPU Operator's driver container
builds and loads it with the Driver Toolkit.
"""

from __future__ import annotations

from typing import Any

from components.config.openshift import TuningProfile

MCO_API = "machineconfiguration.openshift.io/v1"
ROLE_LABEL = "machineconfiguration.openshift.io/role"
IGNITION_VERSION = "3.2.0"


def machine_config_pool(role: str, max_unavailable: int = 1) -> dict[str, Any]:
    return {
        "metadata": {"name": role},
        "spec": {
            "machineConfigSelector": {"matchExpressions": [
                {"key": ROLE_LABEL, "operator": "In", "values": ["worker", role]}]},
            "nodeSelector": {"matchLabels": {f"node-role.kubernetes.io/{role}": ""}},
            "maxUnavailable": max_unavailable,
            "paused": False,
        },
    }


def profile_role(profile: TuningProfile) -> str:
    return f"worker-gpu-{profile.name}"


def machine_config(profile: TuningProfile) -> dict[str, Any] | None:
    """The profile's MachineConfig, or None when it needs none (no kernel arguments, no units)."""
    role = profile_role(profile)
    config: dict[str, Any] = {"ignition": {"version": IGNITION_VERSION}}
    if profile.units:
        config["systemd"] = {"units": [{"name": n, "enabled": True, "contents": c}
                                       for n, c in sorted(profile.units.items())]}
    if not profile.needs_machine_config:
        return None
    spec: dict[str, Any] = {"config": config}
    if profile.kernel_arguments:
        spec["kernelArguments"] = list(profile.kernel_arguments)
    return {"metadata": {"name": f"99-{role}", "labels": {ROLE_LABEL: role}}, "spec": spec}
