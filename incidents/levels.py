"""Level arithmetic: I (特别重大) is the most severe, IV (一般) the least.

Automation may only make things more serious: a level rises by itself when the computed risk rises, but it never
drops by itself, because a quiet hour does not mean the story is over. Lowering a level is a person's decision
and needs a written reason (it goes on the timeline and into the audit log).
"""

from __future__ import annotations

from yuqing.categories import LEVEL_ORDER, LEVELS


def severity(level: str) -> int:
    """4 for I, 1 for IV; raises ValueError on anything else."""
    if level not in LEVEL_ORDER:
        raise ValueError(f"unknown level {level!r}; expected one of {LEVEL_ORDER}")
    return len(LEVEL_ORDER) - LEVEL_ORDER.index(level)


def is_higher(a: str, b: str) -> bool:
    """True when level ``a`` is more severe than level ``b``."""
    return severity(a) > severity(b)


def highest(*levels: str | None) -> str | None:
    """The most severe of the given levels, ignoring None."""
    present = [lv for lv in levels if lv is not None]
    return max(present, key=severity) if present else None


def automatic_level(current: str | None, computed: str | None) -> str | None:
    """The level after an automatic recomputation: it may rise, never fall."""
    return highest(current, computed)


def check_manual_change(current: str, new: str, reason: str) -> str:
    """Validate a person's level change; returns 'up' or 'down'. Raises ValueError (English) when invalid."""
    severity(new)
    if new == current:
        raise ValueError(f"level is already {current}")
    direction = "up" if is_higher(new, current) else "down"
    if direction == "down" and not reason.strip():
        raise ValueError("lowering a level requires a reason")
    return direction


def level_title(level: str) -> str:
    """e.g. 'II级（重大）' for notifications and the UI."""
    return f"{level}级（{LEVELS.get(level, '未分级')}）"
