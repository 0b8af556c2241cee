"""Request decoding shared by the routers: the JSON body (size and depth limited), typed request
bodies, and the bearer token."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any, TypeVar

import msgspec
from starlette.requests import ClientDisconnect, Request

from ..errors import ApiProblem

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "DEFAULT_MAX_JSON_DEPTH",
    "bearer",
    "decode",
    "decode_query",
    "header",
    "json_body",
    "read_body",
]

#: Body limit when a router passes none, in bytes.
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
#: Deepest nesting of arrays and objects when a router passes none.
DEFAULT_MAX_JSON_DEPTH = 64

T = TypeVar("T")


def _too_large(limit: int) -> ApiProblem:
    return ApiProblem(
        413, "body_too_large", f"request body is larger than {limit} bytes (the limit of this route)"
    )


async def read_body(request: Request, *, limit: int = DEFAULT_MAX_BODY_BYTES) -> bytes:
    """The raw request body, read up to `limit` bytes (it consumes the request's body stream).

    A declared `Content-Length` above the limit is refused before reading; a body streamed without
    one is refused as soon as it passes the limit (the rest is never buffered).

    Raises:
        ApiProblem: 413 `body_too_large`; 400 `invalid_body` for a malformed `Content-Length`.
        starlette.requests.ClientDisconnect: The client went away before the body was read.
    """
    declared = header(request, "content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise ApiProblem(400, "invalid_body", "Content-Length must be a non-negative integer")
        if int(declared) > limit:
            raise _too_large(limit)
    # The ASGI messages straight from `receive` (an async generator per request costs more).
    chunks: list[bytes] = []
    size = 0
    receive = request.receive
    while True:
        message = await receive()
        kind = message["type"]
        if kind == "http.request":
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        elif kind == "http.disconnect":
            raise ClientDisconnect()
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _shape_problem(value: Any, limit: int) -> str | None:
    """Why `value` is refused: arrays/objects nested deeper than `limit`, a NUL character in a
    string or key (no database text column stores it), or a lone surrogate (`\\ud800`-`\\udfff`
    not part of a pair: no UTF-8 text holds it, so no answer could echo it); `None` when it is
    fine. Iterative."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return "request body contains a NUL character (\\u0000) in a string"
            if _SURROGATE.search(item):
                return "request body contains a lone surrogate (\\ud800-\\udfff) in a string"
        elif isinstance(item, dict | list):
            if level > limit:
                return f"request body nests arrays/objects deeper than {limit} levels"
            if isinstance(item, dict):
                stack.extend((key, level) for key in item)  # pyright: ignore[reportUnknownVariableType]
                children = item.values()  # pyright: ignore[reportUnknownMemberType,reportUnknownVariableType]
            else:
                children = item  # pyright: ignore[reportUnknownVariableType]
            stack.extend((child, level + 1) for child in children)  # pyright: ignore[reportUnknownVariableType]
    return None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is out of the range of a double")
    return value


#: A surrogate code point (paired ones are decoded into one character, so any left is lone).
_SURROGATE = re.compile("[\ud800-\udfff]")
#: What puts a surrogate into a decoded string: an escape `\ud800`-`\udfff`, or one let through.
_SURROGATE_IN_TEXT = re.compile("\\\\u[dD][89a-fA-F]|[\ud800-\udfff]")
#: Built once (not per request): refuses NaN/Infinity and numbers beyond a double.
_DECODER = json.JSONDecoder(parse_constant=_no_constant, parse_float=_finite)


async def json_body(
    request: Request, *, limit: int = DEFAULT_MAX_BODY_BYTES, max_depth: int = DEFAULT_MAX_JSON_DEPTH
) -> dict[str, Any]:
    """The request's JSON object body (`{}` when empty).

    Args:
        request: The request.
        limit: Largest body accepted, in bytes (default 1 MiB).
        max_depth: Deepest nesting of arrays and objects accepted (default 64).

    Raises:
        ApiProblem: 413 `body_too_large`; 400 `invalid_json` (not JSON, not UTF-8, NaN/Infinity,
            nested deeper than `max_depth`, a NUL character or a lone surrogate in a string);
            400 `invalid_body` (not an object).
    """
    raw = await read_body(request, limit=limit)
    if not raw.strip():
        return {}
    try:
        text = raw.decode(json.detect_encoding(raw), "surrogatepass")  # as `json.loads` does
        data = _DECODER.decode(text)
    except RecursionError:
        raise ApiProblem(
            400, "invalid_json", f"request body nests arrays/objects deeper than {max_depth} levels"
        ) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiProblem(400, "invalid_json", f"request body is not valid JSON: {exc}") from None
    # A NUL in a decoded string needs a `\u0000` escape in the text (a raw one is not valid JSON),
    # a lone surrogate a `\udXXX` escape or invalid UTF-8 let through by "surrogatepass", and n
    # levels of nesting need n brackets: most bodies skip the walk.
    if (
        "\\u0000" in text
        or text.count("[") + text.count("{") > max_depth
        or (("\\u" in text or not text.isascii()) and _SURROGATE_IN_TEXT.search(text))
    ):
        problem = _shape_problem(data, max_depth)
        if problem is not None:
            raise ApiProblem(400, "invalid_json", problem)
    if not isinstance(data, dict):
        raise ApiProblem(400, "invalid_body", "request body must be a JSON object")
    return data  # pyright: ignore[reportUnknownVariableType]


def decode(
    data: Any, into: type[T], *, code: str = "invalid_body", codes: Mapping[str, str] | None = None
) -> T:
    """Convert decoded JSON into a typed request body (a msgspec Struct).

    Args:
        data: The decoded JSON (usually from `json_body`).
        into: The Struct type.
        code: The error code of a refusal.
        codes: Error codes by the JSON path of the refused field (e.g. `{"$.input": "invalid_input"}`),
            used instead of `code` for that field and what it contains.

    Raises:
        ApiProblem: 422 with `code`, the message naming the JSON path (`at `$.field`: ...`).
    """
    try:
        return msgspec.convert(data, into, strict=True)
    except msgspec.ValidationError as exc:
        text = str(exc)
        path = "$"
        if " - at `" in text:
            message, _, at = text.rpartition(" - at `")
            path = at.rstrip("`")
            text = f"at `{path}`: {message}"
        for prefix, field_code in (codes or {}).items():
            if path == prefix or path.startswith((prefix + ".", prefix + "[")):
                code = field_code
                break
        raise ApiProblem(422, code, text) from None


def decode_query(request: Request, into: type[T], *, code: str = "invalid_query") -> T:
    """The query string as a typed Struct (strings converted to numbers, booleans and times; a
    repeated parameter keeps its last value).

    Raises:
        ApiProblem: 422 with `code`, naming the parameter (`at `name`: ...`).
    """
    try:
        return msgspec.convert(dict(request.query_params), into, strict=False)
    except msgspec.ValidationError as exc:
        text = str(exc)
        if " - at `$." in text:
            message, _, name = text.rpartition(" - at `$.")
            text = f"at `{name.rstrip('`')}`: {message}"
        raise ApiProblem(422, code, text) from None


def header(request: Request, name: str) -> str | None:
    """The value of the request header `name` (lowercase), or `None` when absent.

    The first one when repeated, decoded as latin-1, like `request.headers.get(name)`, but read
    straight from the ASGI scope: no `Headers` object, and no exception raised and caught inside
    for an absent header (most lookups on the hot path are for absent ones).
    """
    key = name.encode("latin-1")
    for field, value in request.scope["headers"]:
        if field == key:
            return value.decode("latin-1")
    return None


def bearer(request: Request) -> str:
    """The token of an `Authorization: Bearer` header, or `""`."""
    value = header(request, "authorization") or ""
    if value[:7].lower() == "bearer ":
        return value[7:].strip()
    return ""
