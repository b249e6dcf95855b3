"""HTML and XML rendering for the simulated sites.

Real sites disagree on everything a crawler relies on, so the pages here disagree too: three article layouts on
江城晚报网 (a modern CMS, an old TRS-style table page, an HTML5 ``<article>`` page) with three different ways of
stating the publish time, a fourth structure for 楚江网, GBK/GB2312 declared in the header, the meta tag or both,
and the usual nav/ads/related-links/comments clutter around the text. Content is escaped everywhere except on the
one page whose purpose is to carry injected markup.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from xml.sax.saxutils import escape as xml_escape

from sim.scenario import BEIJING, PlacedArticle, PlacedComplaint, PlacedPenalty, PlacedPost, Scenario, fill

NEWS_NAME = "江城晚报网"
PROVINCE_NAME = "楚江网"
REGULATOR_NAME = "国家金融监督管理总局江城监管分局"
PAGE_SIZE = 15

_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

_ADS = (
    "江城家装节 全场低至5折 到店再送好礼",
    "光谷科技园写字楼 精装现房 拎包入驻",
    "冬季体检套餐 限时特惠 399元起",
    "驾校冬季班火热招生 包过包接送",
)

_NAV = ("首页", "本地", "民生", "财经", "教育", "交通", "文娱", "视频", "图片", "专题")


def bj(dt: datetime) -> datetime:
    return dt.astimezone(BEIJING)


def fmt_dash(dt: datetime) -> str:
    return bj(dt).strftime("%Y-%m-%d %H:%M")


def fmt_cn(dt: datetime) -> str:
    d = bj(dt)
    return f"{d.year}年{d.month:02d}月{d.day:02d}日 {d:%H:%M}"


def fmt_iso(dt: datetime) -> str:
    return bj(dt).replace(microsecond=0).isoformat()


def fmt_weibo(dt: datetime) -> str:
    d = bj(dt)
    return f"{_WEEKDAYS[d.weekday()]} {_MONTHS[d.month - 1]} {d.day:02d} {d:%H:%M:%S} +0800 {d.year}"


def fmt_rfc822(dt: datetime) -> str:
    return format_datetime(bj(dt).replace(microsecond=0))


def http_date(dt: datetime) -> str:
    return format_datetime(dt.astimezone(UTC).replace(microsecond=0), usegmt=True)


# ------------------------------------------------------------------------------------------------------------
# encodings
# ------------------------------------------------------------------------------------------------------------
def encode_page(html: str, encoding: str) -> tuple[bytes, str]:
    """Bytes and Content-Type header for a page whose markup already carries the matching meta tag (if any)."""
    if encoding == "gbk":
        return html.encode("gbk", errors="xmlcharrefreplace"), "text/html; charset=gbk"
    if encoding == "gb2312-meta":
        # Declared gb2312 but, like many real sites, actually written with the GBK superset.
        return html.encode("gbk", errors="xmlcharrefreplace"), "text/html"
    if encoding == "gbk-header":
        return html.encode("gbk", errors="xmlcharrefreplace"), "text/html; charset=GBK"
    return html.encode("utf-8"), "text/html; charset=utf-8"


def _charset_meta(encoding: str) -> str:
    if encoding == "gbk":
        return '<meta charset="gbk">'
    if encoding == "gb2312-meta":
        return '<meta http-equiv="Content-Type" content="text/html; charset=gb2312">'
    if encoding == "gbk-header":
        return ""
    return '<meta charset="utf-8">'


# ------------------------------------------------------------------------------------------------------------
# 江城晚报网
# ------------------------------------------------------------------------------------------------------------
def _text(pa: PlacedArticle, scenario: Scenario) -> tuple[str, list[str]]:
    """Title and paragraphs, escaped, except on the injection page where they go out raw on purpose."""
    art = pa.article
    paras = [fill(p, pa.published, scenario.start) for p in art.body]
    if art.kind == "xss":
        return art.title, paras
    return escape(art.title), [escape(p) for p in paras]


def news_article(pa: PlacedArticle, scenario: Scenario, related: list[PlacedArticle]) -> str:
    art = pa.article
    title, paras = _text(pa, scenario)
    layout = art.layout % 3
    ad = _ADS[pa.id % len(_ADS)]
    nav = "".join(f'<li><a href="/news/list_1.html">{n}</a></li>' for n in _NAV)
    rel = "".join(f'<li><a href="{r.path}">{escape(r.article.title)}</a></li>' for r in related)
    comments = "".join(
        f'<div class="cmt-item"><span class="cmt-user">{escape(u)}</span><p>{escape(t)}</p></div>'
        for u, t in art.comments
    )
    description = escape(fill(art.summary or (art.body[0] if art.body else ""), pa.published, scenario.start))
    keywords = escape(art.channel)
    body_html = "".join(f"<p>{p}</p>" for p in paras)
    source = escape(art.source)
    editor = escape(art.editor)
    author = f"作者：{escape(art.author)}" if art.author else ""
    head_common = (
        f"{_charset_meta(art.encoding)}<title>{title}_{NEWS_NAME}</title>"
        f'<meta name="keywords" content="{keywords}"><meta name="description" content="{description}">'
    )
    footer = (
        '<div class="footer"><p>江城晚报社主办 版权所有 未经书面授权禁止转载</p>'
        "<p>新闻热线：027-8xxxxxxx 违法和不良信息举报电话：027-8xxxxxxx</p>"
        "<p>鄂ICP备xxxxxxxx号</p></div>"
    )
    if layout == 0:
        return (
            f'<!DOCTYPE html><html lang="zh-CN"><head>{head_common}'
            f'<meta property="og:title" content="{title}">'
            f'<meta property="article:published_time" content="{fmt_iso(pa.published)}">'
            '<link rel="stylesheet" href="/news/static/main.css"></head><body>'
            f'<div class="top-bar"><a href="/news/list_1.html">{NEWS_NAME}</a> | 登录 | 注册</div>'
            f'<ul class="nav">{nav}</ul>'
            f'<div class="crumb"><a href="/news/list_1.html">首页</a> &gt; <a href="/news/list_1.html">'
            f"{escape(art.channel)}</a> &gt; 正文</div>"
            f'<div class="main"><h1 class="title">{title}</h1>'
            f'<div class="info"><span class="time">{fmt_dash(pa.published)}</span>'
            f'<span class="source">来源：{source}</span><span class="author">{author}</span></div>'
            f'<div class="ad ad-banner">{ad}</div>'
            f'<div class="article-content">{body_html}</div>'
            f'<div class="editor">【责任编辑：{editor}】</div>'
            f'<div class="share">分享到：微博 微信 QQ空间</div>'
            f'<div class="related"><h3>相关阅读</h3><ul>{rel}</ul></div>'
            f'<div class="comments"><h3>网友评论</h3>{comments or "<p>暂无评论</p>"}</div>'
            f'</div><div class="sidebar"><div class="ad">{_ADS[(pa.id + 1) % len(_ADS)]}</div></div>'
            f"{footer}</body></html>"
        )
    if layout == 1:
        d = bj(pa.published)
        return (
            '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" '
            '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">'
            f'<html xmlns="http://www.w3.org/1999/xhtml"><head>{head_common}'
            f'<meta name="publishdate" content="{d:%Y-%m-%d}"><meta name="contentid" content="{pa.id}">'
            '<script type="text/javascript">var _hmt = _hmt || [];</script></head><body>'
            f'<table width="100%" class="top"><tr><td><a href="/news/list_1.html">{NEWS_NAME}</a></td>'
            f"<td>{' | '.join(_NAV[:6])}</td></tr></table>"
            '<table width="1000" align="center"><tr><td class="position">您当前的位置 ：'
            f'<a href="/news/list_1.html">{NEWS_NAME}</a> &gt;&gt; {escape(art.channel)}</td></tr>'
            f'<tr><td align="center" class="hei16b"><b>{title}</b></td></tr>'
            f'<tr><td align="center" class="gray12">发布时间：{fmt_cn(pa.published)}　　'
            f"来源：{source}　　{author}　　【字号 大 中 小】</td></tr>"
            f'<tr><td><div id="zoom" class="TRS_Editor"><div class="Custom_UnionStyle">{body_html}'
            f'</div></div></td></tr><tr><td align="right">（编辑：{editor}）</td></tr>'
            f'<tr><td class="ad">{ad}</td></tr>'
            f'<tr><td><b>相关新闻</b><ul>{rel}</ul></td></tr></table>{footer}</body></html>'
        )
    return (
        f'<!doctype html><html lang="zh"><head>{head_common}'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta property="article:published_time" content="{fmt_iso(pa.published)}">'
        f'<meta property="article:author" content="{escape(art.author or art.source)}"></head><body>'
        f'<header class="site-header"><a class="logo" href="/news/list_1.html">{NEWS_NAME}</a>'
        f'<nav>{nav}</nav></header>'
        f'<main><nav class="breadcrumb" aria-label="breadcrumb"><a href="/news/list_1.html">首页</a> / '
        f"<span>{escape(art.channel)}</span></nav>"
        f'<article class="post"><header><h1>{title}</h1><div class="meta">'
        f'<time datetime="{fmt_iso(pa.published)}">{bj(pa.published):%Y/%m/%d %H:%M}</time>'
        f' · <span class="src">{source}</span></div></header>'
        f'<section class="content">{body_html}</section>'
        f'<footer class="post-footer"><span class="editor">责任编辑：{editor}</span></footer></article>'
        f'<aside class="ad-box">{ad}</aside>'
        f'<section class="related"><h2>推荐阅读</h2><ul>{rel}</ul></section>'
        f'<section id="comment-box"><h2>评论</h2>{comments or "<p>快来抢沙发～</p>"}</section></main>'
        f"{footer}</body></html>"
    )


def malformed(html: str) -> str:
    """Cut a page mid-tag and scatter unbalanced markup, as a broken upstream or an aborted write would."""
    cut = html.find("具体标准")
    broken = html[: cut + 4] if cut > 0 else html[: len(html) * 2 // 3]
    return broken.replace("<div class=\"info\">", "<div class=\"info\"><span><b>", 1) + "</span></td><p cla"


def huge_extra(n_rows: int = 17_000) -> str:
    """A procurement table of roughly 3 MB, the kind of page that blows naive memory or time limits."""
    units = ("江城市教育局", "江城市卫生健康委员会", "江城市交通运输局", "江汉区城市管理执法局", "东湖高新区管委会")
    items = ("办公设备采购", "物业管理服务", "信息化运维服务", "道路养护工程", "食堂食材配送", "安保服务")
    rows = []
    for i in range(n_rows):
        rows.append(
            f"<tr><td>{i + 1}</td><td>JC-ZFCG-2026-{i:05d}</td><td>{units[i % 5]}</td>"
            f"<td>{items[i % 6]}（第{i % 12 + 1}包）</td><td>{(i * 7919) % 980 + 20}.00万元</td>"
            f"<td>2026年{i % 12 + 1}月</td><td>公开招标</td></tr>"
        )
    return (
        '<table class="zfcg" border="1"><tr><th>序号</th><th>项目编号</th><th>采购单位</th><th>采购项目</th>'
        "<th>预算金额</th><th>预计采购时间</th><th>采购方式</th></tr>" + "".join(rows) + "</table>"
    )


def news_list(items: list[PlacedArticle], page: int, pages: int) -> str:
    lis = "".join(
        f'<li><span class="ch">[{escape(a.article.channel)}]</span>'
        f'<a href="{a.path}" target="_blank">{escape(a.article.title)}</a>'
        f'<span class="date">{bj(a.published):%m-%d %H:%M}</span></li>'
        for a in items
    )
    nav = []
    if page > 1:
        nav.append(f'<a href="/news/list_{page - 1}.html" class="prev">上一页</a>')
    for p in range(1, pages + 1):
        nav.append(f"<span>{p}</span>" if p == page else f'<a href="/news/list_{p}.html">{p}</a>')
    if page < pages:
        nav.append(f'<a href="/news/list_{page + 1}.html" class="next">下一页</a>')
    return (
        f'<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>滚动新闻_{NEWS_NAME}</title>'
        '<link rel="alternate" type="application/rss+xml" href="/news/rss.xml"></head><body>'
        f'<div class="header"><a href="/news/list_1.html">{NEWS_NAME}</a></div>'
        f'<div class="crumb">首页 &gt; 滚动新闻</div><ul class="news-list">{lis}</ul>'
        f'<div class="pager">{" ".join(nav)}</div>'
        '<div class="friend-links"><a href="/province/">楚江网</a> <a href="/regulator/list.html">金融监管</a></div>'
        "</body></html>"
    )


# ------------------------------------------------------------------------------------------------------------
# 楚江网
# ------------------------------------------------------------------------------------------------------------
def province_article(pa: PlacedArticle, scenario: Scenario) -> str:
    art = pa.article
    title, paras = _text(pa, scenario)
    body = "".join(f'<p style="text-indent:2em;">{p}</p>' for p in paras)
    d = bj(pa.published)
    return (
        f'<!DOCTYPE html><html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8">'
        f"<title>{title} - {PROVINCE_NAME}</title>"
        f'<meta name="author" content="{escape(art.author or PROVINCE_NAME)}">'
        f'<meta name="pubdate" content="{d:%Y-%m-%d %H:%M:%S}"></head><body>'
        f'<div id="hd"><div class="logo">{PROVINCE_NAME} · 湖北重点新闻网站</div>'
        '<div class="menu">首页 | 湖北 | 江城 | 财经 | 民生 | 文娱 | 视听</div></div>'
        f'<div class="main-wrap"><div class="l-content"><div class="pos">当前位置：{PROVINCE_NAME} &gt; '
        f"{escape(art.channel)}</div>"
        f'<h2 class="art-title">{title}</h2>'
        f'<p class="art-meta">{PROVINCE_NAME} {d:%Y/%m/%d %H:%M:%S} 来源：{escape(art.source)}'
        f"{'　记者：' + escape(art.author) if art.author else ''}</p>"
        f'<div id="artibody" class="art-body">{body}</div>'
        f'<p class="art-editor">[责编：{escape(art.editor)}]</p></div>'
        '<div class="r-side"><h4>24小时热榜</h4><ol><li>全省天然气保供工作部署会召开</li>'
        "<li>寒潮过后 全省气温逐步回升</li></ol></div></div>"
        f'<div id="ft">{PROVINCE_NAME}版权所有 Copyright © 2026</div></body></html>'
    )


# ------------------------------------------------------------------------------------------------------------
# feeds
# ------------------------------------------------------------------------------------------------------------
def feed_etag(items: list) -> str:  # type: ignore[type-arg]
    digest = hashlib.sha1(",".join(str(i.id) for i in items).encode()).hexdigest()[:20]
    return f'"{digest}"'


def rss(channel_title: str, link: str, description: str, items: list[PlacedArticle], base: str,
        scenario: Scenario, now: datetime) -> str:
    parts = []
    for a in items:
        summary = fill(a.article.summary or (a.article.body[0] if a.article.body else ""), a.published,
                       scenario.start)
        parts.append(
            f"<item><title>{xml_escape(a.article.title)}</title><link>{base}{a.path}</link>"
            f'<guid isPermaLink="true">{base}{a.path}</guid>'
            f"<pubDate>{fmt_rfc822(a.published)}</pubDate>"
            f"<category>{xml_escape(a.article.channel)}</category>"
            f"<description>{xml_escape(summary)}</description></item>"
        )
    last = items[0].published if items else scenario.start - timedelta(days=7)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>'
        f"<title>{xml_escape(channel_title)}</title><link>{base}{link}</link>"
        f"<description>{xml_escape(description)}</description><language>zh-cn</language>"
        f"<lastBuildDate>{fmt_rfc822(last)}</lastBuildDate><ttl>5</ttl>"
        + "".join(parts)
        + "</channel></rss>\n"
    )


def news_sitemap(items: list[PlacedArticle], base: str) -> str:
    urls = "".join(
        f"<url><loc>{base}{a.path}</loc><news:news><news:publication><news:name>{NEWS_NAME}</news:name>"
        f"<news:language>zh</news:language></news:publication>"
        f"<news:publication_date>{fmt_iso(a.published)}</news:publication_date>"
        f"<news:title>{xml_escape(a.article.title)}</news:title></news:news></url>"
        for a in items
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
        'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">' + urls + "</urlset>\n"
    )


# ------------------------------------------------------------------------------------------------------------
# complaints, regulator, weibo
# ------------------------------------------------------------------------------------------------------------
def complaint_detail(pc: PlacedComplaint, scenario: Scenario, now: datetime) -> str:
    c = pc.complaint
    status, progress = pc.state(now)
    steps = "".join(
        f'<li><span class="t">{fmt_dash(t)}</span><b>{escape(s)}</b><p>{escape(note)}</p></li>'
        for t, s, note in progress
    )
    return (
        f'<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>{escape(c.title)}_投诉平台</title>'
        f'</head><body><div class="hd">黑猫式消费投诉平台</div><div class="complaint">'
        f'<h1 class="title">{escape(c.title)}</h1>'
        f'<div class="meta"><span class="user">{escape(c.author)}</span>'
        f'<span class="time">{fmt_dash(pc.published)}</span><span class="status">{escape(status)}</span></div>'
        f'<ul class="fields"><li><b>投诉编号：</b>{pc.id}</li><li><b>投诉对象：</b>{escape(c.target)}</li>'
        f"<li><b>投诉问题：</b>{escape(c.title[:12])}</li><li><b>投诉要求：</b>{escape(c.demand)}</li>"
        f"<li><b>涉诉金额：</b>{escape(c.amount)}</li><li><b>投诉进度：</b>{escape(status)}</li></ul>"
        f'<div class="content">{escape(fill(c.content, pc.published, scenario.start))}</div>'
        f'<ul class="progress">{steps}</ul></div></body></html>'
    )


def complaint_json(pc: PlacedComplaint, scenario: Scenario, now: datetime, base: str) -> dict[str, object]:
    c = pc.complaint
    status, _ = pc.state(now)
    return {
        "id": pc.id,
        "title": c.title,
        "content": fill(c.content, pc.published, scenario.start),
        "target": c.target,
        "demand": c.demand,
        "amount": c.amount,
        "status": status,
        "created_at": fmt_iso(pc.published),
        "url": f"{base}{pc.path}",
    }


def regulator_list(items: list[PlacedPenalty]) -> str:
    rows = "".join(
        f'<tr><td>{n}</td><td class="name"><a href="{p.path}" target="_blank">'
        f"{REGULATOR_NAME}行政处罚信息公开表（{escape(p.penalty.doc_no)}）</a></td>"
        f"<td>{bj(p.published):%Y-%m-%d}</td></tr>"
        for n, p in enumerate(items, 1)
    )
    return (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>行政处罚_{REGULATOR_NAME}</title></head><body>'
        f'<div class="header">{REGULATOR_NAME}</div><div class="crumb">首页 &gt; 政务信息 &gt; 行政处罚</div>'
        '<table class="list" width="100%"><thead><tr><th>序号</th><th>标题</th><th>发布日期</th></tr></thead>'
        f"<tbody>{rows}</tbody></table></body></html>"
    )


def regulator_detail(pp: PlacedPenalty) -> str:
    p = pp.penalty
    d = bj(pp.published)
    cells = [
        ("行政处罚决定书文号", p.doc_no),
        ("被处罚当事人姓名或名称", p.party),
        ("当事人名称", p.party),
        ("法定代表人（主要负责人）姓名", p.legal_rep or "—"),
        ("主要违法违规事实（案由）", p.facts),
        ("行政处罚依据", "《中华人民共和国银行业监督管理法》等相关法律法规"),
        ("行政处罚内容", p.punishment),
        ("作出处罚决定的机关名称", p.authority),
        ("作出决定机关", p.authority),
        ("作出处罚决定的日期", f"{d.year}年{d.month}月{d.day}日"),
        ("作出决定日期", f"{d.year}年{d.month}月{d.day}日"),
    ]
    rows = "".join(f"<tr><td class=\"k\">{escape(k)}</td><td>{escape(v)}</td></tr>" for k, v in cells)
    return (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{REGULATOR_NAME}行政处罚信息公开表'
        f"（{escape(p.doc_no)}）</title></head><body><div class=\"header\">{REGULATOR_NAME}</div>"
        f'<h2>{REGULATOR_NAME}行政处罚信息公开表（{escape(p.doc_no)}）</h2>'
        f'<div class="pubtime">发布时间：{d:%Y-%m-%d}</div>'
        f'<table class="penalty" border="1" cellspacing="0">{rows}</table></body></html>'
    )


def weibo_user(u) -> dict[str, object]:  # type: ignore[no-untyped-def]
    return {
        "id": u.id,
        "idstr": str(u.id),
        "screen_name": u.screen_name,
        "followers_count": u.followers_count,
        "verified": u.verified,
        "verified_type": u.verified_type,
        "description": u.description,
        "location": u.location,
    }


def weibo_json(pp: PlacedPost, scenario: Scenario, now: datetime, base: str, *, nested: bool = True
               ) -> dict[str, object]:
    age = (now - pp.published).total_seconds() / 60
    reposts, comments, likes = pp.growth.at_age(age)
    text = fill(pp.text, pp.published, scenario.start)
    if pp.post.video:
        text += " 视频"
    out: dict[str, object] = {
        "id": str(pp.id),
        "idstr": str(pp.id),
        "mid": str(pp.id),
        "text": text,
        "created_at": fmt_weibo(pp.published),
        "source": "微博 weibo.com",
        "user": weibo_user(pp.user),
        "reposts_count": reposts,
        "comments_count": comments,
        "attitudes_count": likes,
        "pic_num": pp.post.pic_num,
        "page_url": f"{base}{pp.path}",
    }
    if pp.post.video:
        out["page_info"] = {"type": "video", "page_title": "视频", "media_info": {"duration": 58}}
    if nested and pp.root_key is not None:
        out["retweeted_status"] = weibo_json(scenario.post_by_key(pp.root_key), scenario, now, base, nested=False)
    return out


def weibo_page(pp: PlacedPost, scenario: Scenario, now: datetime) -> str:
    if scenario.is_deleted(pp, now):  # what the platform shows in place of a post taken down
        return ('<!DOCTYPE html><html><head><meta charset="utf-8"><title>微博</title></head>'
                '<body><div class="card"><p class="deleted">该微博已被删除</p></div></body></html>')
    data = weibo_json(pp, scenario, now, "")
    rt = data.get("retweeted_status")
    rt_html = ""
    if isinstance(rt, dict):
        rt_user = rt["user"]["screen_name"]  # type: ignore[index]
        rt_html = f'<div class="retweet"><b>@{escape(str(rt_user))}</b>：{escape(str(rt["text"]))}</div>'
    u = pp.user
    badge = '<i class="v">V</i>' if u.verified else ""
    return (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{escape(u.screen_name)}的微博</title></head>'
        f'<body><div class="card"><div class="user">{escape(u.screen_name)}'
        f"{badge}</div>"
        f'<div class="time">{fmt_dash(pp.published)}</div><div class="text">{escape(str(data["text"]))}</div>'
        f"{rt_html}<div class=\"counts\">转发 {data['reposts_count']} 评论 {data['comments_count']} "
        f"赞 {data['attitudes_count']}</div></div></body></html>"
    )
