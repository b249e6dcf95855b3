"""PDF of a briefing: the print layout of the HTML (A4, page numbers) laid out by WeasyPrint.

Chinese text needs the Noto CJK fonts (Debian ``fonts-noto-cjk``, installed by ``scripts/system-deps.sh``) and
WeasyPrint needs Pango; the PDF carries the text (``pdftotext -enc UTF-8`` gives it back) and embedded font subsets.
"""

from __future__ import annotations

import logging

from incidents.briefings.document import Briefing
from incidents.briefings.render_html import render_html


def render_pdf(briefing: Briefing) -> bytes:
    """The briefing as PDF bytes."""
    for noisy in ("weasyprint", "weasyprint.progress", "fontTools"):  # before the import, which logs already
        logging.getLogger(noisy).setLevel(logging.ERROR)
    from weasyprint import HTML

    html = render_html(briefing, print_layout=True)
    return HTML(string=html, url_fetcher=_fetcher()).write_pdf() or b""


def _fetcher():
    """A fetcher that refuses every URL: a report never loads anything from anywhere."""
    from weasyprint.urls import URLFetcher

    class NoFetch(URLFetcher):
        def fetch(self, url, headers=None):
            raise ValueError(f"briefings load no external resource ({url[:80]})")

    return NoFetch()
