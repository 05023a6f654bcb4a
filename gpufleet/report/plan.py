"""The offline plan as data: what the program registered, its GPU capacity and cost, the verdict, and its JSON.

The plan JSON (`--json`, the next pull request's `--base`) also stores every section's machine-readable form.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from components.capacity import CapacityRow, Cost
from gpufleet.offline import Recorded
from gpufleet.report.comment import SECTIONS
from gpufleet.report.monitoring import eks_versions, monitoring


@dataclass
class Plan:
    """One stack's offline plan."""

    stack: str
    """The stack's name (`dev`, `prod`)."""
    resources: list[Recorded]
    """Every resource the program registered under the mocks, in registration order."""
    capacity: list[CapacityRow]
    """One row per GPU pool, priced."""
    cost: Cost
    """The pools' cost at minimum and maximum scale."""
    policy: dict[str, Any] | None = None
    """The pack's verdict and reconciled settings (gpufleet/policy_gate.py), or None with `--no-policy`."""
    extra: dict[str, Any] = field(default_factory=dict)
    """What the command line adds: `today`, secrets left unset or unused, `--with` stacks (`others`), the live
    preview (`live`, `live_skipped`)."""

    def to_json(self) -> dict[str, Any]:
        """The plan JSON: resources with inputs, capacity, cost, monitoring, EKS pins, verdict, and section data."""
        doc: dict[str, Any] = {
            "stack": self.stack,
            "resources": [
                {"urn": r.urn, "type": r.type, "name": r.name, "parent": r.parent, "custom": r.custom,
                 "provider": r.provider, "dependencies": r.dependencies, "inputs": r.inputs}
                for r in self.resources
            ],
            "capacity": [row.to_dict() for row in self.capacity],
            "cost": self.cost.to_dict(),
        }
        doc["monitoring"] = monitoring(self.resources)
        doc["eks_versions"] = eks_versions(self.resources)
        if self.policy is not None:
            doc["policy"] = self.policy
        for make in SECTIONS:  # a section's machine-readable form, where it has one of its own
            section = make(self, None)
            if section is not None and section.data is not None and section.key not in doc:
                doc[section.key] = section.data
        return doc
