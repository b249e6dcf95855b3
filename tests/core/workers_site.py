"""A local news site for the worker tests: an RSS feed and article pages about a withdrawal refused at the bank's
新华路网点 (enough for the rule-based classifier to raise an alert), plus an optional slow path that holds a
request open (a source that hangs a crawl)."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ARTICLE = ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}_江城晚报网</title></head><body>"
           "<h1>{title}</h1><div class='info'>发布时间：{published} 来源：江城晚报</div><div class='content'>"
           "<p>{body}</p></div></body></html>")
STORY = [
    ("示例银行新华路网点拒绝七旬老人取款 家属投诉无门",
     "记者接到市民反映，示例银行江城分行新华路网点以系统故障为由拒绝一位七旬老人取出自己的存款，老人在网点等候三个小时"
     "仍未取到钱，家属多次投诉无人处理。多名储户在网点门口聚集，担心存款安全，现场一度混乱，有人称银行要倒闭、发生挤兑。"),
    ("示例银行新华路网点取款难 储户排长队担心挤兑",
     "示例银行新华路网点今日再次出现储户排队取款，有储户称网点限制取现，拒绝办理大额取款，引发挤兑谣言。"
     "家属表示将向监管部门投诉，要求银行给出说法。网点工作人员态度恶劣，现场有人拍摄视频上传网络。"),
]


class Site:
    """Serves ``/feed.xml``, ``/a/<n>.html`` and ``/slow.xml`` (which sleeps ``slow_seconds`` before answering)."""

    def __init__(self, *, articles: int = 2, slow_seconds: float = 0.0) -> None:
        self.articles = articles
        self.slow_seconds = slow_seconds
        self.hits: list[str] = []
        self.answered: list[str] = []  # paths whose answer was sent (a slow one only after its sleep)
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                site.hits.append(self.path)
                if self.path.startswith("/slow"):
                    time.sleep(site.slow_seconds)
                body, ctype = site.page(self.path)
                if body is None:
                    self.send_response(404)
                    self.end_headers()
                    return
                data = body.encode("utf-8")
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                with_body = self.command != "HEAD"
                if with_body:
                    self.wfile.write(data)
                site.answered.append(self.path)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> Site:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def page(self, path: str) -> tuple[str | None, str]:
        if path.startswith("/feed.xml") or path.startswith("/slow.xml"):
            items = "".join(f"<item><title>{STORY[n % len(STORY)][0]}</title><link>{self.base}/a/{n}.html</link>"
                            f"</item>" for n in range(self.articles))
            return ('<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>江城晚报</title>'
                    f"{items}</channel></rss>"), "application/rss+xml; charset=utf-8"
        if path.startswith("/a/"):
            n = int(path.rsplit("/", 1)[1].split(".")[0])
            title, body = STORY[n % len(STORY)]
            return ARTICLE.format(title=title, body=body, published="2026-12-06 09:15"), "text/html; charset=utf-8"
        return None, ""

    def sources_yaml(self, *, slow: bool = False) -> str:
        """A sources file with the feed (and the slow feed) of this site, allowed to reach this one port."""
        host = f"127.0.0.1:{self.port}"
        entries = [("jcwb", "江城晚报网", "/feed.xml")] + ([("slow", "慢速来源", "/slow.xml")] if slow else [])
        return "sources:\n" + "".join(
            f"  - id: {sid}\n    name: {name}\n    kind: rss\n    channel: news\n    url: {self.base}{path}\n"
            f"    authority: local_media\n    poll_interval: 300\n    private_network: {host}\n"
            for sid, name, path in entries)


class Receiver:
    """A webhook receiver on 127.0.0.1: every POST is recorded and answered 200 with ``{"ok": true}``."""

    def __init__(self) -> None:
        self.posts: list[bytes] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                receiver.posts.append(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                data = b'{"ok": true}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> Receiver:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
