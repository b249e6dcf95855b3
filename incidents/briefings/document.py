"""The briefing as plain data: header, summary, sections of paragraphs, tables, lists and charts, and the
attachments every factual sentence cites. Drafting builds one; each renderer (HTML, PDF, DOCX) only lays it out,
so the three formats always say the same thing.

Crawled text enters a ``Briefing`` already masked (``masking.Masker``) and is never trusted as markup: renderers
escape it (Jinja2 autoescape, python-docx runs of plain text).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class Source:
    """One cited item: an attachment of the report (附件), numbered in order of first citation."""

    number: int
    title: str
    url: str
    source: str  # source id / channel name as shown
    channel: str  # 新闻 / 社交媒体 / 投诉平台 / 监管
    published_at: datetime | None
    evidence_hash: str  # sha256 of the article text as crawled (crawlers.pipelines.content_hash)

    @property
    def short_hash(self) -> str:
        return self.evidence_hash[:12]

    def cite(self) -> str:
        """The inline citation: number, publish time and short evidence hash (the link is on the number)."""
        return f"〔{self.number}｜{short_time(self.published_at)}｜{self.short_hash}〕"


@dataclass(frozen=True)
class Sentence:
    """A sentence of the report; a factual one cites the items it is taken from or counted over."""

    text: str
    sources: tuple[Source, ...] = ()


@dataclass
class Paragraph:
    sentences: list[Sentence]


@dataclass
class BulletList:
    items: list[Sentence]


@dataclass
class Table:
    columns: list[str]
    rows: list[list[str]]
    caption: str = ""
    numeric: frozenset[int] = frozenset()  # right-aligned columns
    sources: list[Source | None] = field(default_factory=list)  # per row: the item the row cites, if any


@dataclass
class Figure:
    """A chart: SVG for HTML / PDF, PNG for DOCX, both painted (when first asked for) from one layout."""

    caption: str
    alt: str  # the chart's figures in words, shown under it (and all a mail client that drops SVG shows)
    primitives: list = field(default_factory=list)  # charts.Primitive

    @cached_property
    def svg(self) -> str:
        from incidents.briefings.charts import to_svg

        return to_svg(self.primitives, description=self.alt)

    @cached_property
    def png(self) -> bytes:
        from incidents.briefings.charts import to_png

        return to_png(self.primitives)


Block = Paragraph | BulletList | Table | Figure


@dataclass
class Section:
    heading: str
    blocks: list[Block] = field(default_factory=list)


@dataclass
class Briefing:
    """A 舆情专报, 舆情日报 or 舆情周报 ready to render."""

    kind: str  # initial | follow_up | final | daily | weekly
    title: str  # e.g. 舆情专报（初报）
    organisation: str  # 示例银行江城分行
    header: list[tuple[str, str]]  # (label, value): 等级, 涉及单位, 报送时间, 编号…
    summary: str  # ≤ 200 characters
    sections: list[Section]
    attachments: list[Source]
    generated_at: datetime
    notes: list[str] = field(default_factory=list)  # e.g. what was masked, what the data does not hold
    number: str = ""
    masked: bool = True

    def plain_text(self) -> str:
        """The briefing as plain text: what a commander edits in the dashboard and what is filed as the report."""
        lines = [f"{self.organisation} {self.title}", ""]
        lines += [f"{k}：{v}" for k, v in self.header]
        lines += ["", "【摘要】", self.summary, ""]
        for section in self.sections:
            lines.append(f"【{section.heading}】")
            for block in section.blocks:
                lines += _block_text(block)
            lines.append("")
        if self.attachments:
            lines.append("【附件：信息来源】")
            for s in self.attachments:
                lines.append(f"{s.number}. {s.title}（{s.channel}·{s.source}，{long_time(s.published_at)}）{s.url} "
                             f"证据哈希 sha256:{s.evidence_hash}")
        for note in self.notes:
            lines.append(f"注：{note}")
        return "\n".join(lines).strip() + "\n"


def short_time(value: datetime | None) -> str:
    return value.astimezone(SHANGHAI).strftime("%m-%d %H:%M") if value else "时间不详"


def long_time(value: datetime | None) -> str:
    return value.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M") if value else "时间不详"


def cited(sentences: list[Sentence]) -> list[tuple[str, tuple[Source, ...]]]:
    """A paragraph's sentences with their citations, a run of sentences quoting the same items citing them once,
    after the run's last sentence (a quoted passage is one citation, not one per sentence)."""
    out: list[tuple[str, tuple[Source, ...]]] = []
    for i, s in enumerate(sentences):
        nxt = sentences[i + 1] if i + 1 < len(sentences) else None
        same = nxt is not None and s.sources and nxt.sources == s.sources
        out.append((s.text, () if same else s.sources))
    return out


def column_widths(table: Table) -> list[int]:
    """Percent widths of a table's columns from the length of their content (capped), for a fixed layout."""
    cols = [*table.columns, *(["来源"] if table.sources else [])]
    weights = []
    for j, name in enumerate(cols):
        if j >= len(table.columns):  # the citation: 〔n｜MM-DD HH:MM｜hash〕 wraps onto two lines
            weights.append(16)
            continue
        longest = max([len(name), *(len(row[j]) for row in table.rows if j < len(row))])
        weights.append(min(max(longest, 6), 36))
    total = sum(weights) or 1
    return [max(5, round(100 * w / total)) for w in weights]


def sentence_text(s: Sentence) -> str:
    return s.text + "".join(src.cite() for src in s.sources)


def _block_text(block: Block) -> list[str]:
    if isinstance(block, Paragraph):
        return ["".join(text + "".join(src.cite() for src in sources) for text, sources in cited(block.sentences))]
    if isinstance(block, BulletList):
        return [f"· {sentence_text(s)}" for s in block.items]
    if isinstance(block, Table):
        out = [f"〈{block.caption}〉"] if block.caption else []
        out.append(" | ".join(block.columns))
        for i, row in enumerate(block.rows):
            src = block.sources[i] if i < len(block.sources) else None
            out.append(" | ".join(row) + (src.cite() if src else ""))
        return out
    return [f"〈图：{block.caption}〉{block.alt}"]
