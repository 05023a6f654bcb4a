"""Policy configs that leave on only the policies a test is about, so the real pack skips the rest.

pulumi_policy deserializes every resource once per enabled policy (about 40 of them); a policy set "disabled" is
skipped entirely by the analyzer. A test about one policy's verdict runs the real pack under the shipped config
with every other policy disabled: the policies it keeps get the shipped file's level and properties.
"""

from __future__ import annotations

import json
from pathlib import Path

from policies.pack import POLICIES


def only_policies(shipped: Path, keep: set[str], folder: Path) -> Path:
    """A copy of the pack config `shipped` in `folder`, with every policy outside `keep` set "disabled"."""
    names = {p.name for p in POLICIES}
    assert keep <= names, f"no such policies in the pack: {sorted(keep - names)}"
    config = json.loads(shipped.read_text())
    config.update({name: "disabled" for name in names - keep})
    path = folder / f"only-{'-'.join(sorted(keep))}-{shipped.name}"
    path.write_text(json.dumps(config, indent=2))
    return path
