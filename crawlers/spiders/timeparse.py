"""Read the many ways Chinese sites and APIs write a time, and return it as aware UTC.

A time without a zone from a Chinese site means Beijing time (Asia/Shanghai), never UTC: reading it as UTC would
put every post eight hours in the future and break "first source" and spread timelines.

Times come from hostile feeds and APIs, so ``parse_datetime`` never raises, whatever it is given
(``9999-12-31T23:59:59-05:00`` lies past ``datetime.max`` in UTC, ``"²"`` is a digit ``int`` cannot read, a
5000-digit number is too long to convert), and refuses what cannot be a publication time: before ``EARLIEST``, or
more than ``MAX_FUTURE_SKEW`` after ``now`` (after ``LATEST`` when no ``now`` is given) — the window of
``crawlers.timewindow``, which page extraction applies too. Every spider passes its
clock's ``now`` (``SourceSpider.parse_time``), so an epoch of ``99999999999999`` is no post from the year 5138.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from crawlers.timewindow import EARLIEST, LATEST, MAX_FUTURE_SKEW, SHANGHAI, believable

__all__ = ["EARLIEST", "LATEST", "MAX_FUTURE_SKEW", "SHANGHAI", "parse_datetime"]
MAX_TEXT_CHARS = 200  # no timestamp is longer; longer values are not parsed at all

_FORMATS = (
    "%a %b %d %H:%M:%S %z %Y",  # Weibo: Mon Nov 23 09:15:00 +0800 2026
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y-%m-%d",
    "%Y/%m/%d",
)
_CHINESE = re.compile(
    r"(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日(?:\s*(\d{1,2})\s*[:：时]\s*(\d{1,2})(?:\s*[:：分]\s*(\d{1,2}))?)?"
)


def parse_datetime(value: object, *, now: datetime | None = None) -> datetime | None:
    """Parse ``value`` (ISO 8601, RFC 822, Weibo style, 2026年11月23日 09:15, epoch seconds/ms) to aware UTC.

    Returns None when nothing sensible can be read, when the result lies before ``EARLIEST``, or more than
    ``MAX_FUTURE_SKEW`` after ``now`` (a wrong clock or a wrong guess should not produce posts from the future;
    without ``now``, after ``LATEST``). Never raises.
    """
    try:
        result = _parse(value)
    except Exception:  # hostile input must cost its date, never the rest of the page
        return None
    return result if result is not None and believable(result, now) else None


def _parse(value: object) -> datetime | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        return _aware(value)
    if isinstance(value, int | float):
        seconds = value / 1000 if value > 1e11 else value  # epoch milliseconds
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or len(text) > MAX_TEXT_CHARS:
        return None
    if text.isascii() and text.isdigit():
        return _parse(int(text))
    try:
        return _aware(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        pass
    for fmt in _FORMATS:
        try:
            return _aware(datetime.strptime(text, fmt))
        except ValueError:
            continue
    try:
        return _aware(parsedate_to_datetime(text))
    except (TypeError, ValueError, IndexError):
        pass
    match = _CHINESE.search(text)
    if match:
        y, mo, d, h, mi, s = (int(g) if g else 0 for g in match.groups())
        try:
            return _aware(datetime(y, mo, d, h, mi, s))
        except ValueError:
            return None
    return None


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=SHANGHAI)
    return value.astimezone(UTC)
