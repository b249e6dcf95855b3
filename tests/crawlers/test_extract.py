"""Extraction and decoding on pages shaped like the real Chinese web (fixtures hand-written for these tests)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

from crawlers.encoding import decode_html, normalise_charset
from crawlers.extract import MAX_INPUT_BYTES, extract_html, parse_datetime, strip_site_suffix

FIXTURES = Path(__file__).parent / "fixtures"


def load(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- decoding --------------------------------------------------------------------------------------------------------
def test_gbk_family_is_read_as_gb18030():
    for name in ("gbk", "GB2312", "x-gbk", "cp936", "GBK"):
        assert normalise_charset(name) == "gb18030"
    assert normalise_charset("no-such-codec") is None


def test_gbk_bytes_behind_a_utf8_header_are_detected():
    text, enc = decode_html(load("wrong_header_gbk.html"), "text/html; charset=UTF-8")
    assert enc == "gb18030"
    assert "示例银行中南路营业厅" in text


def test_gbk_bytes_without_any_declaration_are_sniffed():
    body = "<p>示例银行新华路营业厅取款难，储户排队两小时</p>".encode("gbk")
    text, enc = decode_html(body, None)
    assert enc == "gb18030" and "取款难" in text


def test_utf8_bytes_under_a_stale_gbk_meta_stay_utf8():
    body = '<meta charset="gb2312"><p>示例银行光明路支行系统升级</p>'.encode()
    text, enc = decode_html(body, "text/html; charset=iso-8859-1")
    assert enc == "utf-8" and "光明路支行" in text


def test_bom_wins_and_bad_bytes_never_raise():
    assert decode_html("示例".encode("utf-8-sig"), "text/html; charset=gbk") == ("示例", "utf-8")
    assert decode_html("\ufeff示例".encode("utf-16-le")) == ("示例", "utf-16-le")
    text, _ = decode_html(b"\xfa\x80abc\xff" * 10, "text/html; charset=utf-8")
    assert "abc" in text


# --- extraction fixtures ---------------------------------------------------------------------------------------------
def test_portal_news_page_keeps_article_and_drops_nav_ads_comments_scripts():
    e = extract_html(load("portal_news.html"), url="https://www.jcwb.example.cn/news/2026/1123/1.html")
    assert e.title == "示例银行新华路营业厅排长队 储户称取钱难"
    assert e.published_at == utc(2026, 11, 23, 1, 15)  # 09:15 Beijing time
    assert e.published_at.tzinfo is not None
    assert e.author == "李明"
    assert e.encoding == "utf-8"
    assert "示例银行新华路营业厅门前排起了长队" in e.text
    assert "恢复正常服务" in e.text
    for junk in ("评论区刷屏广告XYZ", "评论区第二条无关内容QWE", "TRACKER-7781", "SCRIPTED", "ad-box",
                 "点击领取低息贷款广告", "版权所有"):
        assert junk not in e.text
    assert e.to_json() == {"title": e.title, "published_at": "2026-11-23T01:15:00+00:00", "author": "李明",
                           "text": e.text}


def test_gbk_page_with_chinese_date_and_reporter_byline():
    e = extract_html(load("gbk_news.html"))
    assert e.encoding == "gb18030"
    assert e.title == "示例银行江城分行回应“取款难”：系统升级已完成"  # " - 楚江网" stripped
    assert e.published_at == utc(2026, 11, 23, 1, 15)  # 2026年11月23日 09:15 Asia/Shanghai
    assert e.author == "王芳"
    assert "示例银行新华路营业厅取款难" in e.text
    assert "喆、堃、昇" in e.text  # rare characters survive because GBK is read as GB18030


def test_gb2312_meta_only_page_prefers_og_title_and_iso_offset_time():
    e = extract_html(load("gb2312_meta_only.html"))
    assert e.encoding == "gb18030"
    assert e.title == "示例银行高新区支行理财产品亏损 投资者讨说法"  # og:title, not the h1 logo or <title>
    assert e.published_at == utc(2026, 11, 23, 1, 15)
    assert e.author == "张伟"
    assert "保本保收益" in e.text


def test_page_whose_header_charset_is_wrong():
    e = extract_html(load("wrong_header_gbk.html"), content_type="text/html; charset=utf-8")
    assert e.encoding == "gb18030"
    assert e.title == "示例银行中南路营业厅服务态度差遭投诉"
    assert e.published_at == utc(2026, 11, 22, 10, 30)
    assert e.author == "江城晚报"
    assert "柜员态度冷漠" in e.text
    assert "\ufffd" not in e.text


def test_truncated_html_cut_inside_a_character():
    e = extract_html(load("truncated.html"))
    assert e.title == "示例银行滨江支行被指暴力催收"
    assert e.published_at == utc(2026, 11, 23, 13, 40, 5)
    assert e.author is None  # "记者就此联系" is not a byline
    assert e.text.endswith("截至发稿")
    assert "\ufffd" not in e.text


def test_weibo_like_mobile_page_gets_a_title_from_the_post_and_a_relative_time():
    now = utc(2026, 11, 23, 4, 0)  # 12:00 Beijing time; the page says "今天 09:15"
    e = extract_html(load("weibo_mobile.html"), url="https://m.weibo.example/detail/5012345678901234", now=now)
    assert e.title.startswith("示例银行光明路支行今天又系统故障了")
    assert e.published_at == utc(2026, 11, 23, 1, 15)
    assert "排了两个小时队都办不了业务" in e.text
    assert "RENDER-DATA-JSON" not in e.text
    # without a reference time, a relative time is not guessed
    assert extract_html(load("weibo_mobile.html")).published_at is None


def test_script_injection_stays_inert_plain_text():
    e = extract_html(load("script_injection.html"))
    assert e.title == "示例银行公告"
    assert "<" not in e.title and "alert" not in e.title
    assert e.author == "江城网"  # markup in meta content is stripped
    assert e.published_at == utc(2026, 11, 23, 1, 15)
    # the article quotes markup as text (escaped in the source): it stays text, for consumers to escape
    assert "<script>alert(1)</script> 字样" in e.text
    for leaked in ("INJECTED-PARAGRAPH", "document.cookie", "onerror", "javascript:", "background", "evil.example",
                   "NOSCRIPT-TEXT"):
        assert leaked not in e.text
    assert "谨防诈骗" in e.text and "感谢理解与支持" in e.text


def test_empty_and_garbage_input_give_a_clear_empty_result():
    for raw in (b"", "", "   \n", b"\xff" * 200, b"<html", b"\x00\x00\x00"):
        e = extract_html(raw)
        assert e.title == "" and e.text == "" and e.published_at is None and e.author is None
        assert e.to_json() == {"title": "", "published_at": None, "author": None, "text": ""}
    e = extract_html(b"\x00\xff\xfe garbage \x80\x81")
    assert e.text == "garbage"


def test_three_megabyte_page_is_capped_and_still_extracted():
    para = "<p>" + "示例银行网点服务正文内容，" * 20 + "</p>\n"
    head = ('<html><head><meta charset="utf-8"><title>大页面测试_江城网</title></head><body>'
            '<div class="article"><h1>大页面测试</h1><p>发布时间：2026-11-23 09:15</p>'
            "<p>这是正文的第一段，讲述示例银行光明路支行的故事。</p>")
    body = (head + para * 4000 + "</div></body></html>").encode()
    assert len(body) > 3_000_000
    started = time.monotonic()
    e = extract_html(body)
    assert time.monotonic() - started < 6
    assert e.title == "大页面测试"
    assert e.published_at == utc(2026, 11, 23, 1, 15)
    assert "示例银行光明路支行的故事" in e.text
    assert len(e.text) <= MAX_INPUT_BYTES


def test_str_input_has_no_encoding_and_naive_times_of_non_chinese_pages_are_utc():
    e = extract_html('<html><head><meta name="pubdate" content="2026-11-23 09:15"><title>Bank news</title>'
                     "</head><body><p>An English article about branch queues in the city.</p></body></html>")
    assert e.encoding is None
    assert e.title == "Bank news"
    assert e.published_at == utc(2026, 11, 23, 9, 15)


def test_title_suffix_and_datetime_helpers():
    assert strip_site_suffix("示例银行网点排长队_江城新闻_江城晚报网") == "示例银行网点排长队"
    assert strip_site_suffix("示例银行回应 - 楚江网") == "示例银行回应"
    assert strip_site_suffix("单个标题") == "单个标题"
    assert parse_datetime("2026-11-23T09:15:00+08:00") == utc(2026, 11, 23, 1, 15)
    assert parse_datetime("2026年11月23日 09时15分") == utc(2026, 11, 23, 1, 15)
    assert parse_datetime("2026/11/23 09:15") == utc(2026, 11, 23, 1, 15)
    assert parse_datetime("1795012500") == datetime.fromtimestamp(1795012500, UTC)
    assert parse_datetime("not a date") is None
