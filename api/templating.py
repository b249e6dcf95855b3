"""The Jinja2 environment of the dashboard: autoescape always on, display filters from ``api.present``.

Crawled text (titles, snippets, authors, URLs) is hostile: templates never mark content ``|safe``, and links to
crawled pages go through the ``href`` filter, which only lets absolute http(s) URLs through.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import jinja2
from fastapi.templating import Jinja2Templates

from api import present
from yuqing.categories import LEVEL_ORDER

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent / "static"


def make_templates(tz: ZoneInfo, source_names: Mapping[str, str] | None = None) -> Jinja2Templates:
    names = dict(source_names or {})

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES_DIR), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)

    def local(value: datetime | None) -> str:
        return present.local_time(value, tz)

    def countdown(due: datetime | None, now: datetime) -> present.Countdown | None:
        return present.countdown(due, now)

    env.filters.update(local=local, countdown=countdown, href=present.safe_href,
                       level_colour=present.level_colour, level_name=present.level_name,
                       percent=lambda v: "" if v is None else f"{v:.0%}",
                       score=lambda v: "" if v is None else f"{v:.1f}")
    env.filters["source_name"] = lambda source_id: names.get(source_id, source_id)
    env.globals.update(LEVEL_ORDER=LEVEL_ORDER, LEVEL_NAMES={lv: present.level_name(lv) for lv in LEVEL_ORDER})
    return Jinja2Templates(env=env)
