"""Email-safe HTML of a briefing (Jinja2, autoescaped): one self-contained file, no script, no external resource.

Crawled text is hostile: every piece of it is escaped by autoescape; a link becomes ``href`` only when it is an
absolute http(s) URL (``javascript:`` and the like are shown as text). The only markup not escaped is the chart's
SVG, which ``charts.to_svg`` writes itself from escaped labels. The page reads on a phone (a 480 px layout), in
mail clients (one column, plain tables) and, with ``print=True``, is what WeasyPrint lays out as the PDF.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader
from markupsafe import Markup, escape

from incidents.briefings.document import (
    Briefing,
    BulletList,
    Figure,
    Paragraph,
    Source,
    Table,
    cited,
    column_widths,
    long_time,
)

TEMPLATES = Path(__file__).resolve().parent / "templates"


def render_html(briefing: Briefing, *, print_layout: bool = False) -> str:
    """The briefing as one HTML document (``print_layout`` adds A4 pages and page numbers for the PDF)."""
    return _env().get_template("briefing.html").render(b=briefing, print=print_layout)


def is_safe_url(url: object) -> bool:
    """Only absolute http(s) links with a host become clickable."""
    if not isinstance(url, str) or any(c in url for c in "\r\n\t\x00 \"'<>`"):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _cite(src: Source) -> Markup:
    number = f'<a href="{escape(src.url)}" rel="noopener noreferrer nofollow">{src.number}</a>' \
        if is_safe_url(src.url) else str(src.number)
    return Markup(f'<span class="cite">〔{number}｜{escape(src.cite().split("｜")[1])}｜{escape(src.short_hash)}〕'
                  f"</span>")


def _svg(figure: Figure) -> Markup:
    return Markup(figure.svg)  # written by charts.to_svg from escaped labels; never crawled markup


@lru_cache(maxsize=1)
def _env() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=True, trim_blocks=True,
                      lstrip_blocks=True)
    env.globals.update(cite=_cite, svg=_svg, long_time=long_time, cited=cited, column_widths=column_widths)
    env.tests.update(paragraph=lambda b: isinstance(b, Paragraph), bullets=lambda b: isinstance(b, BulletList),
                     table=lambda b: isinstance(b, Table), safe_url=is_safe_url)
    return env
