"""The investor meeting bot's tools on its real files, run the way the sandbox runs them: each
tool's manifest source executed alone, in a directory holding the shipped files."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events
from ara_sdk import load_app

HERE = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def manifest() -> dict:
    return load_app(HERE / "app.py").manifest


@pytest.fixture
def workdir(tmp_path: Path, manifest: dict) -> Path:
    for item in manifest["runtime_profile"]["files"]:
        (tmp_path / item["path"]).write_text(item["content"])
    return tmp_path


def _tool(manifest: dict, name: str):
    row = next(t for t in manifest["agent"]["tools"] if t["function"]["name"] == name)
    namespace: dict = {}
    exec(compile(row["source"], name, "exec"), namespace)  # shipped alone: no module globals
    return namespace[row["function_name"]]


def test_manifest_ships_the_files_and_three_tools(manifest):
    assert manifest["slug"] == "investor-meeting-bot"
    assert [f["path"] for f in manifest["runtime_profile"]["files"]] == ["inbound.eml", "founder.ics"]
    assert [t["function"]["name"] for t in manifest["agent"]["tools"]] == [
        "read-meeting-request",
        "find-free-slots",
        "draft-reply",
    ]
    assert manifest["agent"]["default_agent_id"] == "meeting-bot"


def test_read_meeting_request(manifest, workdir, monkeypatch):
    monkeypatch.chdir(workdir)
    request = _tool(manifest, "read-meeting-request")()
    assert request == {
        "requester_name": "Maya Lindqvist",
        "requester_email": "maya@northwind.vc",
        "founder_name": "Sam Rivera",
        "founder_email": "sam@lumen.dev",
        "subject": "Intro call about Lumen's seed round",
        "message_id": "<CAF3x9Q2m1a7@mail.northwind.vc>",
        "requester_timezone": "Europe/London",
        "duration_minutes": 45,
        "window_start": "2026-12-01",
        "window_end": "2026-12-03",
    }


def test_free_slots_avoid_every_busy_event_and_fit_both_working_days(manifest, workdir, monkeypatch):
    monkeypatch.chdir(workdir)
    result = _tool(manifest, "find-free-slots")("Europe/London", 45, "2026-12-01", "2026-12-03")
    assert result["founder_timezone"] == "America/New_York"
    slots = result["slots"]
    assert [s["founder_local"] for s in slots] == [
        "Tue 01 Dec, 11:00 EST",
        "Wed 02 Dec, 09:00 EST",
        "Thu 03 Dec, 11:00 EST",
    ]
    assert [s["requester_local"] for s in slots] == [
        "Tue 01 Dec, 16:00 GMT",
        "Wed 02 Dec, 14:00 GMT",
        "Thu 03 Dec, 16:00 GMT",
    ]

    # Check independently against the calendar: recurring occurrences expanded, transparent ignored.
    calendar = icalendar.Calendar.from_ical((HERE / "founder.ics").read_bytes())
    ny, london = ZoneInfo("America/New_York"), ZoneInfo("Europe/London")
    events = recurring_ical_events.of(calendar).between(
        datetime(2026, 11, 30, tzinfo=UTC), datetime(2026, 12, 5, tzinfo=UTC)
    )
    opaque = [
        e
        for e in events
        if str(e.get("TRANSP", "OPAQUE")) != "TRANSPARENT" and isinstance(e.decoded("DTSTART"), datetime)
    ]
    standups = [
        e.decoded("DTSTART").astimezone(ny) for e in events if str(e.get("SUMMARY")) == "Team standup"
    ]
    assert datetime(2026, 12, 2, 9, 0, tzinfo=ny) not in standups  # EXDATE
    assert datetime(2026, 12, 1, 9, 0, tzinfo=ny) in standups
    for slot in slots:
        start = datetime.fromisoformat(slot["start_utc"].replace("Z", "+00:00"))
        end = start + timedelta(minutes=45)
        assert end - start == timedelta(minutes=45)
        for event in opaque:
            assert end <= event.decoded("DTSTART") or start >= event.decoded("DTEND"), event.get("SUMMARY")
        for tz in (ny, london):
            local_start, local_end = start.astimezone(tz), end.astimezone(tz)
            assert local_start.weekday() < 5
            assert local_start.hour >= 9 and (local_end.hour, local_end.minute) <= (17, 0)
        assert datetime(2026, 12, 1, tzinfo=ny) <= start < datetime(2026, 12, 4, tzinfo=ny)


def test_draft_reply_proposes_the_slots(manifest, workdir, monkeypatch):
    monkeypatch.chdir(workdir)
    slots = _tool(manifest, "find-free-slots")("Europe/London", 45, "2026-12-01", "2026-12-03")["slots"]
    reply = _tool(manifest, "draft-reply")(
        "Maya Lindqvist", "maya@northwind.vc", "Intro call about Lumen's seed round", slots, 45, "Sam Rivera"
    )
    assert reply["to"] == "maya@northwind.vc"
    assert reply["subject"] == "Re: Intro call about Lumen's seed round"
    assert reply["reply"].startswith("Hi Maya,")
    assert "45-minute slots" in reply["reply"]
    for slot in slots:
        assert f"{slot['requester_local']} (your time) / {slot['founder_local']} (mine)" in reply["reply"]
    assert reply["reply"].rstrip().endswith("Sam")


def test_a_full_calendar_asks_for_more_options(manifest, workdir, monkeypatch):
    monkeypatch.chdir(workdir)
    result = _tool(manifest, "find-free-slots")("Asia/Tokyo", 45, "2026-12-01", "2026-12-03")
    assert result["slots"] == []  # New York and Tokyo office hours never overlap
    reply = _tool(manifest, "draft-reply")(
        "Maya Lindqvist", "maya@northwind.vc", "Intro", [], 45, "Sam Rivera"
    )
    assert "could you share a few more options" in reply["reply"]


def test_email_without_a_time_zone_falls_back_to_the_date_header(manifest, workdir, monkeypatch):
    monkeypatch.chdir(workdir)
    text = (workdir / "inbound.eml").read_text().replace("Based in London (Europe/London)", "")
    text = text.replace("Date: Tue, 24 Nov 2026 09:12:44 +0000", "Date: Tue, 24 Nov 2026 09:12:44 +0100")
    (workdir / "other.eml").write_text(text)
    request = _tool(manifest, "read-meeting-request")("other.eml")
    assert request["requester_timezone"] == "Etc/GMT-1"
    shutil.rmtree(workdir, ignore_errors=True)
