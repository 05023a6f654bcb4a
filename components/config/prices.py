"""Negotiated discounts on list prices (`gpu-fleet:discounts`): committed use, savings plans, private pricing.

A discount takes a share off the on-demand price of the machines and regions it names, for the plan's costs, the
budget policies and the cost recording rules alike; the plan shows each discounted pool with its list price.
"""

from __future__ import annotations

from enum import Enum

from pydantic import Field

from components.config.base import Name, Number, Strict


class DiscountKind(str, Enum):
    COMMITTED_USE = "committed-use"
    """GCP committed-use discounts (resource- or spend-based) and AWS Reserved Instances."""
    SAVINGS_PLAN = "savings-plan"
    """AWS Compute or EC2 Instance Savings Plans."""
    NEGOTIATED = "negotiated"
    """A private pricing agreement (AWS PPA, a Google Cloud contract)."""


class Discount(Strict):
    name: Name
    """What the discount is called in the plan (`cud-h100-3y`)."""
    kind: DiscountKind
    percent: Number = Field(gt=0, lt=100)
    """Percent off the on-demand price (37 for a 37% discount)."""
    machine_types: list[str] = Field(default_factory=list)
    """Machine types it covers, exact names or fnmatch patterns (`a3-*`, `p5*.48xlarge`); empty: every machine."""
    regions: list[str] = Field(default_factory=list)
    """Regions it covers; empty: every region."""
