"""Building blocks of the stack model every platform shares: strict models, names, GCP region and zone forms."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

NAME_PATTERN = r"^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$"
REGION_PATTERN = r"^[a-z]+-[a-z]+[0-9]+$"
ZONE_PATTERN = r"^[a-z]+-[a-z]+[0-9]+-[a-z]$"

Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
"""A GCP/Kubernetes-safe name (RFC 1035, at most 40 characters); also the stable key of logical names."""

Region = Annotated[str, StringConstraints(pattern=REGION_PATTERN)]
Zone = Annotated[str, StringConstraints(pattern=ZONE_PATTERN)]

class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)


class Platform(str, Enum):
    GKE = "gke"
    EKS = "eks"
    OPENSHIFT = "openshift"
