"""Deploy of a job-first app, observed on a recording server: the required environment keys are
synced as one app secret (named as the newest original SDK names it) and never sent in the
runtime profile; the manifest is validated before any request."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.recording_server import Body, RecordingServer

APP = '''
import ara_sdk as ara


@ara.tool
def sign(word: str) -> dict:
    """Sign a word."""
    return {"signed": word + ara.secret("JOB_TOKEN")}


ara.Job("job-env-sync", system_instructions="Sign the word.", required_env=["ZED_KEY", "JOB_REGION"])
'''


def _responder(
    method: str, path: str, query: dict[str, str], body: Body, raw: bytes, content_type: str
) -> tuple[int, Any]:
    if (method, path) == ("GET", "/apps"):
        return 200, {"apps": []}
    if (method, path) == ("POST", "/apps"):
        return 201, {"app": {"id": "app_1", "slug": "job-env-sync"}}
    if path.endswith("/keys") and method == "POST":
        return 201, {"key": "ara_rk_recorded", "id": "key_1"}
    if path.endswith("/secrets") and method == "GET":
        return 200, {"secrets": [{"name": "stale-secret"}]}
    return 200, {"ok": True}


def _client(tmp_path: Path, base_url: str) -> Any:
    from ara_sdk import AraClient, load_app

    source = tmp_path / "job_env_sync_app.py"
    source.write_text(APP)
    app = load_app(str(source))
    return AraClient(manifest=app, api_key="ak_recorded", base_url=base_url, cwd=tmp_path)


def test_required_env_keys_are_synced_as_one_secret_and_stripped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("ZED_KEY", "zz")
    monkeypatch.setenv("JOB_REGION", "eu-west")
    monkeypatch.setenv("JOB_TOKEN", "tok-123456")
    with RecordingServer(_responder) as rec, _client(tmp_path, rec.base_url) as client:
        result = client.deploy()
    calls = [(e.method, e.path) for e in rec.exchanges]
    created = next(e for e in rec.exchanges if (e.method, e.path) == ("POST", "/apps"))
    assert isinstance(created.body.value, dict)
    # the original 0.1.58 sends exactly this profile and secret for these keys (seen on a recording server)
    assert created.body.value["runtime_profile"] == {"secret_refs": [{"name": "sdk-dict-f4e1a2725d52"}]}
    upsert = next(e for e in rec.exchanges if (e.method, e.path) == ("POST", "/apps/app_1/secrets"))
    assert upsert.body.value == {
        "name": "sdk-dict-f4e1a2725d52",
        "values": {"ZED_KEY": "zz", "JOB_REGION": "eu-west", "JOB_TOKEN": "tok-123456"},
    }
    assert ("DELETE", "/apps/app_1/secrets/stale-secret") in calls  # the profile's refs are the whole set
    assert result["secrets"]["synced"] == ["sdk-dict-f4e1a2725d52"]


def test_a_missing_required_env_key_stops_deploy_before_anything_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from ara_sdk import MissingDeployEnvError

    monkeypatch.setenv("JOB_REGION", "eu-west")
    monkeypatch.setenv("JOB_TOKEN", "tok")
    monkeypatch.delenv("ZED_KEY", raising=False)
    with (
        RecordingServer(_responder) as rec,
        _client(tmp_path, rec.base_url) as client,
        pytest.raises(MissingDeployEnvError) as caught,
    ):
        client.deploy()
    assert caught.value.names == ["ZED_KEY"]
    assert rec.exchanges == []


def test_an_invalid_manifest_is_refused_before_any_request(tmp_path: Path):
    from ara_core import ManifestError
    from ara_sdk import AraClient

    manifest = {
        "name": "bad",
        "slug": "bad-app",
        "workflows": [{"id": "wf", "trigger": {"type": "schedule", "cron": "not a cron"}}],
    }
    with RecordingServer(_responder) as rec:
        client = AraClient(manifest=manifest, api_key="ak_recorded", base_url=rec.base_url, cwd=tmp_path)
        with client, pytest.raises(ManifestError) as caught:
            client.deploy()
    assert caught.value.errors and all(path.startswith("$") for path, _ in caught.value.errors)
    assert rec.exchanges == []
