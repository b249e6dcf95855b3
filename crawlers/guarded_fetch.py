"""One HTTP GET outside Scrapy with the crawler's SSRF rules applied to every hop.

The deletion watch re-fetches incident articles and the screenshot renderer fetches a page and everything it
loads; both run outside Scrapy, so ``SSRFGuardMiddleware`` does not see them. ``guarded_get`` is their one door:
it checks the URL with ``crawlers.ssrf.check_url`` (after DNS, with the source's ``private_network`` allowance if
any), follows redirects itself so that each hop is checked the same way (httpx is never allowed to follow one
on its own), reads at most ``max_bytes`` of the body and sends the crawler's User-Agent and nothing else — no
cookies, no source headers or API tokens: a re-check sees the page as an anonymous reader would.

Known limit, as for the crawler: the name is resolved again by the client after the check, so DNS rebinding is
not caught.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from urllib.parse import urljoin

import httpx

from crawlers.settings import USER_AGENT
from crawlers.ssrf import PrivateAllowance, UnsafeURLError, check_url

MAX_REDIRECTS = 5
_REDIRECTS = (301, 302, 303, 307, 308)
_CHUNK = 64 * 1024


class FetchRefused(Exception):
    """The URL (or a redirect hop) may not be fetched; ``reason`` is the SSRF reason or ``redirects``."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


@dataclass
class Fetched:
    """What one guarded GET got: the final URL, status, headers and (at most ``max_bytes`` of) the body."""

    url: str
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    size: int = 0  # bytes read (equal to len(body) unless truncated)
    truncated: bool = False
    sha256: str = ""  # of the bytes read
    redirects: list[str] = field(default_factory=list)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


def guarded_get(url: str, *, allowance: PrivateAllowance | None, timeout: float, max_bytes: int,
                client: httpx.Client | None = None, max_redirects: int = MAX_REDIRECTS) -> Fetched:
    """GET ``url`` with every hop SSRF-checked; raises ``FetchRefused`` for a refused URL or too many
    redirects and ``httpx.HTTPError`` for a network failure or timeout (the caller decides what those mean)."""
    own = client is None
    client = client or httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False,
                                    headers={"User-Agent": USER_AGENT})
    try:
        hops: list[str] = []
        current = url
        for _ in range(max_redirects + 1):
            try:
                check_url(current, allowance)
            except UnsafeURLError as exc:
                raise FetchRefused(f"refused {current}: {exc}", exc.reason) from None
            with client.stream("GET", current, timeout=timeout, follow_redirects=False) as response:
                location = response.headers.get("location")
                if response.status_code in _REDIRECTS and location:
                    hops.append(current)
                    current = urljoin(current, location)
                    continue
                body, size, truncated = _read(response, max_bytes)
                return Fetched(url=current, status=response.status_code,
                               headers={k.lower(): v for k, v in response.headers.items()}, body=body, size=size,
                               truncated=truncated, sha256=hashlib.sha256(body).hexdigest(), redirects=hops)
        raise FetchRefused(f"more than {max_redirects} redirects from {url}", "redirects")
    finally:
        if own:
            client.close()


def _read(response: httpx.Response, max_bytes: int) -> tuple[bytes, int, bool]:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes(_CHUNK):
        room = max_bytes - size
        if len(chunk) > room:
            chunks.append(chunk[:room])
            return b"".join(chunks), max_bytes, True
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks), size, False
