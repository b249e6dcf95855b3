"""Full-page screenshots of crawled pages in Debian's chromium, treating the page as hostile.

``render_page`` (blocking) and ``render_page_async`` (for the event loop) run the browser in a child process
(``python -m crawlers.screenshot``, its own process group) and kill the whole group when ``time_limit`` passes
(or, async, when the caller is cancelled), so a page that hangs the browser costs one time limit and never the
caller's event loop or process. The child:

* fetches the main document itself with ``crawlers.guarded_fetch.guarded_get`` (SSRF check on every hop, the
  source's ``private_network`` allowance applying as for crawling) — ``mode="live"`` — or takes the stored bytes
  of a capture — ``mode="capture"``;
* opens it in chromium (``/usr/bin/chromium``, never a downloaded browser) with JavaScript disabled, downloads
  refused, service workers blocked, a navigation timeout and a fixed viewport width;
* answers *every* request the page makes from a route handler, never letting the browser reach the network on
  its own (Chromium follows redirects of routed requests without showing them to the route, so ``continue_``
  would let a redirect escape the check): in live mode each sub-request (images, styles, frames) is fetched with
  ``guarded_get`` and refused when the SSRF check refuses it, at most ``max_resources`` of them of at most
  ``max_resource_bytes`` each; in capture mode nothing but the stored document is served (the capture holds no
  images or styles, and fetching today's would mix two times in one picture); a second main-frame navigation
  (``<meta http-equiv=refresh>``) is answered 204 No Content, which the browser does not commit, so the picture
  is of the page asked for;
* measures the page and screenshots it whole, cut at ``max_height`` CSS pixels (``clipped`` says so).

Chinese text needs a CJK font on the machine (Noto Sans CJK, installed by ``scripts/system-deps.sh``);
``cjk_font_installed`` checks for it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update")
GONE_STATUSES = (404, 410)
_MAX_BLOCKED_LISTED = 20
_TEXT_CHARS = 4000


@dataclass
class RenderRequest:
    """What to render and the limits to render it within (JSON-serialisable: it crosses to the child)."""

    url: str
    mode: str = "live"  # live | capture
    allowance: str | None = None  # the source's private_network "host:port"
    stored_body_b64: str | None = None  # capture mode: the stored bytes
    stored_content_type: str = "text/html"
    width: int = 1280
    max_height: int = 15000
    nav_timeout_seconds: float = 20.0
    resource_timeout_seconds: float = 10.0
    max_page_bytes: int = 5 * 1024 * 1024
    max_resources: int = 100
    max_resource_bytes: int = 5 * 1024 * 1024


@dataclass
class RenderResult:
    """What the child did. ``png`` is set only when ``ok``; ``gone`` when the live page answered 404 / 410."""

    ok: bool = False
    mode: str = "live"
    url: str = ""  # the URL rendered (after redirects of the main document)
    status: int | None = None  # HTTP status of the main document (live mode)
    gone: bool = False
    page_sha256: str | None = None  # of the main document's bytes as rendered
    page_size: int | None = None
    page_truncated: bool = False
    width: int = 0
    height: int = 0  # full page height (CSS pixels)
    clipped: bool = False  # taller than max_height: only the top max_height pixels are in the picture
    resources: int = 0  # sub-requests served
    blocked: list[str] = field(default_factory=list)  # sub-requests refused (SSRF, limit, capture mode), first 20
    blocked_count: int = 0
    text: str = ""  # the rendered page's visible text (first 4000 characters)
    error: str | None = None  # why there is no picture (English, for logs; callers say it in Chinese)
    png: bytes = b""


def render_page(request: RenderRequest, *, time_limit: float, python: str | None = None) -> RenderResult:
    """Render ``request`` in a child process; never raises for what the page does, and never outlives
    ``time_limit`` seconds (the child's process group is killed then)."""
    with tempfile.TemporaryDirectory(prefix="yuqing-shot-") as tmp:
        out = Path(tmp) / "shot.png"
        payload = json.dumps({"request": asdict(request), "png_path": str(out)})
        proc = subprocess.Popen([python or sys.executable, "-m", "crawlers.screenshot"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        try:
            stdout, stderr = proc.communicate(payload.encode(), timeout=time_limit)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            return RenderResult(mode=request.mode, url=request.url, error=f"time limit of {time_limit:g} s reached")
        finally:
            if proc.poll() is None:
                _kill_group(proc)
        return _result(request, stdout, stderr, proc.returncode, out)


async def render_page_async(request: RenderRequest, *, time_limit: float, python: str | None = None
                            ) -> RenderResult:
    """``render_page`` for the event loop: the child runs as an asyncio subprocess, so waiting for it blocks
    nothing, and cancelling the caller kills the child's process group at once."""
    with tempfile.TemporaryDirectory(prefix="yuqing-shot-") as tmp:
        out = Path(tmp) / "shot.png"
        payload = json.dumps({"request": asdict(request), "png_path": str(out)}).encode()
        proc = await asyncio.create_subprocess_exec(
            python or sys.executable, "-m", "crawlers.screenshot", stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, start_new_session=True)
        try:
            stdout, stderr = await asyncio.wait_for(proc.communicate(payload), timeout=time_limit)
        except TimeoutError:
            return RenderResult(mode=request.mode, url=request.url, error=f"time limit of {time_limit:g} s reached")
        finally:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                with contextlib.suppress(Exception):
                    await asyncio.shield(proc.wait())
        return _result(request, stdout, stderr, proc.returncode, out)


def _result(request: RenderRequest, stdout: bytes, stderr: bytes, returncode: int | None, out: Path
            ) -> RenderResult:
    try:
        data = json.loads(stdout.decode() or "{}")
    except ValueError:
        data = {}
    if not data:
        tail = stderr.decode(errors="replace").strip().splitlines()[-3:]
        return RenderResult(mode=request.mode, url=request.url,
                            error=f"renderer exited with {returncode}: {' | '.join(tail)}")
    result = RenderResult(**data)
    if result.ok:
        result.png = out.read_bytes() if out.exists() else b""
        if not result.png:
            result.ok, result.error = False, "renderer wrote no picture"
    return result


def cjk_font_installed() -> bool:
    """True when fontconfig knows a Noto CJK font (else Chinese renders as boxes)."""
    fc = shutil.which("fc-list")
    if fc is None:
        return False
    out = subprocess.run([fc, ":lang=zh"], capture_output=True, text=True, timeout=30, check=False).stdout
    return "Noto Sans CJK" in out or "Noto Serif CJK" in out


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


# --- the child ---------------------------------------------------------------------------------------------------

def _render(request: RenderRequest, png_path: Path) -> RenderResult:
    import httpx

    from crawlers.guarded_fetch import FetchRefused, guarded_get
    from crawlers.ssrf import PrivateAllowance

    allowance = PrivateAllowance.parse(request.allowance) if request.allowance else None
    result = RenderResult(mode=request.mode, url=request.url)
    if request.mode == "capture":
        body = base64.b64decode(request.stored_body_b64 or "")
        status, content_type = 200, request.stored_content_type or "text/html"
    else:
        try:
            page = guarded_get(request.url, allowance=allowance, timeout=request.nav_timeout_seconds,
                               max_bytes=request.max_page_bytes)
        except FetchRefused as exc:
            result.error = f"refused: {exc}"
            return result
        except httpx.HTTPError as exc:
            result.error = f"fetch failed: {type(exc).__name__}: {exc}"
            return result
        result.url, result.status, result.page_truncated = page.url, page.status, page.truncated
        if page.status in GONE_STATUSES:
            result.gone = True
            result.error = f"HTTP {page.status}"
            return result
        if not 200 <= page.status < 300:
            result.error = f"HTTP {page.status}"
            return result
        body, status, content_type = page.body, page.status, page.content_type or "text/html"
    result.page_sha256, result.page_size = hashlib.sha256(body).hexdigest(), len(body)
    return _shoot(request, result, body, status, content_type, allowance, png_path)


def _shoot(request: RenderRequest, result: RenderResult, body: bytes, status: int, content_type: str,
           allowance: Any, png_path: Path) -> RenderResult:
    import httpx
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import Route, sync_playwright

    from crawlers.guarded_fetch import FetchRefused, guarded_get

    main_url = result.url
    served_main = False

    def block(route: Route, why: str) -> None:
        _count_blocked(result, why, route.request.url)
        route.abort("blockedbyclient")

    def handle(route: Route) -> None:
        nonlocal served_main
        req = route.request
        if req.is_navigation_request() and req.frame.parent_frame is None:
            # the first top-level load is our goto (whatever normalisation the browser applied to the URL);
            # a second one (meta refresh) would put another page in the picture. It is answered 204 No Content,
            # which a browser does not commit, so the page stays (an abort would commit an error page instead).
            if served_main:
                _count_blocked(result, "navigation", req.url)
                route.fulfill(status=204, body=b"")
                return
            served_main = True
            route.fulfill(status=status, headers={"content-type": content_type}, body=body)
            return
        if request.mode == "capture":
            block(route, "capture")
            return
        if result.resources >= request.max_resources:
            block(route, "limit")
            return
        try:
            got = guarded_get(req.url, allowance=allowance, timeout=request.resource_timeout_seconds,
                              max_bytes=request.max_resource_bytes)
        except FetchRefused as exc:
            block(route, f"ssrf {exc.reason}")
            return
        except httpx.HTTPError:
            block(route, "failed")
            return
        result.resources += 1
        route.fulfill(status=got.status, headers={"content-type": got.content_type or "application/octet-stream"},
                      body=got.body)

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
        try:
            context = browser.new_context(java_script_enabled=False, accept_downloads=False,
                                          service_workers="block", locale="zh-CN",
                                          viewport={"width": request.width, "height": 900})
            page = context.new_page()
            page.route("**/*", handle)
            try:
                page.goto(main_url, wait_until="load", timeout=request.nav_timeout_seconds * 1000)
            except PlaywrightError as exc:
                result.error = f"navigation failed: {str(exc).splitlines()[0]}"
                return result
            height = int(page.evaluate(
                "Math.max(document.documentElement.scrollHeight, document.body ? document.body.scrollHeight : 0)"))
            result.width, result.height = request.width, height
            result.clipped = height > request.max_height
            result.text = page.inner_text("body")[:_TEXT_CHARS] if page.query_selector("body") else ""
            shot_height = min(max(height, 1), request.max_height)
            png = page.screenshot(full_page=True, clip={"x": 0, "y": 0, "width": request.width,
                                                        "height": shot_height})
        finally:
            browser.close()
    png_path.write_bytes(png)
    result.ok = True
    return result


def _count_blocked(result: RenderResult, why: str, url: str) -> None:
    result.blocked_count += 1
    if len(result.blocked) < _MAX_BLOCKED_LISTED:
        result.blocked.append(f"{why}: {url[:200]}")


def _main() -> int:
    data = json.loads(sys.stdin.read())
    request = RenderRequest(**data["request"])
    try:
        result = _render(request, Path(data["png_path"]))
    except Exception as exc:  # anything the page or the browser does: report it, the parent records the failure
        result = RenderResult(mode=request.mode, url=request.url, error=f"{type(exc).__name__}: {exc}"[:500])
    out = asdict(result)
    out.pop("png")
    sys.stdout.write(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
