"""NVIDIA's XID codes as on-call reads them: which mean broken hardware (page) and which a faulty application.

The class of each code is the "Resolution Bucket (Immediate Action)" of NVIDIA's Xid catalog for Ampere and newer
GPUs: RESTART_APP codes are the application's (its owner restarts or fixes it), RESET_GPU / RESTART_BM /
CONTACT_SUPPORT codes on a node mean the GPU or its link needs a reset, a drain or replacement. The alert rules
take their code lists from here (`components.kubernetes.monitoring.rules`); a code in neither list is unclassified
and notifies, it does not page.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass
from enum import Enum

from components.catalog.types import Source

XID_CATALOG = Source("https://docs.nvidia.com/deploy/xid-errors/analyzing-xid-catalog.html", "2026-12-01")
"""NVIDIA, "Analyzing Xid Errors with the Xid Catalog" (Table 1, Ampere and newer: A100, H100, B100, GB200), with
the codes and buckets ../shared/research/observability-review.md finding 2 read from it."""


class XidClass(str, Enum):
    HARDWARE = "hardware"
    """The GPU, its memory or its links failed: drain the node, reset or replace the GPU. Pages."""
    APPLICATION = "application"
    """The application faulted (illegal address, MMU fault, preempted cleanup): its owner acts. Notifies."""


@dataclass(frozen=True)
class Xid:
    code: int
    _: KW_ONLY
    """The mnemonic and class only by keyword: a row names each fact it states."""
    mnemonic: str
    """What NVIDIA's catalog calls it, shortened."""
    xid_class: XidClass


XIDS: tuple[Xid, ...] = (
    Xid(13, mnemonic="Graphics engine exception", xid_class=XidClass.APPLICATION),
    Xid(31, mnemonic="GPU memory page fault (MMU fault)", xid_class=XidClass.APPLICATION),
    Xid(43, mnemonic="GPU stopped processing (reset channel)", xid_class=XidClass.APPLICATION),
    Xid(45, mnemonic="Preemptive cleanup, due to previous errors", xid_class=XidClass.APPLICATION),
    Xid(48, mnemonic="Double-bit ECC error", xid_class=XidClass.HARDWARE),
    Xid(63, mnemonic="ECC page retirement or row remapping recording event", xid_class=XidClass.HARDWARE),
    Xid(64, mnemonic="ECC page retirement or row remapper recording failure", xid_class=XidClass.HARDWARE),
    Xid(74, mnemonic="NVLink error", xid_class=XidClass.HARDWARE),
    Xid(79, mnemonic="GPU has fallen off the bus", xid_class=XidClass.HARDWARE),
    Xid(92, mnemonic="High single-bit ECC error rate", xid_class=XidClass.HARDWARE),
    Xid(94, mnemonic="Contained ECC error", xid_class=XidClass.HARDWARE),
    Xid(95, mnemonic="Uncontained ECC error", xid_class=XidClass.HARDWARE),
    Xid(119, mnemonic="GSP RPC timeout", xid_class=XidClass.HARDWARE),
    Xid(120, mnemonic="GSP error", xid_class=XidClass.HARDWARE),
)


def xid_codes(xid_class: XidClass) -> list[int]:
    """The codes of one class, ascending."""
    return sorted(x.code for x in XIDS if x.xid_class is xid_class)


def xid_regex(xid_class: XidClass) -> str:
    """A PromQL label regex matching the codes of one class exactly (`79|94|...`)."""
    return "|".join(str(c) for c in xid_codes(xid_class))


def classified_regex() -> str:
    """A PromQL label regex matching every classified code."""
    return "|".join(str(c) for c in sorted(x.code for x in XIDS))
