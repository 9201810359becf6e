"""`lts release publish` tells a service it cannot reach (try again later: exit 75) from a
refusal (exit 1), so CI can retry the one and fail on the other."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator

import pytest
from lts_devtools.infra.net import free_port
from lts_release.cli import app
from typer.testing import CliRunner


@pytest.fixture
def refusing_service() -> Iterator[str]:
    class Refuse(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.dumps({"detail": "sealed-candidates-only: seal it first"}).encode()
            self.send_response(409)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = http.server.HTTPServer(("127.0.0.1", 0), Refuse)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_an_unreachable_service_exits_75() -> None:
    result = CliRunner().invoke(
        app, ["publish", "1.4.3rc1", "--url", f"http://127.0.0.1:{free_port()}"]
    )

    assert result.exit_code == 75
    assert "unreachable" in result.output


def test_a_refusal_exits_1_naming_the_rule(refusing_service: str) -> None:
    result = CliRunner().invoke(app, ["publish", "1.4.3rc1", "--url", refusing_service])

    assert result.exit_code == 1
    assert "409 sealed-candidates-only" in result.output
