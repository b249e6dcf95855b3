"""Source configuration: the shipped file loads, and every mistake names the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawlers.sources import SourceConfig, load_sources
from yuqing.errors import ConfigError
from yuqing.settings import PROJECT_ROOT

SHIPPED = PROJECT_ROOT / "config" / "sources.yaml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(exc: pytest.ExceptionInfo[ConfigError]) -> dict[str, str]:
    return dict(exc.value.problems)


def test_shipped_sources_describe_every_sim_site_without_secrets() -> None:
    sources = load_sources(SHIPPED, {"SIM_BASE": "http://127.0.0.1:8765"})
    by_kind = {s.kind for s in sources}
    assert by_kind == {"rss", "sitemap", "listing", "json_api"}
    assert {s.channel for s in sources} == {"news", "social", "complaint", "regulator"}
    urls = {s.url for s in sources}
    for path in ("/news/rss.xml", "/news/sitemap-news.xml", "/news/list_1.html", "/province/rss.xml",
                 "/weibo/api/statuses/search", "/complaints/api/list", "/regulator/list.html"):
        assert f"http://127.0.0.1:8765{path}" in urls
    weibo = next(s for s in sources if s.channel == "social")
    assert weibo.json_api is not None and weibo.json_api.auth is not None
    assert weibo.json_api.auth.token_env == "YUQING_WEIBO_TOKEN"
    assert "sim-weibo-token" not in SHIPPED.read_text(encoding="utf-8")
    assert all(s.allow_private_network for s in sources)


def test_placeholders_come_from_variables_before_the_environment(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("FEED_HOST", "https://env.example.cn")
    path = write(tmp_path, """
sources:
  - {id: a, name: 甲, kind: rss, channel: news, url: "${FEED_HOST}/rss.xml", authority: local_media}
  - {id: b, name: 乙, kind: rss, channel: news, url: "${FEED_HOST}/b.xml", authority: local_media}
""")
    assert load_sources(path)[0].url == "https://env.example.cn/rss.xml"
    assert load_sources(path, {"FEED_HOST": "https://given.example.cn"})[1].url == "https://given.example.cn/b.xml"


def test_unknown_placeholder_names_file_and_field(tmp_path) -> None:
    path = write(tmp_path, """
sources:
  - {id: a, name: 甲, kind: rss, channel: news, url: "${NO_SUCH_VAR_XYZ}/rss.xml", authority: local_media}
""")
    with pytest.raises(ConfigError) as exc:
        load_sources(path)
    assert exc.value.path == str(path)
    assert "NO_SUCH_VAR_XYZ" in problems(exc)["sources.0.url"]
    assert str(path) in str(exc.value)


def test_bad_kind_and_missing_url_name_the_source_and_field(tmp_path) -> None:
    path = write(tmp_path, """
sources:
  - {id: bad-kind, name: 甲, kind: telegram, channel: news, url: "https://a.example.cn/", authority: local_media}
  - {id: no-url, name: 乙, kind: rss, channel: news, authority: local_media}
""")
    with pytest.raises(ConfigError) as exc:
        load_sources(path)
    found = problems(exc)
    assert "sources.0[bad-kind].kind" in found
    assert "sources.1[no-url].url" in found
    assert f"{path}: sources.1[no-url].url" in str(exc.value)


def test_private_url_needs_the_explicit_flag(tmp_path) -> None:
    text = """
sources:
  - {id: local, name: 内网, kind: rss, channel: news, url: "http://127.0.0.1:9000/rss.xml", authority: local_media%s}
"""
    with pytest.raises(ConfigError) as exc:
        load_sources(write(tmp_path, text % ""))
    assert "unsafe URL" in problems(exc)["sources.0[local].url"]
    assert load_sources(write(tmp_path, text % ", allow_private_network: true"))[0].allow_private_network


def test_metadata_address_is_refused_even_in_decimal_form(tmp_path) -> None:
    path = write(tmp_path, """
sources:
  - {id: meta, name: 元数据, kind: rss, channel: news, url: "http://2852039166/latest", authority: local_media}
""")
    with pytest.raises(ConfigError, match="non-public"):
        load_sources(path)


def test_duplicate_ids_short_intervals_and_incomplete_kinds_are_errors(tmp_path) -> None:
    path = write(tmp_path, """
sources:
  - {id: same, name: 甲, kind: rss, channel: news, url: "https://a.example.cn/rss", authority: local_media}
  - {id: same, name: 乙, kind: rss, channel: news, url: "https://b.example.cn/rss", authority: local_media}
""")
    with pytest.raises(ConfigError) as exc:
        load_sources(path)
    assert "duplicate id" in problems(exc)["sources.1[same].id"]

    path = write(tmp_path, """
sources:
  - {id: fast, name: 甲, kind: rss, channel: news, url: "https://a.example.cn/rss", authority: local_media,
     poll_interval: 5}
  - {id: list, name: 乙, kind: listing, channel: news, url: "https://b.example.cn/", authority: local_media}
  - id: api
    name: 丙
    kind: json_api
    channel: social
    url: https://c.example.cn/api
    authority: social
    json_api: {auth: {token_env: TOKEN, format: "Bearer"}}
""")
    with pytest.raises(ConfigError) as exc:
        load_sources(path)
    found = problems(exc)
    assert "sources.0[fast].poll_interval" in found
    assert any(k.startswith("sources.1[list]") and "link_selector" in v for k, v in found.items())
    assert "sources.2[api].json_api.auth.format" in found


def test_a_token_never_lives_in_the_file_only_the_variable_name(tmp_path) -> None:
    path = write(tmp_path, """
sources:
  - id: api
    name: 接口
    kind: json_api
    channel: social
    url: https://c.example.cn/api
    authority: social
    json_api: {auth: {token: abc123}}
""")
    with pytest.raises(ConfigError) as exc:
        load_sources(path)
    assert any("auth" in field for field in problems(exc))


def test_missing_or_empty_file_is_a_config_error(tmp_path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_sources(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError):
        load_sources(write(tmp_path, "- just a list\n"))


def test_source_config_flags_metric_tracking_only_for_json_items() -> None:
    rss = SourceConfig(id="r", name="r", kind="rss", channel="news", url="https://a.example.cn/",
                       authority="local_media")
    assert not rss.tracks_metrics
