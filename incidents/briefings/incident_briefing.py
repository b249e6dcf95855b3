"""Drafting the 舆情专报 of one incident: 初报, 续报 (numbered) or 终报, from the data as of a moment.

Sections (舆情专报): header (level, unit, time, number) · summary ≤ 200 characters · 事件概况 (what happened: the
first source's own sentences) · 传播情况 (volume by source type over time with the level changes marked, the
first source, the most-read posts) · 主要观点 (extractive: sentences of the mentions, with how many items say the
same) · 风险研判 (level, score and each factor with its reason; the level history) · 处置情况 (checklist steps done,
statements published, reports filed, leaders informed) · 下一步建议 (open steps and running clocks) · 终报 adds
结案与复盘 · 附件 (every cited item: link, publish time, evidence hash).

Nothing here invents a fact: quoted sentences are cut from the items (``extract``) and cite them; the other
sentences state the product's own records (counts, times, levels, tasks). All crawled text is masked.
"""

from __future__ import annotations

from collections import Counter

from incidents.briefings.citations import CHANNEL_LABELS, CHANNEL_ORDER, Citations
from incidents.briefings.document import (
    Briefing,
    BulletList,
    Paragraph,
    Section,
    Sentence,
    Table,
    long_time,
    short_time,
)
from incidents.briefings.extract import display_title, lead_sentences, main_opinions
from incidents.briefings.gather import IncidentMaterial, Item
from incidents.briefings.masking import Masker
from incidents.briefings.volume import bucket_items, volume_figure
from incidents.levels import level_title
from incidents.lifecycle import STATUS_LABELS, IncidentStatus
from incidents.models import STATEMENT_KIND_LABELS, ReportKind, StatementKind, TaskStatus
from sentiment.risk import FACTOR_LABELS
from yuqing.categories import category_label
from yuqing.org import OrgChart

SUMMARY_LIMIT = 200
TOP_POSTS = 5
KIND_TITLES = {ReportKind.initial: "初报", ReportKind.follow_up: "续报", ReportKind.final: "终报"}
MASKING_NOTE = "本报告对投诉人姓名、手机号码、身份证号码、银行卡号及电子邮箱作了脱敏处理。"
CITATION_NOTE = ("引文均摘自监测到的原文，未作改写；句后〔编号｜发布时间｜证据哈希〕对应附件所列原始链接与完整的"
                 "SHA-256 证据哈希。")


def draft_incident_briefing(material: IncidentMaterial, *, kind: str, org: OrgChart, mask: bool = True) -> Briefing:
    """The 专报 of ``kind`` (initial | follow_up | final) as of ``material.as_of``."""
    report_kind = ReportKind(kind)
    inc = material.incident
    masker = Masker(material.complainant_names, enabled=mask)
    cite = Citations(masker)
    unit = _unit_name(org, inc.unit_id)
    branch = org.owning_branch(inc.unit_id) if _known(org, inc.unit_id) else org.root()
    follow_no = sum(1 for r in material.reports if r.kind == ReportKind.follow_up) + 1
    name = f"续报（第{follow_no}期）" if report_kind == ReportKind.follow_up else KIND_TITLES[report_kind]
    suffix = {ReportKind.initial: "CB", ReportKind.follow_up: f"XB{follow_no}", ReportKind.final: "ZB"}[report_kind]
    number = f"{inc.number}-{suffix}"
    items = material.items
    first = items[0] if items else None
    status = STATUS_LABELS.get(IncidentStatus(inc.status), inc.status)
    level = material.level_history[-1].level  # the level as of the report's moment

    header = [("事件等级", level_title(level)), ("涉及单位", unit), ("报送单位", f"{branch.name}综合管理部"),
              ("报告时间", long_time(material.as_of)), ("专报编号", number), ("事件编号", inc.number),
              ("舆情类别", category_label(inc.category)), ("处置状态", status)]

    sections = [
        _what_happened(material, cite),
        _spread(material, cite, report_kind),
        _opinions(material, cite, org),
        _risk(material, masker, org),
        _actions(material, masker, org),
        _recommendations(material, report_kind),
    ]
    if report_kind == ReportKind.final:
        sections.append(_closing(material, masker))

    channels = Counter(i.channel for i in items)
    breakdown = "、".join(f"{CHANNEL_LABELS[c]}{channels[c]}条" for c in CHANNEL_ORDER if channels[c])
    negative = sum(1 for i in items if i.label == "negative")
    if first is not None:
        lead = (f"{long_time(first.at)}，{CHANNEL_LABELS.get(first.channel, first.channel)}来源“{first.source_id}”"
                f"发布涉及{unit}的信息“{_clip(masker.mask(_item_title(first)), 40)}”。")
    else:
        lead = f"{long_time(inc.opened_at)}，{unit}立案“{_clip(masker.mask(inc.title), 40)}”。"
    summary = (lead + f"截至{long_time(material.as_of)}，共监测到相关信息{len(items)}条"
               + (f"（{breakdown}），其中负面{negative}条" if items else "")
               + f"。事件定为{level_title(level)}，当前{status}"
               + (f"，已发布口径{len(material.statements)}份" if material.statements else "，尚未发布口径") + "。")
    notes = [CITATION_NOTE] + ([MASKING_NOTE] if mask else ["本报告未作脱敏处理，仅限授权人员阅读。"])
    return Briefing(kind=report_kind.value, title=f"舆情专报（{name}）", organisation=branch.name, header=header,
                    summary=_clip(summary, SUMMARY_LIMIT), sections=sections, attachments=cite.attachments,
                    generated_at=material.as_of, notes=notes, number=number, masked=mask)


# --- sections ----------------------------------------------------------------------------------------------------

def _what_happened(m: IncidentMaterial, cite: Citations) -> Section:
    items = m.items
    if not items:
        return Section("一、事件概况", [Paragraph([Sentence("本事件暂无关联的原始信息（人工立案或信息尚未抓取）。")])])
    first = items[0]
    sentences = [cite.fact(f"首发信息于{long_time(first.at)}发布于{CHANNEL_LABELS.get(first.channel, '')}来源"
                           f"“{first.source_id}”，原文称：", first)]
    sentences += [cite.quote(s, first) for s in lead_sentences(first, 3)]
    blocks: list = [Paragraph(sentences)]
    news = next((i for i in items if i.channel == "news" and i.id != first.id), None)
    if news is not None:
        quoted = lead_sentences(news, 2)
        if quoted:
            blocks.append(Paragraph([cite.fact(f"{long_time(news.at)}，新闻来源“{news.source_id}”报道：", news)]
                                    + [cite.quote(s, news) for s in quoted]))
    return Section("一、事件概况", blocks)


def _spread(m: IncidentMaterial, cite: Citations, kind: ReportKind) -> Section:
    items = m.items
    if not items:
        return Section("二、传播情况", [Paragraph([Sentence("暂无传播数据。")])])
    start = min(i.at for i in items)
    buckets = bucket_items(items, start, max(m.as_of, start))
    marks = []
    for j, step in enumerate(m.level_history):
        prev = m.level_history[j - 1].level if j else None
        verb = "立案" if prev is None else ("升为" if _sev(step.level) > _sev(prev) else "降为")
        marks.append((step.at, f"{verb}{step.level}级", step.level))
    channels = Counter(i.channel for i in items)
    totals = buckets.totals
    peak = max(range(len(totals)), key=lambda k: totals[k]) if totals else 0
    first = items[0]
    facts = [cite.fact(f"首发来源：{long_time(first.at)}，{CHANNEL_LABELS.get(first.channel, '')}“{first.source_id}”"
                       f"《{_clip(cite.masker.mask(_item_title(first)), 60)}》。", first),
             Sentence(f"截至{long_time(m.as_of)}，共监测到相关信息{len(items)}条，其中"
                      + "、".join(f"{CHANNEL_LABELS[c]}{channels[c]}条" for c in CHANNEL_ORDER if channels[c])
                      + f"；负面{sum(1 for i in items if i.label == 'negative')}条，"
                      + f"转载及相似稿件{sum(1 for i in items if i.is_duplicate)}条。")]
    if totals and totals[peak]:
        facts.append(Sentence(f"传播高峰在{buckets.labels[peak]}（{totals[peak]}条）。"))
    last = m.reports[-1] if m.reports else None
    if kind != ReportKind.initial and last is not None:
        new = [i for i in items if i.fetched_at > last.filed_at]
        facts.append(Sentence(f"自上次报送（{long_time(last.filed_at)}）以来新增相关信息{len(new)}条。"))
    blocks: list = [Paragraph(facts),
                    volume_figure(buckets, title="舆情声量走势（按来源类型）",
                                  caption="图1 声量走势（按来源类型，虚线为等级变化）", level_marks=marks)]
    top = sorted(items, key=lambda i: (-i.engagement, i.at, i.id))[:TOP_POSTS]
    rows, sources = [], []
    for n, item in enumerate(top, 1):
        mt = item.metrics or {}
        rows.append([str(n), _clip(cite.masker.mask(_item_title(item)), 48),
                     f"{CHANNEL_LABELS.get(item.channel, '')}·{item.source_id}", short_time(item.at),
                     str(int(mt.get("reposts") or 0)), str(int(mt.get("comments") or 0)),
                     str(int(mt.get("likes") or 0))])
        sources.append(cite.source(item))
    blocks.append(Table(["序号", "标题", "来源", "发布时间", "转发", "评论", "点赞"], rows,
                        caption="表1 阅读量最高的信息（按转发、评论、点赞合计）", numeric=frozenset({0, 4, 5, 6}),
                        sources=sources))
    return Section("二、传播情况", blocks)


def _opinions(m: IncidentMaterial, cite: Citations, org: OrgChart) -> Section:
    picks = main_opinions(m.items, exclude_authors=[org.bank.name] if hasattr(org, "bank") else [])
    if not picks:
        return Section("三、主要观点", [Paragraph([Sentence("暂无可摘录的观点。")])])
    bullets = [Sentence(cite.masker.mask(p.text) + (f"（相似表述{p.support}条）" if p.support > 1 else ""),
                        (cite.source(p.item),)) for p in picks]
    intro = Sentence("以下摘录网民及媒体原文中最具代表性的表述（按相似表述数量排序）：")
    return Section("三、主要观点", [Paragraph([intro]), BulletList(bullets)])


def _risk(m: IncidentMaterial, masker: Masker, org: OrgChart) -> Section:
    inc = m.incident
    blocks: list = []
    risk = m.risk
    first_line = f"事件当前为{level_title(m.level_history[-1].level)}，类别为{category_label(inc.category)}"
    if risk is not None:
        first_line += f"；系统风险评分{risk.score:.0f}分（峰值{max(inc.peak_risk, risk.score):.0f}分）"
    blocks.append(Paragraph([Sentence(first_line + "。")]))
    factors = (risk.factors if risk is not None else None) or (m.alert.factors if m.alert else None) or {}
    rows = []
    for key, f in factors.items():
        if isinstance(f, dict):
            value = f.get("value")
            rows.append([FACTOR_LABELS.get(key, "其他因素"), f"{value:.2f}" if isinstance(value, int | float) else "",
                         masker.mask(str(f.get("reason") or ""))])
    if rows:
        blocks.append(Table(["研判因素", "取值", "依据"], rows, caption="表2 风险研判因素", numeric=frozenset({1})))
    hist = [[long_time(s.at), level_title(s.level), masker.mask(s.reason) or "—", _person(org, s.actor)]
            for s in m.level_history]
    blocks.append(Table(["时间", "等级", "原因", "调整人"], hist, caption="表3 等级变化"))
    return Section("四、风险研判", blocks)


def _actions(m: IncidentMaterial, masker: Masker, org: OrgChart) -> Section:
    done = sorted((t for t in m.tasks if t.status == TaskStatus.done and t.done_at and t.done_at <= m.as_of),
                  key=lambda t: t.done_at)
    blocks: list = []
    if done:
        blocks.append(Table(["完成时间", "处置事项", "完成人", "说明"],
                            [[long_time(t.done_at), t.title, _person(org, t.done_by), masker.mask(t.note or "")]
                             for t in done], caption="表4 已完成的处置事项"))
    else:
        blocks.append(Paragraph([Sentence("处置清单暂无已完成事项。")]))
    if m.statements:
        items = []
        for s in m.statements:
            label = STATEMENT_KIND_LABELS.get(StatementKind(s.kind), s.kind) if s.kind in StatementKind.__members__ \
                else s.kind
            where = masker.mask(s.where) or "（未注明渠道）"
            text = _clip(masker.mask(s.text), 160)
            items.append(Sentence(f"{long_time(s.published_at)} 于{where}发布{label}：“{text}”"
                                  + (f"（{s.url}）" if s.url else "")))
        blocks += [Paragraph([Sentence(f"已发布口径{len(m.statements)}份：")]), BulletList(items)]
    else:
        blocks.append(Paragraph([Sentence("尚未发布对外口径。")]))
    filed = [Sentence(f"{long_time(r.filed_at)} 报送{_report_name(r.kind, r.version)}（{level_title(r.level)}，"
                      f"{_person(org, r.author)}）。") for r in m.reports]
    acks = [Sentence(f"{long_time(a.at)} {_person(org, a.leader_id)}确认知悉。") for a in m.leader_acks]
    if filed or acks:
        blocks += [Paragraph([Sentence("报告与领导知悉情况：")]), BulletList(filed + acks)]
    return Section("五、处置情况", blocks)


def _recommendations(m: IncidentMaterial, kind: ReportKind) -> Section:
    out: list[Sentence] = []
    now = m.as_of
    todo = sorted((t for t in m.tasks if t.status == TaskStatus.todo), key=lambda t: (t.due_at is None, t.due_at))
    for t in todo[:8]:
        when = ""
        if t.due_at is not None:
            when = f"（已超期，原定{long_time(t.due_at)}）" if t.due_at < now else f"（{long_time(t.due_at)}前）"
        out.append(Sentence(f"完成“{t.title}”{when}。"))
    for c in m.clocks:
        if c.is_open and c.key not in ("ack",):
            state = "已超时" if c.status == "overdue" else "截止"
            out.append(Sentence(f"{c.label}：{state}{long_time(c.due_at)}。"))
    if not m.statements and m.incident.closed_at is None and m.level_history[-1].level in ("I", "II", "III"):
        out.append(Sentence("尚未发布对外口径：建议按“黄金4小时”要求尽快发布初步回应。"))
    if m.items and m.incident.closed_at is None:
        recent = [i for i in m.items if (now - i.at).total_seconds() <= 3 * 3600]
        out.append(Sentence(f"持续监测传播态势（近3小时新增{len(recent)}条）。"))
    if kind == ReportKind.final and not m.reviews:
        out.append(Sentence("按时限组织复盘，总结分析并落实改进措施。"))
    if not out:
        out.append(Sentence("暂无待办事项。"))
    intro = Sentence("以下依据处置清单与报告时限生成，供审定：")
    return Section("六、下一步建议", [Paragraph([intro]), BulletList(out)])


def _closing(m: IncidentMaterial, masker: Masker) -> Section:
    inc = m.incident
    closed = f"事件于{long_time(inc.closed_at)}结案。" if inc.closed_at else "事件尚未结案。"
    blocks: list = [Paragraph([Sentence(closed)])]
    if inc.summary:
        blocks.append(Paragraph([Sentence(f"处置小结：{masker.mask(inc.summary)}")]))
    if m.reviews:
        r = m.reviews[-1]
        rows = [[label, _duration(v)] for label, v in (
            ("发现用时（首发→预警）", r.seconds_to_detect), ("确认用时", r.seconds_to_acknowledge),
            ("领导知悉用时", r.seconds_to_leadership), ("首次发布口径用时", r.seconds_to_statement),
            ("结案用时", r.seconds_to_close))]
        blocks.append(Table(["指标", "用时"], rows, caption="表5 复盘指标（自预警起算）"))
    return Section("七、结案与复盘", blocks)


# --- helpers ---------------------------------------------------------------------------------------------------

def _report_name(kind: str, version: int) -> str:
    return f"第{version}期续报" if kind == ReportKind.follow_up else KIND_TITLES.get(ReportKind(kind), kind)


def _duration(seconds: int | None) -> str:
    if seconds is None:
        return "—"
    h, rest = divmod(int(seconds), 3600)
    return f"{h}小时{rest // 60}分" if h else f"{rest // 60}分"


def _sev(level: str) -> int:
    return {"I": 4, "II": 3, "III": 2, "IV": 1}.get(level, 0)


def _known(org: OrgChart, unit_id: str) -> bool:
    try:
        org.unit(unit_id)
    except KeyError:
        return False
    return True


def _unit_name(org: OrgChart, unit_id: str | None) -> str:
    if not unit_id:
        return "未归属单位"
    try:
        return org.unit(unit_id).name
    except KeyError:
        return unit_id


def _person(org: OrgChart, person_id: str | None) -> str:
    if not person_id:
        return "—"
    if person_id == "system":
        return "系统"
    try:
        return org.person(person_id).name
    except KeyError:
        return person_id


def _clip(text: str, limit: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _item_title(item: Item) -> str:
    return display_title(item)
