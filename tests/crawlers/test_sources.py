"""Source configuration: the shipped files load, every mistake names the file and the field, and a private-network
allowance names one safe host and port and still needs the admin's opt-in by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawlers.sources import SourceConfig, load_sources, require_private_opt_in
from sim.demo_sources import DEMO_SOURCES_FILE, demo_source_ids, demo_source_variables
from yuqing.errors import ConfigError
from yuqing.settings import PROJECT_ROOT

SHIPPED = PROJECT_ROOT / "config" / "sources.yaml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(exc: pytest.ExceptionInfo[ConfigError]) -> dict[str, str]:
    return dict(exc.value.problems)


def test_the_banks_sources_file_ships_empty_and_without_private_allowances() -> None:
    assert load_sources(SHIPPED) == []
    text = SHIPPED.read_text(encoding="utf-8")
    active = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    assert not any("private_network" in line or "127.0.0.1" in line for line in active)
    assert "allow_private_network" not in text


def test_demo_sources_describe_every_sim_site_without_secrets() -> None:
    sources = load_sources(DEMO_SOURCES_FILE, demo_source_variables("127.0.0.1", 8765))
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
    assert "sim-weibo-token" not in DEMO_SOURCES_FILE.read_text(encoding="utf-8")
    assert all(s.private_network == "127.0.0.1:8765" for s in sources)  # exactly the sim, nothing wider
    assert demo_source_ids() == [s.id for s in sources]
    assert [s.private_network for s in load_sources(DEMO_SOURCES_FILE)] == ["127.0.0.1:8100"] * len(sources)


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


def test_private_url_needs_an_allowance_naming_its_host_and_port(tmp_path) -> None:
    text = """
sources:
  - {id: local, name: 内网, kind: rss, channel: news, url: "http://127.0.0.1:9000/rss.xml", authority: local_media%s}
"""
    with pytest.raises(ConfigError) as exc:
        load_sources(write(tmp_path, text % ""))
    assert "unsafe URL" in problems(exc)["sources.0[local].url"]
    assert "private_network" in problems(exc)["sources.0[local].url"]
    assert load_sources(write(tmp_path, text % ", private_network: '127.0.0.1:9000'"))[0].private_network == (
        "127.0.0.1:9000")
    with pytest.raises(ConfigError) as exc:  # an allowance for another port does not cover the URL
        load_sources(write(tmp_path, text % ", private_network: '127.0.0.1:9001'"))
    assert "127.0.0.1:9001" in problems(exc)["sources.0[local].url"]


@pytest.mark.parametrize(("value", "canonical"), [
    ("127.0.0.1:8100", "127.0.0.1:8100"),
    ("10.20.30.40:443", "10.20.30.40:443"),
    ("[::1]:8100", "[::1]:8100"),
    ("[0:0:0:0:0:0:0:1]:8100", "[::1]:8100"),
    ("Intranet.Bank.Example:8443", "intranet.bank.example:8443"),
    ("localhost:8100", "localhost:8100"),
])
def test_a_valid_allowance_is_stored_in_canonical_form(value: str, canonical: str) -> None:
    source = SourceConfig(id="a", name="甲", kind="rss", channel="news", url="https://a.example.cn/rss",
                          authority="local_media", private_network=value)
    assert source.private_network == canonical


@pytest.mark.parametrize(("value", "reason"), [
    ("127.0.0.1", "端口"),  # no port
    ("intranet.example", "端口"),
    ("::1:8100", "方括号"),  # IPv6 without brackets
    ("[127.0.0.1]:80", "IPv6"),
    ("http://127.0.0.1:8100", "host:port"),  # a URL, not host:port
    ("127.0.0.1:0", "端口"),
    ("127.0.0.1:65536", "端口"),
    ("127.0.0.1:http", "端口"),
    ("169.254.169.254:80", "云元数据"),
    ("169.254.10.1:80", "链路本地"),
    ("[fe80::1]:80", "链路本地"),
    ("100.100.100.200:80", "云元数据"),  # Alibaba Cloud
    ("[fd00:ec2::254]:80", "云元数据"),  # AWS over IPv6
    ("[::ffff:169.254.169.254]:80", "云元数据"),
    ("metadata.google.internal:80", "元数据"),
    ("metadata:80", "元数据"),
    ("instance-data.ec2.internal:80", "元数据"),
    ("0.0.0.0:8100", "未指定"),
    ("[::]:8100", "未指定"),
    ("224.0.0.1:8100", "组播"),
    ("[ff02::1]:8100", "组播"),
    ("255.255.255.255:8100", "广播"),
    ("2130706433:8100", "点分"),  # 127.0.0.1 in disguise
    ("bad_host!:80", "主机名"),
])
def test_an_unsafe_or_malformed_allowance_names_the_file_and_field(tmp_path, value: str, reason: str) -> None:
    path = write(tmp_path, f"""
sources:
  - {{id: intranet, name: 内网, kind: rss, channel: news, url: "https://news.example.cn/rss",
     authority: local_media, private_network: "{value}"}}
""")
    with pytest.raises(ConfigError) as exc:
        load_sources(path)
    assert exc.value.path == str(path)
    assert reason in problems(exc)["sources.0[intranet].private_network"]


def test_the_old_blanket_flag_is_refused_with_what_to_write_instead(tmp_path) -> None:
    path = write(tmp_path, """
sources:
  - {id: sim, name: 模拟, kind: rss, channel: news, url: "http://127.0.0.1:8100/news/rss.xml",
     authority: local_media, allow_private_network: true}
  - {id: portal, name: 内网门户, kind: rss, channel: news, url: "https://portal.bank.example/rss",
     authority: local_media, allow_private_network: true}
""")
    with pytest.raises(ConfigError) as exc:
        load_sources(path)
    found = problems(exc)
    assert 'private_network: "127.0.0.1:8100"' in found["sources.0[sim].allow_private_network"]
    assert "YUQING_ALLOW_PRIVATE_SOURCES" in found["sources.0[sim].allow_private_network"]
    assert 'private_network: "portal.bank.example:443"' in found["sources.1[portal].allow_private_network"]
    assert str(path) in str(exc.value)


def test_private_sources_need_the_admins_opt_in_by_id(tmp_path) -> None:
    sources = load_sources(DEMO_SOURCES_FILE)
    with pytest.raises(ConfigError) as exc:
        require_private_opt_in(sources, [], DEMO_SOURCES_FILE)
    message = str(exc.value)
    assert str(DEMO_SOURCES_FILE) in message and "YUQING_ALLOW_PRIVATE_SOURCES=" in message
    assert all(f"[{s.id}].private_network" in message for s in sources)
    with pytest.raises(ConfigError) as exc:
        require_private_opt_in(sources, ["jcwb-rss", "weibo-search"], DEMO_SOURCES_FILE)
    assert not any("[jcwb-rss]" in f or "[weibo-search]" in f for f in problems(exc))
    assert "sources.2[jcwb-list].private_network" in problems(exc)
    require_private_opt_in(sources, demo_source_ids(), DEMO_SOURCES_FILE)
    disabled = [s.model_copy(update={"enabled": False}) for s in sources]
    require_private_opt_in(disabled, [], DEMO_SOURCES_FILE)  # what is not crawled needs no opt-in


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


def test_run_and_check_config_refuse_private_sources_the_admin_did_not_list(tmp_path, monkeypatch) -> None:
    from typer.testing import CliRunner

    from runner.cli import app
    from runner.runtime import load_config
    from yuqing.settings import load_settings

    settings = load_settings(data_dir=tmp_path, sources_file=DEMO_SOURCES_FILE)
    with pytest.raises(ConfigError, match="YUQING_ALLOW_PRIVATE_SOURCES") as exc:
        load_config(settings)
    assert "jcwb-rss" in str(exc.value) and "127.0.0.1:8100" in str(exc.value)
    listed = load_config(settings.model_copy(update={"allow_private_sources": demo_source_ids()}))
    assert [s.id for s in listed.sources] == demo_source_ids()

    monkeypatch.setenv("YUQING_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("YUQING_SOURCES_FILE", str(DEMO_SOURCES_FILE))
    monkeypatch.setenv("YUQING_ALLOW_PRIVATE_SOURCES", "jcwb-rss")
    refused = CliRunner().invoke(app, ["check-config"])
    assert refused.exit_code == 2
    assert "YUQING_ALLOW_PRIVATE_SOURCES" in refused.output and "weibo-search" in refused.output
    assert "[jcwb-rss].private_network" not in refused.output
    monkeypatch.setenv("YUQING_ALLOW_PRIVATE_SOURCES", ",".join(demo_source_ids()))
    accepted = CliRunner().invoke(app, ["check-config"])
    assert accepted.exit_code == 0, accepted.output
    assert f"{len(demo_source_ids())} sources" in accepted.output


def test_the_poll_floor_variable_is_read_as_whole_seconds_and_a_bad_value_names_it():
    from crawlers.sources import _min_poll_interval

    assert _min_poll_interval(None) == 30
    assert _min_poll_interval(" ") == 30
    assert _min_poll_interval("10") == 10
    for bad in ("ten", "0", "-5", "1.5"):
        with pytest.raises(ConfigError) as info:
            _min_poll_interval(bad)
        assert "YUQING_MIN_POLL_INTERVAL" in str(info.value) and repr(bad) in str(info.value)
