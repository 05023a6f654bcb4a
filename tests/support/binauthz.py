"""Binary Authorization's admission allow-list matching, as the policy reference describes it."""

from __future__ import annotations

import re


def admits(pattern: str, image: str) -> bool:
    """Whether an AdmissionWhitelistPattern `namePattern` admits `image`.

    The reference (google.cloud.binaryauthorization.v1 AdmissionWhitelistPattern): a trailing `*` does not match
    `/` (`gcr.io/nginx*` matches `gcr.io/nginx@latest`, not `gcr.io/nginx/image`), a trailing `**` matches
    subdirectories. Matched against the reference without its digest, the tag kept.
    """
    regex = re.escape(pattern).replace(r"\*\*", ".+").replace(r"\*", "[^/]*")
    return re.fullmatch(regex, image.split("@", 1)[0]) is not None
