"""Fixtures for crawler tests: a temporary SQLite database, a frozen clock, and a small local web site.

``LocalSite`` is a threaded ``http.server`` on 127.0.0.1 serving a route table the test fills in; it records
every request's path and headers (to check conditional GETs and auth) and can answer 304 from ETags, fail
intermittently, or send oversized bodies. It runs in its own thread so it never depends on the event loop under
test.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from tests.helpers import created_sqlite_engine
from yuqing.clock import FrozenClock
from yuqing.db import make_sessionmaker

# Tiny delays so a whole crawl test takes well under a second.
FAST = {"DOWNLOAD_DELAY": 0, "YUQING_RETRY_BACKOFF": 0.01, "DOWNLOAD_TIMEOUT": 5, "LOG_LEVEL": "ERROR"}


@dataclass
class Route:
    body: bytes | Callable[[], bytes]
    content_type: str = "text/html; charset=utf-8"
    status: int = 200
    etag: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    fail_times: int = 0  # answer 500 this many times first
    require_auth: str | None = None  # exact Authorization header value needed, else 401


@dataclass
class SeenRequest:
    path: str
    headers: dict[str, str]


class LocalSite:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[SeenRequest] = []
        self._lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                with site._lock:
                    site.requests.append(SeenRequest(self.path, {k.lower(): v for k, v in self.headers.items()}))
                    route = site.routes.get(self.path)
                    if route is not None and route.fail_times > 0:
                        route.fail_times -= 1
                        self._send(500, b"busy", "text/plain")
                        return
                if route is None:
                    self._send(404, b"not found", "text/plain")
                    return
                if route.require_auth is not None and self.headers.get("Authorization") != route.require_auth:
                    self._send(401, b'{"error":"unauthorized"}', "application/json")
                    return
                if route.etag and self.headers.get("If-None-Match") == route.etag:
                    self._send(304, b"", None, {"ETag": route.etag})
                    return
                body = route.body() if callable(route.body) else route.body
                extra = dict(route.headers)
                if route.etag:
                    extra["ETag"] = route.etag
                self._send(route.status, body, route.content_type, extra)

            def _send(self, status: int, body: bytes, ctype: str | None, extra: dict[str, str] | None = None) -> None:
                self.send_response(status)
                if ctype:
                    self.send_header("Content-Type", ctype)
                for k, v in (extra or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)) if status != 304 else "0")
                self.end_headers()
                if status != 304:
                    self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: object, client_address: object) -> None:
                pass  # the crawler hanging up on an oversized body is expected, not news

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    def start(self) -> LocalSite:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def add(self, path: str, body: bytes | str | Callable[[], bytes], **kwargs: object) -> None:
        self.routes[path] = Route(body=body.encode("utf-8") if isinstance(body, str) else body, **kwargs)

    def hits(self, path: str) -> list[SeenRequest]:
        return [r for r in self.requests if r.path == path]


@pytest.fixture
def site() -> Iterator[LocalSite]:
    server = LocalSite().start()
    yield server
    server.stop()


@pytest.fixture
def other_site() -> Iterator[LocalSite]:
    """A second local server on another port: another host as far as a source's allowance and headers go."""
    server = LocalSite().start()
    yield server
    server.stop()


@pytest.fixture
def session_factory(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    engine = created_sqlite_engine(tmp_path / "crawl.db")
    yield make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture
def fast() -> dict[str, object]:
    """Scrapy setting overrides for tests (no politeness delay, tiny retry backoff)."""
    return dict(FAST)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 11, 23, 2, 0, tzinfo=UTC))


@pytest.fixture
def refuse_articles() -> Callable[[Engine, str], None]:
    """Install a real database rule (a trigger) that refuses the article with one external id, as a constraint or
    a stricter server would: how the hostile-input tests make storing exactly one item fail."""

    def install(engine: Engine, external_id: str) -> None:
        with engine.begin() as conn:
            if engine.dialect.name == "sqlite":
                conn.execute(text(f"CREATE TRIGGER refuse_article BEFORE INSERT ON articles "
                                  f"WHEN NEW.external_id = '{external_id}' "
                                  "BEGIN SELECT RAISE(ABORT, 'refused by a test rule'); END"))
            else:
                conn.execute(text(
                    "CREATE FUNCTION refuse_article() RETURNS trigger AS $$ BEGIN "
                    f"IF NEW.external_id = '{external_id}' THEN RAISE EXCEPTION 'refused by a test rule'; END IF; "
                    "RETURN NEW; END $$ LANGUAGE plpgsql"))
                conn.execute(text("CREATE TRIGGER refuse_article BEFORE INSERT ON articles FOR EACH ROW "
                                  "EXECUTE FUNCTION refuse_article()"))

    return install
