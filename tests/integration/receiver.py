"""A real HTTP server on 127.0.0.1 for outbound tests: serves files and records POSTs."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.waiting import scaled


class Receiver:
    def __init__(self) -> None:
        self.files: dict[str, tuple[str, bytes]] = {}
        self.posts: list[tuple[str, bytes]] = []
        self.gets: list[str] = []  # the paths asked for
        self.fail_first: dict[str, int] = {}
        self.got_post = threading.Condition()
        self.url = ""

    def wait_posts(self, path: str, count: int, timeout: float = 30) -> list[bytes]:
        """The bodies posted to ``path`` once there are ``count`` (or as many as came in the
        scaled ``timeout``: the caller's assertion says what was missing)."""
        with self.got_post:
            self.got_post.wait_for(lambda: len(self.bodies(path)) >= count, scaled(timeout))
        return self.bodies(path)

    def bodies(self, path: str) -> list[bytes]:
        return [body for p, body in self.posts if p == path]


@contextmanager
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.gets.append(self.path)
            if self.path.startswith("/redirect"):
                self.send_response(302)
                self.send_header("Location", self.path.removeprefix("/redirect"))
                self.end_headers()
                return
            media, body = state.files.get(self.path, ("text/plain", b""))
            self.send_response(200 if self.path in state.files else 404)
            self.send_header("Content-Type", media)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if state.fail_first.get(self.path, 0) > 0:
                state.fail_first[self.path] -= 1
                self.send_response(503)
                self.end_headers()
                return
            with state.got_post:
                state.posts.append((self.path, body))
                state.got_post.notify_all()
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
