"""A new user's first run, driven through the command line as they would type it: the demo says which database it
fills and how to get a token for it, the token works on the dashboard it serves, and the demo says when its script
is over; ``yuqing api`` / ``yuqing run`` print their URL and take ``--host`` / ``--port``; ``yuqing run`` with no
reachable source prints one clear line per source and keeps running; ``check-config`` names every problem."""

from __future__ import annotations

import os
import queue
import re
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from runner.cli import app

BIN = Path(sys.executable).parent
YUQING = BIN / "yuqing"
runner = CliRunner()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {**os.environ, "YUQING_DATA_DIR": str(tmp_path), "HF_HUB_OFFLINE": "1",
           "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", **extra}
    for name in ("YUQING_DATABASE_URL", "YUQING_SOURCES_FILE", "YUQING_API_HOST", "YUQING_API_PORT"):
        if name not in extra:
            env.pop(name, None)
    return env


class Lines:
    """A child process's output, line by line, waited for with a timeout (a reader thread per stream)."""

    def __init__(self, proc: subprocess.Popen, stream) -> None:
        self.seen: list[str] = []
        self._q: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, args=(stream,), daemon=True).start()
        self.proc = proc

    def _pump(self, stream) -> None:
        for line in stream:
            self._q.put(line.rstrip("\n"))
        self._q.put(None)

    def until(self, pattern: str, timeout: float = 240.0) -> re.Match[str]:
        """The first line (seen or to come) matching ``pattern``; fails after ``timeout`` seconds in all, however
        many other lines arrive meanwhile."""
        rx = re.compile(pattern)
        for line in self.seen:
            if (m := rx.search(line)) is not None:
                return m
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._q.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no line matching {pattern!r} within {timeout} s; saw {self.seen[-20:]}"
                                     ) from None
            if line is None:
                raise AssertionError(f"process ended before a line matching {pattern!r}; saw {self.seen[-20:]}")
            self.seen.append(line)
            if (m := rx.search(line)) is not None:
                return m


def _stop(proc: subprocess.Popen) -> int:
    proc.send_signal(signal.SIGINT)
    try:
        return proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise


def _get(url: str, token: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.mark.e2e
def test_the_demo_prints_its_database_and_the_token_command_that_works_on_its_dashboard(tmp_path):
    port = _free_port()
    proc = subprocess.Popen([str(YUQING), "demo", "--speed", "3000", "--port", str(port)], env=_env(tmp_path),
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out = Lines(proc, proc.stdout)
    try:
        assert out.until(r"^仪表盘: (\S+)$").group(1) == f"http://127.0.0.1:{port}/"
        db_line = out.until(r"^数据库: (\S+)（演示专用").group(1)
        assert db_line == f"sqlite:///{(tmp_path / 'demo.db').resolve()}"
        command = out.until(r"^为演示账号签发 API 令牌: (.+)$").group(1)
        # exactly what the user pastes into a shell (from another directory, the demo's environment aside)
        issued = subprocess.run(["bash", "-c", command], env=_env(tmp_path), capture_output=True, text=True,
                                timeout=120, cwd=tmp_path)
        assert issued.returncode == 0, issued.stderr[-2000:]
        token = issued.stdout.strip().splitlines()[-1]
        status, body = _get(f"http://127.0.0.1:{port}/api/v1/incidents", token)
        assert status == 200, body[:500]
        assert _get(f"http://127.0.0.1:{port}/api/v1/incidents")[0] == 401  # the token is what let us in

        # once the script is over the demo says so, stops simulated time, and the dashboard stays up
        out.until(r"^演示剧本已结束：模拟时间停在 \d+月\d+日 \d\d:\d\d")
        status, body = _get(f"http://127.0.0.1:{port}/api/v1/incidents", token)
        assert status == 200 and "新华路" in body.decode()  # the crisis is still there to look at
        import httpx

        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as browser:  # and the dashboard says so
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', browser.get("/login").text).group(1)
            signed_in = browser.post("/login", data={"login": "wangmin", "password": "yuqing-demo",
                                                     "csrf_token": csrf, "next": "/"})
            assert signed_in.status_code == 303
            assert "演示剧本已结束：模拟时间停在" in browser.get("/incidents").text
    finally:
        _stop(proc)

    # a plain `yuqing user token` opens the deployment's database, fails, and says where the demo's is
    plain = subprocess.run([str(YUQING), "user", "token", "wangmin"], env=_env(tmp_path), capture_output=True,
                           text=True, timeout=120)
    assert plain.returncode == 2
    assert f"YUQING_DATABASE_URL={shlex.quote('sqlite:///' + str((tmp_path / 'demo.db').resolve()))}" \
           f" yuqing user token wangmin" in plain.stderr


def test_the_demo_clock_stops_for_good_when_the_script_is_over():
    from datetime import UTC, datetime

    from runner.demo import DemoClock, HeldClock

    for clock in (DemoClock(datetime(2026, 12, 6, tzinfo=UTC), speed=1e6),
                  HeldClock(datetime(2026, 12, 6, tzinfo=UTC), speed=1e6)):
        if isinstance(clock, HeldClock):
            clock.release()
        ended = clock.stop()
        assert clock.stopped and clock.now() == ended == clock.now()
        if isinstance(clock, HeldClock):
            clock.hold()
            clock.release()
        assert clock.now() == ended


def test_api_prints_its_url_and_takes_host_and_port(tmp_path):
    port = _free_port()
    env = _env(tmp_path, YUQING_SECRET_KEY=secrets.token_urlsafe(48))
    proc = subprocess.Popen([str(YUQING), "api", "--host", "127.0.0.1", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out = Lines(proc, proc.stdout)
    try:
        assert out.until(r"^仪表盘: (\S+)$", timeout=120).group(1) == f"http://127.0.0.1:{port}/"
        assert _get(f"http://127.0.0.1:{port}/healthz")[0] == 200
    finally:
        assert _stop(proc) == 0


@pytest.mark.parametrize("command", ["api", "run"])
def test_a_non_loopback_host_is_refused_without_allow_remote(tmp_path, monkeypatch, command):
    monkeypatch.setenv("YUQING_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("YUQING_SECRET_KEY", secrets.token_urlsafe(48))
    result = runner.invoke(app, [command, "--host", "0.0.0.0", "--port", str(_free_port())])
    assert result.exit_code == 2
    assert "0.0.0.0" in result.output and "--allow-remote" in result.output and "docs/security.md" in result.output


class _Always500(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(500)
        self.send_header("Content-Length", "4")
        self.end_headers()
        self.wfile.write(b"busy")

    def log_message(self, *args: object) -> None:
        pass


def test_run_with_unreachable_sources_prints_one_clear_line_per_source_and_keeps_running(tmp_path):
    failing = ThreadingHTTPServer(("127.0.0.1", 0), _Always500)
    threading.Thread(target=failing.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    busy = f"127.0.0.1:{failing.server_port}"
    closed = f"127.0.0.1:{_free_port()}"  # nothing listens there: connection refused
    (tmp_path / "sources.yaml").write_text(f"""
sources:
  - {{id: refused, name: 江城晚报网, kind: rss, channel: news, url: "http://{closed}/news/rss.xml",
      authority: local_media, poll_interval: 300, private_network: "{closed}"}}
  - {{id: broken, name: 楚江网, kind: rss, channel: news, url: "http://{busy}/rss.xml",
      authority: local_media, poll_interval: 300, private_network: "{busy}"}}
  - {{id: nodns, name: 无此站点, kind: rss, channel: news, url: "http://yuqing-test.invalid/rss.xml",
      authority: local_media, poll_interval: 300}}
""", encoding="utf-8")
    env = _env(tmp_path, YUQING_SECRET_KEY=secrets.token_urlsafe(48),
               YUQING_SOURCES_FILE=str(tmp_path / "sources.yaml"), YUQING_ALLOW_PRIVATE_SOURCES="refused,broken")
    port = _free_port()
    proc = subprocess.Popen([str(YUQING), "run", "--port", str(port)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    out, err = Lines(proc, proc.stdout), Lines(proc, proc.stderr)
    try:
        assert out.until(r"^仪表盘: (\S+)$", timeout=180).group(1) == f"http://127.0.0.1:{port}/"
        refused = err.until(r"来源「江城晚报网」.*抓取失败：(.+?)（之后").group(0)
        assert f"http://{closed}/news/rss.xml" in refused and "连接被拒绝" in refused
        broken = err.until(r"来源「楚江网」.*抓取失败：(.+?)（之后")
        assert f"http://{busy}/rss.xml" in broken.group(0) and broken.group(1) == "HTTP 500"
        nodns = err.until(r"来源「无此站点」.*抓取失败：(.+?)（之后")
        assert "yuqing-test.invalid" in nodns.group(0) and nodns.group(1) == "域名解析失败（DNS）"
        # still serving after the failed crawl, and said each source's trouble once, without a traceback
        err.until(r"stage crawl", timeout=60)
        assert proc.poll() is None
        assert _get(f"http://127.0.0.1:{port}/healthz")[0] == 200
    finally:
        code = _stop(proc)
        failing.shutdown()
        failing.server_close()
    assert code == 0
    failures = [line for line in err.seen if "抓取失败" in line]
    assert len(failures) == 3, failures
    assert not [line for line in err.seen if "Traceback" in line or line.startswith("  File ")], err.seen[:40]


def test_check_config_reports_every_problem_naming_levels_by_their_names(tmp_path, monkeypatch):
    import shutil

    from yuqing.settings import PROJECT_ROOT

    config = tmp_path / "config"
    shutil.copytree(PROJECT_ROOT / "config", config)
    levels = (config / "levels.yaml").read_text(encoding="utf-8")
    # level II's acknowledgement clock and level IV's colour are wrong; so is one unit's kind in the org chart,
    # and one keyword plan lost its name
    second = levels.index("- code: II")
    levels = levels[:second] + levels[second:].replace("ack_minutes: ", "ack_minutes: -", 1)
    fourth = levels.index("- code: IV")
    levels = levels[:fourth] + levels[fourth:].replace("colour: blue", "colour: purple", 1)
    (config / "levels.yaml").write_text(levels, encoding="utf-8")
    org = (config / "org.yaml").read_text(encoding="utf-8")
    (config / "org.yaml").write_text(org.replace("kind: outlet", "kind: kiosk", 1), encoding="utf-8")
    risk = (config / "risk.yaml").read_text(encoding="utf-8")
    (config / "risk.yaml").write_text(risk + "\nno_such_setting: 1\n", encoding="utf-8")
    monkeypatch.setenv("YUQING_CONFIG_DIR", str(config))
    monkeypatch.setenv("YUQING_DATA_DIR", str(tmp_path))
    for name in ("YUQING_ORG_FILE", "YUQING_SOURCES_FILE", "YUQING_LEVELS_FILE", "YUQING_CHECKLISTS_DIR"):
        monkeypatch.delenv(name, raising=False)

    result = runner.invoke(app, ["check-config"])

    assert result.exit_code == 2
    text = result.output
    assert "配置有 4 处问题" in text, text
    assert "levels.yaml: levels[Ⅱ级].ack_minutes:" in text
    assert "levels.yaml: levels[Ⅳ级].colour:" in text
    assert "org.yaml: units.5.kind:" in text
    assert "risk.yaml: no_such_setting:" in text
    assert "levels.1" not in text and "levels.3" not in text
