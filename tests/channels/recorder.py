"""A real local HTTP server that records every request and answers from a script.

Stands in for a webhook receiver or a helpdesk's API in channel tests: it listens on a free
loopback port in a thread; ``requests`` holds (method, path, headers, body) of each call, and
``replies`` (a list of (status, JSON body)) is consumed in order, then ``default`` is used.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Call:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Recorder:
    url: str
    requests: list[Call] = field(default_factory=list)
    replies: list[tuple[int, Any]] = field(default_factory=list)
    default: tuple[int, Any] = (200, {"ok": True})


@contextmanager
def recording_server() -> Iterator[Recorder]:
    rec = Recorder(url="")
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            with lock:
                rec.requests.append(
                    Call(self.command, self.path, {k: v for k, v in self.headers.items()}, body)
                )
                status, doc = rec.replies.pop(0) if rec.replies else rec.default
            raw = json.dumps(doc).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    rec.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield rec
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
