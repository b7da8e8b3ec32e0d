"""A real local OpenAI-compatible server for the LLM back-end tests (not a mock of our code).

It listens on a free loopback port in a thread and answers ``POST /v1/chat/completions`` from
``replies`` (a list of (status, JSON body or raw bytes), consumed in order, then ``default``);
``delay`` seconds are slept before answering (timeouts). ``requests`` records (path, headers,
JSON body) of each call.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def completion(text: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}}],
    }


@dataclass
class FakeLLM:
    url: str = ""
    requests: list[tuple[str, dict[str, str], Any]] = field(default_factory=list)
    replies: list[tuple[int, Any]] = field(default_factory=list)
    default: tuple[int, Any] = (200, completion("I still want my parcel."))
    delay: float = 0.0


@contextmanager
def fake_llm() -> Iterator[FakeLLM]:
    fake = FakeLLM()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            with lock:
                fake.requests.append((self.path, dict(self.headers.items()), json.loads(body)))
                status, doc = fake.replies.pop(0) if fake.replies else fake.default
                delay = fake.delay
            if delay:
                time.sleep(delay)
            raw = doc if isinstance(doc, bytes) else json.dumps(doc).encode("utf-8")
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)
            except (BrokenPipeError, ConnectionResetError):
                return  # the client gave up (a timeout test)

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
