"""mypy follows only the Pulumi provider services gpu-fleet uses (pyproject.toml), so none it uses goes unchecked.

The providers' package `__init__` imports every service under TYPE_CHECKING; following all of them cost a cold mypy
about four minutes of CPU. A service left out of the followed list would be typed `Any`, and a wrong argument name
in a resource call would pass silently: this test names any service the code reaches that mypy does not follow.
The Kubernetes Python client is cut the same way: only the API classes the code names are followed.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import kubernetes.client
import pulumi_aws
import pulumi_gcp
import pulumi_kubernetes

ROOT = Path(__file__).resolve().parents[2]
PROVIDERS = {"gcp": pulumi_gcp, "aws": pulumi_aws, "k8s": pulumi_kubernetes}
"""The alias each provider is imported under in gpu-fleet (`import pulumi_gcp as gcp`) -> the package."""
CODE = ("components", "infra", "gpufleet", "policies")


def _followed() -> set[str]:
    overrides = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]["overrides"]
    return {m.removesuffix(".*") for o in overrides if o.get("follow_imports") == "normal" for m in o["module"]}


def _skipped() -> set[str]:
    overrides = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]["overrides"]
    return {m.removesuffix(".*") for o in overrides if o.get("follow_imports") == "skip" for m in o["module"]}


def _services_used() -> dict[str, set[str]]:
    """`pulumi_gcp.container` etc.: every provider subpackage the code names, with a file that names it."""
    used: dict[str, set[str]] = {}
    for folder in CODE:
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text()
            for alias, package in PROVIDERS.items():
                root = Path(package.__file__).parent
                pattern = rf"\b(?:{alias}|{package.__name__})\.([a-z_0-9]+)\b"
                for name in set(re.findall(pattern, text)):
                    if (root / name).is_dir():
                        used.setdefault(f"{package.__name__}.{name}", set()).add(str(path.relative_to(ROOT)))
    return used


def test_every_provider_service_the_code_uses_is_type_checked() -> None:
    used = _services_used()
    assert {"pulumi_gcp.container", "pulumi_aws.eks", "pulumi_kubernetes.helm"} <= set(used)  # the scan sees them
    missing = {service: sorted(files) for service, files in used.items() if service not in _followed()}
    assert missing == {}, ("add these to pyproject.toml's followed [[tool.mypy.overrides]] modules, or mypy types "
                           f"them Any: {missing}")


def test_only_the_providers_are_skipped_and_their_top_level_modules_are_followed() -> None:
    assert _skipped() == {"pulumi_gcp", "pulumi_aws", "pulumi_kubernetes", "kubernetes.client"}
    for package in PROVIDERS.values():
        top = {f"{package.__name__}.{p.stem}" for p in Path(package.__file__).parent.glob("*.py")
               if p.stem != "__init__"}
        assert {package.__name__, *top} <= _followed(), package.__name__


def test_every_kubernetes_client_class_the_code_names_is_type_checked() -> None:
    """The Kubernetes client's APIs and models are skipped but for the ones named here (`k8s_client.CoreV1Api`)."""
    named: dict[str, set[str]] = {}
    for folder in CODE:
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text()
            if "from kubernetes import client as k8s_client" not in text:
                continue
            for name in set(re.findall(r"\bk8s_client\.([A-Za-z_0-9]+)\b", text)):
                module = getattr(kubernetes.client, name).__module__
                named.setdefault(module, set()).add(str(path.relative_to(ROOT)))
    assert "kubernetes.client.api.core_v1_api" in named  # the scan sees `openshift discover`'s client
    missing = {module: sorted(files) for module, files in named.items() if module not in _followed()}
    assert missing == {}, f"add these to pyproject.toml's followed kubernetes.client modules: {missing}"
