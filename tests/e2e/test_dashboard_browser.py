"""The dashboard in a real browser (Debian chromium driven by Playwright) while the demo crisis plays out:
a monitor logs in, sees the incident arrive, opens it and completes a checklist task. Ctrl-C then stops it all."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.e2e
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-quic", "--no-first-run", "--disable-sync"]
YUQING = Path(sys.executable).parent / "yuqing"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_demo(tmp_path: Path, speed: int, **popen) -> tuple[str, subprocess.Popen]:
    """Start ``yuqing demo`` with its own data dir and port; return once its dashboard answers /healthz."""
    port = _free_port()
    env = {**os.environ, "YUQING_DATA_DIR": str(tmp_path), "YUQING_API_PORT": str(port), "HF_HUB_OFFLINE": "1"}
    env.pop("YUQING_DATABASE_URL", None)
    log_path = tmp_path / "demo.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen([str(YUQING), "demo", "--speed", str(speed)], env=env, stdout=log,
                                stderr=subprocess.STDOUT, **popen)
    base = f"http://127.0.0.1:{port}"
    # generous: on a loaded machine with a cold ONNX cache the demo's start-up alone can pass a minute
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return base, proc
        except httpx.HTTPError:
            pass
        assert proc.poll() is None, log_path.read_text()
        time.sleep(0.3)
    proc.kill()
    pytest.fail("dashboard did not come up:\n" + log_path.read_text())


@pytest.fixture
def running_demo(tmp_path):
    base, proc = _start_demo(tmp_path, 1500)
    yield base, proc, tmp_path
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_monitor_sees_the_crisis_and_works_the_checklist(running_demo):
    from playwright.sync_api import sync_playwright

    base, proc, tmp_path = running_demo
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium missing: run `make test` (scripts/system-deps.sh installs it)")
    console_errors: list[str] = []
    dialogs: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(locale="zh-CN")
        page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

        page.goto(f"{base}/incidents")
        assert "/login" in page.url  # protected pages send you to the login form
        page.fill("input[name=login]", "wangmin")
        page.fill("input[name=password]", "wrong")
        page.click("button[type=submit]")
        assert "用户名或密码" in page.content()
        console_errors.clear()  # the browser logs the 401 of the refused login itself
        page.fill("input[name=login]", "wangmin")
        page.fill("input[name=password]", "yuqing-demo")
        page.click("button[type=submit]")

        # wait for the crisis to reach an incident at the 新华路 outlet
        incident = None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and incident is None:
            data = page.request.get(f"{base}/api/v1/incidents").json()["items"]
            incident = next((i for i in data if i["unit"]["id"] == "xinhualu"), None)
            if incident is None:
                time.sleep(1)
        assert incident is not None, (tmp_path / "demo.log").read_text()[-3000:]

        page.goto(f"{base}/")
        assert "新华路网点" in page.inner_text("body")
        page.goto(f"{base}/incidents/{incident['id']}")
        body = page.inner_text("body")
        for heading in ("报告时限", "处置清单", "为什么预警", "证据"):
            assert heading in body
        assert page.locator(".badge").first.is_visible()
        todo_forms = page.locator("form[action$='/complete']")
        assert todo_forms.count() > 0
        first = todo_forms.first
        first.locator("input[name=note]").fill("已与网点核实情况")
        first.locator("button[type=submit]").click()
        page.wait_for_load_state()
        assert "已与网点核实情况" in page.inner_text("body")
        page.screenshot(path=str(tmp_path / "incident.png"), full_page=True)
        browser.close()

    assert (tmp_path / "incident.png").stat().st_size > 20_000
    assert dialogs == [], f"crawled text executed script: {dialogs}"
    assert console_errors == [], console_errors  # includes any CSP violation

    # Ctrl-C stops everything cleanly
    proc.send_signal(signal.SIGINT)
    try:
        assert proc.wait(timeout=20) == 0
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGUSR1)  # faulthandler: every thread's stack into the log
        time.sleep(1)
        pytest.fail("Ctrl-C did not stop the demo within 20 s:\n" + (tmp_path / "demo.log").read_text()[-6000:])


def test_sigterm_stops_the_demo_cleanly_even_with_sigint_ignored(tmp_path):
    """As under a process manager, or started in the background by a script (SIGINT inherited as ignored)."""
    base, proc = _start_demo(tmp_path, 200, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    log_path = tmp_path / "demo.log"
    try:
        time.sleep(3)  # mid-scenario: pipeline rounds are running
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, log_path.read_text()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert "已停止" in log_path.read_text()
    with pytest.raises(httpx.HTTPError):  # the dashboard's port is closed, not left serving
        httpx.get(f"{base}/healthz", timeout=1)
