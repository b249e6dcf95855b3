"""Turn one fetched HTML page into plain fields: title, publish time (UTC), author/source and body text.

Everything downstream — org-chart matching, story clustering, sentiment, briefings — reads these fields, so this
module is built for the pages Chinese news portals, forums and mobile social sites actually serve: headlines
wrapped in ``_站点名`` suffixes, ``发布时间：2026-11-23 09:15`` lines in Beijing time, ``来源：`` / ``责任编辑：``
credits, GBK bytes behind a UTF-8 header, truncated or malformed markup, navigation, ads and comment threads.

Body text comes from trafilatura (``include_comments=False``); when it finds nothing (very short posts, odd
layouts) a plain lxml fallback takes the largest block of paragraphs. Script and style content never reaches the
text. Output is plain text only — crawled content is hostile, and stays inert text for every consumer to escape.
Naive times on Chinese pages are Asia/Shanghai and are converted to UTC. Work is capped: input beyond
``MAX_INPUT_BYTES`` is cut (and logged) before parsing.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import lxml.html
from lxml import etree

from crawlers.encoding import decode_html

log = logging.getLogger(__name__)

MAX_INPUT_BYTES = 2 * 1024 * 1024
MAX_TEXT_CHARS = 200_000
MAX_TITLE_CHARS = 300
SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class Extracted:
    """The plain fields of one page. ``published_at`` is aware UTC or None; ``encoding`` is None for str input."""

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
    # Control characters (NUL breaks PostgreSQL text) and replacement characters (undecodable bytes) carry nothing.
    text_html = _CONTROL.sub("", text_html).replace("\ufffd", "")
    if not text_html.strip():
        return Extracted("", None, None, "", encoding)

    tree = _parse(text_html)
    if tree is None:
        return Extracted("", None, None, "", encoding)
    _drop_inert(tree)

    # Metadata first: trafilatura is handed the (already cleaned) tree and may prune it.
    page_text = _visible_text(tree)
    title = _title(tree)
    chinese = _is_chinese(title + page_text[:2000])
    published = _published_at(tree, page_text, chinese=chinese, now=now)
    author = _author(tree, page_text)
    body_text = _body_text(tree, url)
    if not title:
        title = _first_sentence(body_text)
    return Extracted(title=title, published_at=published, author=author, text=body_text, encoding=encoding)


# --- parsing ---------------------------------------------------------------------------------------------------------
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
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


# --- body text -------------------------------------------------------------------------------------------------------
def _body_text(tree: etree._Element, url: str | None) -> str:
    fallback = _largest_block(tree)  # computed first: trafilatura prunes the tree it is given
    text = _trafilatura_text(tree, url)
    if (not text or len(text) < 20) and len(fallback) > len(text or ""):
        text = fallback
    text = _CONTROL.sub("", unicodedata.normalize("NFC", text or ""))
    text = "\n".join(line.strip() for line in text.splitlines() if line.strip())
    return text[:MAX_TEXT_CHARS]


def _trafilatura_text(tree: etree._Element, url: str | None) -> str:
    try:
        import trafilatura
    except ImportError:  # a broken install must not stop the crawl; the fallback still works
        log.warning("extract: trafilatura unavailable, using the lxml fallback")
        return ""
    try:
        doc = trafilatura.bare_extraction(tree, url=url, include_comments=False, include_tables=True,
                                          include_images=False, include_links=False, include_formatting=False,
                                          with_metadata=False, deduplicate=False)
    except Exception:  # trafilatura on hostile markup: log and fall back rather than lose the article
        log.warning("extract: trafilatura failed", exc_info=True, extra={"url": url or ""})
        return ""
    if doc is None:
        return ""
    text = doc.get("text") if isinstance(doc, dict) else getattr(doc, "text", None)
    return text or ""


_BLOCK_SKIP = ("nav", "header", "footer", "aside", "form", "button", "select")
_BLOCK_CLASS = re.compile(r"comment|reply|footer|nav|menu|sidebar|advert|\bad\b|share|related|recommend", re.I)


def _largest_block(tree: etree._Element) -> str:
    """Fallback extractor: the container whose direct paragraphs hold the most text, else the whole body."""
    scores: dict[etree._Element, list[str]] = {}
    for el in tree.iter("p", "div", "section", "article", "td", "li", "span"):
        if _in_boilerplate(el):
            continue
        own = _clean_ws("".join(el.itertext())) if el.tag == "p" else _clean_ws(el.text or "")
        if el.tag != "p" and len(el) > 0:
            continue  # containers are scored through their paragraphs
        if len(own) < 2:
            continue
        parent = el.getparent() if el.tag == "p" else el
        if parent is None:
            continue
        scores.setdefault(parent, []).append(own)
    if scores:
        best = max(scores.values(), key=lambda parts: sum(len(p) for p in parts))
        return "\n".join(best)
    body = tree.find("body")
    return _clean_ws(" ".join((body if body is not None else tree).itertext()))


def _in_boilerplate(el: etree._Element) -> bool:
    cur: etree._Element | None = el
    while cur is not None:
        if cur.tag in _BLOCK_SKIP:
            return True
        attrs = f"{cur.get('class', '')} {cur.get('id', '')}"
        if attrs.strip() and _BLOCK_CLASS.search(attrs):
            return True
        cur = cur.getparent()
    return False


# --- title -----------------------------------------------------------------------------------------------------------
_TITLE_SEPARATORS = re.compile(r"\s*(?:_|\||｜|\s-\s|\s–\s|\s—\s|——|--|－)\s*")
_GENERIC_TITLES = {"微博", "微博正文", "新浪微博", "手机新浪网", "首页", "正文", "详情", "新闻详情", "文章详情",
                   "无标题", "untitled", "index"}
_TAGLIKE = re.compile(r"<[^<>]{0,500}>")


def _title(tree: etree._Element) -> str:
    """og:title, else the h1 that agrees with <title>, else <title> without its site suffix; "" if generic."""
    og = _meta(tree, "og:title", "twitter:title", "title", "ArticleTitle", "headline")
    title_el = tree.find(".//title")
    page_title = _clean_ws(title_el.text_content()) if title_el is not None else ""
    h1s = [_clean_ws(h.text_content()) for h in tree.iter("h1")]
    h1s = [h for h in h1s if 2 <= len(h) <= MAX_TITLE_CHARS]

    chosen = ""
    if og:
        chosen = strip_site_suffix(og)
    if not chosen:
        for h in h1s:
            if not page_title or h in page_title or page_title in h:
                chosen = h
                break
    if not chosen and page_title:
        chosen = strip_site_suffix(page_title)
    if not chosen and h1s:
        chosen = h1s[0]
    chosen = _clean_ws(_TAGLIKE.sub("", chosen))
    if chosen.lower() in _GENERIC_TITLES:
        chosen = ""
    return chosen[:MAX_TITLE_CHARS]


def strip_site_suffix(title: str) -> str:
    """``示例银行网点排长队_江城晚报网`` → ``示例银行网点排长队``: keep the headline, drop section and site names."""
    title = _clean_ws(title)
    parts = [p for p in _TITLE_SEPARATORS.split(title) if p]
    if len(parts) <= 1:
        return title
    if len(parts[0]) >= 5:
        return parts[0]
    return max(parts, key=len)


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
_LABELLED = re.compile(r"(?:发布时间|发表时间|发布日期|发表于|时间|日期|发布于|更新时间)\s*[:：]?\s*")
_RELATIVE = re.compile(
    r"(?P<n>\d{1,3})\s*(?P<u>秒|分钟|小时|天)前|(?P<day>今天|昨天|前天)\s*(?P<H>\d{1,2}):(?P<M>\d{2})")


def _published_at(tree: etree._Element, page_text: str, *, chinese: bool, now: datetime | None) -> datetime | None:
    local = SHANGHAI if chinese else UTC
    for value in _meta_all(tree, *_DATE_META):
        found = parse_datetime(value, local)
        if found:
            return found
    for el in tree.iter("time"):
        found = parse_datetime(el.get("datetime") or el.text_content(), local)
        if found:
            return found
    for el in tree.xpath('//*[@itemprop="datePublished"]'):
        found = parse_datetime(el.get("content") or el.get("datetime") or el.text_content(), local)
        if found:
            return found
    # "发布时间：…" style labels beat the first bare date (which may be a "related news" list).
    head = page_text[:20000]
    for label in _LABELLED.finditer(head):
        m = _CN_DATETIME.match(head, label.end())
        if m:
            found = _from_match(m, local)
            if found:
                return found
    for m in _CN_DATETIME.finditer(head):
        found = _from_match(m, local)
        if found and m.group("H") is not None:
            return found
    if now is not None:
        rel = _RELATIVE.search(head[:5000])
        if rel:
            return _relative(rel, now, local)
    return _htmldate(tree, local)


def parse_datetime(value: str | None, local: Any = SHANGHAI) -> datetime | None:
    """Parse an ISO 8601 or Chinese-style timestamp; naive values are in ``local``; result aware UTC."""
    if not value:
        return None
    value = unicodedata.normalize("NFKC", value).strip()
    if re.fullmatch(r"\d{10}(?:\d{3})?", value):  # epoch seconds / milliseconds
        try:
            ts = int(value) / (1000 if len(value) == 13 else 1)
            return _sane(datetime.fromtimestamp(ts, UTC))
        except (OverflowError, OSError, ValueError):
            return None
    iso = value.replace("Z", "+00:00")
    iso = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", iso)
    try:
        parsed = datetime.fromisoformat(iso)
    except ValueError:
        m = _CN_DATETIME.search(value)
        return _from_match(m, local) if m else None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=local)
    return _sane(parsed.astimezone(UTC))


def _from_match(m: re.Match[str], local: Any) -> datetime | None:
    try:
        naive = datetime(int(m.group("y")), int(m.group("m")), int(m.group("d")),
                         int(m.group("H") or 0), int(m.group("M") or 0), int(m.group("S") or 0))
    except (TypeError, ValueError):
        return None
    return _sane(naive.replace(tzinfo=local).astimezone(UTC))


def _relative(m: re.Match[str], now: datetime, local: Any) -> datetime | None:
    now = now.astimezone(UTC)
    if m.group("n"):
        n = int(m.group("n"))
        unit = {"秒": "seconds", "分钟": "minutes", "小时": "hours", "天": "days"}[m.group("u")]
        return now - timedelta(**{unit: n})
    days = {"今天": 0, "昨天": 1, "前天": 2}[m.group("day")]
    day = (now.astimezone(local) - timedelta(days=days)).date()
    try:
        naive = datetime(day.year, day.month, day.day, int(m.group("H")), int(m.group("M")))
    except ValueError:
        return None
    return naive.replace(tzinfo=local).astimezone(UTC)


def _htmldate(tree: etree._Element, local: Any) -> datetime | None:
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
    return _sane(day.replace(tzinfo=local).astimezone(UTC))


def _sane(value: datetime) -> datetime | None:
    return value if 1995 <= value.year <= 2100 else None


# --- author / source -------------------------------------------------------------------------------------------------
_AUTHOR_META = ("author", "article:author", "og:article:author", "byline", "dc.creator", "source")
_AUTHOR_PATTERNS = (
    re.compile(r"作者\s*[:：]\s*(?P<v>[^\s|｜/，,。；;:：]{1,30})"),
    re.compile(r"记者(?:\s*[:：]\s*|\s+)(?P<v>[\u4e00-\u9fff·]{2,4}(?:\s+[\u4e00-\u9fff·]{2,4}(?![:：]))*)"),
    re.compile(r"来源\s*[:：]\s*(?P<v>[^\s|｜/，,。；;:：]{1,30})"),
    re.compile(r"责任编辑\s*[:：]\s*(?P<v>[^\s|｜/，,。；;:：()（）]{1,20})"),
)
_NOT_NAMES = {"作者", "记者", "来源", "编辑", "责任编辑", "发布时间", "时间", "网络", "未知", "佚名"}


def _author(tree: etree._Element, page_text: str) -> str | None:
    for value in _meta_all(tree, *_AUTHOR_META):
        v = _clean_ws(_TAGLIKE.sub("", value))
        if v and not v.lower().startswith(("http://", "https://")) and v not in _NOT_NAMES:
            return v[:100]
    for el in tree.xpath('//*[@itemprop="author"] | //*[@rel="author"]'):
        v = _clean_ws(el.get("content") or el.text_content())
        if v and v not in _NOT_NAMES:
            return v[:100]
    head = page_text[:20000]
    for pattern in _AUTHOR_PATTERNS:
        m = pattern.search(head)
        if m:
            v = _clean_ws(m.group("v"))
            if v and v not in _NOT_NAMES:
                return v[:100]
    return None


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
