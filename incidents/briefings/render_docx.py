"""Word document of a briefing (python-docx): a file a general office opens and edits in Word or WPS.

Real structure, not a picture of one: the title and section headings are Word headings (标题 1 / 标题 2, so the
navigation pane and a table of contents work), tables are Word tables with a header row repeated on each page,
the chart is a PNG painted from the same layout as the SVG, and every citation's number links to its source.
East Asian text is set in 宋体 / 黑体 names Word and WPS map to installed CJK fonts; crawled text goes in as plain
runs (python-docx escapes XML), never as markup.
"""

from __future__ import annotations

import io

from incidents.briefings.document import (
    Briefing,
    BulletList,
    Figure,
    Paragraph,
    Sentence,
    Source,
    Table,
    cited,
    long_time,
)
from incidents.briefings.render_html import is_safe_url

BODY_FONT, HEADING_FONT = "宋体", "黑体"


def render_docx(briefing: Briefing) -> bytes:
    """The briefing as DOCX bytes."""
    from docx import Document
    from docx.enum.table import WD_TABLE_ALIGNMENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Cm, Pt, RGBColor

    doc = Document()
    section = doc.sections[0]
    section.page_height, section.page_width = Cm(29.7), Cm(21.0)
    section.left_margin = section.right_margin = Cm(2.2)
    section.top_margin = section.bottom_margin = Cm(2.0)
    _fonts(doc)
    doc.core_properties.title = f"{briefing.organisation} {briefing.title}"
    doc.core_properties.author = "yuqing"

    org = doc.add_paragraph()
    org.alignment = WD_ALIGN_PARAGRAPH.CENTER
    org.add_run(briefing.organisation)
    title = doc.add_heading(briefing.title, level=0)
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    for run in title.runs:
        run.font.color.rgb = RGBColor(0xB3, 0x11, 0x1A)

    header = doc.add_table(rows=0, cols=2)
    header.alignment = WD_TABLE_ALIGNMENT.CENTER
    for k, v in briefing.header:
        cells = header.add_row().cells
        cells[0].text, cells[1].text = k, v
        cells[0].paragraphs[0].runs[0].bold = True
    doc.add_heading("摘要", level=1)
    doc.add_paragraph(briefing.summary)

    for sec in briefing.sections:
        doc.add_heading(sec.heading, level=1)
        for block in sec.blocks:
            if isinstance(block, Paragraph):
                p = doc.add_paragraph()
                for text, sources in cited(block.sentences):
                    _sentence(p, Sentence(text, sources))
            elif isinstance(block, BulletList):
                for s in block.items:
                    _sentence(doc.add_paragraph(style="List Bullet"), s)
            elif isinstance(block, Table):
                _table(doc, block)
            elif isinstance(block, Figure):
                doc.add_picture(io.BytesIO(block.png), width=Cm(16.5))
                doc.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER
                cap = doc.add_paragraph(block.caption, style="Caption")
                cap.alignment = WD_ALIGN_PARAGRAPH.CENTER
                doc.add_paragraph(block.alt)

    if briefing.attachments:
        doc.add_heading("附件：信息来源", level=1)
        t = doc.add_table(rows=1, cols=5)
        t.style = "Table Grid"
        for cell, text in zip(t.rows[0].cells, ["序号", "标题与链接", "来源", "发布时间", "证据哈希（SHA-256）"],
                              strict=True):
            cell.text = text
            cell.paragraphs[0].runs[0].bold = True
        _repeat_header(t.rows[0])
        for s in briefing.attachments:
            cells = t.add_row().cells
            cells[0].text = str(s.number)
            cells[1].text = s.title
            link = cells[1].add_paragraph()
            _link(link, s.url, s.url) if is_safe_url(s.url) else link.add_run(s.url)
            cells[2].text = f"{s.channel}·{s.source}"
            cells[3].text = long_time(s.published_at)
            cells[4].text = s.evidence_hash
            for run in cells[4].paragraphs[0].runs:
                run.font.size = Pt(7)
    for note in [*briefing.notes, f"由 yuqing 于 {long_time(briefing.generated_at)} 生成"
                 + (f"，编号 {briefing.number}" if briefing.number else "") + "。"]:
        p = doc.add_paragraph()
        r = p.add_run(f"注：{note}")
        r.font.size = Pt(9)
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def _sentence(paragraph, sentence: Sentence) -> None:
    paragraph.add_run(sentence.text)
    for src in sentence.sources:
        _citation(paragraph, src)


def _citation(paragraph, src: Source) -> None:
    from docx.shared import Pt, RGBColor

    paragraph.add_run("〔").font.size = Pt(8)
    if is_safe_url(src.url):
        _link(paragraph, src.url, str(src.number), size=8)
    else:
        paragraph.add_run(str(src.number)).font.size = Pt(8)
    tail = paragraph.add_run(f"｜{src.cite().split('｜')[1]}｜{src.short_hash}〕")
    tail.font.size = Pt(8)
    tail.font.color.rgb = RGBColor(0x5A, 0x62, 0x70)


def _table(doc, block: Table) -> None:
    from docx.enum.text import WD_ALIGN_PARAGRAPH

    if block.caption:
        doc.add_paragraph(block.caption, style="Caption")
    columns = [*block.columns, *(["来源"] if block.sources else [])]
    t = doc.add_table(rows=1, cols=len(columns))
    t.style = "Table Grid"
    for cell, text in zip(t.rows[0].cells, columns, strict=True):
        cell.text = text
        cell.paragraphs[0].runs[0].bold = True
    _repeat_header(t.rows[0])
    for i, row in enumerate(block.rows):
        cells = t.add_row().cells
        for j, value in enumerate(row):
            cells[j].text = value
            if j in block.numeric:
                cells[j].paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.RIGHT
        if block.sources:
            src = block.sources[i] if i < len(block.sources) else None
            if src is not None:
                _citation(cells[-1].paragraphs[0], src)


def _repeat_header(row) -> None:
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    trpr = row._tr.get_or_add_trPr()
    el = OxmlElement("w:tblHeader")
    el.set(qn("w:val"), "true")
    trpr.append(el)


def _link(paragraph, url: str, text: str, *, size: float | None = None) -> None:
    """A real hyperlink (w:hyperlink with an external relationship), blue and underlined."""
    from docx.opc.constants import RELATIONSHIP_TYPE
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    r_id = paragraph.part.relate_to(url, RELATIONSHIP_TYPE.HYPERLINK, is_external=True)
    link = OxmlElement("w:hyperlink")
    link.set(qn("r:id"), r_id)
    run = OxmlElement("w:r")
    rpr = OxmlElement("w:rPr")
    color = OxmlElement("w:color")
    color.set(qn("w:val"), "1F6FB2")
    underline = OxmlElement("w:u")
    underline.set(qn("w:val"), "single")
    rpr.extend([color, underline])
    if size:
        sz = OxmlElement("w:sz")
        sz.set(qn("w:val"), str(int(size * 2)))
        rpr.append(sz)
    run.append(rpr)
    t = OxmlElement("w:t")
    t.text = text
    t.set(qn("xml:space"), "preserve")
    run.append(t)
    link.append(run)
    paragraph._p.append(link)


def _fonts(doc) -> None:
    """Body in 宋体 10.5 pt, headings in 黑体: the East Asian font is set on each style (w:eastAsia)."""
    from docx.oxml.ns import qn
    from docx.shared import Pt, RGBColor

    for name, font, size in (("Normal", BODY_FONT, 10.5), ("Title", HEADING_FONT, 20), ("Heading 1", HEADING_FONT, 14),
                             ("Heading 2", HEADING_FONT, 12), ("Caption", BODY_FONT, 9)):
        style = doc.styles[name]
        style.font.name = font
        style.font.size = Pt(size)
        rpr = style.element.get_or_add_rPr()
        rfonts = rpr.find(qn("w:rFonts"))
        if rfonts is None:
            rfonts = rpr.makeelement(qn("w:rFonts"), {})
            rpr.append(rfonts)
        for attr in ("w:ascii", "w:hAnsi", "w:eastAsia"):
            rfonts.set(qn(attr), font)
        if name.startswith("Heading"):
            style.font.color.rgb = RGBColor(0x1A, 0x1A, 0x1A)
