"""The `observability:` section's config errors: every problem of a raw config, or the one expected."""

from __future__ import annotations

from typing import Any

import pytest

from components.config import ConfigError
from infra.config import parse


def issues(raw: dict[str, Any], *, keys: dict[str, bool] | None = None) -> list[str]:
    """Config problems of `raw` plus stack keys (full key -> stored encrypted)."""
    keys = keys or {}
    all_keys = [f"gpu-fleet:{k}" for k in raw] + list(keys)
    with pytest.raises(ConfigError) as info:
        parse(raw, gcp_project="acme-test", keys=all_keys, secret_keys=[k for k, enc in keys.items() if enc])
    return [str(i) for i in info.value.issues]


def one(raw: dict[str, Any], start: str, **kw: Any) -> str:
    found = issues(raw, **kw)
    assert len(found) == 1 and found[0].startswith(start), found
    assert "hint:" in found[0]
    return found[0]
