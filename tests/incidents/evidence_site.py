"""Test helper for the screenshot and deletion-watch tests: a real local web site whose pages a test changes
while it runs, and an incident linking articles of that site (opened the way the pipeline opens one), each
with a capture as the crawler would have stored it."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from crawlers.models import Article, Story
from crawlers.pipelines import capture
from incidents import service
from sentiment.models import StoryRisk

SOURCE_ID = "local-weibo"


@dataclass
class Page:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/html; charset=utf-8"
    delay: float = 0.0  # seconds before answering (a hanging site)


@dataclass
class Site:
    """A threaded HTTP server on 127.0.0.1 (OS-chosen port) serving ``pages``; ``requests`` lists paths asked."""

    pages: dict[str, Page] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    port: int = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    @property
    def host_port(self) -> str:
        return f"127.0.0.1:{self.port}"

    def asked(self, path: str) -> int:
        return sum(1 for p in self.requests if p == path)


@contextmanager
def running_site(pages: dict[str, Page] | None = None) -> Iterator[Site]:
    site = Site(pages=dict(pages or {}))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            site.requests.append(self.path)
            page = site.pages.get(self.path, Page(404, b"<h1>404</h1>"))
            if page.delay:
                time.sleep(page.delay)
            self.send_response(page.status)
            self.send_header("Content-Type", page.content_type)
            self.send_header("Content-Length", str(len(page.body)))
            self.end_headers()
            self.wfile.write(page.body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    site.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()


def sources_file(tmp: Path, site: Site) -> Path:
    """A sources file naming the site as a source allowed onto its own 127.0.0.1 port."""
    path = tmp / "sources.yaml"
    path.write_text(f"""sources:
  - id: {SOURCE_ID}
    name: 本地测试微博
    kind: rss
    channel: social
    url: {site.url('/feed.xml')}
    authority: local_media
    private_network: "{site.host_port}"
""", encoding="utf-8")
    return path


def open_incident(factory: sessionmaker[Session], *, org, policy, clock, site: Site,
                  paths: list[str]) -> tuple[int, list[int]]:
    """One story of the site's ``paths`` (each captured with the bytes the page serves now), scored at level II
    and handled as the pipeline does; returns (incident id, article ids in ``paths`` order)."""
    now = clock.now()
    with factory() as session:
        story = Story(title="示例银行新华路网点拒绝老人取款", unit_id="xinhualu", first_seen_at=now, last_seen_at=now,
                      article_count=len(paths))
        session.add(story)
        session.flush()
        ids = []
        for i, path in enumerate(paths):
            url = site.url(path)
            digest = hashlib.sha256(url.encode()).hexdigest()
            article = Article(source_id=SOURCE_ID, channel="social", url=url, url_hash=digest,
                              title=f"新华路网点拒绝老人取款（{i + 1}）", text="示例银行新华路网点拒绝老人取款",
                              fetched_at=now, published_at=now, content_hash=digest, story_id=story.id,
                              stage="scored")
            session.add(article)
            session.flush()
            page = site.pages[path]
            capture(session, article.id, page.body, url=url, at=now, status=page.status,
                    headers={"Content-Type": page.content_type}, kind="page", limit=1024 * 1024)
            ids.append(article.id)
        risk = StoryRisk(story_id=story.id, computed_at=now, score=75.0, level="II",
                         category="withdrawal_bank_run", factors={})
        session.add(risk)
        session.flush()
        incident_id = service.handle_story_risk(session, story_risk=risk, org=org, policy=policy,
                                                clock=clock).incident_id
        session.commit()
    assert incident_id is not None
    return incident_id, ids
