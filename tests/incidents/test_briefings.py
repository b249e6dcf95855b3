"""Briefings for leadership: the 舆情专报 (初报 / 续报 / 终报) and the 舆情日报 / 舆情周报 in HTML, PDF and DOCX.

Content is checked the way a reader gets it: ``pdftotext -enc UTF-8`` on the PDF and the DOCX's own XML. Every PDF
page is also rendered to PNG (``pdftoppm``) under ``var/test-output/briefings/<test>/`` (or
``$YUQING_TEST_OUTPUT``) so a person can look at what the tests produced.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import zipfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from incidents.briefings import service
from incidents.briefings.extract import main_opinions, sentences
from incidents.briefings.gather import Item
from incidents.briefings.masking import Masker, mask_name
from incidents.briefings.render_html import is_safe_url
from incidents.briefings.service import parse_week
from tests.incidents.briefing_case import CARD, COMPLAINANT, HOSTILE_URL, ID_NUMBER, PHONE, START, make_case
from yuqing.clock import FrozenClock
from yuqing.db import make_sessionmaker
from yuqing.settings import PROJECT_ROOT

needs_poppler = pytest.mark.skipif(shutil.which("pdftotext") is None or shutil.which("pdftoppm") is None,
                                   reason="poppler-utils missing (scripts/system-deps.sh installs it)")
CASE_DAY = date(2026, 11, 23)


@pytest.fixture
def out_dir(request) -> Path:
    base = Path(os.environ.get("YUQING_TEST_OUTPUT", PROJECT_ROOT / "var" / "test-output")) / "briefings"
    path = base / re.sub(r"[^\w.-]+", "_", request.node.name)
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


@pytest.fixture
def case_clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def sqlite_session(sqlite_engine):
    with make_sessionmaker(sqlite_engine)() as s:
        yield s


def pdf_pages(pdf: bytes, out: Path, name: str) -> tuple[str, list[Path]]:
    """The PDF's text (pdftotext) and one PNG per page (pdftoppm) under ``out``."""
    path = out / f"{name}.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True,
                          check=True).stdout.decode("utf-8")
    subprocess.run(["pdftoppm", "-r", "70", "-png", str(path), str(out / name)], check=True)
    return text, sorted(out.glob(f"{name}-*.png"))


def docx_xml(data: bytes, out: Path, name: str) -> str:
    path = out / f"{name}.docx"
    path.write_bytes(data)
    with zipfile.ZipFile(path) as z:
        return z.read("word/document.xml").decode("utf-8")


def docx_text(xml: str) -> str:
    return "".join(re.findall(r"<w:t[^>]*>([^<]*)</w:t>", xml))


# --- the 专报 ------------------------------------------------------------------------------------------------------

@needs_poppler
def test_incident_briefing_initial_follow_up_and_final_in_pdf_docx_and_html(sqlite_session, org, policy,
                                                                             case_clock, out_dir):
    case = make_case(sqlite_session, org=org, policy=policy, clock=case_clock)
    inc = case.incident
    initial = service.incident_briefing(sqlite_session, incident_id=inc.id, kind="initial", org=org, policy=policy,
                                        now=case_clock.now())
    follow = service.incident_briefing(sqlite_session, incident_id=inc.id, kind="follow_up", org=org,
                                       policy=policy, now=case_clock.now())
    assert len(initial.summary) <= 200
    assert follow.title == "舆情专报（续报（第1期））" and follow.number.endswith("-XB1")

    text, pages = pdf_pages(service.render(initial, "pdf"), out_dir, "initial")
    flat = re.sub(r"\s+", "", text)
    for heading in ("舆情专报（初报）", "摘要", "一、事件概况", "二、传播情况", "三、主要观点", "四、风险研判",
                    "五、处置情况", "六、下一步建议", "附件：信息来源"):
        assert heading in flat, heading
    assert "示例银行江城分行新华路网点" in flat and "II级（重大）" in flat and inc.number in flat
    assert "共监测到相关信息8条" in flat  # the figures: 8 items, by source type
    assert "新闻1条、社交媒体6条、投诉平台1条" in flat
    assert "江城分行官方微博" in flat and "确认知悉" in flat  # statement published, leader informed
    assert "七旬老人在示例银行新华路网点取自己的5万元养老钱被拒" in flat  # an extracted sentence …
    assert case.articles[1].content_hash[:12] in flat  # … citing its evidence hash
    assert case.articles[1].content_hash[:18] in flat  # the attachments give the whole hash (wrapped)
    assert pages and all(p.stat().st_size > 5000 for p in pages)

    xml = docx_xml(service.render(follow, "docx"), out_dir, "follow_up")
    assert 'w:val="Title"' in xml and xml.count('w:val="Heading1"') >= 8  # real headings
    assert xml.count("<w:tbl>") >= 4 and "w:tblHeader" in xml  # real tables, header rows repeated
    body = docx_text(xml)
    assert "舆情专报（续报（第1期））" in body and "示例银行江城分行新华路网点" in body
    assert "自上次报送" in body and "新增相关信息" in body
    assert case.articles[1].content_hash in body  # the full evidence hash in the attachments
    assert "<w:hyperlink" in xml and "<w:drawing>" in xml  # cited links and the chart picture

    html = service.render(initial, "html").decode()
    (out_dir / "initial.html").write_text(html, encoding="utf-8")
    assert "<svg" in html and "升为II级" in html and "立案III级" in html  # level changes marked on the chart


@needs_poppler
def test_final_report_after_closing_says_how_it_ended(sqlite_session, org, policy, case_clock, out_dir):
    case = make_case(sqlite_session, org=org, policy=policy, clock=case_clock, close=True)
    final = service.incident_briefing(sqlite_session, incident_id=case.incident.id, kind="final", org=org,
                                      policy=policy, now=case_clock.now())
    text, pages = pdf_pages(service.render(final, "pdf"), out_dir, "final")
    flat = re.sub(r"\s+", "", text)
    assert "舆情专报（终报）" in flat and "七、结案与复盘" in flat and "客户已取款，网点负责人当面致歉。" in flat
    assert "已结案" in flat and pages


def test_briefing_as_of_a_moment_reads_nothing_later(sqlite_session, org, policy, case_clock):
    case = make_case(sqlite_session, org=org, policy=policy, clock=case_clock)
    early = service.incident_briefing(sqlite_session, incident_id=case.incident.id, kind="initial", org=org,
                                      policy=policy, now=START + timedelta(hours=1))
    plain = early.plain_text()
    assert "共监测到相关信息2条" in plain  # the complaint and the Weibo post were fetched by 10:00
    assert "III级（较大）" in plain and "II级（重大）" not in plain  # raised to II only at 11:30
    assert "江城分行官方微博" not in plain  # the statement came later


# --- masking and hostile text ------------------------------------------------------------------------------------

def test_complainants_personal_data_is_masked_in_every_format(sqlite_session, org, policy, case_clock, out_dir):
    case = make_case(sqlite_session, org=org, policy=policy, clock=case_clock)
    briefing = service.incident_briefing(sqlite_session, incident_id=case.incident.id, kind="initial", org=org,
                                         policy=policy, now=case_clock.now())
    daily = service.daily_report(sqlite_session, day=CASE_DAY, org=org, policy=policy, now=case_clock.now()).briefing
    outputs = {"plain": briefing.plain_text(), "html": service.render(briefing, "html").decode(),
               "docx": docx_text(docx_xml(service.render(briefing, "docx"), out_dir, "masked")),
               "daily": service.render(daily, "html").decode()}
    for name, text in outputs.items():
        for secret in (COMPLAINANT, PHONE, ID_NUMBER, CARD):
            assert secret not in text, (name, secret)
    assert "张**" in outputs["plain"] and "138****5678" in outputs["plain"]
    assert "江城晚报" in outputs["plain"] or "jcwb-rss" in outputs["plain"]  # sources are not masked
    unmasked = service.incident_briefing(sqlite_session, incident_id=case.incident.id, kind="initial", org=org,
                                         policy=policy, now=case_clock.now(), mask=False)
    assert PHONE in unmasked.plain_text()  # masking is what hid it


def test_hostile_crawled_text_is_escaped_and_never_a_link(sqlite_session, org, policy, case_clock):
    case = make_case(sqlite_session, org=org, policy=policy, clock=case_clock)
    briefing = service.incident_briefing(sqlite_session, incident_id=case.incident.id, kind="initial", org=org,
                                         policy=policy, now=case_clock.now())
    html = service.render(briefing, "html").decode()
    assert "<script" not in html.lower() and "<img" not in html.lower()
    assert "&lt;script&gt;" in html
    assert f'href="{HOSTILE_URL}' not in html and "href=\"javascript" not in html.lower()
    assert HOSTILE_URL in html  # shown as text in the attachments
    daily = service.render(service.daily_report(sqlite_session, day=CASE_DAY, org=org, policy=policy,
                                                now=case_clock.now()).briefing, "html").decode()
    assert "<script" not in daily.lower() and "<img" not in daily.lower()


# --- daily and weekly --------------------------------------------------------------------------------------------

@needs_poppler
def test_daily_report_of_the_case_day(sqlite_session, org, policy, case_clock, out_dir):
    make_case(sqlite_session, org=org, policy=policy, clock=case_clock)
    report = service.daily_report(sqlite_session, day=CASE_DAY, org=org, policy=policy, now=case_clock.now())
    text, pages = pdf_pages(service.render(report.briefing, "pdf"), out_dir, "daily")
    flat = re.sub(r"\s+", "", text)
    for heading in ("舆情日报", "2026年11月23日", "一、总体情况", "二、声量与情感走势", "三、热点舆情",
                    "四、分单位情况", "五、事件情况", "六、时限执行", "七、投诉情况", "八、信源健康"):
        assert heading in flat, heading
    assert "本期共监测到相关信息8条" in flat and "负面7条" in flat
    assert "新华路网点" in flat and "新立事件1起" in flat
    assert "投诉平台渠道提及1条" in flat and "尚未建立投诉工单台账" in flat  # honest about complaints
    assert "确认预警" in flat and "100.0%" in flat  # acknowledged on time
    assert "weibo" in flat  # source health
    assert report.incident_ids == []  # a level II case is not told to leadership by the daily report
    assert len(pages) >= 2


def test_daily_report_lists_level_three_cases_for_leadership(sqlite_session, org, policy, case_clock):
    case = make_case(sqlite_session, org=org, policy=policy, clock=case_clock)
    from incidents import flows

    flows.change_level(sqlite_session, incident_id=case.incident.id, new_level="III", reason="传播已回落",
                       user_login="liuqiang", org=org, policy=policy, clock=case_clock)
    sqlite_session.commit()
    report = service.daily_report(sqlite_session, day=CASE_DAY, org=org, policy=policy, now=case_clock.now())
    assert report.incident_ids == [case.incident.id]
    assert "九、提请领导知悉" in report.briefing.plain_text()


@needs_poppler
def test_an_empty_day_gives_a_correct_report_saying_so(sqlite_session, org, policy, case_clock, out_dir):
    make_case(sqlite_session, org=org, policy=policy, clock=case_clock)
    report = service.daily_report(sqlite_session, day=date(2026, 11, 20), org=org, policy=policy,
                                  now=case_clock.now())
    text, pages = pdf_pages(service.render(report.briefing, "pdf"), out_dir, "empty-day")
    flat = re.sub(r"\s+", "", text)
    assert "舆情日报" in flat and "2026年11月20日" in flat
    assert "未监测到涉及示例银行江城分行的舆情信息" in flat and "本期无热点舆情" in flat
    assert "“未发现”不等于“未抓取”" in flat and "八、信源健康" in flat
    assert pages
    docx = docx_text(docx_xml(service.render(report.briefing, "docx"), out_dir, "empty-day"))
    assert "本期无数据" in docx or "未监测到" in docx


def test_weekly_report_counts_the_week(sqlite_session, org, policy, case_clock, out_dir):
    make_case(sqlite_session, org=org, policy=policy, clock=case_clock)
    report = service.weekly_report(sqlite_session, year=2026, week=48, org=org, policy=policy, now=case_clock.now())
    plain = report.briefing.plain_text()
    assert "舆情周报" in plain and "2026年第48周（11月23日—11月29日）" in plain
    assert "本期共监测到相关信息8条" in plain and "上周0条" in plain
    xml = docx_xml(service.render(report.briefing, "docx"), out_dir, "weekly")
    assert 'w:val="Heading1"' in xml and "示例银行江城分行" in docx_text(xml)
    (out_dir / "weekly.html").write_bytes(service.render(report.briefing, "html"))


def test_period_reports_on_both_databases(session_factory, org, policy, case_clock):
    with session_factory() as session:
        make_case(session, org=org, policy=policy, clock=case_clock)
        assert service.latest_day(session, case_clock.now()) == CASE_DAY
        assert service.latest_week(session, case_clock.now()) == (2026, 48)
        daily = service.daily_report(session, day=CASE_DAY, org=org, policy=policy, now=case_clock.now())
        assert "本期共监测到相关信息8条" in daily.briefing.plain_text()
        before = service.daily_report(session, day=CASE_DAY - timedelta(days=1), org=org, policy=policy,
                                      now=case_clock.now())
        assert "未监测到" in before.briefing.plain_text()


# --- the command -------------------------------------------------------------------------------------------------

def test_yuqing_report_commands_write_each_format(sqlite_engine, org, policy, case_clock, tmp_path, monkeypatch):
    from runner.cli import app

    with make_sessionmaker(sqlite_engine)() as session:
        case = make_case(session, org=org, policy=policy, clock=case_clock)
        incident_id = case.incident.id
    monkeypatch.setenv("YUQING_DATABASE_URL", str(sqlite_engine.url))
    runner = CliRunner()
    obj = {"clock": FrozenClock(START + timedelta(hours=6))}
    out = runner.invoke(app, ["report", "incident", str(incident_id), "--kind", "follow_up", "--format", "docx",
                              "--out", str(tmp_path / "xb.docx")], obj=obj)
    assert out.exit_code == 0, out.output
    assert zipfile.is_zipfile(tmp_path / "xb.docx") and "舆情专报（续报（第1期））" in out.output
    out = runner.invoke(app, ["report", "daily", "--format", "html", "--out", str(tmp_path / "d.html")], obj=obj)
    assert out.exit_code == 0, out.output
    assert "2026年11月23日" in (tmp_path / "d.html").read_text(encoding="utf-8")  # the latest day with data
    out = runner.invoke(app, ["report", "weekly", "--week", "2026-W48", "--out", str(tmp_path / "w.html")], obj=obj)
    assert out.exit_code == 0 and "2026年第48周" in (tmp_path / "w.html").read_text(encoding="utf-8")
    bad = runner.invoke(app, ["report", "weekly", "--week", "2026-48"], obj=obj)
    assert bad.exit_code == 2 and "YYYY-Www" in bad.output
    missing = runner.invoke(app, ["report", "incident", "999", "--out", str(tmp_path / "x.html")], obj=obj)
    assert missing.exit_code == 1 and "事件不存在" in missing.output


# --- the pieces --------------------------------------------------------------------------------------------------

def test_masker_masks_numbers_cued_names_and_known_complainants():
    m = Masker(["李晓红", "刘女士"])
    text = m.mask("投诉人：王小明，电话13912345678，我叫赵四。李晓红说卡号6222021234567890123被扣款。刘女士也在。")
    assert "王小明" not in text and "王**" in text and "赵*" in text and "李**" in text
    assert "139****5678" in text and "6222021234567890123" not in text and "刘女士" in text
    assert mask_name("欧阳小明") == "欧***" and mask_name("王先生") == "王先生"
    assert Masker(enabled=False).mask("13912345678") == "13912345678"


def test_sentences_and_main_opinions_are_cut_from_the_text():
    assert sentences("第一句话说得很清楚。短。http://x.example/a 第三句话也说得很清楚！") == \
        ["第一句话说得很清楚。", "第三句话也说得很清楚！"]
    now = datetime(2026, 11, 23, tzinfo=UTC)

    def item(i: int, text: str, author: str = "网友") -> Item:
        return Item(id=i, title="", text=text, url=f"https://x.example/{i}", source_id="weibo", channel="social",
                    author=author, published_at=now + timedelta(minutes=i), fetched_at=now, evidence_hash=f"{i:064x}",
                    metrics={}, unit_id="xinhualu", label="negative", story_id=1)

    items = [item(1, "取自己的钱还要预约，银行服务太差了。"), item(2, "取自己的钱还要预约，太离谱了。"),
             item(3, "取自己的钱还要预约，银行服务太差。"), item(4, "老人在柜台前急得直掉眼泪。"),
             item(5, "我行高度重视，已与客户联系。", author="示例银行江城分行")]
    picks = main_opinions(items, exclude_authors=["示例银行"])
    texts = [p.text for p in picks]
    assert all(any(t in i.text for i in items) for t in texts)  # nothing that is not in the mentions
    assert "我行高度重视，已与客户联系。" not in texts  # the bank's own voice is no opinion
    assert picks[0].support >= 2 and "预约" in picks[0].text


def test_links_parse_weeks():
    assert is_safe_url("https://a.example/x") and not is_safe_url("javascript:alert(1)")
    assert not is_safe_url("//a.example") and not is_safe_url('https://a.example/"onmouseover=')
    assert parse_week("2026-W48") == (2026, 48) and parse_week("2026w01") == (2026, 1)
    with pytest.raises(ValueError):
        parse_week("2026-48")
