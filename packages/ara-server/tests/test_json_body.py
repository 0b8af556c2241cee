"""The JSON body decoder of the routes: nesting limit, NUL refusal and encodings, including the
cases its fast path (no walk of the decoded value) must not let through."""

from __future__ import annotations

import json
from typing import Any

import pytest
from ara_server.errors import ApiProblem
from ara_server.http.body import json_body
from starlette.requests import Request


def _request(body: bytes) -> Request:
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    scope = {"type": "http", "method": "POST", "path": "/", "headers": [], "query_string": b""}
    return Request(scope, receive)


async def _decode(body: bytes, max_depth: int = 8) -> dict[str, Any]:
    return await json_body(_request(body), max_depth=max_depth)


def _nested(depth: int) -> bytes:
    """An object whose value `x` nests `depth` levels in all (lists inside the top object)."""
    return b'{"x": ' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"


async def test_nesting_up_to_the_limit_is_accepted_and_one_more_refused() -> None:
    assert await _decode(_nested(8)) == json.loads(_nested(8))
    with pytest.raises(ApiProblem) as refused:
        await _decode(_nested(9))
    assert (refused.value.status, refused.value.code) == (400, "invalid_json")
    assert "deeper than 8 levels" in refused.value.message


async def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    body = {"x": "[[[[[[[[[[{{{{{{{{{{", "y": [1, 2]}
    assert await _decode(json.dumps(body).encode()) == body


@pytest.mark.parametrize("body", [b'{"x": "a\\u0000b"}', b'{"a\\u0000b": 1}', b'{"x": [["\\u0000"]]}'])
async def test_nul_in_a_string_or_key_is_refused(body: bytes) -> None:
    with pytest.raises(ApiProblem) as refused:
        await _decode(body)
    assert (refused.value.status, refused.value.code) == (400, "invalid_json")
    assert "NUL" in refused.value.message


async def test_an_escaped_backslash_before_u0000_is_not_a_nul() -> None:
    assert await _decode(b'{"x": "\\\\u0000"}') == {"x": "\\u0000"}


async def test_a_raw_nul_is_not_json() -> None:
    with pytest.raises(ApiProblem) as refused:
        await _decode(b'{"x": "a\x00b"}')
    assert (refused.value.status, refused.value.code) == (400, "invalid_json")


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-32"])
async def test_bodies_in_any_json_encoding_decode(encoding: str) -> None:
    body = {"event_type": "démo", "n": 1.5}
    assert await _decode(json.dumps(body, ensure_ascii=False).encode(encoding)) == body


@pytest.mark.parametrize("body", [b'{"x": NaN}', b'{"x": -Infinity}', b'{"x": 1e400}'])
async def test_non_finite_numbers_are_refused(body: bytes) -> None:
    with pytest.raises(ApiProblem) as refused:
        await _decode(body)
    assert (refused.value.status, refused.value.code) == (400, "invalid_json")
