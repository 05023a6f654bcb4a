"""`gh api` calls for the CI scripts (`.ci/sticky-comment`, `.ci/supersede`), retried on GitHub's rate limits.

`gh api --include` prints the status line and headers before the body (cli/cli pkg/cmd/api/api.go
`processResponse`), so each response is read whole: nothing is piped into `head`, which under `pipefail` can kill a
still-writing `gh` with SIGPIPE. Only the Python standard library is used, so a job needs no virtualenv.

Rate limits, as GitHub's REST docs say to handle them ("Rate limits for the REST API", "Exceeding the rate limit";
"Best practices for using the REST API", "Handle rate limit errors appropriately"): a 429, or a 403 that carries
`Retry-After`, `X-RateLimit-Remaining: 0` or a message saying a (secondary) rate limit was exceeded. Wait
`Retry-After` seconds when it is given; else, when the remaining count is 0, until `X-RateLimit-Reset` (UTC epoch
seconds); else at least one minute, doubling on each retry, and give up after a fixed number of attempts.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass, field

ATTEMPTS = 5
"""Calls per request, the first included, before a rate limit is reported as an error."""


@dataclass
class Response:
    status: int
    """The HTTP status, 0 when gh printed no status line (it could not reach GitHub)."""
    headers: dict[str, str] = field(default_factory=dict)
    """Header names lower-cased."""
    body: str = ""
    """The response body as gh printed it (JSON for the REST API)."""


def parse(raw: str) -> Response:
    """`gh api --include` output: `HTTP/2.0 200 OK`, `Name: value` lines, a blank line, the body."""
    head, _, body = raw.replace("\r\n", "\n").partition("\n\n")
    lines = head.split("\n")
    try:
        status = int(lines[0].split()[1])
    except (IndexError, ValueError):
        return Response(status=0, body=raw)
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return Response(status=status, headers=headers, body=body)


def _says_rate_limit(body: str) -> bool:
    """GitHub's 403 for a secondary rate limit may carry no header, only its message ("...secondary rate limit")."""
    try:
        message = json.loads(body).get("message", "")
    except (ValueError, AttributeError):
        return False
    return "rate limit" in str(message).lower()


def rate_limit_wait(response: Response, attempt: int, now: float) -> float | None:
    """Seconds to wait before retrying, or None when the response is not a rate limit."""
    headers = response.headers
    exhausted = headers.get("x-ratelimit-remaining") == "0"
    limited = response.status == 429 or (response.status == 403 and (
        "retry-after" in headers or exhausted or _says_rate_limit(response.body)))
    if not limited:
        return None
    if headers.get("retry-after", "").isdigit():
        return float(headers["retry-after"])
    if exhausted and headers.get("x-ratelimit-reset", "").isdigit():
        return max(0.0, float(headers["x-ratelimit-reset"]) - now) + 1
    return 60.0 * 2 ** attempt


def gh(args: list[str], *, stdin: str | None = None, max_wait: float = 900,
       accept: tuple[int, ...] = ()) -> Response:
    """One `gh api` call, retried on rate limits.

    A 2xx, or a status in `accept` (one the caller handles, such as 409 for a run that already finished), is
    returned; any other failure stops the script with gh's message and exit 1.
    """
    path = next((a for a in args if a.startswith("repos/")), args[-1] if args else "")
    for attempt in range(ATTEMPTS):
        proc = subprocess.run(["gh", "api", "--include", *args], input=stdin, capture_output=True, text=True,
                              check=False)
        response = parse(proc.stdout)
        if (proc.returncode == 0 and 200 <= response.status < 300) or response.status in accept:
            return response
        wait = rate_limit_wait(response, attempt, time.time())
        if wait is None or attempt == ATTEMPTS - 1:
            sys.stderr.write(f"error: gh api {path}: {proc.stderr.strip() or response.status}\n")
            raise SystemExit(1)
        wait = min(wait, max_wait)
        sys.stderr.write(f"rate limited (HTTP {response.status}); retrying in {wait:.0f}s\n")
        time.sleep(wait)
    raise AssertionError("unreachable")
