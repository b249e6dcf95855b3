"""URL identity: one article is one URL, however a site decorates its links.

``url_hash`` (sha256 of the normalised URL) is the unique key of ``Article`` and ``SeenUrl``, so the same page
reached through the feed, the sitemap and a tracking-tagged share link is fetched and stored once.
"""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from w3lib.url import canonicalize_url

_TRACKING_PREFIXES = ("utm_", "spm", "from", "share_", "wfr", "scene")
_TRACKING_EXACT = frozenset({"from", "spm", "isappinstalled", "scene", "srcid", "share_token", "fbclid", "gclid"})


def normalise_url(url: str) -> str:
    """Canonical form: lower-case scheme/host, no default port, no fragment, sorted query without trackers."""
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
