"""Drafting the 舆情日报 and 舆情周报: what a leader reads at the start of the day or the week.

Sections: 总体情况 (volume and sentiment against the previous period) · 声量与情感走势 (chart by source type and a
table per hour or per day) · 热点舆情 (top stories, each citing its first source) · 分单位情况 · 事件情况 (new,
running and closed incidents) · 时限执行 (acknowledged and reported on time) · 投诉情况 (complaint-channel mentions:
yuqing keeps no complaint record yet, and the report says so) · 信源健康 (so "nothing found" never hides "nothing
crawled") · 提请领导知悉 (level III cases this report tells leadership about).

A period without mentions gives the same report with zeros and a sentence saying nothing was found, next to the
source health that shows whether anything was crawled.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime, timedelta

from incidents.briefings.citations import CHANNEL_LABELS, CHANNEL_ORDER, Citations
from incidents.briefings.document import (
    SHANGHAI,
    Briefing,
    BulletList,
    Paragraph,
    Section,
    Sentence,
    Table,
    long_time,
)
from incidents.briefings.gather import IncidentRow, PeriodMaterial
from incidents.briefings.masking import Masker
from incidents.briefings.volume import bucket_items, volume_figure
from incidents.levels import level_title
from incidents.lifecycle import STATUS_LABELS, IncidentStatus
from yuqing.categories import category_label
from yuqing.org import OrgChart

TOP_STORIES = 10
COMPLAINT_NOTE = ("系统尚未建立投诉工单台账，本节“投诉情况”仅统计投诉平台渠道（如黑猫投诉、领导留言板）监测到的"
                  "提及数，不等同于本行受理的投诉量。")


def period_title(kind: str, start: datetime, end: datetime) -> str:
    local = start.astimezone(SHANGHAI)
    if kind == "daily":
        return f"{local:%Y年%m月%d日}"
    iso = local.isocalendar()
    last = (end - timedelta(seconds=1)).astimezone(SHANGHAI)
    return f"{iso.year}年第{iso.week}周（{local:%m月%d日}—{last:%m月%d日}）"


def draft_period_report(material: PeriodMaterial, *, kind: str, org: OrgChart, mask: bool = True,
                        number: str = "", scope_unit: str | None = None) -> Briefing:
    """The 舆情日报 (``kind`` daily) or 舆情周报 (weekly) of ``material``'s period."""
    m = material
    masker = Masker(m.complainant_names, enabled=mask)
    cite = Citations(masker)
    unit = org.unit(scope_unit) if scope_unit else _default_scope(org)
    name = "舆情日报" if kind == "daily" else "舆情周报"
    period = period_title(kind, m.start, m.end)
    items = m.items
    neg = sum(1 for i in items if i.label == "negative")
    header = [("报告期", period), ("统计范围", f"{unit.name}及所辖机构"), ("编制单位", f"{unit.name}综合管理部"),
              ("生成时间", long_time(m.as_of)), ("报告编号", number or "—")]
    sections = [_overview(m, kind), _trend(m, kind), _stories(m, cite, org), _by_unit(m, org),
                _incidents(m, org, masker), _compliance(m), _complaints(m, org), _sources(m)]
    lead = _leadership(m, kind, masker)
    if lead is not None:
        sections.append(lead)
    if items:
        summary = (f"{period}共监测到涉及{unit.name}的信息{len(items)}条（{_delta(len(items), m.previous_total)}），"
                   f"其中负面{neg}条（占{_pct(neg, len(items))}）；新立事件{len(m.incidents_new)}起，"
                   f"在办{len(m.incidents_open)}起，结案{len(m.incidents_closed)}起。")
        if m.stories:
            top = _ranked_stories(m)[0]
            summary += f"关注度最高的是“{_clip(masker.mask(m.stories[top[0]].title), 40)}”（{top[1]}条）。"
    else:
        summary = (f"{period}未监测到涉及{unit.name}的舆情信息；新立事件{len(m.incidents_new)}起，"
                   f"在办{len(m.incidents_open)}起，结案{len(m.incidents_closed)}起。信源运行情况见“信源健康”。")
    notes = ["引文均摘自监测到的原文；〔编号｜发布时间｜证据哈希〕对应附件所列原始链接与完整的 SHA-256 证据哈希。",
             COMPLAINT_NOTE]
    notes.append("本报告对投诉人姓名、手机号码、身份证号码、银行卡号及电子邮箱作了脱敏处理。" if mask
                 else "本报告未作脱敏处理，仅限授权人员阅读。")
    return Briefing(kind=kind, title=name, organisation=unit.name, header=header, summary=_clip(summary, 200),
                    sections=sections, attachments=cite.attachments, generated_at=m.as_of, notes=notes,
                    number=number, masked=mask)


# --- sections ----------------------------------------------------------------------------------------------------

def _overview(m: PeriodMaterial, kind: str) -> Section:
    items = m.items
    prev_word = "前一日" if kind == "daily" else "上周"
    if not items:
        return Section("一、总体情况", [Paragraph([Sentence(
            f"本期未监测到涉及本行的舆情信息（{prev_word}{m.previous_total}条）。“未发现”不等于“未抓取”，"
            "请结合第八部分信源健康情况判断。")])])
    labels = Counter(i.label or "unclassified" for i in items)
    channels = Counter(i.channel for i in items)
    neg = labels["negative"]
    prev_neg_share = _pct(m.previous_negative, m.previous_total) if m.previous_total else "—"
    return Section("一、总体情况", [Paragraph([
        Sentence(f"本期共监测到相关信息{len(items)}条，{prev_word}{m.previous_total}条，"
                 f"{_delta(len(items), m.previous_total)}。"),
        Sentence("其中" + "、".join(f"{CHANNEL_LABELS[c]}{channels[c]}条" for c in CHANNEL_ORDER if channels[c])
                 + "。"),
        Sentence(f"情感分布：负面{neg}条（{_pct(neg, len(items))}，{prev_word}{prev_neg_share}），"
                 f"中性{labels['neutral']}条，正面{labels['positive']}条"
                 + (f"，尚未分类{labels['unclassified']}条" if labels["unclassified"] else "") + "。"),
    ])])


def _trend(m: PeriodMaterial, kind: str) -> Section:
    width = timedelta(hours=1) if kind == "daily" else timedelta(days=1)
    buckets = bucket_items(m.items, m.start, m.end, width=width)
    level_marks = []
    for row in m.incidents_new:
        level_marks.append((row.opened_at, f"{row.number[-3:]}号事件立案", row.level))
    figure = volume_figure(buckets, title="声量走势（按来源类型）",
                           caption=f"图1 {'每小时' if kind == 'daily' else '每日'}声量（按来源类型，虚线为新立事件）",
                           level_marks=level_marks[:6])
    totals = buckets.totals
    rows = []
    for k, label in enumerate(buckets.labels):
        if kind == "daily" and not totals[k]:
            continue
        rows.append([label, *(str(buckets.counts[c][k]) for c in CHANNEL_ORDER), str(totals[k]),
                     str(buckets.negative[k]), _pct(buckets.negative[k], totals[k]) if totals[k] else "—"])
    blocks: list = [figure]
    if rows:
        blocks.append(Table(["时段" if kind == "daily" else "日期", *(CHANNEL_LABELS[c] for c in CHANNEL_ORDER), "合计",
                             "负面", "负面占比"], rows,
                            caption="表1 声量与情感走势" + ("（仅列有信息的时段）" if kind == "daily" else ""),
                            numeric=frozenset(range(1, 8))))
    return Section("二、声量与情感走势", blocks)


def _ranked_stories(m: PeriodMaterial) -> list[tuple[int, int, int]]:
    """(story id, items in period, negative items), most items first."""
    per: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for i in m.items:
        if i.story_id is not None:
            per[i.story_id][0] += 1
            per[i.story_id][1] += i.label == "negative"
    return sorted(((sid, n, neg) for sid, (n, neg) in per.items()),
                  key=lambda t: (-t[1], -(m.story_risks[t[0]].score if t[0] in m.story_risks else 0), t[0]))


def _stories(m: PeriodMaterial, cite: Citations, org: OrgChart) -> Section:
    ranked = _ranked_stories(m)[:TOP_STORIES]
    if not ranked:
        return Section("三、热点舆情", [Paragraph([Sentence("本期无热点舆情。")])])
    first_of: dict[int, object] = {}
    for i in m.items:
        first_of.setdefault(i.story_id, i)
    rows, sources = [], []
    for n, (sid, count, neg) in enumerate(ranked, 1):
        story = m.stories[sid]
        risk = m.story_risks.get(sid)
        first = first_of[sid]
        rows.append([str(n), _clip(cite.masker.mask(story.title), 40), _unit_short(org, story.unit_id), str(count),
                     str(neg), level_title(risk.level) if risk and risk.level else "未达预警",
                     f"{risk.score:.0f}" if risk else "—"])
        sources.append(cite.source(first))
    return Section("三、热点舆情", [Table(["序号", "舆情", "涉及单位", "条数", "负面", "风险等级", "评分"], rows,
                                      caption=f"表2 热点舆情（按本期条数，前{TOP_STORIES}）",
                                      numeric=frozenset({0, 3, 4, 6}), sources=sources)])


def _by_unit(m: PeriodMaterial, org: OrgChart) -> Section:
    per: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for i in m.items:
        row = per[i.unit_id or ""]
        row[0] += 1
        row[1] += i.label == "negative"
        row[2] += i.channel == "complaint"
    incidents = Counter(r.unit_id for r in m.incidents_all)
    for unit_id in incidents:
        per.setdefault(unit_id, [0, 0, 0])
    if not per:
        return Section("四、分单位情况", [Paragraph([Sentence("本期各单位均无相关信息。")])])
    rows = [[_unit_short(org, uid), str(v[0]), str(v[1]), str(v[2]), str(incidents.get(uid, 0))]
            for uid, v in sorted(per.items(), key=lambda kv: (-kv[1][0], kv[0]))]
    return Section("四、分单位情况", [Table(["单位", "信息条数", "负面", "投诉平台", "涉及事件"], rows,
                                         caption="表3 分单位统计", numeric=frozenset({1, 2, 3, 4}))])


def _incidents(m: PeriodMaterial, org: OrgChart, masker: Masker) -> Section:
    rows = m.incidents_all
    if not rows:
        return Section("五、事件情况", [Paragraph([Sentence("本期无新立、在办或结案的舆情事件。")])])
    new_ids = {r.id for r in m.incidents_new}
    closed_ids = {r.id for r in m.incidents_closed}
    table = [[r.number, _clip(masker.mask(r.title), 36), _unit_short(org, r.unit_id), level_title(r.level),
              STATUS_LABELS.get(IncidentStatus(r.status), r.status),
              "、".join(x for x, on in (("新立", r.id in new_ids), ("结案", r.id in closed_ids),
                                        ("在办", r.id not in closed_ids)) if on), long_time(r.opened_at)]
             for r in rows]
    return Section("五、事件情况", [
        Paragraph([Sentence(f"新立事件{len(m.incidents_new)}起，在办{len(m.incidents_open)}起，"
                            f"结案{len(m.incidents_closed)}起。")]),
        Table(["事件编号", "事件", "单位", "等级", "状态", "本期", "立案时间"], table, caption="表4 舆情事件")])


def _compliance(m: PeriodMaterial) -> Section:
    rows = m.incidents_all
    if not rows:
        return Section("六、时限执行", [Paragraph([Sentence("本期无需考核的报告时限。")])])
    stats: dict[str, list[int]] = {}
    misses: list[str] = []
    cutoff = min(m.as_of, m.end)
    for r in rows:
        for c in r.clocks:
            if c.due_at < m.start and c.done_at is not None and c.done_at < m.start:
                continue  # met before this period: last period's figure
            if c.due_at >= cutoff and (c.done_at is None or c.done_at >= m.end):
                continue  # not due yet when the report was made
            s = stats.setdefault(c.key, [0, 0, 0])  # due, on time, missed
            s[0] += 1
            on_time = c.done_at is not None and c.done_at <= c.due_at
            s[1] += on_time
            if not on_time:
                s[2] += 1
                state = "逾期完成" if c.done_at else "未完成"
                misses.append(f"{r.number}：{c.label}{state}（时限{long_time(c.due_at)}）。")
    order = ["ack", "leadership_notice", "initial_report", "update_report", "regulator_report", "final_report",
             "review"]
    table = []
    labels = {c.key: c.label for r in rows for c in r.clocks}
    for key in sorted(stats, key=lambda k: order.index(k) if k in order else 99):
        due, ok, missed = stats[key]
        table.append([labels.get(key, key), str(due), str(ok), str(missed), _pct(ok, due)])
    blocks: list = [Table(["时限", "应完成", "按时完成", "逾期或未完成", "按时率"], table,
                          caption="表5 确认与报告时限执行情况", numeric=frozenset({1, 2, 3, 4}))] if table else \
        [Paragraph([Sentence("本期无到期的报告时限。")])]
    if misses:
        blocks.append(BulletList([Sentence(x) for x in misses[:12]]))
    return Section("六、时限执行", blocks)


def _complaints(m: PeriodMaterial, org: OrgChart) -> Section:
    comp = [i for i in m.items if i.channel == "complaint"]
    per = Counter(_unit_short(org, i.unit_id) for i in comp)
    negative = sum(1 for i in comp if i.label == "negative")
    sentences = [Sentence(COMPLAINT_NOTE),
                 Sentence(f"本期投诉平台渠道提及{len(comp)}条，其中负面{negative}条"
                          + ("；" + "、".join(f"{u}{n}条" for u, n in per.most_common(6)) if comp else "") + "。")]
    return Section("七、投诉情况（投诉平台渠道提及）", [Paragraph(sentences)])


def _sources(m: PeriodMaterial) -> Section:
    if not m.sources:
        return Section("八、信源健康", [Paragraph([Sentence("未配置信源或尚无抓取记录。")])])
    rows = []
    for s in m.sources:
        h = s.health
        rows.append([s.name, h.label if h else "—", str(s.items_in_period),
                     long_time(h.last_success_at) if h and h.last_success_at else "—",
                     _clip(h.reason, 60) if h else ""])
    bad = [s for s in m.sources if s.health and s.health.status not in ("ok", "disabled")]
    lead = (f"{len(bad)}个信源状态异常，期间可能漏报：" + "、".join(s.name for s in bad[:6]) + "。") if bad \
        else "全部信源运行正常。"
    return Section("八、信源健康", [Paragraph([Sentence(lead)]),
                                Table(["信源", "状态", "本期抓取", "最近成功", "说明"], rows,
                                      caption="表6 信源健康（截至生成时间）", numeric=frozenset({2}))])


def _leadership(m: PeriodMaterial, kind: str, masker: Masker) -> Section | None:
    rows = m.leadership
    if not rows:
        return None
    levels = "、".join(sorted({level_title(r.level) for r in rows}))
    name = "日报" if kind == "daily" else "周报"
    return Section("九、提请领导知悉", [Paragraph([Sentence(
        f"以下{levels}事件按规定以{name}形式报告分行领导，领导在系统中阅知或确认本{name}即视为确认知悉：")]),
        BulletList([Sentence(f"{r.number} {_clip(masker.mask(r.title), 40)}（{category_label(r.category)}，"
                             f"{STATUS_LABELS.get(IncidentStatus(r.status), r.status)}"
                             + ("，已确认知悉" if r.leader_acked else "") + "）") for r in rows])])


def listed_for_leadership(m: PeriodMaterial) -> list[int]:
    """The incidents the report tells leadership about (``gather.listed_incidents``)."""
    return [r.id for r in m.leadership]


# --- helpers ---------------------------------------------------------------------------------------------------

def day_window(day: date) -> tuple[datetime, datetime]:
    start = datetime(day.year, day.month, day.day, tzinfo=SHANGHAI)
    return start, start + timedelta(days=1)


def week_window(year: int, week: int) -> tuple[datetime, datetime]:
    monday = date.fromisocalendar(year, week, 1)
    start = datetime(monday.year, monday.month, monday.day, tzinfo=SHANGHAI)
    return start, start + timedelta(days=7)


def _default_scope(org: OrgChart):
    branches = [u for u in org.units if u.kind == "branch"]
    return branches[0] if len(branches) == 1 else org.root()


def _unit_short(org: OrgChart, unit_id: str | None) -> str:
    if not unit_id:
        return "未归属"
    try:
        u = org.unit(unit_id)
    except KeyError:
        return unit_id
    return u.short_name or u.name


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "—"


def _delta(now: int, before: int) -> str:
    if not before:
        return "前期无数据" if now else "与前期持平"
    change = (now - before) / before * 100
    if abs(change) < 0.05:
        return "与前期持平"
    return f"环比{'上升' if change > 0 else '下降'}{abs(change):.1f}%"


def _clip(text: str, limit: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


__all__ = ["IncidentRow", "day_window", "draft_period_report", "listed_for_leadership", "period_title",
           "week_window"]
