"""Refuse URLs that would make the crawler reach into the machine or the network it runs on (SSRF).

Source URLs come from admins, and the links, redirects and pagination we follow come from hostile pages. A feed
that redirects to ``http://169.254.169.254/`` (cloud metadata) or to ``http://127.0.0.1:8000/api/...`` (our own
API) must be refused, as must the tricks that hide such addresses: decimal or octal IPv4 (``http://2130706433/``,
``http://0177.0.0.1/``), IPv4-mapped IPv6 (``[::ffff:127.0.0.1]``), ``0.0.0.0``, ``localhost`` names and
credentials in the URL. Only sources explicitly marked ``allow_private_network`` (the simulated internet on
127.0.0.1) may reach private addresses.

``check_url`` is applied when sources are loaded (without DNS, so an offline machine can still load its config)
and by ``SSRFGuardMiddleware`` on every request Scrapy makes, redirects and robots.txt included (with DNS).

Known limit: the address is checked when the request is scheduled and resolved again by the HTTP client, so a
DNS server that answers differently the second time (DNS rebinding) is not caught here.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from scrapy.exceptions import IgnoreRequest

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

ALLOWED_SCHEMES = frozenset({"http", "https"})
_LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeURLError(ValueError):
    """The URL must not be fetched; the message says why."""


def check_url(url: str, allow_private: bool, *, resolve: bool = True) -> None:
    """Raise ``UnsafeURLError`` unless ``url`` is an http(s) URL to a public host.

    With ``allow_private`` only the scheme and credential checks apply. With ``resolve`` the host name is looked
    up and every address it resolves to must be public (a lookup failure is refused too: what cannot be
    checked is not fetched).
    """
    host = _checked_host(url)
    if allow_private:
        return
    literal = parse_ip_literal(host)
    if literal is not None:
        _require_public(literal, host)
        return
    if host in _LOCAL_NAMES or host.endswith(".localhost"):
        raise UnsafeURLError(f"host {host!r} is the local machine")
    if resolve:
        for address in resolve_host(host):
            _require_public(address, host)


async def check_url_async(url: str, allow_private: bool, cache: dict[str, list[IPAddress]] | None = None) -> None:
    """``check_url`` with the DNS lookup run off the event loop, optionally memoised per host."""
    host = _checked_host(url)
    if allow_private:
        return
    check_url(url, allow_private=False, resolve=False)
    if parse_ip_literal(host) is not None:
        return
    if cache is not None and host in cache:
        addresses = cache[host]
    else:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise UnsafeURLError(f"cannot resolve host {host!r}: {exc}") from None
        addresses = [_address_from_sockaddr(info[4][0]) for info in infos]
        if cache is not None:
            cache[host] = addresses
    for address in addresses:
        _require_public(address, host)


def is_public_address(address: IPAddress) -> bool:
    """True for a globally routable unicast address (IPv4-mapped/compatible IPv6 judged by their IPv4 part)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or _ipv4_compatible(address) or _nat64(address)
        if embedded is not None:
            return is_public_address(embedded)
        if address.sixtofour is not None and not is_public_address(address.sixtofour):
            return False
        if address.teredo is not None:
            return False
    return not (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or getattr(address, "is_site_local", False)
        or not address.is_global
    )


def parse_ip_literal(host: str) -> IPAddress | None:
    """The IP address a host string denotes, accepting the legacy forms C libraries accept.

    ``2130706433``, ``0x7f000001``, ``0177.0.0.1`` and ``127.1`` all mean 127.0.0.1 to ``inet_aton`` (and so to
    many HTTP clients), so they are read the same way here. Returns None for a host name.
    """
    candidate = host.strip("[]")
    try:
        return ipaddress.ip_address(candidate.split("%", 1)[0])
    except ValueError:
        pass
    if candidate and all(c in "0123456789abcdefxABCDEFX." for c in candidate) and candidate[0].isdigit():
        try:
            return ipaddress.IPv4Address(socket.inet_aton(candidate))
        except OSError:
            return None
    return None


def resolve_host(host: str) -> list[IPAddress]:
    """Every address ``host`` resolves to (blocking); a failure is an ``UnsafeURLError``."""
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise UnsafeURLError(f"cannot resolve host {host!r}: {exc}") from None
    return [_address_from_sockaddr(info[4][0]) for info in infos]


class SSRFGuardMiddleware:
    """Downloader middleware dropping every request (redirects and robots.txt included) to an unsafe URL.

    Reads ``request.meta["allow_private_network"]`` first, then the spider's ``allow_private_network`` attribute.
    A refused request is logged and counted as ``ssrf/refused`` and ``ssrf/reason_count/<reason>`` in stats.
    """

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self._dns_cache: dict[str, list[IPAddress]] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SSRFGuardMiddleware:
        return cls(crawler)

    async def process_request(self, request: Request) -> None:
        spider = self.crawler.spider
        allow = request.meta.get("allow_private_network")
        if allow is None:
            allow = bool(getattr(spider, "allow_private_network", False))
        try:
            await check_url_async(request.url, bool(allow), self._dns_cache)
        except UnsafeURLError as exc:
            stats = self.crawler.stats
            stats.inc_value("ssrf/refused")
            stats.inc_value(f"ssrf/reason_count/{_reason_key(str(exc))}")
            logger.warning("refused unsafe URL %s: %s", request.url, exc)
            raise IgnoreRequest(f"unsafe URL refused: {exc}") from None


def _checked_host(url: str) -> str:
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as exc:
        raise UnsafeURLError(f"malformed URL: {exc}") from None
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        raise UnsafeURLError(f"scheme {parts.scheme or '(none)'!r} is not http or https")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise UnsafeURLError("credentials in the URL are not allowed")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise UnsafeURLError("URL has no host")
    return host


def _require_public(address: IPAddress, host: str) -> None:
    if not is_public_address(address):
        raise UnsafeURLError(f"host {host!r} is a non-public address ({address})")


def _address_from_sockaddr(value: str) -> IPAddress:
    return ipaddress.ip_address(value.split("%", 1)[0])


def _ipv4_compatible(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    # Deprecated ::a.b.c.d form; some stacks still route it to the IPv4 address.
    packed = address.packed
    if packed[:12] == bytes(12) and packed[12:] != bytes(4):
        return ipaddress.IPv4Address(packed[12:])
    return None


def _nat64(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address in ipaddress.IPv6Network("64:ff9b::/96"):
        return ipaddress.IPv4Address(address.packed[12:])
    return None


def _reason_key(message: str) -> str:
    if "scheme" in message:
        return "scheme"
    if "credentials" in message:
        return "credentials"
    if "resolve" in message:
        return "unresolvable"
    return "private_address"
