"""The one rule for which publication times are believable, shared by the spiders and page extraction.

Feeds, APIs and pages all carry dates, and a date outside this window is garbage or hostile (epoch 0, 0001-01-01, a
"post" from next year that would sort first forever). Spiders and extraction used to apply different windows, so
the same page could be dated when read from its HTML but not from its feed entry; both now ask ``believable``. A time
without a zone on a Chinese site is Beijing time (``SHANGHAI``), never UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")
EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)  # older "publication" times are garbage (epoch 0, 0001-01-01…)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)  # the ceiling when the caller gives no ``now``
MAX_FUTURE_SKEW = timedelta(days=1)  # a server clock a little ahead is tolerated, a post from next year is not


def believable(value: datetime, now: datetime | None = None) -> bool:
    """Whether aware ``value`` can be a publication time: not before ``EARLIEST``, and not more than
    ``MAX_FUTURE_SKEW`` after ``now`` (after ``LATEST`` when there is no ``now``)."""
    ceiling = now + MAX_FUTURE_SKEW if now is not None else LATEST
    try:
        return EARLIEST <= value <= ceiling
    except (OverflowError, TypeError):  # a naive value or one past the ends of time is not a publication time
        return False
