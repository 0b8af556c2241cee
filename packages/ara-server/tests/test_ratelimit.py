"""The per-key rate limiter: the sliding window, and memory bounded by the keys active in it."""

from __future__ import annotations

import pytest
from ara_server.services.ratelimit import WINDOW_SECONDS, RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_idle_keys_are_forgotten_once_their_window_is_empty() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    for i in range(5000):
        assert limiter.check(f"key-{i}", 10) is None
    assert len(limiter) == 5000
    clock.now += WINDOW_SECONDS - 1
    assert limiter.check("key-0", 10) is None
    assert len(limiter) == 5000  # all still inside their window
    clock.now += 1
    assert limiter.check("fresh", 10) is None
    # every key but the two counted in the last minute is gone
    assert len(limiter) == 2


def test_forgetting_an_idle_key_does_not_lift_a_limit_still_in_force() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    assert [limiter.check("busy", 2) for _ in range(2)] == [None, None]
    for i in range(100):
        clock.now += 0.1
        limiter.check(f"other-{i}", 1)
    assert limiter.check("busy", 2) == 50.0  # still limited: its window is not empty
    clock.now += 50
    assert limiter.check("busy", 2) is None


def test_at_most_max_keys_are_tracked() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock, max_keys=3)
    for key in ("a", "b", "c", "d"):
        clock.now += 1
        assert limiter.check(key, 1) is None
    assert len(limiter) == 3
    # "a" (oldest last request) was forgotten; the others are still limited
    assert limiter.check("a", 1) is None
    assert limiter.check("c", 1) is not None and limiter.check("d", 1) is not None


def test_keys_without_a_limit_are_not_tracked() -> None:
    limiter = RateLimiter(clock=Clock())
    for _ in range(1000):
        assert limiter.check("unlimited", 0) is None
    assert len(limiter) == 0


def test_a_refused_request_is_not_counted() -> None:
    clock = Clock()
    limiter = RateLimiter(clock=clock)
    assert limiter.check("k", 1) is None
    clock.now += 10
    assert limiter.check("k", 1) == 50.0
    clock.now += 50
    assert limiter.check("k", 1) is None


def test_max_keys_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_keys"):
        RateLimiter(max_keys=0)
