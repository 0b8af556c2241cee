"""Webhook mode end to end: ara run-async delivers the finished run to a receiver on loopback,
signed as spec §3.3 describes, and retries when the receiver fails at first."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from e2e_support import APPS

pytestmark = pytest.mark.e2e


class Receiver:
    def __init__(self, fail_first: int = 0) -> None:
        self.deliveries: list[tuple[dict[str, str], bytes]] = []
        self.fail_first = fail_first
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.deliveries.append((dict(self.headers), body))
                status = 500 if len(receiver.deliveries) <= receiver.fail_first else 200
                self.send_response(status)
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def receiver():
    r = Receiver(fail_first=1)
    yield r
    r.close()


def test_webhook_delivery_is_signed_and_retried(cli, receiver):
    assert cli("deploy", str(APPS / "calc_app.py")).returncode == 0
    proc = cli(
        "run-async",
        str(APPS / "calc_app.py"),
        "--agent",
        "calculator",
        "--input",
        "a=2",
        "--input",
        "b=3",
        "--response-mode",
        "webhook",
        "--callback-url",
        receiver.url,
        "--callback-secret",
        "s3cret",
    )
    assert proc.returncode == 0, proc.stderr
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(receiver.deliveries) < 2:
        time.sleep(0.1)
    assert len(receiver.deliveries) == 2  # the first answer was a 500, so it was delivered again
    (h1, b1), (h2, b2) = receiver.deliveries
    assert h1["X-Ara-Delivery-Id"] == h2["X-Ara-Delivery-Id"]
    for headers, body in receiver.deliveries:
        signed = f"{headers['X-Ara-Timestamp']}.{headers['X-Ara-Delivery-Id']}.".encode() + body
        expected = "sha256=" + hmac.new(b"s3cret", signed, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers["X-Ara-Signature"], expected)
        assert abs(time.time() - int(headers["X-Ara-Timestamp"])) < 300
    payload = json.loads(b2)
    assert payload["event"] == "run.completed"
    assert payload["run"]["result"]["output_text"] == "The sum is 5."
