"""The GPU Operator's own image and its validator run by digest as the v26.7.0 chart and operator really render them.

The chart joins the operator's image itself, `repository/image:version` (NVIDIA/gpu-operator v26.7.0
deployments/gpu-operator/templates/_helpers.tpl `gpu-operator.fullimage` and `validator.fullimage`, read from the
fetched mirror: the operator Deployment's `image` and its VALIDATOR_IMAGE env), and the operator renders the
ClusterPolicy's validator with `imagePath` (api/nvidia/v1/clusterpolicy_types.go: `repository/image@version` for a
`sha256:` version, else `repository/image:version`). A bare `sha256:` version, as the operands take, would make the
Deployment's image `gpu-operator:sha256:...`, which no runtime pulls; so these two take `v26.7.0@sha256:...`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from components import images, versions
from components.kubernetes import gpu_addons, nvidia
from tests.support.k8s_schemas import helm_merged

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT.parent / "shared" / "reference" / "charts" / "gpu-operator" / "values.yaml"
APP_VERSION = versions.GPU_OPERATOR.version
"""The chart's appVersion, which `| default .Chart.AppVersion` falls back to (Chart.yaml: v26.7.0)."""
REFERENCE_BY_DIGEST = re.compile(r"^[a-z0-9.-]+(/[a-z0-9._-]+)+(:[\w][\w.-]{0,127})?@sha256:[0-9a-f]{64}$")
"""A pullable `name[:tag]@sha256:<hex>` (distribution/reference's grammar: at most one tag, then the digest)."""


def fullimage(block: dict[str, Any]) -> str:
    """`_helpers.tpl`: `{{ repository }}/{{ image }}:{{ version | default .Chart.AppVersion }}`."""
    return f"{block['repository']}/{block['image']}:{block.get('version') or APP_VERSION}"


def image_path(block: dict[str, Any]) -> str:
    """`clusterpolicy_types.go` `imagePath` for a ClusterPolicy spec with repository, image and version set."""
    version = str(block.get("version") or APP_VERSION)
    sep = "@" if version.startswith("sha256:") else ":"
    return f"{block['repository']}/{block['image']}{sep}{version}"


VALUES = {"gke": gpu_addons.gpu_operator_values, "nvidia": lambda: nvidia.operator_values(dcgm_exporter=True)}


@pytest.mark.parametrize("which", sorted(VALUES))
def test_operator_and_validator_render_pullable_references_by_digest(which: str) -> None:
    values = helm_merged(yaml.safe_load(REFERENCE.read_text()), VALUES[which]())
    digest = images.digest_of("nvcr.io/nvidia/gpu-operator:v26.7.0")
    rendered = {
        "operator Deployment image": fullimage(values["operator"]),
        "VALIDATOR_IMAGE env": fullimage(values["validator"]),
        "ClusterPolicy validator": image_path(values["validator"]),
    }
    for where, ref in rendered.items():
        assert REFERENCE_BY_DIGEST.match(ref), (where, ref)
        assert ref == f"nvcr.io/nvidia/gpu-operator:v26.7.0@{digest}", (where, ref)


def test_a_bare_digest_version_is_not_pullable_from_the_deployment() -> None:
    """What the operands' form would do to the operator's own image: the check above would catch it."""
    block = {"repository": "nvcr.io/nvidia", "image": "gpu-operator", "version": "sha256:" + "0" * 64}
    assert not REFERENCE_BY_DIGEST.match(fullimage(block))
    assert REFERENCE_BY_DIGEST.match(image_path(block))
