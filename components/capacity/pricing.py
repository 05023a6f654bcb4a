"""The stack's price overrides, published as a component's outputs so that every reader sees the same prices.

Capacity rows (the plan report and the policies alike) are computed from registered resources; this
component carries `gpu-fleet:prices` into that view, so a negotiated price set in the stack file changes
the plan and the budget policies together. It provisions nothing in any cloud.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pulumi

if TYPE_CHECKING:  # annotations only: the policy pack imports this module and needs no stack model
    from components.config.model import PriceOverride
    from components.config.prices import Discount


TYPE = "gpufleet:pricing:PriceOverrides"


class PriceOverrides(pulumi.ComponentResource):
    prices: list[dict[str, object]]
    discounts: list[dict[str, object]]
    """gpu-fleet:discounts, applied by every reader of the capacity view (plan, budget and price policies)."""

    def __init__(self, name: str, prices: list[PriceOverride], opts: pulumi.ResourceOptions | None = None,
                 discounts: list[Discount] | None = None) -> None:
        super().__init__(TYPE, name, None, opts)
        self.prices = [p.model_dump() for p in prices]
        self.discounts = [d.model_dump(mode="json") for d in discounts or []]
        self.register_outputs({"prices": self.prices, "discounts": self.discounts})
