"""Load a YAML config file into a pydantic model, turning every failure into a ConfigError that names the file."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from yuqing.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


def load_yaml(path: Path | str) -> object:
    """Read a YAML file; a missing file or a syntax error becomes a ConfigError naming the file and line."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(p, [("", "file not found")]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(p, [("", f"not UTF-8 text ({exc.reason} at byte {exc.start})")]) from None
    try:
        return yaml.safe_load(text)
    except ValueError as exc:  # e.g. an impossible date such as 2027-02-30, which the YAML loader converts
        raise ConfigError(p, [("", f"invalid value: {exc}")]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError(p, [("", f"YAML syntax error: {where}{getattr(exc, 'problem', exc)}")]) from None


def load_model(path: Path | str, model: type[M]) -> M:
    """Load and validate ``path`` as ``model``."""
    data = load_yaml(path)
    if data is None:
        raise ConfigError(path, [("", "file is empty")])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError.from_validation(path, exc) from None
