"""Node tuning for GPU machines: MachineConfigPools and MachineConfigs (Machine Config Operator).

One custom pool per tuning profile, plus `worker-gpu` for GPU machines without a profile. Each pool inherits
every `worker` MachineConfig (OS updates included) and adds its profile's: kernel arguments, sysctls and systemd
units, as Ignition 3.2.0 (parsed by the MCO of every release the GPU Operator supports). A node belongs to one
custom pool only, so a pool's nodes carry one role label. Nothing here loads a driver: on RHCOS the GPU
Operator's driver container builds and loads it with the Driver Toolkit.
"""

from __future__ import annotations

import base64
from typing import Any

from components.config.openshift import TuningProfile

MCO_API = "machineconfiguration.openshift.io/v1"
ROLE_LABEL = "machineconfiguration.openshift.io/role"
IGNITION_VERSION = "3.2.0"
FILE_MODE = 0o644


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


def _data_url(text: str) -> str:
    return "data:text/plain;charset=utf-8;base64," + base64.b64encode(text.encode()).decode()


def sysctl_file(profile: TuningProfile) -> str:
    return "".join(f"{k} = {v}\n" for k, v in sorted(profile.sysctls.items()))


def machine_config(profile: TuningProfile) -> dict[str, Any] | None:
    """The profile's MachineConfig, or None when it only groups nodes (nothing to write)."""
    role = f"worker-gpu-{profile.name}"
    config: dict[str, Any] = {"ignition": {"version": IGNITION_VERSION}}
    if profile.sysctls:
        config["storage"] = {"files": [{
            "path": f"/etc/sysctl.d/99-gpu-fleet-{profile.name}.conf", "mode": FILE_MODE, "overwrite": True,
            "contents": {"source": _data_url(sysctl_file(profile))}}]}
    if profile.units:
        config["systemd"] = {"units": [{"name": n, "enabled": True, "contents": c}
                                       for n, c in sorted(profile.units.items())]}
    if not (profile.sysctls or profile.units or profile.kernel_arguments):
        return None
    spec: dict[str, Any] = {"config": config}
    if profile.kernel_arguments:
        spec["kernelArguments"] = list(profile.kernel_arguments)
    return {"metadata": {"name": f"99-{role}", "labels": {ROLE_LABEL: role}}, "spec": spec}
