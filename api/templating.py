"""The Jinja2 environment of the dashboard: autoescape always on, display filters from ``api.present``.

Crawled text (titles, snippets, authors, URLs) is hostile: templates never mark content ``|safe``, and links to
crawled pages go through the ``href`` filter, which only lets absolute http(s) URLs through.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import jinja2
from fastapi.templating import Jinja2Templates

from api import present
from incidents.workdays import HOLIDAYS_FILE, calendar_or_package, coverage_status
from yuqing.categories import LEVEL_ORDER

if TYPE_CHECKING:
    from api.deps import Principal
    from yuqing.settings import Settings

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


# Who sees the holiday-calendar banner: admins (who can fix it) from 60 days before the data runs out; once it has
# run out, also those who work to the deadlines it miscounts.
CALENDAR_NOTICE_ROLES = {"warning": ("admin",), "error": ("admin", "monitor", "commander")}


@dataclass(frozen=True)
class CalendarNotice:
    level: str  # warning | error
    text: str


def calendar_notice(settings: Settings, now: datetime, me: Principal | None) -> CalendarNotice | None:
    """The banner every dashboard page shows while the holiday calendar is about to run out, or has; else None."""
    if me is None or not me.has_role(*CALENDAR_NOTICE_ROLES["error"]):
        return None
    calendar = calendar_or_package(settings.config_dir / HOLIDAYS_FILE)
    status = coverage_status(calendar, now.astimezone(settings.tz).date())
    if status.level == "ok" or not me.has_role(*CALENDAR_NOTICE_ROLES[status.level]):
        return None
    if me.has_role("admin"):
        text = status.message(f"配置目录中的 {HOLIDAYS_FILE}（yuqing check-config 会显示其路径）")
    else:
        text = (f"节假日数据只覆盖到 {status.last_covered}：此后按工作日计算的期限只按周一至周五计算，不含法定节假日"
                "和调休，可能有误。请联系系统管理员更新节假日数据。")
    return CalendarNotice(status.level, text)
