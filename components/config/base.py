"""Building blocks of the stack model every platform shares: strict models, names, GCP region and zone forms."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

from pydantic import AllowInfNan, BaseModel, BeforeValidator, ConfigDict, JsonValue, StringConstraints
from pydantic_core import PydanticCustomError

NAME_PATTERN = r"^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$"
REGION_PATTERN = r"^[a-z]+-[a-z]+[0-9]+$"
ZONE_PATTERN = r"^[a-z]+-[a-z]+[0-9]+-[a-z]$"

Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
"""A GCP/Kubernetes-safe name (RFC 1035, at most 40 characters); also the stable key of logical names."""

Region = Annotated[str, StringConstraints(pattern=REGION_PATTERN)]
Zone = Annotated[str, StringConstraints(pattern=ZONE_PATTERN)]



def _not_a_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise PydanticCustomError("count_bool", "expected a whole number, not true/false")
    return value


Count = Annotated[int, BeforeValidator(_not_a_bool)]
"""A whole number that counts something: pydantic's lax mode would read `true` as 1, a count refuses it."""


def _not_a_bool_number(value: Any) -> Any:
    if isinstance(value, bool):
        raise PydanticCustomError("number_bool", "expected a number, not true/false")
    return value


Number = Annotated[float, BeforeValidator(_not_a_bool_number), AllowInfNan(False)]
"""Every other number of the stack (USD, percents, factors, shares): never true/false (lax pydantic reads `true` as
1.0, so `daily_usd: true` became a 1 USD budget), never .inf or .nan (YAML's spellings, which pass `gt=0`)."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)


class Platform(str, Enum):
    GKE = "gke"
    EKS = "eks"
    OPENSHIFT = "openshift"


MOVED: dict[str, JsonValue] = {"moved": True}
"""`json_schema_extra` of a key that moved elsewhere: still parsed so the refusal can say where it went, and left
out of the README's config table."""
