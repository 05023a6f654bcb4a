"""The stack configuration: its typed model (`model`, one module per platform section) and its validation.

`load_fleet` turns a stack's raw `gpu-fleet:*` values into a validated `Fleet`, or raises `ConfigError`
with one `Issue` (key path, value, hint) per problem.

The names load on first use: importing a light module of the package (`checks`, `issues`) or catching a
`ConfigError` loads no stack model. Building the pydantic model is about 0.4 s of CPU, which the policy pack (started
once per `pulumi preview`) and `gpu-fleet --help` need not pay.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from components.config.issues import ConfigError, Issue
    from components.config.model import Fleet
    from components.config.validate import load_fleet

__all__ = ["ConfigError", "Fleet", "Issue", "load_fleet"]

_HOMES = {"ConfigError": "components.config.issues", "Issue": "components.config.issues",
          "Fleet": "components.config.model", "load_fleet": "components.config.validate"}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
