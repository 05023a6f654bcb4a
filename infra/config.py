"""Reads the stack's `gpu-fleet:*` configuration once and returns the validated fleet model.

This is the only module that touches `pulumi.Config`; everything downstream receives typed values.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from components.config import ConfigError, Fleet, Issue, load_fleet
from components.config.gke_limits import check_project
from components.config.observability import receiver_secret_keys, referenced_secret_keys
from components.config.openshift import secret_keys as openshift_secret_keys

if TYPE_CHECKING:
    import pulumi

PROJECT = "gpu-fleet"
SETTINGS = frozenset(Fleet.model_fields)
"""The `gpu-fleet:` keys that are settings (the sections of the fleet model); every other key is a credential."""


@dataclass(frozen=True)
class StackConfig:
    fleet: Fleet
    gcp_project: str
    credentials: Mapping[str, pulumi.Output[str]] = field(default_factory=dict)
    """Secret config keys the fleet refers to (OpenShift kubeconfigs, alert receivers' credentials) -> their values,
    as Pulumi secrets."""
    unused_secrets: tuple[str, ...] = ()
    """`gpu-fleet:` secrets no section refers to (a leftover, or the one a typo missed): warned about, never read."""


def parse(raw: Mapping[str, Any], *, gcp_project: str | None, keys: Iterable[str] = (),
          secret_keys: Iterable[str] = (), placeholders: Iterable[str] = ()) -> StackConfig:
    """Validate `gpu-fleet:*` values (keys without namespace) plus the provider's `gcp:project`.

    `keys` are every full config key of the stack, `secret_keys` those stored encrypted; both only feed
    `check_keys`, so a secret's value is never read into an error message. `placeholders` are referenced keys
    nobody has set that the offline plan plans as masked secrets (`gpufleet.offline.unset_secrets`).
    """
    keys, secret_keys, placeholders = set(keys), set(secret_keys), set(placeholders)
    if not raw:
        raise ConfigError([Issue("config", "no gpu-fleet settings: the stack's `config:` block holds no "
                                 f"`{PROJECT}:` key", None, f"set {PROJECT}:environment (e.g. dev) and at least one "
                                 f"platform section, {PROJECT}:gke, {PROJECT}:eks or {PROJECT}:openshift "
                                 "(Pulumi.dev.yaml shows the shape)")])
    referenced = credential_keys(raw) - SETTINGS  # a reference to a setting is refused below, the setting kept
    issues = check_keys(keys, secret_keys - {f"{PROJECT}:{k}" for k in referenced})
    if issues:
        raise ConfigError(issues)
    # A referenced key stored in plain text reaches `raw`: drop it (never echo it), and say how to store it. A
    # secret is never a setting (those were refused above): the engine's program never reads one into `raw`.
    encrypted = {k.partition(":")[2] for k in secret_keys if k.startswith(f"{PROJECT}:")}
    fleet = load_fleet({k: v for k, v in raw.items() if k not in referenced and k not in encrypted})
    # Only now, after every section's own validation: a reference is judged against the stored secrets.
    refs = secret_refs(fleet)
    unused = sorted(k for k in encrypted - set(refs) - SETTINGS if f"{PROJECT}:{k}" not in placeholders)
    issues = list(check_references(refs, keys, secret_keys, unused, placeholders))
    if issues:
        raise ConfigError(issues)
    project = (fleet.gke.project if fleet.gke else None) or gcp_project
    if fleet.gke is not None and not project:
        raise ConfigError([Issue("gcp:project", "no GCP project is configured", None,
                                 "pulumi config set gcp:project <project-id>")])
    if fleet.gke is not None and fleet.gke.project is None and gcp_project:
        issues = list(check_project("gcp:project", gcp_project))
        if issues:
            raise ConfigError(issues)
    return StackConfig(fleet=fleet, gcp_project=project or "", unused_secrets=tuple(unused))


def check_references(refs: Mapping[str, str], keys: set[str], secret_keys: set[str], unused: list[str],
                     placeholders: set[str]) -> Iterator[Issue]:
    """Each secret key a section names (key -> the section's key path) is set, encrypted, and no setting.

    A name close to a stored secret nothing refers to is a typo (`slack-alert-webhook` for `slack-alerts-webhook`):
    the section's key is named, with the stored one as the hint, never "set it" (which would store the credential
    twice, under the typo).
    """
    for key, path in refs.items():
        full = f"{PROJECT}:{key}"
        close = difflib.get_close_matches(key, unused, n=1, cutoff=0.75)
        unset = full not in keys or full in placeholders
        if key in SETTINGS:
            yield Issue(path, f"names {full}, which is a gpu-fleet setting, not a secret", key,
                        "give the credential a key of its own, e.g. secret: <receiver>-webhook")
        elif unset and close:
            yield Issue(path, f"names {full}, which is not set", key,
                        f"did you mean {close[0]}? It is stored as a secret and nothing else refers to it")
        elif full in placeholders:
            continue  # the offline plan plans it masked, and warns (`pulumi preview` refuses it unset)
        elif full not in keys:
            yield Issue(full, "is not set", None, f"pulumi config set --secret {key} < <file>  ({path} refers to it)")
        elif full not in secret_keys:
            yield Issue(full, "is stored in plain text, but it holds credentials", None,
                        f"pulumi config set --secret {key} < <file>  ({path} refers to it)")


def secret_refs(fleet: Fleet) -> dict[str, str]:
    """Secret config keys (without namespace) the fleet refers to -> the key path that refers to each."""
    refs = openshift_secret_keys(fleet.openshift) if fleet.openshift is not None else {}
    return {**refs, **receiver_secret_keys(fleet.observability)}


def credential_keys(raw: Mapping[str, Any]) -> set[str]:
    """The secret keys `raw` refers to, read before validation so that they are not refused as secrets."""
    section = raw.get("openshift")
    clusters = section.get("clusters") if isinstance(section, dict) else None
    found: set[str] = set()
    for c in clusters if isinstance(clusters, list) else []:
        kubeconfig = c.get("kubeconfig") if isinstance(c, dict) else None
        if isinstance(kubeconfig, dict) and isinstance(kubeconfig.get("secret"), str):
            found.add(kubeconfig["secret"])
    return found | referenced_secret_keys(raw.get("observability"))


def check_keys(keys: Iterable[str], secret_keys: Iterable[str]) -> list[Issue]:
    """Stack-level key problems: gpu-fleet settings stored as secrets, and look-alikes of the namespace."""
    secret = set(secret_keys)
    issues: list[Issue] = []
    for full in sorted(set(keys)):
        namespace, _, key = full.partition(":")
        # Only a setting stored as a secret is refused: the program reads settings in plain text. A secret no
        # setting refers to is never read (a kubeconfig kept after the cluster moved to `kubeconfig: {path}`).
        if namespace == PROJECT and full in secret and key in SETTINGS:
            # Never "store it without --secret": a setting stored as a secret is most often one that holds a
            # credential (a receiver's webhook), and that hint would write the credential into the stack file.
            issues.append(Issue(full, "is stored as a secret, but gpu-fleet settings become plain resource "
                                "inputs (names, labels, CIDRs), so the value would reach the state unencrypted",
                                None, f"a setting holds no credentials: move each credential to a key of its own "
                                f"(pulumi config set --secret gpu-fleet:<name>) that the section names in `secret:`, "
                                f"then `pulumi config rm {full}` and write the section's settings into the stack "
                                "file (README: Configuration reference)"))
        elif namespace != PROJECT and _normal(namespace) == _normal(PROJECT):
            issues.append(Issue(full, f"unknown config namespace {namespace!r}", None,
                                f"gpu-fleet reads `{PROJECT}:` keys; rename it to {PROJECT}:{key}"))
    return issues


def _normal(namespace: str) -> str:
    return "".join(ch for ch in namespace.lower() if ch.isalnum())


def load() -> StackConfig:
    """Read the running stack's configuration (as the Pulumi engine passed it) and validate it."""
    # The SDK only here: the CLI validates stack files with `parse` (fabric-check, ci runners) without loading it.
    import pulumi
    from pulumi.runtime import config as runtime_config

    keys = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())
    secret_keys = [k for k in keys if runtime_config.is_config_secret(k)] + runtime_config.get_config_secret_keys_env()
    cfg = pulumi.Config(PROJECT)
    raw: dict[str, Any] = {}
    for full in sorted(keys):
        namespace, _, key = full.partition(":")
        if namespace == PROJECT and full not in secret_keys:
            raw[key] = decode(cfg.get(key))
    stack = parse(raw, gcp_project=pulumi.Config("gcp").get("project"), keys=keys, secret_keys=secret_keys)
    credentials = {key: cfg.require_secret(key) for key in secret_refs(stack.fleet)}
    for key in stack.unused_secrets:
        pulumi.log.warn(unused_secret_warning(key))
    return StackConfig(fleet=stack.fleet, gcp_project=stack.gcp_project, credentials=credentials,
                       unused_secrets=stack.unused_secrets)


def unused_secret_warning(key: str) -> str:
    """One line for a stored secret nothing refers to (never its value)."""
    return (f"{PROJECT}:{key} is stored as a secret, but no section refers to it; hint: remove it with "
            f"`pulumi config rm {PROJECT}:{key}` if it is a leftover, or name it in the section's `secret:` "
            "(kubeconfig: {secret: ...} for OpenShift)")


def decode(value: str | None) -> Any:
    """Structured values reach the program as JSON text, plain ones as bare strings."""
    if value is None:
        return None
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value
