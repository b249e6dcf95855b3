"""Turn one fetched HTML page into plain fields: title, publish time (in the page's zone), author/source and body text.

Everything downstream — org-chart matching, story clustering, sentiment, briefings — reads these fields, so this
module is built for the pages Chinese news portals, forums and mobile social sites actually serve: headlines
wrapped in ``_站点名`` suffixes, ``发布时间：2026-11-23 09:15`` lines in Beijing time, ``来源：`` / ``责任编辑：``
credits, GBK bytes behind a UTF-8 header, truncated or malformed markup, navigation, ads and comment threads.

Body text: most Chinese local news is 100–300 characters, so nav bars, ads and "推荐阅读" lists naming other
organisations often outweigh the story. The tree is first pruned of boilerplate (structural tags, class/id names,
link-dense blocks, blocks led by a related-links heading); then the tightest known article container wins
(TRS_Editor, #artibody, article-content, postmessage …), else trafilatura tuned for short texts and precision
(``include_comments=False``), else the block with the most prose. The whole page is never the fallback. Script and
style content never reaches the text. Output is plain text only — crawled content is hostile, and stays inert text
for every consumer to escape.

Publish times keep the zone the page gives them: ``+09:00`` stays ``+09:00`` and a zone-less time on a Chinese page
is Beijing time (``+08:00``) — never read as UTC, the classic eight-hour error. The instant is what matters to the
database (its column stores UTC); the page's offset is what a reader expects to see, so the pipeline keeps it in
the article's meta. The window of believable dates is the spiders' (``crawlers.timewindow``): not before 1990
and not more than a day after ``now``. Work is
capped: input beyond ``MAX_INPUT_BYTES`` is cut before parsing, tables keep ``MAX_TABLE_ROWS`` rows and the tree
``MAX_ELEMENTS`` elements (each logged), so a 3 MB page costs a fraction of a second.
"""

from __future__ import annotations

import functools
import logging
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import lxml.html
from lxml import etree

from crawlers.encoding import decode_html
from crawlers.timewindow import SHANGHAI, believable
from yuqing.text import repair_text

log = logging.getLogger(__name__)

MAX_INPUT_BYTES = 2 * 1024 * 1024
MAX_TEXT_CHARS = 200_000
MAX_TITLE_CHARS = 300
MAX_TABLE_ROWS = 200
MAX_ELEMENTS = 20_000
MAX_TRAFILATURA_ELEMENTS = 10_000


@dataclass(frozen=True)
class Extracted:
    """The plain fields of one page. ``published_at`` is aware, in the page's own zone (``+08:00`` for a zone-less
    time on a Chinese page), or None; ``encoding`` is None for str input."""

    title: str
    published_at: datetime | None
    author: str | None
    text: str
    encoding: str | None

    def to_json(self) -> dict[str, Any]:
        """The stable ``yuqing extract`` output: ``{title, published_at, author, text}``."""
        return {
            "title": self.title,
            "published_at": self.published_at.isoformat() if self.published_at else None,
            "author": self.author,
            "text": self.text,
        }


def extract_html(html: bytes | str, url: str | None = None, content_type: str | None = None, *,
                 now: datetime | None = None) -> Extracted:
    """Extract title, publish time, author and body text from a page; never raises on bad input.

    ``content_type`` is the HTTP header (its charset is one piece of evidence for decoding bytes). ``now`` (aware)
    resolves relative times such as ``3分钟前`` / ``昨天 09:15`` found on social pages; without it they are ignored.
    """
    encoding: str | None = None
    if isinstance(html, bytes | bytearray):
        body = bytes(html)
        if len(body) > MAX_INPUT_BYTES:
            log.info("extract: input truncated", extra={"url": url or "", "bytes": len(body),
                                                         "kept": MAX_INPUT_BYTES})
            body = body[:MAX_INPUT_BYTES]
        text_html, encoding = decode_html(body, content_type)
    else:
        text_html = html
        if len(text_html) > MAX_INPUT_BYTES:
            log.info("extract: input truncated", extra={"url": url or "", "chars": len(text_html),
                                                         "kept": MAX_INPUT_BYTES})
            text_html = text_html[:MAX_INPUT_BYTES]
    # Control characters (NUL breaks PostgreSQL text), lone surrogates (no driver can encode them) and replacement
    # characters (undecodable bytes) carry nothing.
    text_html = repair_text(text_html).replace("\ufffd", "")
    if not text_html.strip():
        return Extracted("", None, None, "", encoding)

    tree = _parse(text_html)
    if tree is None:
        return Extracted("", None, None, "", encoding)
    _drop_inert(tree)
    _bound_tree(tree, url)

    # Metadata first: trafilatura is handed the (already cleaned) tree and may prune it.
    page_text = _visible_text(tree)
    title = _title(tree)
    chinese = _is_chinese(title + page_text[:2000])
    published = _published_at(tree, page_text, chinese=chinese, now=now)
    author = _author(tree, page_text)
    body_text = _body_text(tree, url, title)
    if not title:
        title = _first_sentence(body_text)
    return Extracted(title=title, published_at=published, author=author, text=body_text, encoding=encoding)


# --- parsing ---------------------------------------------------------------------------------------------------------
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*>", re.I)
_INERT_TAGS = ("script", "style", "noscript", "template", "iframe", "object", "embed", "svg", "canvas")


def _parse(text_html: str) -> etree._Element | None:
    try:
        parser = lxml.html.HTMLParser(recover=True, remove_comments=True, remove_pis=True)
        root = lxml.html.document_fromstring(_XML_DECL.sub("", text_html), parser=parser)
    except (etree.ParserError, ValueError, etree.XMLSyntaxError):
        return None
    return root


def _drop_inert(tree: etree._Element) -> None:
    """Remove elements whose content is never readable text (scripts, styles, embeds)."""
    for el in list(tree.iter(*_INERT_TAGS)):
        if el.getparent() is not None:
            el.drop_tree()


def _visible_text(tree: etree._Element) -> str:
    body = tree.find("body")
    node = body if body is not None else tree
    return _clean_ws(" ".join(t for t in node.itertext()))


# --- bounding the work -----------------------------------------------------------------------------------------------
def _bound_tree(tree: etree._Element, url: str | None) -> None:
    """Keep later passes cheap: long tables keep their first ``MAX_TABLE_ROWS`` rows (and say so), then the tree
    is cut to ``MAX_ELEMENTS`` elements in document order. A 17,000-row procurement table is data, not prose;
    without this one such page costs seconds of CPU in every extractor that walks it."""
    for table in list(tree.iter("table")):
        rows = list(table.iter("tr"))
        if len(rows) <= MAX_TABLE_ROWS:
            continue
        for row in rows[MAX_TABLE_ROWS:]:
            parent = row.getparent()
            if parent is not None:
                parent.remove(row)
        holder = rows[MAX_TABLE_ROWS - 1].getparent()
        if holder is not None:
            note = etree.SubElement(holder, "tr")
            etree.SubElement(note, "td").text = f"（表格共 {len(rows)} 行，此处仅保留前 {MAX_TABLE_ROWS} 行）"
        log.info("extract: long table cut", extra={"url": url or "", "rows": len(rows), "kept": MAX_TABLE_ROWS})
    elements = list(tree.iter())
    if len(elements) > MAX_ELEMENTS:
        log.info("extract: tree cut", extra={"url": url or "", "elements": len(elements), "kept": MAX_ELEMENTS})
        for el in reversed(elements[MAX_ELEMENTS:]):  # descendants before their ancestors
            parent = el.getparent()
            if parent is not None:
                parent.remove(el)


# --- body text -------------------------------------------------------------------------------------------------------
# Most Chinese local news is 100–300 characters, far below trafilatura's default minimum of 250: with the defaults
# it returns nothing and the old fallback took the whole page (nav, ads, related links naming other banks). So:
#   1. prune boilerplate from the tree (structural tags, nav/ad/related/comment class names, link-dense blocks,
#      blocks under a "推荐阅读"-style heading), guarded so a mislabelled wrapper holding the article survives;
#   2. take the tightest known article container (TRS_Editor, #artibody, article-content, articleBody …);
#   3. else trafilatura on the pruned tree, tuned for short texts and precision;
#   4. else the block with the most prose;
# and finally drop tool lines (打印 / 关闭 / 分享到), leading nav and breadcrumb lines, and anything after a
# related-links heading. Nothing here ever falls back to "all the text on the page".
_STRUCTURAL_BOILERPLATE = frozenset({"nav", "header", "footer", "aside", "menu", "button", "select", "input",
                                     "textarea", "label", "dialog"})
_STRONG_TOKENS = frozenset({
    "nav", "navbar", "navi", "navigation", "subnav", "menu", "menus", "submenu", "crumb", "crumbs", "breadcrumb",
    "breadcrumbs", "bread", "footer", "foot", "sidebar", "side", "aside", "rside", "lside", "related", "relate",
    "relation", "recommend", "recommended", "recom", "tuijian", "xgwz", "xgxw", "xgyd", "xgtj", "hot", "hotnews",
    "hotlist", "rank", "ranking", "paihang", "phb", "ad", "ads", "adv", "advert", "advertisement", "adsbygoogle",
    "banner", "gg", "guanggao", "sponsor", "share", "sharing", "bdshare", "jiathis", "fenxiang", "comment",
    "comments", "cmt", "reply", "replies", "pinglun", "copyright", "login", "signin", "register", "search",
    "pager", "pagination", "pagenav", "toolbar", "tags", "tag", "keywords", "disclaimer", "shengming", "friend",
    "flink", "youqing", "qrcode", "erweima", "gotop", "backtop", "floatbar", "popup", "modal", "cookie",
})
_WEAK_TOKENS = frozenset({"top", "topbar", "header", "head", "hd", "ft", "position", "pos", "location", "dqwz",
                          "info", "meta", "time", "date", "source", "author", "tool", "tools", "print", "close",
                          "fontsize", "zihao", "logo", "form", "bottom"})
_CONTENT_TOKENS = frozenset({"content", "body", "text", "article", "artical", "main", "detail", "post", "zoom",
                             "txt", "con", "editor", "artibody", "message", "postmessage", "entry"})
_CONTAINER_NAME = re.compile(
    r"^(?:content|article|artical|artibody|con|text|zoom|fontzoom|endtext|js_content|main-content|maincontent)$"
    r"|article[-_]?(?:content|body|text|con|main|detail)|art[-_]?(?:content|body|text)|detail|trs_u?editor"
    r"|post[-_]?(?:content|body|message|text)|postmessage|entry[-_]?content|news[-_]?(?:content|text|body|detail)"
    r"|content[-_]?(?:text|body|main|detail)|main[-_]?(?:content|text)|rich_media_content|te?xt[-_]?content"
    r"|ucap-content|vsb_content|pages_content|weibo[-_]?text|zhengwen|(?:^|[-_])zw(?:$|[-_]|con|nr|box)", re.I)
_LINK_BLOCKS = frozenset({"div", "ul", "ol", "dl", "table", "tbody", "tr", "td", "section", "p", "li", "span",
                          "dd", "center", "font"})
_LIST_TAGS = frozenset({"ul", "ol", "dl", "table", "tbody"})
_HEADING_TAGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6", "b", "strong", "span", "div", "p", "em", "dt",
                           "th", "td", "caption", "legend", "font"})
_BOILER_HEADING = re.compile(
    r"相关(?:新闻|阅读|文章|报道|链接|推荐|内容|资讯|专题|稿件)|(?:推荐|延伸|拓展|深度)阅读|热点(?:排行|新闻|推荐|文章|资讯)"
    r"|热门(?:排行|新闻|推荐|文章|资讯|评论|话题)|(?:点击|阅读|新闻|今日|本周|24小时)排行榜?|排行榜|热榜|精彩(?:推荐|图片|专题)"
    r"|猜你(?:喜欢|想看)|为你推荐|(?:最新|更多)(?:文章|新闻|资讯|评论|内容|报道)|往期(?:回顾|推荐)|图片新闻|友情链接"
    r"|(?:网友|最新|全部|精彩)评论|^评论(?:区)?$|^分享到|^(?:上|下)一篇")
_HEADING_FILLER = re.compile(r"[\W_\d]+|更多|more", re.I)
_PROSE_MARK = re.compile(r"[，。！？；]|[A-Za-z][.,;!?](?:\s|$)")
_BLOCK_TAGS = frozenset({"p", "div", "section", "article", "li", "ul", "ol", "dl", "dt", "dd", "h1", "h2", "h3",
                         "h4", "h5", "h6", "tr", "table", "tbody", "thead", "tfoot", "blockquote", "pre", "header",
                         "footer", "figure", "figcaption", "center", "main", "form", "hr", "caption", "address"})
_CELL_TAGS = frozenset({"td", "th"})
_PARA_TAGS = frozenset({"p", "span", "font", "b", "strong", "em", "i", "u", "br", "blockquote", "h2", "h3", "h4",
                        "h5", "h6", "section", "pre"})
_CELL = "\ue000"
_TOOL_WORDS = re.compile(
    r"打印(?:本页|此页|文章)?|关闭(?:窗口|本页)?|返回(?:顶部|首页|列表)?|收藏(?:本文)?|纠错|字号|默认|分享到|分享|微信|微博"
    r"|朋友圈|QQ空间|QQ好友|扫一扫|复制链接|[大中小]|[【】\[\]()（）|｜:：/]")
_PREV_NEXT = re.compile(r"^[【\[]?(?:上|下)一(?:篇|条|页)\s*[】\]]?\s*[:：]")
_NAV_SPLIT = re.compile(r"[\s|｜/>›»·•、]+")
_LOCATION = re.compile(r"^(?:您?(?:当前|现在|所在)?的?(?:位置|所在位置)|当前位置)\s*[:：]?|^首页\s*(?:>|/|›|»|&gt;)")


def _is_boiler_heading(text: str) -> bool:
    """"相关新闻", "24小时热榜", "【推荐阅读】", "猜你喜欢 更多>>" — but not "全省GDP排行第三"-like prose."""
    if _chars(text) > 16:
        return False
    m = _BOILER_HEADING.search(text)
    return m is not None and len(_HEADING_FILLER.sub("", text[: m.start()] + text[m.end():])) <= 2


def _body_text(tree: etree._Element, url: str | None, title: str = "") -> str:
    """Body text of an already-cleaned tree; prunes the tree in place (call after metadata extraction)."""
    _prune_boilerplate(tree)
    text_m, _, prose_m = _measure(tree)
    text = _container_text(tree, text_m, prose_m)
    if not text:
        # trafilatura costs seconds on trees of tens of thousands of elements; those get the cheap fallback
        text = _trafilatura_text(tree, url) if len(text_m) <= MAX_TRAFILATURA_ELEMENTS else ""
        fallback = _largest_block(tree, prose_m)
        if (not text or len(text) < 20) and len(fallback) > len(text or ""):
            text = fallback
    text = repair_text(unicodedata.normalize("NFC", text or ""))
    return _tidy_lines(text, title)[:MAX_TEXT_CHARS]


def _chars(value: str | None) -> int:
    return len("".join(value.split())) if value else 0


def _own_text(el: etree._Element) -> str:
    return (el.text or "") + "".join(child.tail or "" for child in el)


def _is_prose(text: str, n: int) -> bool:
    return n >= 60 or (n >= 8 and _PROSE_MARK.search(text) is not None)


def _measure(root: etree._Element) -> tuple[dict[Any, int], dict[Any, int], dict[Any, int]]:
    """Per element: visible characters, characters inside links, characters of prose (sentence-like own text)."""
    text_m: dict[Any, int] = {}
    link_m: dict[Any, int] = {}
    prose_m: dict[Any, int] = {}
    tails: dict[Any, list[str]] = {}
    elements = list(root.iter())  # keeps the proxies (dictionary keys) alive
    for el in reversed(elements):  # every element after all of its descendants
        if isinstance(el.tag, str):
            own = (el.text or "") + "".join(tails.pop(el, ()))
            n = _chars(own)
            prose = n if el.tag != "a" and _is_prose(own, n) else 0
        else:
            n = prose = 0
        total = text_m.get(el, 0) + n
        text_m[el] = total
        link_m[el] = total if el.tag == "a" else link_m.get(el, 0)
        prose_m[el] = prose_m.get(el, 0) + prose
        parent = el.getparent()
        if parent is not None:
            if el.tail:
                tails.setdefault(parent, []).append(el.tail)
            text_m[parent] = text_m.get(parent, 0) + total
            link_m[parent] = link_m.get(parent, 0) + link_m[el]
            prose_m[parent] = prose_m.get(parent, 0) + prose_m[el]
    return text_m, link_m, prose_m


def _class_tokens(el: etree._Element) -> set[str]:
    raw = f"{el.get('class') or ''} {el.get('id') or ''}"
    if not raw.strip():
        return set()
    raw = re.sub(r"([a-z])([A-Z])", r"\1 \2", raw).lower()
    return {t for t in re.split(r"[^a-z0-9]+", raw) if t}


def _is_container(el: etree._Element) -> bool:
    """A known article-body container: <article>, itemprop=articleBody, or a CMS class/id for the body."""
    if el.tag == "article" or (el.get("itemprop") or "").lower() == "articlebody":
        return True
    names = [*(el.get("class") or "").split(), el.get("id") or ""]
    return any(name and _CONTAINER_NAME.search(name) for name in names)


def _boilerplate_signal(el: etree._Element) -> int:
    """2: certainly not the article (nav, footer, related, ads, comments …); 1: probably not (top, info …); 0."""
    if el.tag in _STRUCTURAL_BOILERPLATE:
        return 2
    tokens = _class_tokens(el)
    if not tokens:
        return 2 if el.get("role") in ("navigation", "banner", "contentinfo", "complementary", "search") else 0
    if tokens & _STRONG_TOKENS:
        return 2
    return 1 if el.tag == "form" or (tokens & _WEAK_TOKENS and not tokens & _CONTENT_TOKENS) else 0


def _prune_boilerplate(root: etree._Element) -> None:
    """Remove navigation, ads, related links, comments and the like, in place."""
    elements = [el for el in root.iter() if isinstance(el.tag, str)]
    text_m, link_m, prose_m = _measure(root)
    total_prose = prose_m.get(root, 0)

    signals: dict[Any, int] = {}
    headed: dict[Any, list[etree._Element]] = {}  # heading -> what it labels
    for el in elements:
        if el.tag in ("html", "body", "head") or el is root:
            continue
        signal = _boilerplate_signal(el)
        if signal:
            signals[el] = signal
        total, links = text_m[el], link_m[el]
        if (el.tag in _HEADING_TAGS and 2 <= total <= 16 and links < total
                and _is_boiler_heading(_clean_ws(el.text_content()))):
            headed[el] = _heading_block(el, text_m, prose_m)

    # The likely article box (outside anything labelled boilerplate) and its ancestors are never removed.
    suspect = {el for el, sig in signals.items() if sig == 2}
    suspect.update(block[0] for block in headed.values() if len(block) == 1)
    candidates = [el for el in elements if _is_container(el) and prose_m.get(el, 0) > 0
                  and not any(a in suspect for a in el.iterancestors()) and el not in suspect]
    protected: set[Any] = set()
    in_body: set[Any] = set()
    if candidates:
        best = max(prose_m[el] for el in candidates)
        body = min((el for el in candidates if prose_m[el] >= 0.8 * best), key=lambda el: text_m[el])
        protected.add(body)
        protected.update(body.iterancestors())
        in_body.update(body.iter())

    def guarded(el: etree._Element, share: float, max_links: float) -> bool:
        # a mislabelled wrapper (<form id="form1"> around an ASP.NET page, class="wrap has-sidebar") holding the
        # article: most of the page's prose, few links
        return el in protected or (total_prose > 0 and prose_m[el] >= share * total_prose
                                   and link_m[el] < max_links * text_m[el])

    doomed: list[etree._Element] = []
    for el in elements:
        if el.tag in ("html", "body", "head") or el is root:
            continue
        signal = signals.get(el, 0)
        labelled = (signal == 2 and not guarded(el, 0.8, 0.2)) or (signal == 1 and not guarded(el, 0.6, 0.35))
        link_list = (el.tag in _LINK_BLOCKS and text_m[el] > 0 and link_m[el] > 0.5 * text_m[el]
                     and text_m[el] - link_m[el] < 200 and el not in protected
                     and not (el in in_body and el.tag not in _LIST_TAGS))  # "附件：<a>…</a>" stays
        if labelled or link_list:
            doomed.append(el)
        elif el in headed:
            block = headed[el]
            if len(block) == 1 and block[0] in protected:
                block = _heading_tail(el, block[0], text_m, prose_m)
            doomed.extend(block)
    for el in doomed:
        _remove(el)


def _heading_block(heading: etree._Element, text_m: dict[Any, int],
                   prose_m: dict[Any, int]) -> list[etree._Element]:
    """What a "相关新闻"-style heading labels: the box it leads, or (mid-box) itself and the lists after it."""
    block = heading.getparent()
    while (block is not None and block.tag not in ("body", "html") and block.getparent() is not None
           and text_m.get(block, 0) <= text_m.get(heading, 0) + 10):
        block = block.getparent()
    if block is None:
        return []
    if block.tag not in ("body", "html") and _chars_before(block, heading) <= 10:
        return [block]
    return _heading_tail(heading, block, text_m, prose_m)


def _heading_tail(heading: etree._Element, block: etree._Element, text_m: dict[Any, int],
                  prose_m: dict[Any, int]) -> list[etree._Element]:
    """The heading's branch inside ``block`` and the siblings after it, up to the next block of real prose."""
    branch = heading
    while branch.getparent() is not None and branch.getparent() is not block:
        branch = branch.getparent()
    out = [branch]
    for sibling in branch.itersiblings():
        if prose_m.get(sibling, 0) >= 40:
            break  # the article (or another real block) continues after the heading's list
        out.append(sibling)
    return out


def _chars_before(block: etree._Element, target: etree._Element) -> int:
    seen = 0
    for el in block.iter():
        if el is target:
            break
        seen += _chars(el.text if isinstance(el.tag, str) else None)
    return seen


def _remove(el: etree._Element) -> None:
    parent = el.getparent()
    if parent is None:
        return
    if isinstance(el, lxml.html.HtmlMixin):
        el.drop_tree()  # keeps the tail text, which belongs to the parent
    else:
        parent.remove(el)


def _container_text(root: etree._Element, text_m: dict[Any, int], prose_m: dict[Any, int]) -> str:
    """Text of the tightest known container that holds (nearly) the most prose; "" when there is none."""
    candidates = [el for el in root.iter() if isinstance(el.tag, str) and _is_container(el)]
    scored = [(prose_m.get(el, 0), el) for el in candidates]
    best = max((s for s, _ in scored), default=0)
    if best < 8:
        return ""
    chosen = min((el for s, el in scored if s >= 0.8 * best), key=lambda el: text_m.get(el, 0))
    signature = (chosen.tag, chosen.get("class"))
    same = [el for s, el in scored if s > 0 and (el.tag, el.get("class")) == signature]
    if len(same) > 1 and same[0] is not chosen and same[0] not in set(chosen.iterancestors()):
        chosen = same[0]  # repeated boxes (forum floors, cards): the first is the post itself
    # The marked boxes may be incidental (<article> cards around links) with the article in an unmarked block:
    # then some block outside them holds far more prose than the chosen one.
    inside: set[Any] = set()
    for el in same or [chosen]:
        inside.update(el.iter())
        inside.update(el.iterancestors())
    outside = max((_block_score(el, prose_m) for el in root.iter() if el not in inside), default=0)
    if outside > 2 * prose_m.get(chosen, 0):
        return ""
    return _block_text(chosen)


def _block_text(root: etree._Element) -> str:
    """Visible text with a line per block element and `` | `` between table cells."""
    parts: list[str] = []
    for event, el in etree.iterwalk(root, events=("start", "end")):
        tag = el.tag if isinstance(el.tag, str) else ""
        if event == "start":
            if tag in _BLOCK_TAGS or tag == "br":
                parts.append("\n")
            elif tag in _CELL_TAGS:
                parts.append(_CELL)
            if tag and el.text:
                parts.append(el.text)
        else:
            if tag in _BLOCK_TAGS:
                parts.append("\n")
            if el is not root and el.tail:
                parts.append(el.tail)
    lines = []
    for line in "".join(parts).split("\n"):
        cells = [_clean_ws(c) for c in line.split(_CELL)]
        cells = [c for c in cells if c]
        if cells:
            lines.append(" | ".join(cells))
    return "\n".join(lines)


def _trafilatura_text(tree: etree._Element, url: str | None) -> str:
    try:
        import trafilatura
    except ImportError:  # a broken install must not stop the crawl; the fallback still works
        log.warning("extract: trafilatura unavailable, using the lxml fallback")
        return ""
    try:
        doc = trafilatura.bare_extraction(tree, url=url, favor_precision=True, include_comments=False,
                                          include_tables=True, include_images=False, include_links=False,
                                          include_formatting=False, with_metadata=False, deduplicate=False,
                                          config=_trafilatura_config())
    except Exception:  # trafilatura on hostile markup: log and fall back rather than lose the article
        log.warning("extract: trafilatura failed", exc_info=True, extra={"url": url or ""})
        return ""
    if doc is None:
        return ""
    text = doc.get("text") if isinstance(doc, dict) else getattr(doc, "text", None)
    return text or ""


@functools.cache
def _trafilatura_config() -> Any:
    """trafilatura's defaults expect English-length articles (250+ characters); Chinese news is often 100."""
    from trafilatura.settings import use_config

    config = use_config()
    for key, value in (("MIN_EXTRACTED_SIZE", "20"), ("MIN_EXTRACTED_COMM_SIZE", "1"), ("MIN_OUTPUT_SIZE", "1"),
                       ("MIN_OUTPUT_COMM_SIZE", "1"), ("EXTENSIVE_DATE_SEARCH", "off")):
        config.set("DEFAULT", key, value)
    return config


def _largest_block(tree: etree._Element, prose_m: dict[Any, int]) -> str:
    """Last resort: the element whose own text and direct paragraphs hold the most prose."""
    best, best_score = None, 0
    for el in tree.iter():
        score = _block_score(el, prose_m)
        if score > best_score:
            best, best_score = el, score
    return _block_text(best) if best is not None else ""


def _block_score(el: etree._Element, prose_m: dict[Any, int]) -> int:
    """Prose in an element's own text and its direct paragraphs (<p>, inline runs, divs used as paragraphs)."""
    if not isinstance(el.tag, str):
        return 0
    own = _own_text(el)
    n = _chars(own)
    return (n if _is_prose(own, n) else 0) + sum(prose_m.get(c, 0) for c in el if c.tag in _PARA_TAGS
                                                  or (c.tag == "div" and not any(g.tag in _BLOCK_TAGS for g in c)))


def _tidy_lines(text: str, title: str = "") -> str:
    """Drop tool lines, leading title/nav/breadcrumb/byline lines and everything from a related-links heading on."""
    out: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or not _TOOL_WORDS.sub("", line).strip() or _PREV_NEXT.match(line):
            continue
        if _is_boiler_heading(line):
            if out:
                break  # "推荐阅读" after the article: the rest is the list
            continue
        if not out and not _PROSE_MARK.search(line):
            tokens = [t for t in _NAV_SPLIT.split(line) if t]
            if (_LOCATION.search(line) or (len(tokens) >= 4 and all(len(t) <= 6 for t in tokens))
                    or (title and _clean_ws(line) == title) or (len(line) <= 80 and _CN_DATETIME.search(line))):
                continue  # nav, breadcrumb, the headline again, "来源：… 2026-11-23 09:15"
        out.append(line)
    return "\n".join(out)


# --- title -----------------------------------------------------------------------------------------------------------
# Portals wrap the headline: "标题_江城财经_江城网", "标题 - 楚江网", "标题-新华网" (no spaces), "标题——江城日报"; their
# first <h1> is often the logo or the column ("财经频道"), and og:title is sometimes the site's name, or cut short
# where the headline holds an unescaped ASCII quote (content="关于"示例银行"的说明" reads as "关于"). A title must be
# the headline: never a site or column name, never such a cut prefix.
_TITLE_SEPARATORS = re.compile(r"\s*(?:_|\||｜|\s-\s|\s–\s|\s—\s|——|--|－)\s*")
_BARE_DASH_TAIL = re.compile(r"[-–—](?P<tail>[^-–—_|｜]{2,20})$")
_GENERIC_TITLES = {"微博", "微博正文", "新浪微博", "手机新浪网", "首页", "正文", "详情", "新闻详情", "文章详情",
                   "无标题", "untitled", "index"}
_SITE_NAME = re.compile(
    r"(?:网|网站|频道|栏目|在线|日报|晚报|早报|晨报|商报|时报|都市报|周刊|周报|杂志|电视台|广播电台|新闻|资讯|客户端"
    r"|门户|官网|官方网站|论坛|社区|贴吧|公众号|财经|首页|专题|要闻|正文)$"
    r"|^(?:www\.)?[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|cn|net|org|gov|edu)(?:\.cn)?$", re.I)
_COLUMN_WORDS = frozenset({"财经", "金融", "要闻", "国内", "国际", "社会", "本地", "地方", "时政", "科技", "理财",
                           "银行", "股票", "基金", "保险", "证券", "热点", "滚动", "原创", "评论", "观点", "视频",
                           "图片", "房产", "汽车", "教育", "娱乐", "体育", "健康", "民生", "经济", "产经"})
MAX_SITE_NAME_CHARS = 10  # "中国证券报·中证网" is 9; a headline is rarely this short *and* ends in 网/频道/日报
# What a short headline has and a site name does not: a predicate or a sentence's punctuation ("示例银行倒闭是假新闻",
# "网传停业？辟谣了" end like a site name but say something).
_HEADLINE_MARK = re.compile(r"[是了被遭把将吗呢称？！?!，,：:“”\"]")
_TAGLIKE = re.compile(r"<[^<>]{0,500}>")
_QUOTES = "\"'“”‘’「」"


def is_site_or_column_name(text: str, known: frozenset[str] | set[str] = frozenset()) -> bool:
    """Whether ``text`` names a site or a column (``江城晚报网``, ``财经频道``, ``财经``, ``news.example.cn``), or is
    one of the ``known`` names this page gives itself (og:site_name, the suffixes of its <title>)."""
    compact = re.sub(r"\s+", "", text)
    if not compact:
        return False
    if compact in known or compact in _COLUMN_WORDS:
        return True
    return (len(compact) <= MAX_SITE_NAME_CHARS and _SITE_NAME.search(compact) is not None
            and not _HEADLINE_MARK.search(compact))


def strip_site_suffix(title: str, known: frozenset[str] | set[str] = frozenset()) -> str:
    """``示例银行网点排长队_江城晚报网`` → ``示例银行网点排长队``: keep the headline, drop section and site names —
    also behind a bare hyphen (``标题-新华网``) and when the headline is shorter than the site name."""
    title = strip_site_tail(title, known)
    parts = [p for p in _TITLE_SEPARATORS.split(title) if p]
    if not parts:
        return title
    while len(parts) > 1 and is_site_or_column_name(parts[0], known):
        parts.pop(0)
    if len(parts) == 1:
        return parts[0]
    if len(parts[0]) >= 5:
        return parts[0]
    return max(parts, key=len)


def strip_site_tail(title: str, known: frozenset[str] | set[str] = frozenset()) -> str:
    """``标题_搜狐财经`` → ``标题``, for a title given outside the page (a feed's, a list page's link text): only
    trailing parts that are site or column names go. Unlike ``strip_site_suffix`` it never keeps just the first
    part, because such a title has no site suffix to expect: "示例银行_2026年报" and a title with "__" in it stay
    whole. A hyphen without spaces counts only before a site or column name ("标题-楚江新闻网"). ``strip_site_suffix``
    starts with it."""
    title = _clean_ws(title)
    while True:
        cuts = list(_TITLE_SEPARATORS.finditer(title))
        m = cuts[-1] if cuts else _BARE_DASH_TAIL.search(title)
        if m is None or m.start() < 2:
            return title
        tail = title[m.end():] if cuts else m.group("tail")
        if not is_site_or_column_name(tail, known):
            return title
        title = title[: m.start()].rstrip()


def _title(tree: etree._Element) -> str:
    """og:title, else the h1 that agrees with <title>, else <title> without its site suffix; "" if generic.

    Site and column names are never the title, and an og:title cut at an ASCII quote gives way to the h1 or
    <title> it is the start of."""
    title_el = tree.find(".//title")
    page_title = _clean_ws(title_el.text_content()) if title_el is not None else ""
    known = {re.sub(r"\s+", "", v) for v in _meta_all(tree, "og:site_name", "application-name")}
    title_parts = [p for p in _TITLE_SEPARATORS.split(page_title) if p]
    known.update(re.sub(r"\s+", "", p) for p in title_parts[1:] if len(p) <= MAX_SITE_NAME_CHARS)
    known.discard("")
    page_clean = strip_site_suffix(page_title, known) if page_title else ""
    if page_clean and is_site_or_column_name(page_clean, known):
        page_clean = ""
    h1s = [_clean_ws(h.text_content()) for h in tree.iter("h1")]
    h1s = [h for h in h1s if 2 <= len(h) <= MAX_TITLE_CHARS and not is_site_or_column_name(h, known)]
    og = ""
    for value in _meta_all(tree, "og:title", "twitter:title", "title", "ArticleTitle", "headline"):
        og = strip_site_suffix(_clean_ws(value), known)
        if og and not is_site_or_column_name(og, known):
            break
        og = ""
    if og:
        # content="关于"示例银行"的说明" parses as "关于": a longer headline continuing with a quote is the real one
        longer = [c for c in (*h1s, page_clean) if len(c) > len(og) and c.startswith(og) and c[len(og)] in _QUOTES]
        if longer:
            og = max(longer, key=len)

    chosen = og
    if not chosen:
        for h in h1s:
            if not page_title or h in page_title or page_title in h:
                chosen = h
                break
    if not chosen:
        chosen = page_clean
    if not chosen and h1s:
        chosen = h1s[0]
    if not chosen:  # the <h1> is the logo and <title> only the site's name: the headline is often an <h2>
        for h in tree.iter("h2"):
            text = _clean_ws(h.text_content())
            if 6 <= len(text) <= MAX_TITLE_CHARS and not is_site_or_column_name(text, known) \
                    and not _is_boiler_heading(text):
                chosen = text
                break
    chosen = _clean_ws(_TAGLIKE.sub("", chosen))
    if chosen.lower() in _GENERIC_TITLES:
        chosen = ""
    return chosen[:MAX_TITLE_CHARS]


def _first_sentence(text: str, limit: int = 40) -> str:
    """A stand-in title for untitled posts: the start of the longest line (the post, not its header)."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    longest = max(lines, key=len) if lines else ""
    first = re.split(r"[。！？!?]", longest, maxsplit=1)[0]
    first = first.strip()
    return first[:limit] + ("…" if len(first) > limit else "")


# --- publish time ----------------------------------------------------------------------------------------------------
_DATE_META = ("article:published_time", "og:published_time", "og:release_date", "pubdate", "PubDate",
              "publishdate", "publish_date", "publish-date", "ptime", "published_time", "publishtime",
              "firstpublishedtime", "weibo:article:create_at", "datePublished", "dc.date.issued", "dc.date",
              "date", "sailthru.date")
_CN_DATETIME = re.compile(
    r"(?P<y>(?:19|20)\d{2})\s*(?:年|[-/.])\s*(?P<m>\d{1,2})\s*(?:月|[-/.])\s*(?P<d>\d{1,2})\s*日?"
    r"(?:\s*(?:T|\s)?\s*(?P<H>\d{1,2})\s*(?::|时|点)\s*(?P<M>\d{1,2})(?:\s*(?::|分)\s*(?P<S>\d{1,2}))?)?")
_DAY_ONLY = re.compile(r"\s*(?:19|20)\d{2}\s*(?:年|[-/.])\s*\d{1,2}\s*(?:月|[-/.])\s*\d{1,2}\s*日?\s*")
_LABELLED = re.compile(r"(?:发布时间|发表时间|发布日期|发表于|时间|日期|发布于|更新时间)\s*[:：]?\s*")
_RELATIVE = re.compile(
    r"(?P<n>\d{1,3})\s*(?P<u>秒|分钟|小时|天)前|(?P<day>今天|昨天|前天)\s*(?P<H>\d{1,2}):(?P<M>\d{2})")


def _published_at(tree: etree._Element, page_text: str, *, chinese: bool, now: datetime | None) -> datetime | None:
    """The page's publish time in the page's own zone; zone-less times are Beijing time on Chinese pages.

    Structured values (meta, <time>, itemprop) come first, but one that gives only a day
    (``<meta name="publishdate" content="2026-11-23">``) yields to a full time of the same day printed on the page
    ("发布时间：2026-11-23 19:50"): midnight would misplace the article in every timeline."""
    local = SHANGHAI if chinese else UTC
    day_only: datetime | None = None
    structured = [*_meta_all(tree, *_DATE_META),
                  *(el.get("datetime") or el.text_content() for el in tree.iter("time")),
                  *(el.get("content") or el.get("datetime") or el.text_content()
                    for el in tree.xpath('//*[@itemprop="datePublished"]'))]
    for value in structured:
        found = parse_datetime(value, local, now=now)
        if found is None:
            continue
        if not _DAY_ONLY.fullmatch(unicodedata.normalize("NFKC", value)):
            return found
        day_only = day_only or found

    # "发布时间：…" style labels beat the first bare date (which may be a "related news" list); a labelled day
    # ("发布日期：2026-11-23") is a day, which a printed time of that same day refines.
    head = page_text[:20000]
    labelled: list[datetime] = []
    for label in _LABELLED.finditer(head):
        m = _CN_DATETIME.match(head, label.end())
        found = _from_match(m, local, now) if m else None
        if found is None:
            continue
        if m is not None and m.group("H") is not None:
            labelled.append(found)
        elif day_only is None:
            day_only = found

    def same_day(found: datetime | None) -> bool:
        return found is not None and (day_only is None or found.date() == day_only.date())

    for found in labelled:
        if same_day(found):
            return found
    for m in _CN_DATETIME.finditer(head):
        if m.group("H") is not None and same_day(found := _from_match(m, local, now)):
            return found
    if day_only is not None:
        return day_only
    if now is not None:
        rel = _RELATIVE.search(head[:5000])
        if rel:
            return _relative(rel, now, local)
    return _htmldate(tree, local, now)


def parse_datetime(value: str | None, local: Any = SHANGHAI, *, now: datetime | None = None) -> datetime | None:
    """Parse an ISO 8601 or Chinese-style timestamp, keeping the zone it states; a zone-less value is in ``local``
    and an epoch is shown in ``local``. None outside the believable window (``crawlers.timewindow``)."""
    if not value:
        return None
    value = unicodedata.normalize("NFKC", value).strip()
    if re.fullmatch(r"\d{10}(?:\d{3})?", value):  # epoch seconds / milliseconds
        try:
            ts = int(value) / (1000 if len(value) == 13 else 1)
            return _sane(datetime.fromtimestamp(ts, local), now)
        except (OverflowError, OSError, ValueError):
            return None
    iso = value.replace("Z", "+00:00")
    iso = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", iso)
    try:
        parsed = datetime.fromisoformat(iso)
    except ValueError:
        m = _CN_DATETIME.search(value)
        return _from_match(m, local, now) if m else None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=local)
    return _sane(parsed, now)


def _from_match(m: re.Match[str], local: Any, now: datetime | None = None) -> datetime | None:
    try:
        naive = datetime(int(m.group("y")), int(m.group("m")), int(m.group("d")),
                         int(m.group("H") or 0), int(m.group("M") or 0), int(m.group("S") or 0))
    except (TypeError, ValueError):
        return None
    return _sane(naive.replace(tzinfo=local), now)


def _relative(m: re.Match[str], now: datetime, local: Any) -> datetime | None:
    now = now.astimezone(local)
    if m.group("n"):
        n = int(m.group("n"))
        unit = {"秒": "seconds", "分钟": "minutes", "小时": "hours", "天": "days"}[m.group("u")]
        return _sane(now - timedelta(**{unit: n}), None)
    days = {"今天": 0, "昨天": 1, "前天": 2}[m.group("day")]
    day = (now - timedelta(days=days)).date()
    try:
        naive = datetime(day.year, day.month, day.day, int(m.group("H")), int(m.group("M")))
    except ValueError:
        return None
    return _sane(naive.replace(tzinfo=local), None)


def _htmldate(tree: etree._Element, local: Any, now: datetime | None) -> datetime | None:
    try:
        from htmldate import find_date
    except ImportError:
        return None
    try:
        found = find_date(tree, extensive_search=True, original_date=True, outputformat="%Y-%m-%d")
    except Exception:  # htmldate on hostile markup: a missing date is better than a lost article
        log.debug("extract: htmldate failed", exc_info=True)
        return None
    if not found:
        return None
    try:
        day = datetime.strptime(found, "%Y-%m-%d")
    except ValueError:
        return None
    return _sane(day.replace(tzinfo=local), now)


def _sane(value: datetime, now: datetime | None) -> datetime | None:
    """``value`` if it is a believable publication time (the spiders' window), else None."""
    return value if believable(value, now) else None


# --- author / source -------------------------------------------------------------------------------------------------
# A person named by the page beats a source: meta author (unless it is the site's name), itemprop/rel author, then
# the bylines of Chinese news — "作者：刘洋", "记者 张三 通讯员 李四", "（记者赵敏）", "本报记者张三报道", "文/张三" —
# then "来源：江城日报", then a meta author that only names the site, and last "责任编辑：". Role words (通讯员,
# 实习生, 摄影 …) end a list of reporters: "记者 张三 通讯员 李四" is 张三's article.
_AUTHOR_META = ("author", "article:author", "og:article:author", "byline", "dc.creator", "source")
_NAME = r"[\u4e00-\u9fff·]{2,5}"
_MORE_NAMES = r"(?:[\s、]+" + _NAME + r"(?=[\s、，,。；;）)】\]]|$))*"  # "张三 李四", never "张三 示例银行…"
_PERSON_PATTERNS = (
    re.compile(r"作者\s*[:：]\s*(?P<v>[^\s|｜/，,。；;:：]{1,30})"),
    re.compile(r"[（(【\[][^（(【\[）)】\]]{0,16}?记者\s*[:：]?\s*(?P<v>[^（(【\[）)】\]]{2,40})[）)】\]]"),
    re.compile(r"记者(?:\s*[:：]\s*|\s+)(?P<v>" + _NAME + _MORE_NAMES + ")"),
    re.compile(r"记者(?P<v>[\u4e00-\u9fff]{2,3}?)报道"),
    re.compile(r"(?:^|\s)(?:文|撰文|文字)\s*[/｜|:：]\s*(?P<v>" + _NAME + _MORE_NAMES + ")"),
)
_SOURCE_PATTERN = re.compile(r"来源\s*[:：]\s*(?P<v>[^\s|｜/，,。；;:：]{1,30})")
_EDITOR_PATTERN = re.compile(r"责任编辑\s*[:：]\s*(?P<v>[^\s|｜/，,。；;:：()（）【】\[\]]{1,20})")
_ROLE_WORDS = re.compile(r"通讯员|实习生|见习记者|特约记者|摄影|摄像|编辑|校对|制图|报道|摄$|实习记者")
_NOT_NAMES = {"作者", "记者", "来源", "编辑", "责任编辑", "发布时间", "时间", "网络", "未知", "佚名", "本报", "本站",
              "原创", "网友"}


def _author(tree: etree._Element, page_text: str) -> str | None:
    site_like: list[str] = []
    for value in _meta_all(tree, *_AUTHOR_META):
        v = _clean_ws(_TAGLIKE.sub("", value))
        if not v or v.lower().startswith(("http://", "https://")) or v in _NOT_NAMES:
            continue
        if is_site_or_column_name(v):
            site_like.append(v)
            continue
        return v[:100]
    for el in tree.xpath('//*[@itemprop="author"] | //*[@rel="author"]'):
        v = _clean_ws(el.get("content") or el.text_content())
        if v and v not in _NOT_NAMES:
            return v[:100]
    head = page_text[:20000]
    found = [(m.start(), name) for i, pattern in enumerate(_PERSON_PATTERNS) for m in pattern.finditer(head)
             if (name := _reporters(m.group("v"), free=i == 0))]
    if found:
        return min(found)[1][:100]  # the first byline on the page, not a quoted "作者" further down
    for pattern in (_SOURCE_PATTERN,):
        m = pattern.search(head)
        if m and (v := _clean_ws(m.group("v"))) and v not in _NOT_NAMES:
            return v[:100]
    if site_like:
        return site_like[0][:100]
    m = _EDITOR_PATTERN.search(head)
    if m and (v := _clean_ws(m.group("v"))) and v not in _NOT_NAMES:
        return v[:100]
    return None


def _reporters(value: str, *, free: bool = False) -> str:
    """The names in a byline up to the first role word: "张三 通讯员 李四" → "张三", "张三、李四" → "张三、李四".

    A "作者：" value (``free``) may be any pen name; a reporter's byline must be Chinese names, so "记者了解到，…"
    or "（记者从示例银行获悉）" is no byline."""
    value = _clean_ws(value)
    role = _ROLE_WORDS.search(value)
    if role:
        value = value[: role.start()].strip(" 、,，")
    if not value or value in _NOT_NAMES:
        return ""
    if free or re.fullmatch(_NAME + r"(?:[\s、,，]+" + _NAME + r")*", value):
        return value
    return ""


# --- helpers ---------------------------------------------------------------------------------------------------------
def _meta(tree: etree._Element, *names: str) -> str:
    for value in _meta_all(tree, *names):
        v = _clean_ws(value)
        if v:
            return v
    return ""


def _meta_all(tree: etree._Element, *names: str) -> list[str]:
    """Contents of ``<meta name|property|itemprop=…>`` tags, in the order of ``names`` (case-insensitive)."""
    by_name: dict[str, list[str]] = {}
    for el in tree.iter("meta"):
        key = (el.get("property") or el.get("name") or el.get("itemprop") or "").strip().lower()
        content = el.get("content")
        if key and content and content.strip():
            by_name.setdefault(key, []).append(content)
    out: list[str] = []
    for n in names:
        out.extend(by_name.get(n.lower(), []))
    return out


def _clean_ws(value: str) -> str:
    value = value.replace("\u3000", " ").replace("\xa0", " ")
    return re.sub(r"\s+", " ", value).strip()


def _is_chinese(sample: str) -> bool:
    return len(re.findall(r"[\u4e00-\u9fff]", sample)) >= 2
