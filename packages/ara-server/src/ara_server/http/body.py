"""Request decoding shared by the routers: the JSON body and the bearer token."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from ..errors import ApiProblem

__all__ = ["bearer", "json_body"]


async def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object body (`{}` when empty); 400 for invalid JSON or a non-object."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiProblem(400, "invalid_json", f"request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ApiProblem(400, "invalid_body", "request body must be a JSON object")
    return data


def bearer(request: Request) -> str:
    """The token of an `Authorization: Bearer` header, or `""`."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return ""
