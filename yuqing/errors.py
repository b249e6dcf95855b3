"""Errors shared by every layer, so a user always learns which file and which field is wrong."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError


class ConfigError(Exception):
    """A configuration file is missing, unreadable or invalid.

    The message names the file, the field (as a dotted path) and the reason, because the person fixing it is an
    admin editing YAML, not a developer reading a traceback.
    """

    def __init__(self, path: Path | str, problems: list[tuple[str, str]]):
        self.path = str(path)
        self.problems = problems
        lines = [f"{self.path}: {field}: {reason}" if field else f"{self.path}: {reason}"
                 for field, reason in problems]
        super().__init__("invalid configuration\n" + "\n".join(lines))

    @classmethod
    def from_validation(cls, path: Path | str, exc: ValidationError) -> ConfigError:
        problems = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err.get("loc", ()))
            problems.append((field, err.get("msg", "invalid")))
        return cls(path, problems)
