"""Strict cron, time zones and next fire times (with DST), plus property tests."""

from datetime import UTC, datetime

import pytest
from ara_core import DeclarationError, next_fire_times, normalize_schedule_spec, slugify, validate_cron
from hypothesis import given, settings
from hypothesis import strategies as st


def test_range_of_one_hour_fires_daily_not_hourly():
    times = next_fire_times(
        {"cron": "0 5-5 * * *", "timezone": "UTC"}, after=datetime(2026, 1, 1, tzinfo=UTC), count=3
    )
    assert times == [datetime(2026, 1, d, 5, tzinfo=UTC) for d in (1, 2, 3)]


def test_time_zones_and_dst():
    # 09:00 in New York is 14:00 UTC in winter and 13:00 UTC from the March 8, 2026 DST change on.
    times = next_fire_times(
        {"cron": "0 9 * * *", "timezone": "America/New_York"},
        after=datetime(2026, 3, 6, 20, tzinfo=UTC),
        count=3,
    )
    assert [t.hour for t in times] == [14, 13, 13]  # Mar 7 EST, then Mar 8 and 9 EDT


def test_every_and_one_shot():
    start = datetime(2026, 1, 1, tzinfo=UTC)
    assert next_fire_times({"kind": "every", "every_seconds": 60}, after=start, count=2)[1] == datetime(
        2026, 1, 1, 0, 2, tzinfo=UTC
    )
    spec = {"cron": "4 3 2 1 *", "one_shot_at": "2030-01-02T03:04:05Z"}
    assert next_fire_times(spec, after=start, count=5) == [datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)]


@pytest.mark.parametrize("expr", ["0 25 * * *", "* * *", "61 * * * *", "0 0 32 * *", "nonsense here a b c"])
def test_invalid_cron_is_rejected(expr):
    with pytest.raises(DeclarationError, match="invalid cron expression"):
        validate_cron(expr)


def test_normalizer_errors_name_the_field():
    with pytest.raises(DeclarationError, match="schedule id is required"):
        normalize_schedule_spec({"kind": "cron"})
    with pytest.raises(DeclarationError, match="unknown time zone 'Nowhere/City'"):
        normalize_schedule_spec(
            {
                "id": "x",
                "kind": "cron",
                "cron": "0 1 * * *",
                "timezone": "Nowhere/City",
                "run": {"type": "agent", "agent_id": "a"},
            }
        )
    spec = normalize_schedule_spec(
        {
            "id": "x",
            "kind": "cron",
            "expr": "0 1 * * *",
            "one_shot_at": "2030-01-02T04:04:05+01:00",
            "run": {"type": "tool", "tool": "t", "args": "bad"},
        }
    )
    assert spec == {
        "id": "x",
        "kind": "cron",
        "cron": "0 1 * * *",
        "timezone": "UTC",
        "one_shot_at": "2030-01-02T03:04:05Z",
        "run": {"type": "tool", "tool_name": "t", "args": {}},
    }


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_slugify_properties(text):
    slug = slugify(text)
    assert slugify(slug) == slug
    assert len(slug) <= 120
    assert not slug.startswith("-") and not slug.endswith("-") and "--" not in slug
    assert all(ch.isalnum() or ch == "-" for ch in slug)
    assert slug == slug.lower() or not slug.isascii()


minute = st.one_of(st.just("*"), st.integers(0, 59).map(str))
hour = st.one_of(
    st.just("*"),
    st.integers(0, 23).map(str),
    st.tuples(st.integers(0, 23), st.integers(0, 23)).map(lambda t: f"{min(t)}-{max(t)}"),
)


@settings(max_examples=100, deadline=None)
@given(minute, hour, st.sampled_from(["UTC", "Europe/London", "Asia/Kolkata", "America/Los_Angeles"]))
def test_schedule_normalization_properties(m, h, tz):
    expr = f"{m} {h} * * *"
    spec = normalize_schedule_spec(
        {
            "id": "p",
            "kind": "cron",
            "cron": f"  {m}  {h} * * * ",
            "timezone": tz,
            "run": {"type": "agent", "agent_id": "a"},
        }
    )
    assert spec["cron"] == expr
    assert normalize_schedule_spec(spec) == spec  # idempotent
    times = next_fire_times(spec, after=datetime(2026, 6, 1, tzinfo=UTC), count=3)
    assert times == sorted(times) and len(set(times)) == 3
    if h.isdigit():
        from zoneinfo import ZoneInfo

        assert all(t.astimezone(ZoneInfo(tz)).hour == int(h) for t in times)
