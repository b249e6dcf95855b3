"""Building and rendering briefings: the one entry point the CLI, the API, the dashboard and delivery use.

``incident_briefing`` / ``daily_report`` / ``weekly_report`` gather the data as of a moment and draft the
``Briefing``; ``render`` lays it out as html, pdf or docx. ``latest_day`` / ``latest_week`` pick the newest period
that has data, for commands run without a date.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from crawlers.sources import SourceConfig
from incidents.briefings import gather
from incidents.briefings.document import SHANGHAI, Briefing
from incidents.briefings.incident_briefing import draft_incident_briefing
from incidents.briefings.periodic import day_window, draft_period_report, listed_for_leadership, week_window
from incidents.errors import IncidentError, NotFound
from incidents.models import Incident, ReportKind
from incidents.policy import Policy
from yuqing.org import OrgChart

FORMATS = ("html", "pdf", "docx")
MEDIA_TYPES = {"html": "text/html; charset=utf-8", "pdf": "application/pdf",
               "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}


@dataclass(frozen=True)
class PeriodReport:
    briefing: Briefing
    start: datetime
    end: datetime
    incident_ids: list[int]  # the incidents it tells leadership about (daily: level III)


def incident_briefing(session: Session, *, incident_id: int, kind: str, org: OrgChart, policy: Policy,
                      now: datetime, mask: bool = True) -> Briefing:
    """The 专报 (initial | follow_up | final) of an incident as of ``now``."""
    try:
        ReportKind(kind)
    except ValueError:
        raise IncidentError(f"unknown report kind {kind!r}", "未知的报告类型（初报、续报或终报）",
                            code="bad_request") from None
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFound("incident", incident_id, "事件")
    material = gather.incident_material(session, incident, policy=policy, now=now)
    return draft_incident_briefing(material, kind=kind, org=org, mask=mask)


def filed_briefing(session: Session, *, report_id: int, org: OrgChart) -> Briefing:
    """A filed 专报 (the text the commander edited and filed, exactly as filed) laid out as a briefing, so the
    version that went out can be sent as HTML, PDF or DOCX too."""
    from incidents.briefings.document import Paragraph, Section, Sentence, long_time
    from incidents.levels import level_title
    from incidents.models import IncidentReport

    report = session.get(IncidentReport, report_id)
    if report is None:
        raise NotFound("report", report_id, "报告")
    incident = session.get(Incident, report.incident_id)
    kind = ReportKind(report.kind)
    name = {ReportKind.initial: "初报", ReportKind.follow_up: f"续报（第{report.version}期）",
            ReportKind.final: "终报"}[kind]
    try:
        branch = org.owning_branch(incident.unit_id)
        unit = org.unit(incident.unit_id).name
    except KeyError:
        branch, unit = org.root(), incident.unit_id
    try:
        author = org.person(report.author).name
    except KeyError:
        author = report.author
    paragraphs = [Paragraph([Sentence(line)]) for line in report.text.splitlines() if line.strip()]
    suffix = {ReportKind.initial: "CB", ReportKind.follow_up: f"XB{report.version}", ReportKind.final: "ZB"}[kind]
    return Briefing(kind=kind.value, title=f"舆情专报（{name}）", organisation=branch.name,
                    header=[("事件等级", level_title(report.level)), ("涉及单位", unit),
                            ("报送单位", f"{branch.name}综合管理部"), ("报送时间", long_time(report.filed_at)),
                            ("报送人", author), ("专报编号", f"{incident.number}-{suffix}"),
                            ("事件编号", incident.number)],
                    summary=f"本件为{long_time(report.filed_at)}报送的{name}正文（报送版本，未经系统改动）。",
                    sections=[Section("正文", paragraphs)], attachments=[], generated_at=report.filed_at,
                    notes=["正文引文后的〔编号｜发布时间｜证据哈希〕对应草稿附件所列原始链接。"],
                    number=f"{incident.number}-{suffix}")


def daily_report(session: Session, *, day: date, org: OrgChart, policy: Policy, now: datetime,
                 sources: Sequence[SourceConfig] | None = None, unit_ids: Iterable[str] | None = None,
                 scope_unit: str | None = None, mask: bool = True) -> PeriodReport:
    """The 舆情日报 of ``day`` (a calendar day in Asia/Shanghai); ``unit_ids`` restricts the figures to some units
    and ``scope_unit`` names the unit the report is of (default: the branch)."""
    start, end = day_window(day)
    material = gather.period_material(session, start=start, end=end, previous_start=start - timedelta(days=1),
                                      policy=policy, now=now, sources=sources, unit_ids=unit_ids)
    briefing = draft_period_report(material, kind="daily", org=org, mask=mask, number=f"RB-{day:%Y%m%d}",
                                   scope_unit=scope_unit)
    return PeriodReport(briefing, start, end, listed_for_leadership(material))


def weekly_report(session: Session, *, year: int, week: int, org: OrgChart, policy: Policy, now: datetime,
                  sources: Sequence[SourceConfig] | None = None, unit_ids: Iterable[str] | None = None,
                  scope_unit: str | None = None, mask: bool = True) -> PeriodReport:
    """The 舆情周报 of ISO week ``year``-W``week`` (Monday to Sunday, Asia/Shanghai)."""
    start, end = week_window(year, week)
    material = gather.period_material(session, start=start, end=end, previous_start=start - timedelta(days=7),
                                      policy=policy, now=now, sources=sources, unit_ids=unit_ids, kind="weekly")
    briefing = draft_period_report(material, kind="weekly", org=org, mask=mask, number=f"ZB-{year}W{week:02d}",
                                   scope_unit=scope_unit)
    return PeriodReport(briefing, start, end, listed_for_leadership(material))


def render(briefing: Briefing, fmt: str) -> bytes:
    """The briefing as ``html`` (UTF-8), ``pdf`` or ``docx`` bytes."""
    if fmt == "html":
        from incidents.briefings.render_html import render_html

        return render_html(briefing).encode("utf-8")
    if fmt == "pdf":
        from incidents.briefings.render_pdf import render_pdf

        return render_pdf(briefing)
    if fmt == "docx":
        from incidents.briefings.render_docx import render_docx

        return render_docx(briefing)
    raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")


def report_time(session: Session, now: datetime) -> datetime:
    """The moment a report is "as of": now, or the newest record when the database holds later ones (a simulated
    demo runs ahead of the wall clock; a real deployment never has records in the future)."""
    latest = gather.latest_record(session)
    return max(now, latest) if latest is not None else now


def latest_day(session: Session, now: datetime) -> date:
    """The newest local day with a relevant mention (today when there is none)."""
    at = gather.latest_activity(session)
    return (at or now).astimezone(SHANGHAI).date()


def latest_week(session: Session, now: datetime) -> tuple[int, int]:
    """The ISO (year, week) of the newest mention (this week when there is none)."""
    iso = latest_day(session, now).isocalendar()
    return iso.year, iso.week


def days_with_data(session: Session, *, until: datetime, limit: int = 7) -> list[date]:
    """The most recent local days (newest first, up to ``limit``) that have a relevant mention, within the
    ``limit * 4`` days before ``until``."""
    items = gather.recent_item_times(session, since=until - timedelta(days=limit * 4),
                                     until=until + timedelta(seconds=1))
    days = sorted({t.astimezone(SHANGHAI).date() for t in items}, reverse=True)
    return days[:limit]


def filed_reports(session: Session, incident_id: int) -> list:
    """The reports filed on an incident (初报 / 续报 / 终报), oldest first."""
    from incidents import queries

    return queries.reports_of(session, incident_id)


def parse_week(text: str) -> tuple[int, int]:
    """``2026-W48`` (or ``2026W48``) → (2026, 48); ValueError otherwise."""
    t = text.strip().upper().replace("-", "")
    if "W" not in t:
        raise ValueError(f"week {text!r} is not YYYY-Www")
    y, w = t.split("W", 1)
    year, week = int(y), int(w)
    date.fromisocalendar(year, week, 1)  # raises for week 53 of a 52-week year
    return year, week
