"""`ara runtime files download` and `AraRuntimeClient.files_download` against a real ara-server:
binary bytes come back byte for byte; the printed summary and the request match the original
0.1.58 CLI (seen on a recording server)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from support.recording_server import RecordingServer

pytestmark = pytest.mark.e2e

PAYLOAD = bytes(range(256)) * 3 + b"\x00\xff not utf-8 \xc3"


def _json(proc: Any) -> dict[str, Any]:
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_binary_file_round_trips_through_upload_and_download(cli: Any, server: Any, workdir: Path):
    from ara_sdk import AraRuntimeClient, NotFoundError

    assert _json(cli("start"))["status"] == "running"
    (workdir / "blob.bin").write_bytes(PAYLOAD)
    up = _json(cli("runtime", "files", "upload", "--local", "blob.bin", "--path", "data/blob.bin"))
    assert up["bytes"] == len(PAYLOAD)

    down = _json(cli("runtime", "files", "download", "--path", "data/blob.bin"))
    assert down == {
        "ok": True,
        "remote_path": "/root/.ara/workspace/data/blob.bin",
        "filename": "blob.bin",
        "bytes": len(PAYLOAD),
        "output_path": str(workdir / "blob.bin"),
    }
    assert (workdir / "blob.bin").read_bytes() == PAYLOAD

    down = _json(cli("runtime", "files", "download", "--path", "data/blob.bin", "--output", "out/copy.bin"))
    assert down["output_path"] == "out/copy.bin" and (workdir / "out" / "copy.bin").read_bytes() == PAYLOAD

    missing = cli("runtime", "files", "download", "--path", "data/none.bin")
    assert missing.returncode != 0 and "Traceback" not in missing.stderr
    assert not (workdir / "none.bin").exists()

    with AraRuntimeClient(api_key=server.owner_api_key, base_url=server.base_url) as client:
        assert client.files_download(path="/root/.ara/workspace/data/blob.bin") == PAYLOAD
        with pytest.raises(NotFoundError):
            client.files_download(path="data/none.bin")


def test_download_request_matches_the_original(tmp_path: Path):
    import subprocess

    (tmp_path / "x.bin").write_bytes(b"abc\x00\xff")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "ARA_API_KEY": "ak_recorded"}
    with RecordingServer() as rec:
        env["ARA_API_BASE_URL"] = rec.base_url
        for argv in (
            ["runtime", "files", "upload", "--local", "x.bin", "--path", "data/x.bin"],
            ["runtime", "files", "download", "--path", "data/x.bin", "--output", "y.bin"],
        ):
            proc = subprocess.run(
                [sys.executable, "-m", "ara_cli", *argv],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
            )
            assert proc.returncode == 0, proc.stderr
    download = rec.exchanges[-1]
    assert (download.method, download.path, download.query) == (
        "GET",
        "/session/files/download",
        [("path", "/root/.ara/workspace/data/x.bin")],
    )
    assert "content-type" not in download.headers and download.body.kind == "none"
    assert (tmp_path / "y.bin").read_bytes() == b"abc\x00\xff"
