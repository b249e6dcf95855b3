"""Refuse URLs that would make the crawler reach into the machine or the network it runs on (SSRF).

Source URLs come from admins, and the links, redirects and pagination we follow come from hostile pages. A feed
that redirects to ``http://169.254.169.254/`` (cloud metadata) or to ``http://127.0.0.1:8000/api/...`` (our own
API) must be refused, as must the tricks that hide such addresses: decimal or octal IPv4 (``http://2130706433/``,
``http://0177.0.0.1/``), IPv4-mapped IPv6 (``[::ffff:127.0.0.1]``), ``0.0.0.0``, ``localhost`` names and
credentials in the URL.

A source may carry one ``PrivateAllowance`` (its ``private_network: "host:port"``, e.g. the simulated internet on
``127.0.0.1:8100``): requests to exactly that host and port — the port defaulting to 80/443 from the scheme — may
reach a private address (loopback, RFC 1918, …). Every other host a source's pages lead to (links, pagination,
redirects, robots.txt) is checked as a public host, so the allowance cannot be widened by what a page contains.
Some addresses are never reachable, allowance or not, even when a name only resolves to them: link-local
(169.254.0.0/16, fe80::/10), cloud metadata endpoints (``NEVER_ADDRESSES``, ``METADATA_NAMES``), unspecified,
multicast and broadcast.

``check_url`` is applied when sources are loaded (without DNS, so an offline machine can still load its config)
and by ``SSRFGuardMiddleware`` on every request Scrapy makes, redirects and robots.txt included (with DNS).

Known limit: the address is checked when the request is scheduled and resolved again by the HTTP client, so a
DNS server that answers differently the second time (DNS rebinding) is not caught here.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

from scrapy.exceptions import IgnoreRequest

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

ALLOWED_SCHEMES = frozenset({"http", "https"})
DEFAULT_PORTS = {"http": 80, "https": 443}
_LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Cloud metadata / platform endpoints that hand out credentials. Most are link-local (refused as such anyway);
# listed so that the ones that are not — Alibaba Cloud's shared-space 100.100.100.200, AWS's IPv6 ULA, Azure's
# public-looking WireServer — are refused even for a source allowed onto a private network.
NEVER_ADDRESSES: frozenset[IPAddress] = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254",  # AWS, GCP, Azure, OpenStack, Oracle, Huawei, Tencent, Baidu, DigitalOcean …
    "169.254.170.2",  # AWS ECS task metadata and credentials
    "169.254.0.23",  # Tencent Cloud metadata.tencentyun.com
    "100.100.100.200",  # Alibaba Cloud
    "fd00:ec2::254",  # AWS IMDS over IPv6
    "168.63.129.16",  # Azure WireServer
    "192.0.0.192",  # Oracle Cloud (classic) metadata
))
# Host names of metadata services; a first label of "metadata" or "instance-data" is refused as well.
METADATA_NAMES = frozenset({
    "metadata", "metadata.google.internal", "metadata.goog", "instance-data", "instance-data.ec2.internal",
    "metadata.tencentyun.com",
})
_METADATA_FIRST_LABELS = ("metadata", "instance-data")
_BROADCAST = ipaddress.IPv4Address("255.255.255.255")
_THIS_NETWORK = ipaddress.IPv4Network("0.0.0.0/8")  # "this host on this network": 0.0.0.0 reaches the local machine
_HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")

Reason = Literal["scheme", "credentials", "unresolvable", "private_address"]


class UnsafeURLError(ValueError):
    """The URL must not be fetched; the message says why, ``reason`` is the stats key suffix."""

    def __init__(self, message: str, reason: Reason = "private_address"):
        super().__init__(message)
        self.reason: Reason = reason


@dataclass(frozen=True)
class PrivateAllowance:
    """The one host and port a trusted source may reach on a private network (``private_network: "host:port"``).

    ``host`` is lower-case, without brackets; an IP literal is kept in its canonical ``ipaddress`` form so that
    ``[0:0::1]`` and ``[::1]`` are the same allowance. Legacy IPv4 spellings (``2130706433``) are refused when
    parsing, and a URL that uses them never matches, so it is checked as a public host and refused.
    """

    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> PrivateAllowance:
        """Parse and vet ``host:port``; a ``ValueError`` says what is wrong and what to write."""
        value = text.strip()
        if not value or "/" in value or "@" in value or any(c.isspace() for c in value):
            raise ValueError(f"应写成 host:port（例如 127.0.0.1:8100），不是网址 must be host:port, got {text!r}")
        if value.startswith("["):
            end = value.find("]")
            if end < 0 or not value[end + 1:].startswith(":"):
                raise ValueError(f"IPv6 地址写成 [地址]:端口 write IPv6 as [address]:port, got {text!r}")
            host, port_text, bracketed = value[1:end], value[end + 2:], True
        else:
            host, sep, port_text = value.rpartition(":")
            if not sep or not host:
                raise ValueError(f"必须写明端口 the port is mandatory: host:port, got {text!r}")
            if ":" in host:
                raise ValueError(f"IPv6 地址须加方括号 put IPv6 in brackets: [address]:port, got {text!r}")
            bracketed = False
        if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
            raise ValueError(f"端口必须是 1–65535 的数字 port must be 1-65535, got {port_text!r}")
        host = host.rstrip(".").lower()
        literal = _strict_ip(host)
        if bracketed and not isinstance(literal, ipaddress.IPv6Address):
            raise ValueError(f"方括号内必须是 IPv6 地址 brackets hold an IPv6 address, got {host!r}")
        if literal is not None:
            reason = never_reachable_reason(literal)
            if reason is not None:
                raise ValueError(f"{literal} 是{reason}，任何来源都不得访问（may never be fetched）")
            return cls(str(literal), int(port_text))
        if parse_ip_literal(host) is not None:
            raise ValueError(f"请用标准的点分形式书写 IP 地址 write the IP address in dotted form, got {host!r}")
        if not _HOSTNAME.match(host):
            raise ValueError(f"不是有效的主机名或 IP 地址 not a valid host name or IP address: {host!r}")
        if is_metadata_name(host):
            raise ValueError(f"{host} 是云元数据服务，任何来源都不得访问（a cloud metadata service）")
        return cls(host, int(port_text))

    def matches(self, host: str, port: int) -> bool:
        """True when a URL's (host, port) — as ``url_host_port`` returns them — is this allowance's."""
        return port == self.port and _canonical_host(host) == self.host

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def url_host_port(url: str) -> tuple[str, int]:
    """The (host, port) a URL points at — host lower-case without brackets or trailing dot, port defaulting to
    80/443 from the scheme; ``UnsafeURLError`` for a non-http(s) URL, credentials or no host."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise UnsafeURLError(f"malformed URL: {exc}", "scheme") from None
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise UnsafeURLError(f"scheme {parts.scheme or '(none)'!r} is not http or https", "scheme")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise UnsafeURLError("credentials in the URL are not allowed", "credentials")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise UnsafeURLError("URL has no host", "scheme")
    return host, port if port is not None else DEFAULT_PORTS[scheme]


def check_url(url: str, allowance: PrivateAllowance | None = None, *, resolve: bool = True) -> None:
    """Raise ``UnsafeURLError`` unless ``url`` may be fetched by a source holding ``allowance``.

    A URL to the allowance's host and port may reach a private address; any other URL must reach only public
    ones. With ``resolve`` the host name is looked up and every address it resolves to is checked (a lookup
    failure is refused too: what cannot be checked is not fetched).
    """
    host, private_ok = _host_and_trust(url, allowance)
    literal = parse_ip_literal(host)
    if literal is not None:
        _check_address(literal, host, private_ok)
        return
    if resolve:
        for address in resolve_host(host):
            _check_address(address, host, private_ok)


async def check_url_async(url: str, allowance: PrivateAllowance | None = None,
                          cache: dict[str, list[IPAddress]] | None = None) -> None:
    """``check_url`` with the DNS lookup run off the event loop, optionally memoised per host."""
    host, private_ok = _host_and_trust(url, allowance)
    literal = parse_ip_literal(host)
    if literal is not None:
        _check_address(literal, host, private_ok)
        return
    if cache is not None and host in cache:
        addresses = cache[host]
    else:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            raise UnsafeURLError(f"cannot resolve host {host!r}: {exc}", "unresolvable") from None
        addresses = [_address_from_sockaddr(info[4][0]) for info in infos]
        if cache is not None:
            cache[host] = addresses
    for address in addresses:
        _check_address(address, host, private_ok)


def never_reachable_reason(address: IPAddress) -> str | None:
    """Why no request may ever reach ``address``, allowance or not (in Chinese, for messages); else None."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or _ipv4_compatible(address) or _nat64(address)
        if embedded is not None:
            reason = never_reachable_reason(embedded)
            if reason is not None:
                return reason
    if address in NEVER_ADDRESSES:
        return "云元数据地址"
    if address.is_link_local:
        return "链路本地地址"
    if address.is_unspecified or address in _THIS_NETWORK:
        return "未指定地址"
    if address.is_multicast:
        return "组播地址"
    if address == _BROADCAST:
        return "广播地址"
    return None


def is_metadata_name(host: str) -> bool:
    """True for a host name of a cloud metadata service (refused whatever it resolves to)."""
    host = host.rstrip(".").lower()
    return host in METADATA_NAMES or host.split(".", 1)[0] in _METADATA_FIRST_LABELS


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
        raise UnsafeURLError(f"cannot resolve host {host!r}: {exc}", "unresolvable") from None
    return [_address_from_sockaddr(info[4][0]) for info in infos]


class SSRFGuardMiddleware:
    """Downloader middleware dropping every request (redirects and robots.txt included) to an unsafe URL.

    The allowance comes only from the spider's ``private_network`` attribute (set from the source's config),
    never from the request: a page cannot widen what its source may reach. A refused request is logged and
    counted as ``ssrf/refused`` and ``ssrf/reason_count/<reason>`` in stats (source health reads them).
    """

    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self._dns_cache: dict[str, list[IPAddress]] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SSRFGuardMiddleware:
        return cls(crawler)

    async def process_request(self, request: Request) -> None:
        allowance = getattr(self.crawler.spider, "private_network", None)
        if not isinstance(allowance, PrivateAllowance):
            allowance = None
        try:
            await check_url_async(request.url, allowance, self._dns_cache)
        except UnsafeURLError as exc:
            stats = self.crawler.stats
            stats.inc_value("ssrf/refused")
            stats.inc_value(f"ssrf/reason_count/{exc.reason}")
            logger.warning("refused unsafe URL %s: %s", request.url, exc)
            raise IgnoreRequest(f"unsafe URL refused: {exc}") from None


def _host_and_trust(url: str, allowance: PrivateAllowance | None) -> tuple[str, bool]:
    """The URL's host, and whether it is the allowance's host and port (so private addresses are fine)."""
    host, port = url_host_port(url)
    private_ok = allowance is not None and allowance.matches(host, port)
    if is_metadata_name(host):
        raise UnsafeURLError(f"host {host!r} is a cloud metadata service")
    if not private_ok and (host in _LOCAL_NAMES or host.endswith(".localhost")):
        raise UnsafeURLError(f"host {host!r} is the local machine")
    return host, private_ok


def _check_address(address: IPAddress, host: str, private_ok: bool) -> None:
    reason = never_reachable_reason(address)
    if reason is not None:
        raise UnsafeURLError(f"host {host!r} is a non-public address ({address}: {reason})")
    if not private_ok and not is_public_address(address):
        raise UnsafeURLError(f"host {host!r} is a non-public address ({address})")


def _canonical_host(host: str) -> str:
    literal = _strict_ip(host)
    return str(literal) if literal is not None else host


def _strict_ip(host: str) -> IPAddress | None:
    """The address of a host in standard notation only (no legacy IPv4 forms, no zone id)."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _address_from_sockaddr(value: str) -> IPAddress:
    return ipaddress.ip_address(value.split("%", 1)[0])


def _ipv4_compatible(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    # Deprecated ::a.b.c.d form; some stacks still route it to the IPv4 address. (:: and ::1 are not that form.)
    packed = address.packed
    if packed[:12] == bytes(12) and int.from_bytes(packed[12:]) > 1:
        return ipaddress.IPv4Address(packed[12:])
    return None


def _nat64(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address in ipaddress.IPv6Network("64:ff9b::/96"):
        return ipaddress.IPv4Address(address.packed[12:])
    return None
