"""A config problem as one line (`Issue`: the key path, the value, a hint) and the error that carries them.

Apart from the model and its pydantic translation (`components.config.errors`), so that what only reports Issues (the
shared checks, the policy pack) loads no stack model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Issue:
    path: str
    message: str
    value: Any = None
    hint: str = ""

    def __str__(self) -> str:
        text = f"{self.path}: {self.message}"
        if self.value is not None:
            text += f" (got {self.value!r})"
        if self.hint:
            text += f"; hint: {self.hint}"
        return text


class ConfigError(Exception):
    """The stack configuration is invalid; `issues` holds every problem found, one line each."""

    def __init__(self, issues: Sequence[Issue]) -> None:
        self.issues = list(issues)
        super().__init__("\n".join(str(i) for i in self.issues))

    @property
    def count(self) -> str:
        """'1 problem', '3 problems': for the heading above the list."""
        n = len(self.issues)
        return f"{n} problem" if n == 1 else f"{n} problems"
