"""``--sweep``: replay the same file under several threshold settings and compare what each would have done.

The sweep file (YAML)::

    settings:
      - name: 默认                      # the configuration as it is
      - name: 更敏感
        overrides:
          risk.yaml: {thresholds: {I: 70, II: 50, III: 25, IV: 5}}
      - name: 更迟钝
        overrides:
          risk.yaml: {thresholds: {I: 90, II: 75, III: 45, IV: 10}}
          levels.yaml: {...}             # any config file, deep-merged (lists replaced)

Each setting is a full replay on its own fresh database. Per setting the table gives, measured from the first
item that is not labelled noise (``"expect": "noise"`` in the input; the first item when nothing is labelled):
the time to the first alert, the time to level II or higher (an alert or incident at level I or II), the false
incidents (incidents whose every item is labelled noise), the incidents that mixed noise into a story with other
items, and the alerts per day of the replayed span.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from runner.backtest.input import Line
from yuqing.errors import ConfigError

HIGH_LEVELS = ("I", "II")


class SweepSetting(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=60)
    overrides: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @field_validator("overrides")
    @classmethod
    def _config_files(cls, v: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for name in v:
            if "/" in name or "\\" in name or not name.endswith(".yaml") or name.startswith("."):
                raise ValueError(f"{name!r} is not a configuration file name such as risk.yaml")
        return v


class SweepFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    settings: list[SweepSetting] = Field(min_length=1)


def load_sweep(path: Path) -> SweepFile:
    """The sweep file, validated; a problem is a ``ConfigError`` naming the file and the field."""
    try:
        with path.open(encoding="utf-8") as fh:
            raw = yaml.safe_load(fh)
    except OSError as exc:
        raise ConfigError(path, [("", f"cannot read the file ({exc.strerror})")]) from None
    except yaml.YAMLError as exc:
        raise ConfigError(path, [("", f"not valid YAML: {exc}")]) from None
    try:
        return SweepFile.model_validate(raw or {})
    except ValidationError as exc:
        raise ConfigError.from_validation(path, exc) from None


def measure(name: str, result: dict[str, Any], lines: list[Line]) -> dict[str, Any]:
    """One row of the table, read from a replay's decisions and summary."""
    noise = {ln.item.id for ln in lines if ln.item.expect == "noise"}
    signal = [ln for ln in lines if ln.item.id not in noise] or lines
    base = min(ln.item.at for ln in signal)
    first_alert = first_high = None
    for d in result["decisions"]:
        at = datetime.fromisoformat(d["at"])
        if d["decision"] == "alert_opened" and first_alert is None:
            first_alert = at
        if (d["decision"] in ("alert_opened", "alert_level_changed", "incident_opened", "level_changed")
                and d["level"] in HIGH_LEVELS and first_high is None):
            first_high = at
    summary = result["summary"]
    false_incidents = mixed = 0
    for inc in summary["incidents"]:
        items = set(inc["items"])
        if items and items <= noise:
            false_incidents += 1
        elif items & noise:
            mixed += 1
    replay = summary["replay"]
    span = datetime.fromisoformat(replay["end"]) - datetime.fromisoformat(replay["start"])
    days = max(span / timedelta(days=1), 1 / 24)
    return {"setting": name, "first_alert_after": _since(base, first_alert),
            "level_ii_after": _since(base, first_high), "false_incidents": false_incidents,
            "incidents_with_noise": mixed, "incidents": len(summary["incidents"]), "alerts": summary["alerts"],
            "alerts_per_day": round(summary["alerts"] / days, 2)}


def _since(base: datetime, when: datetime | None) -> int | None:
    """Minutes from ``base`` to ``when`` (negative when earlier), None for never."""
    return None if when is None else round((when - base) / timedelta(minutes=1))


def duration_text(minutes: int | None) -> str:
    if minutes is None:
        return "未发生"
    sign = "-" if minutes < 0 else ""
    h, m = divmod(abs(minutes), 60)
    if h >= 48:
        return f"{sign}{h // 24}天{h % 24}小时"
    return f"{sign}{h}小时{m:02d}分" if h else f"{sign}{m}分钟"


def table(rows: list[dict[str, Any]]) -> str:
    """The sweep's rows as a plain-text table (Chinese headers, for the people tuning the thresholds)."""
    head = ["设置", "首次预警", "达到II级及以上", "误报事件", "混入噪声的事件", "事件数", "预警数", "预警/天"]
    body = [[r["setting"], duration_text(r["first_alert_after"]), duration_text(r["level_ii_after"]),
             str(r["false_incidents"]), str(r["incidents_with_noise"]), str(r["incidents"]), str(r["alerts"]),
             f"{r['alerts_per_day']:g}"] for r in rows]

    def width(s: str) -> int:
        return sum(2 if ord(c) > 0x2E80 else 1 for c in s)

    cols = [max(width(row[i]) for row in [head, *body]) for i in range(len(head))]
    out = []
    for row in [head, *body]:
        out.append("  ".join(cell + " " * (cols[i] - width(cell)) for i, cell in enumerate(row)).rstrip())
    return "\n".join(out)
