"""URL identity: one article is one URL, however a site decorates its links.

``url_hash`` (sha256 of the normalised URL) is the unique key of ``Article`` and ``SeenUrl``, so the same page
reached through the feed, the sitemap and a tracking-tagged share link is fetched and stored once.

``web_url`` decides which links may become article URLs at all: absolute http(s) only (see there).
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

from w3lib.url import canonicalize_url

_TRACKING_PREFIXES = ("utm_", "spm", "from", "share_", "wfr", "scene")
_TRACKING_EXACT = frozenset({"from", "spm", "isappinstalled", "scene", "srcid", "share_token", "fbclid", "gclid"})


@lru_cache(maxsize=8192)
def normalise_url(url: str) -> str:
    """Canonical form: lower-case scheme/host, no default port, no fragment, sorted query without trackers.

    Remembered for recent URLs (a pure function of the text): storing one item normalises its URL for the article,
    the seen-URL row and its hash, and a crawl meets the same URLs again on every poll."""
    parts = urlsplit(url.strip())
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k)]
    cleaned = urlunsplit((parts.scheme, parts.netloc, parts.path or "/", urlencode(query), ""))
    return canonicalize_url(cleaned, keep_fragments=False)


def url_hash(url: str) -> str:
    """sha256 hex of the normalised URL: the identity used by ``Article.url_hash`` and ``SeenUrl.url_hash``."""
    return hashlib.sha256(normalise_url(url).encode("utf-8")).hexdigest()


def _is_tracking(key: str) -> bool:
    key = key.lower()
    return key in _TRACKING_EXACT or key.startswith("utm_")


def web_url(url: object, base: str | None = None) -> str | None:
    """The absolute http(s) URL that ``url`` names, resolved against ``base`` when relative — or None.

    Links come from hostile pages, feeds and APIs; only what a browser would open as an ordinary web page may
    become an article URL (stored, served by the API, linked from the dashboard). Cleaned as browsers do — tabs
    and newlines removed anywhere, control characters and spaces trimmed at the ends, backslashes before the query
    read as slashes — then refused unless the scheme is http or https and the host is a valid host name or IP
    address, with no credentials and a valid port. So ``javascript:``, ``data:``, ``vbscript:``, ``java\\nscript:``,
    ``https:javascript:…`` (no host) and ``http://user@host/`` are refused, ``/a/1.html`` and ``//cdn/x`` resolved.
    """
    if not isinstance(url, str):
        return None
    text = _clean(url)
    if not text or text.startswith("#") or len(text) > MAX_URL_CHARS or _CONTROL.search(text):
        return None  # (an in-page anchor names the page it is on, never an article)
    try:
        scheme = _SCHEME.match(text)
        absolute = scheme is not None and text[scheme.end():].startswith("//")
        # ("http:///x" has an empty host, as browsers read it: never the base's host, as urljoin would make it)
        resolved = urljoin(base, text) if base and not absolute else text
        parts = urlsplit(resolved)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:  # "http://[::1/" (bad IPv6 literal), "http://x:99999/" (port out of range)
        return None
    if parts.scheme.lower() not in WEB_SCHEMES or not port_ok:
        return None
    if parts.username is not None or parts.password is not None or not _valid_host(parts.hostname):
        return None
    return resolved


def is_web_link(url: str) -> bool:
    """True when ``url`` is meant as a web address: http(s) or relative — not ``javascript:``, ``mailto:``, ``#top``.

    A listing page holds many links that are not articles (script buttons, mail links, in-page anchors); those are
    skipped quietly, while a web link that ``web_url`` still refuses is a broken article link and is counted.
    """
    text = _clean(url)
    if not text or text.startswith("#"):
        return False
    scheme = _SCHEME.match(text)
    return scheme is None or scheme.group(1).lower() in WEB_SCHEMES


WEB_SCHEMES = frozenset({"http", "https"})
MAX_URL_CHARS = 8192
_TAB_NEWLINE = re.compile("[\t\n\r]")
_EDGES = "".join(chr(c) for c in range(0x21))  # C0 controls and space, trimmed at both ends as browsers do
_CONTROL = re.compile("[\x00-\x1f\x7f]")
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")
_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")


def _clean(url: str) -> str:
    text = _TAB_NEWLINE.sub("", url).strip(_EDGES)
    cut = min((i for i in (text.find("?"), text.find("#")) if i >= 0), default=len(text))
    return text[:cut].replace("\\", "/") + text[cut:]


def _valid_host(host: str | None) -> bool:
    if not host:
        return False
    if ":" in host:  # urlsplit has already checked the brackets; the address itself must be IPv6
        try:
            ipaddress.IPv6Address(host.split("%", 1)[0])
        except ValueError:
            return False
        return True
    try:
        ascii_host = host.rstrip(".").encode("idna").decode("ascii").lower()
    except (UnicodeError, ValueError):
        return False
    labels = ascii_host.split(".")
    return len(ascii_host) <= 253 and all(_LABEL.match(label) for label in labels)
