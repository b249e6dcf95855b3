"""``yuqing check-config``'s rendering of the configuration's problems.

The problems themselves are collected by ``api.config_check.config_problems`` (shared with the admin console, which
validates a document the same way before saving it); this module numbers them for the terminal.
"""

from __future__ import annotations

from api.config_check import LEVEL_NAMES, config_problems

__all__ = ["LEVEL_NAMES", "config_problems", "render_problems"]


def render_problems(problems: list[tuple[str, str, str]]) -> list[str]:
    """One line per problem, numbered, for the terminal."""
    return [f"{i}. {path}: {field}: {reason}" if field else f"{i}. {path}: {reason}"
            for i, (path, field, reason) in enumerate(problems, 1)]
