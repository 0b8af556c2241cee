"""Typed bodies of the control-plane and session requests (msgspec Structs), with the ranges the
server accepts. `body.decode` converts a decoded JSON object into one and answers 422 naming the
JSON path of the first problem."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

__all__ = [
    "MAX_EXPIRES_IN_HOURS",
    "MAX_REQUESTS_PER_MINUTE",
    "InviteAccept",
    "InviteCreate",
    "KeyCreate",
    "SecretPut",
    "ToolExecute",
]

#: Largest `requests_per_minute` of a runtime or app header key.
MAX_REQUESTS_PER_MINUTE = 1_000_000
#: Longest invite validity, in hours (one year).
MAX_EXPIRES_IN_HOURS = 24 * 366

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class KeyCreate(msgspec.Struct, kw_only=True, forbid_unknown_fields=False):
    """`POST /apps/{app_id}/keys` and `/x-keys`: `name` (default `<slug>-key` / `<slug>-x-header`),
    `requests_per_minute` (1 to 1,000,000; default 60)."""

    name: Name | None = None
    requests_per_minute: Annotated[int, msgspec.Meta(ge=1, le=MAX_REQUESTS_PER_MINUTE)] = 60


class InviteCreate(msgspec.Struct, kw_only=True):
    """`POST /apps/{app_id}/invites`: `email`, `role` (`viewer` default, or `member`),
    `expires_in_hours` (1 to 8784; default 168)."""

    email: Annotated[str, msgspec.Meta(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")]
    role: Literal["viewer", "member"] = "viewer"
    expires_in_hours: Annotated[int, msgspec.Meta(ge=1, le=MAX_EXPIRES_IN_HOURS)] = 168


class InviteAccept(msgspec.Struct, kw_only=True):
    """`POST /auth/cli/invites/accept`: the invite `token`."""

    token: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class SecretPut(msgspec.Struct, kw_only=True):
    """`POST /apps/{app_id}/secrets`: `name` and `values` (checked further by the secret rules)."""

    name: Annotated[str, msgspec.Meta(max_length=64)]
    values: dict[str, str | None]


class ToolExecute(msgspec.Struct, kw_only=True):
    """`POST /session/runtime/tools/execute`: `tool_name`, `args` (an object; default `{}`) and the
    optional `session_id`."""

    tool_name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    args: dict[str, Any] = msgspec.field(default_factory=dict)
    session_id: Annotated[str, msgspec.Meta(max_length=64)] | None = None
