"""`ara auth login` OAuth flows (spec §5.4) against a fake auth server on loopback that plays both
the Ara CLI-auth routes and the Supabase token endpoint: polling and localhost callback."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from urllib.parse import parse_qs, urlparse

import pytest
import uvicorn
from e2e_support import base_env
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

pytestmark = pytest.mark.e2e


class FakeAuth:
    def __init__(self) -> None:
        self.base = ""
        self.challenge = ""
        self.polls = 0
        self.token_bodies: list[dict] = []

    async def config(self, request: Request) -> JSONResponse:
        return JSONResponse({"supabase_url": self.base + "/sb", "supabase_anon_key": "anon-key"})

    async def device_start(self, request: Request) -> JSONResponse:
        body = await request.json()
        self.challenge = body["code_challenge"]
        assert body["code_challenge_method"] == "s256" and body["provider"] == "github"
        return JSONResponse(
            {
                "authorize_url": self.base + "/approve",
                "session_id": "dev-1",
                "poll_token": "pt",
                "interval_seconds": 1,
            }
        )

    async def device_status(self, request: Request) -> JSONResponse:
        assert request.query_params["poll_token"] == "pt"
        self.polls += 1
        if self.polls < 2:
            return JSONResponse({"status": "pending"})
        return JSONResponse(
            {"status": "approved", "auth_code": "code-123", "redirect_uri": "http://127.0.0.1/cb"}
        )

    async def token(self, request: Request) -> JSONResponse:
        body = await request.json()
        self.token_bodies.append(
            {"query": dict(request.query_params), "apikey": request.headers.get("apikey"), **body}
        )
        digest = (
            base64.urlsafe_b64encode(hashlib.sha256(body["code_verifier"].encode()).digest())
            .decode()
            .rstrip("=")
        )
        if self.challenge and digest != self.challenge:
            return JSONResponse({"error": "bad verifier"}, status_code=400)
        return JSONResponse(
            {
                "access_token": "jwt-access",
                "refresh_token": "jwt-refresh",
                "expires_in": 3600,
                "user": {"id": "u_1", "email": "dev@example.com"},
            }
        )

    async def whoami(self, request: Request) -> JSONResponse:
        if request.headers.get("authorization") != "Bearer jwt-access":
            return JSONResponse({"error": {"message": "bad token"}}, status_code=401)
        return JSONResponse({"ok": True, "user": {"id": "u_1", "email": "dev@example.com"}})


@pytest.fixture
def fake_auth():
    fake = FakeAuth()
    app = Starlette(
        routes=[
            Route("/auth/cli/config", fake.config),
            Route("/auth/cli/device/start", fake.device_start, methods=["POST"]),
            Route("/auth/cli/device/status", fake.device_status),
            Route("/sb/auth/v1/token", fake.token, methods=["POST"]),
            Route("/auth/cli/whoami", fake.whoami),
        ]
    )
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    fake.base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    yield fake
    server.should_exit = True
    thread.join(10)
    sock.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_poll_flow_stores_a_jwt_that_whoami_uses(fake_auth, home, workdir):
    env = base_env(home)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "ara_cli",
            "auth",
            "login",
            "--provider",
            "github",
            "--auth-flow",
            "poll",
            "--no-browser",
            "--api-base-url",
            fake_auth.base,
        ],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["status"] == "logged_in" and out["user"]["email"] == "dev@example.com"
    assert "Open this URL to sign in with github:" in proc.stderr
    token_call = fake_auth.token_bodies[0]
    assert token_call["query"] == {"grant_type": "pkce"} and token_call["apikey"] == "anon-key"
    assert token_call["auth_code"] == "code-123" and token_call["redirect_uri"] == "http://127.0.0.1/cb"
    record = json.loads((home / ".ara" / "credentials.json").read_text())
    assert record["auth_type"] == "supabase_jwt" and record["access_token"] == "jwt-access"
    assert (home / ".ara" / "credentials.json").stat().st_mode & 0o777 == 0o600
    who = subprocess.run(
        [sys.executable, "-m", "ara_cli", "auth", "whoami"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert who.returncode == 0, who.stderr
    assert json.loads(who.stdout)["auth_source"] == "supabase_jwt"


def test_localhost_flow_receives_the_browser_redirect(fake_auth, home, workdir):
    port = _free_port()
    env = base_env(home) | {"ARA_CLI_OAUTH_PORT": str(port)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ara_cli",
            "auth",
            "login",
            "--provider",
            "google",
            "--auth-flow",
            "localhost",
            "--no-browser",
            "--api-base-url",
            fake_auth.base,
        ],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    try:
        line = ""
        deadline = time.monotonic() + 30
        while "/auth/v1/authorize?" not in line and time.monotonic() < deadline:
            line = proc.stderr.readline()
        query = parse_qs(urlparse(line.strip()).query)
        assert query["redirect_to"] == [f"http://127.0.0.1:{port}/auth/callback"]
        assert query["code_challenge_method"] == ["s256"] and query["provider"] == ["google"]
        with pytest.raises(urllib.error.HTTPError, match="400"):  # a forged state is refused
            urllib.request.urlopen(
                f"http://127.0.0.1:{port}/auth/callback?code=evil&state=forged", timeout=10
            )
        with urllib.request.urlopen(
            f"http://127.0.0.1:{port}/auth/callback?code=good-code&state={query['state'][0]}", timeout=10
        ) as response:
            assert b"sign-in complete" in response.read()
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert json.loads(out)["status"] == "logged_in"
    assert fake_auth.token_bodies[-1]["auth_code"] == "good-code"


def test_invalid_oauth_port_is_reported(fake_auth, home, workdir):
    env = base_env(home) | {"ARA_CLI_OAUTH_PORT": "70000"}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "ara_cli",
            "auth",
            "login",
            "--auth-flow",
            "localhost",
            "--no-browser",
            "--api-base-url",
            fake_auth.base,
        ],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1 and "must be 1-65535" in proc.stderr
    assert re.search(r"ara auth: login failed", proc.stderr)
