"""Karpenter's generated EC2 instance-type table (../shared/reference/aws/karpenter-instance-types.md), parsed.

The file is `hack/docs/instancetypes_gen` output: one "### `<type>`" heading per instance type, then a Labels table
and a Resources table of `|key|value|` rows. Tests hold the catalog's AWS rows against it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference" / "aws" / "karpenter-instance-types.md"
_HEADING = re.compile(r"^### `([^`]+)`\n", re.M)
_ROW = re.compile(r"^\s*\|([^|]+)\|([^|]*)\|\s*$", re.M)


@dataclass(frozen=True)
class InstanceType:
    """One instance type's facts as Karpenter labels them (memory in MiB, NVMe in GB)."""

    name: str
    vcpus: int
    memory_mib: int
    gpu_count: int | None
    """`karpenter.k8s.aws/instance-gpu-count`; None on types without a GPU label."""
    gpu_name: str | None
    local_nvme_gb: int
    efa: int
    """`vpc.amazonaws.com/efa` resources; 0 where the type lists none."""


@cache
def instance_types() -> dict[str, InstanceType]:
    """Every instance type of the reference, by name."""
    parts = _HEADING.split(REFERENCE.read_text(encoding="utf-8"))
    out: dict[str, InstanceType] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        kv = {k.strip(): v.strip() for k, v in _ROW.findall(body)}
        count = kv.get("karpenter.k8s.aws/instance-gpu-count")
        out[name] = InstanceType(
            name=name,
            vcpus=int(kv["karpenter.k8s.aws/instance-cpu"]),
            memory_mib=int(kv["karpenter.k8s.aws/instance-memory"]),
            gpu_count=int(count) if count is not None else None,
            gpu_name=kv.get("karpenter.k8s.aws/instance-gpu-name"),
            local_nvme_gb=int(kv.get("karpenter.k8s.aws/instance-local-nvme", "0")),
            efa=int(kv.get("vpc.amazonaws.com/efa", "0")),
        )
    return out


def gpu_instance_types() -> dict[str, InstanceType]:
    """The types that carry an NVIDIA or other GPU label (fractional ones report a count of 0)."""
    return {n: t for n, t in instance_types().items() if t.gpu_name is not None}
