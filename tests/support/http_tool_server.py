"""A real HTTP server on loopback for HTTP-tool tests: it records every request
(method, path, query, headers, JSON body) and answers by path:

``/orders/...`` JSON echoing what it got; ``/slow`` after 3 s; ``/missing`` 404 JSON;
``/boom`` 500 text; ``/big`` 300 KB of JSON streamed without a length; ``/big-declared``
the same with its ``Content-Length``; ``/text`` plain text; ``/html`` an HTML page;
``/redirect`` a 302 to ``/orders``; ``/empty`` 204.
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
from urllib.parse import parse_qs, urlsplit

BIG = b'{"items": "' + b"x" * 300_000 + b'"}'


@dataclass
class HttpToolServer:
    port: int
    requests: list[dict[str, Any]] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def last(self) -> dict[str, Any]:
        return self.requests[-1]


def _handler(server: HttpToolServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def _answer(self, status: int, body: bytes, content_type: str, length: bool = True) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            if length:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def _handle(self) -> None:
            parts = urlsplit(self.path)
            size = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(size) if size else b""
            seen = {
                "method": self.command,
                "path": parts.path,
                "query": {k: v[0] for k, v in parse_qs(parts.query).items()},
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "json": json.loads(raw) if raw else None,
            }
            server.requests.append(seen)
            path = parts.path
            if path.startswith("/orders"):
                body = {
                    "order": seen["query"] or seen["json"],
                    "status": "out for delivery",
                    "arrives": "Thursday",
                }
                self._answer(200, json.dumps(body).encode(), "application/json")
            elif path == "/slow":
                time.sleep(3)
                self._answer(200, b'{"late": true}', "application/json")
            elif path == "/missing":
                self._answer(404, b'{"error": "order not found"}', "application/json")
            elif path == "/boom":
                self._answer(500, b"database down", "text/plain")
            elif path == "/big":
                self.close_connection = True
                self._answer(200, BIG, "application/json", length=False)
            elif path == "/big-declared":
                self._answer(200, BIG, "application/json")
            elif path == "/text":
                self._answer(200, "Open, café closed".encode(), "text/plain; charset=utf-8")
            elif path == "/html":
                self._answer(200, b"<html><body>" + b"a" * 10_000 + b"</body></html>", "text/html")
            elif path == "/redirect":
                self.send_response(302)
                self.send_header("Location", "/orders")
                self.send_header("Content-Length", "0")
                self.end_headers()
            elif path == "/empty":
                self.send_response(204)
                self.end_headers()
            else:
                self._answer(404, b"", "text/plain")

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

    return Handler


@contextmanager
def running_http_tool_server(port: int) -> Iterator[HttpToolServer]:
    state = HttpToolServer(port=port)
    httpd = ThreadingHTTPServer(("127.0.0.1", port), _handler(state))
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
