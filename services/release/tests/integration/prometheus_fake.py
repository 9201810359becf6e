"""A stand-in for Prometheus's HTTP API: `/api/v1/query` answers the real JSON shape
(`{"status": "success", "data": {"resultType": "vector", "result": [...]}}`) with the value
set for the metric whose name the query contains."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


class FakePrometheus:
    def __init__(self) -> None:
        self.values: dict[str, float | None] = {}  # a substring of the query -> its value
        self.queries: list[str] = []
        self.url = ""

    def answer(self, query: str) -> dict[str, object]:
        self.queries.append(query)
        value = next((v for k, v in self.values.items() if k in query), None)
        result = [] if value is None else [{"metric": {}, "value": [time.time(), str(value)]}]
        return {"status": "success", "data": {"resultType": "vector", "result": result}}


@contextmanager
def fake_prometheus() -> Iterator[FakePrometheus]:
    fake = FakePrometheus()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            form = parse_qs(self.rfile.read(length).decode())
            body = json.dumps(fake.answer(form.get("query", [""])[0])).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
