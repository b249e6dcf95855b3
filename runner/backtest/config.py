"""The configuration a backtest runs on: the project's ``config/`` with the bank's files laid over it.

``--config DIR`` may hold any of ``config/``'s files (org.yaml, keywords.yaml, levels.yaml, risk.yaml,
checklists/…); whatever it lacks comes from the project's defaults. The merge is a temporary directory the
settings point at, so every stage reads its files exactly as ``yuqing run`` would. A sweep setting is a partial
YAML document deep-merged into one of those files (``risk.yaml`` thresholds, ``levels.yaml`` …).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import yaml

from yuqing.errors import ConfigError
from yuqing.settings import PROJECT_ROOT

DEFAULT_CONFIG_DIR = PROJECT_ROOT / "config"


def merged_config_dir(target: Path, override: Path | None = None,
                      patches: dict[str, dict[str, Any]] | None = None) -> Path:
    """Write the project's config to ``target``, then the files of ``override`` over it, then deep-merge each
    ``patches[file]`` into that file. Returns ``target``."""
    shutil.copytree(DEFAULT_CONFIG_DIR, target, dirs_exist_ok=True)
    if override is not None:
        if not override.is_dir():
            raise ConfigError(override, [("", "--config must be a directory of configuration files")])
        shutil.copytree(override, target, dirs_exist_ok=True)
    for name, patch in (patches or {}).items():
        path = target / name
        if not path.is_file():
            raise ConfigError(path, [("", f"a sweep setting overrides {name}, which is not a configuration file")])
        with path.open(encoding="utf-8") as fh:
            base = yaml.safe_load(fh) or {}
        with path.open("w", encoding="utf-8") as fh:
            yaml.safe_dump(deep_merge(base, patch), fh, allow_unicode=True, sort_keys=False)
    return target


def deep_merge(base: Any, patch: Any) -> Any:
    """``patch`` over ``base``: mappings merge key by key, anything else (lists too) is replaced."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for key, value in patch.items():
            out[key] = deep_merge(base.get(key), value) if key in base else value
        return out
    return patch
