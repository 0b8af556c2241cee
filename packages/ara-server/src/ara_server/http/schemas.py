"""Typed bodies of the control-plane and session requests (msgspec Structs), with the ranges the
server accepts. `body.decode` converts a decoded JSON object into one and answers 422 naming the
JSON path of the first problem."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

__all__ = [
    "MAX_AGENT_ID",
    "AppUpdate",
    "MAX_EXPIRES_IN_HOURS",
    "MAX_IDEMPOTENCY_KEY",
    "MAX_REQUESTS_PER_MINUTE",
    "Callback",
    "ChatMessage",
    "ChatRequest",
    "ControlCall",
    "EventRequest",
    "InviteAccept",
    "InviteCreate",
    "KeyCreate",
    "FilesQuery",
    "LogsQuery",
    "RunEventsQuery",
    "SessionQuery",
    "StateQuery",
    "ToolsQuery",
    "RunRequest",
    "SecretPut",
    "ToolExecute",
]

#: Largest `requests_per_minute` of a runtime or app header key.
MAX_REQUESTS_PER_MINUTE = 1_000_000
#: Longest invite validity, in hours (one year).
MAX_EXPIRES_IN_HOURS = 24 * 366
#: Longest agent or workflow id of a run request, in characters.
MAX_AGENT_ID = 256
#: Longest idempotency key, in characters.
MAX_IDEMPOTENCY_KEY = 256

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


AgentId = Annotated[str, msgspec.Meta(max_length=MAX_AGENT_ID)]
IdempotencyKey = Annotated[str, msgspec.Meta(max_length=MAX_IDEMPOTENCY_KEY)]


class Callback(msgspec.Struct, kw_only=True, forbid_unknown_fields=False):
    """The webhook of an async run: `url` (http(s), checked by the callback URL policy), `secret`
    (signs each delivery; default: the app's signing secret) and `events` (default
    `["run.completed", "run.failed"]`)."""

    url: str | None = None
    secret: str | None = None
    events: list[str] | None = None


class RunRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=False):
    """`POST /v1/apps/{app_id}/run` and `/runs`.

    Attributes:
        agent_id: The agent or workflow to run (at most 256 characters; default: the app's default).
        workflow_id: Older clients' name for `agent_id` (used when `agent_id` is empty).
        input: The run's input, a free-form JSON object (default `{}`).
        warmup: Sync run only: answer at once without running anything.
        response_mode: Async run only: `poll` (default) or `webhook` (needs `callback`).
        run_id: Async run only: a client-chosen run id (1-128 letters, digits, `.`, `_`, `:`, `-`).
        idempotency_key: Async run only: a repeat with this key answers the first run (at most 256
            characters; the `X-Idempotency-Key` header is used when absent).
        callback: Async run with `response_mode: webhook`: where the result is posted.
    """

    agent_id: AgentId | None = None
    workflow_id: AgentId | None = None
    input: dict[str, Any] | None = None
    warmup: bool | None = None
    response_mode: Literal["poll", "webhook", ""] | None = None
    run_id: Annotated[str, msgspec.Meta(max_length=128)] | None = None
    idempotency_key: IdempotencyKey | None = None
    callback: Callback | None = None


class EventRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=False):
    """`POST /v1/apps/{app_id}/events`: an event for the workflows and hooks its type triggers.

    Attributes:
        event_type: The type the triggers name (non-empty).
        agent_id: The sender's agent (recorded, not used for matching).
        workflow_id: Older clients' name for `agent_id`.
        channel: Where the event came from (e.g. `webhook`, `api`).
        source: Who sent it.
        message: Text passed to the runs' input.
        payload: Free-form JSON object passed to the runs' input (default `{}`).
        metadata: Free-form JSON object passed to the runs' input (default `{}`).
        idempotency_key: Recorded only; the `X-Idempotency-Key` header makes the event idempotent.
    """

    event_type: Annotated[str, msgspec.Meta(min_length=1)]
    agent_id: str | None = None
    workflow_id: str | None = None
    channel: str | None = None
    source: str | None = None
    message: str | None = None
    payload: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    idempotency_key: str | None = None


class ControlCall(msgspec.Struct, kw_only=True, forbid_unknown_fields=False):
    """`POST /session/runtime/control/call`: a UI control `action` with its free-form `args`, in the
    caller's running session (`session_id`, default: the latest)."""

    session_id: str | None = None
    action: str | None = None
    args: dict[str, Any] | None = None


class ChatMessage(msgspec.Struct, kw_only=True, forbid_unknown_fields=False):
    """One chat message: `role` (`user`, `assistant`, `system`) and its `content` (text, or a list
    of free-form content parts)."""

    role: str | None = None
    content: str | list[Any] | None = None


class ChatRequest(msgspec.Struct, kw_only=True, forbid_unknown_fields=False):
    """`POST /chat`: the conversation so far (at least one message); the last one is answered."""

    messages: Annotated[list[ChatMessage], msgspec.Meta(min_length=1)]


class AppUpdate(msgspec.Struct, kw_only=True, forbid_unknown_fields=False):
    """`PATCH /apps/{app_id}`: manifest keys that replace the deployed ones (merged at the top level;
    the merged manifest is then validated as a whole, unknown keys kept), and/or the app's `status`.

    Attributes:
        status: `active` or `inactive` (default: unchanged).
        name: The app's display name.
        description: The app's description.
        agent: The agent block (agents, tools, subagents, hooks, schedules).
        workflows: The workflows.
        interfaces: Free-form interface settings, copied from the app's declaration.
        runtime_profile: Free-form runtime settings (files, startup, sandbox).
    """

    status: Literal["active", "inactive"] | None = None
    name: str | msgspec.UnsetType = msgspec.UNSET
    description: str | msgspec.UnsetType = msgspec.UNSET
    agent: dict[str, Any] | msgspec.UnsetType = msgspec.UNSET
    workflows: list[dict[str, Any]] | msgspec.UnsetType = msgspec.UNSET
    interfaces: dict[str, Any] | msgspec.UnsetType = msgspec.UNSET
    runtime_profile: dict[str, Any] | msgspec.UnsetType = msgspec.UNSET


class SessionQuery(msgspec.Struct, kw_only=True, forbid_unknown_fields=False):
    """The query of the session runtime routes: `session_id` (default: the caller's latest session)."""

    session_id: str | None = None


class ToolsQuery(SessionQuery, kw_only=True, forbid_unknown_fields=False):
    """`GET /session/runtime/tools`: `kind` of tools listed (`all` default, `builtin`, `app`,
    `connector`)."""

    kind: Literal["all", "builtin", "app", "connector"] = "all"


class LogsQuery(msgspec.Struct, kw_only=True, forbid_unknown_fields=False):
    """`GET /v1/apps/{app_id}/logs/stream`: `follow` (`false`, in any case, stops at the last line;
    anything else keeps the stream open; default `true`)."""

    follow: str = "true"


class StateQuery(msgspec.Struct, kw_only=True, forbid_unknown_fields=False):
    """`GET /automations/runs`: only runs in `state` (queued, running, succeeded, failed, skipped or
    cancelled; default: all)."""

    state: str | None = None


class FilesQuery(msgspec.Struct, kw_only=True, forbid_unknown_fields=False):
    """The query of the session file routes: `path`, relative to the workspace (listing: default
    the root; read and download: required)."""

    path: str = ""


class RunEventsQuery(msgspec.Struct, kw_only=True, forbid_unknown_fields=False):
    """`GET /v1/apps/{app_id}/runs/{run_id}/events`: `last_event_id`, the id of the last event
    seen (or `end`), used when no `Last-Event-ID` header is sent."""

    last_event_id: str | None = None
