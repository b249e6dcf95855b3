"""The dashboard app served on 127.0.0.1 for a browser test, from an event loop of its own thread (port 0: the OS
chooses, so parallel test workers never collide)."""

from __future__ import annotations

import asyncio
import threading

from api.server import serve_api, stop_api


class ServedApp:
    def __init__(self, app) -> None:
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.handle = self.loop.run_until_complete(serve_api(app, "127.0.0.1", 0))
            ready.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        assert ready.wait(15), "dashboard did not start"
        server = self.handle[0]
        self.port = next(sock.getsockname()[1] for srv in server.servers for sock in srv.sockets)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(stop_api(self.handle), self.loop).result(timeout=15)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(15)
