"""`GET /openapi.json`: an OpenAPI 3.1 description of every route of the server, built from the
msgspec Structs the routes decode and answer (`msgspec.json.schema_components`), plus the public
endpoints of deployed apps that declare `docs: true`."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import msgspec
from ara_core import Manifest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ..services import Services
from ..services.automations import AutomationRun, Job, JobCreate, JobUpdate, ReplayRequest
from ..services.run_views import RunQuery
from ..services.session_files import FilesWrite, Heartbeat, TerminalExec
from .schemas import (
    AppUpdate,
    ChatRequest,
    ControlCall,
    EventRequest,
    FilesQuery,
    InviteAccept,
    InviteCreate,
    KeyCreate,
    LogsQuery,
    RunEventsQuery,
    RunRequest,
    SecretPut,
    SessionQuery,
    StateQuery,
    ToolExecute,
    ToolsQuery,
)

__all__ = ["OPERATIONS", "Operation", "openapi_document", "routes"]

SERVER_VERSION = "0.1.0"


# ----------------------------------------------------------------------------- response shapes
class ErrorDetail(msgspec.Struct, kw_only=True):
    """The error of a refused request: a stable `code` and a `message` naming the JSON path or flag."""

    code: str
    message: str
    details: Any = None


class ErrorBody(msgspec.Struct, kw_only=True):
    """Every 4xx/5xx answer: `{"error": {"code", "message", "details"?}}`."""

    error: ErrorDetail


class Anything(msgspec.Struct, kw_only=True, forbid_unknown_fields=False):
    """A JSON object whose keys the route documents in its description (docs/server.md)."""


class JobList(msgspec.Struct, kw_only=True):
    """`GET /automations/jobs`: the caller's jobs, oldest first."""

    jobs: list[Job]


class JobAnswer(msgspec.Struct, kw_only=True):
    """A created or changed job."""

    job: Job


class JobDeleted(msgspec.Struct, kw_only=True):
    """`DELETE /automations/jobs/{job_id}`."""

    ok: bool
    id: str
    deleted: bool


class AutomationRunList(msgspec.Struct, kw_only=True):
    """`GET /automations/runs`: newest first, at most 100."""

    runs: list[AutomationRun]


class ReplayAnswer(msgspec.Struct, kw_only=True):
    """`POST /automations/runs/{run_id}/replay`: the new automation run (queued)."""

    ok: bool
    run: AutomationRun


class FileEntry(msgspec.Struct, kw_only=True):
    """One entry of a workspace directory (`size` in bytes)."""

    name: str
    path: str
    type: Literal["file", "dir"]
    size: int
    modified_at: str


class FileList(msgspec.Struct, kw_only=True):
    """`GET /session/files`."""

    ok: bool
    path: str
    entries: list[FileEntry]


class FileText(msgspec.Struct, kw_only=True):
    """`GET /session/files/read` (`size` in bytes)."""

    ok: bool
    path: str
    content: str
    size: int


class Written(msgspec.Struct, kw_only=True):
    """One written file (`bytes` written)."""

    path: str
    bytes: int


class WriteAnswer(msgspec.Struct, kw_only=True):
    """`POST /session/files/write`."""

    ok: bool
    written: list[Written]


class UploadAnswer(msgspec.Struct, kw_only=True):
    """`POST /session/files/upload` (`bytes` stored)."""

    ok: bool
    path: str
    bytes: int


class TerminalAnswer(msgspec.Struct, kw_only=True):
    """`POST /session/terminal/exec` (`exit_code` null on timeout; output capped at 1 MiB each)."""

    ok: bool
    exit_code: int | None
    stdout: str
    stderr: str
    timed_out: bool
    duration_seconds: float
    truncated: bool


class HeartbeatAnswer(msgspec.Struct, kw_only=True):
    """`POST /session/heartbeat` (`expires_at` null: sessions do not expire while idle)."""

    ok: bool
    session_id: str
    last_seen_at: str
    expires_at: str | None


class RunSummary(msgspec.Struct, kw_only=True, forbid_unknown_fields=False):
    """A run as listed (times ISO 8601 UTC)."""

    run_id: str
    agent_id: str
    workflow_id: str
    kind: str
    status: str
    attempt: int
    created_at: str | None
    started_at: str | None
    finished_at: str | None


class RunPage(msgspec.Struct, kw_only=True):
    """`GET /v1/apps/{app_id}/runs`: a page of runs, newest first, and the next page's cursor."""

    ok: bool
    runs: list[RunSummary]
    next_cursor: str | None


class Ok(msgspec.Struct, kw_only=True, forbid_unknown_fields=False):
    """`{"ok": true, ...}`."""

    ok: bool


class User(msgspec.Struct, kw_only=True):
    """An account."""

    id: str
    email: str


class Whoami(msgspec.Struct, kw_only=True):
    """`GET /auth/cli/whoami`."""

    ok: bool
    user: User


class AppSummary(msgspec.Struct, kw_only=True, forbid_unknown_fields=False):
    """An app as listed (`role` is the caller's)."""

    id: str
    slug: str
    name: str
    status: str


class AppList(msgspec.Struct, kw_only=True):
    """`GET /apps`."""

    apps: list[AppSummary]


class DeployWarning(msgspec.Struct, kw_only=True):
    """Something of the manifest the server does not provide, with its JSON path."""

    path: str
    message: str


class AppAnswer(msgspec.Struct, kw_only=True, forbid_unknown_fields=False):
    """A created or updated app, and the deploy warnings."""

    ok: bool
    app: AppSummary
    warnings: list[DeployWarning] = []


class UpdatedApp(msgspec.Struct, kw_only=True, forbid_unknown_fields=False):
    """The app of an update answer."""

    id: str
    slug: str
    status: str


class UpdateAnswer(msgspec.Struct, kw_only=True):
    """`PATCH /apps/{app_id}`: the app's status now and the deploy warnings of its manifest."""

    ok: bool
    app: UpdatedApp
    warnings: list[DeployWarning] = []


class MintedKey(msgspec.Struct, kw_only=True, forbid_unknown_fields=False):
    """A new runtime or app header key (`key` shown once)."""

    ok: bool
    id: str
    key: str
    key_prefix: str
    name: str
    requests_per_minute: int


class RunAnswer(msgspec.Struct, kw_only=True, forbid_unknown_fields=False):
    """`POST /v1/apps/{app_id}/run`: the ended run, its `result` and `trace`."""

    ok: bool
    run_id: str
    app_id: str
    status: str
    result: Any = None
    trace: list[Any] = []
    error: str | None = None


class RunSubmittedAnswer(msgspec.Struct, kw_only=True, forbid_unknown_fields=False):
    """`POST /v1/apps/{app_id}/runs`: the queued run (`created` false for an idempotent repeat)."""

    ok: bool
    run_id: str
    run: RunSummary
    created: bool


class RunStatusAnswer(msgspec.Struct, kw_only=True, forbid_unknown_fields=False):
    """One run (`result`, `error`, `trace` when set)."""

    ok: bool
    run: RunSummary


class EventAnswer(msgspec.Struct, kw_only=True, forbid_unknown_fields=False):
    """`POST /v1/apps/{app_id}/events`: the workflows the event matched and the runs queued."""

    ok: bool
    event_id: str
    event_type: str
    matched_workflows: list[str]
    runs: list[str]


class SessionAnswer(msgspec.Struct, kw_only=True, forbid_unknown_fields=False):
    """The caller's session (`status` `none` when there is none)."""

    ok: bool
    session_id: str | None
    status: str


class EndpointAnswer(msgspec.Struct, kw_only=True, forbid_unknown_fields=False):
    """An endpoint's answer: the run's `result` (200), or `202` with the queued `run_id` when
    the request said `Prefer: respond-async`."""

    ok: bool
    run_id: str
    status: str
    result: Any = None
    error: str | None = None


class EndpointInput(msgspec.Struct, kw_only=True, forbid_unknown_fields=False):
    """Any JSON object: its keys become the agent's input."""


class Rotated(msgspec.Struct, kw_only=True):
    """`POST /apps/api-key/rotate`: the caller's new API key (shown once); the old one stops working."""

    ok: bool
    api_key: str
    key_prefix: str
    key_identifier: str


class KeyInfo(msgspec.Struct, kw_only=True, forbid_unknown_fields=False):
    """A runtime or app header key as listed (never the key; `created_at` ISO 8601 UTC)."""

    id: str
    name: str
    key_prefix: str
    requests_per_minute: int
    is_active: bool
    created_at: str


class KeyList(msgspec.Struct, kw_only=True):
    """`GET /apps/{app_id}/keys` and `/x-keys`, oldest first."""

    keys: list[KeyInfo]


class KeyRevoked(msgspec.Struct, kw_only=True):
    """`DELETE /apps/{app_id}/keys/{key_id}` and `/x-keys/{key_id}`."""

    ok: bool
    id: str
    revoked: bool


class SecretInfo(msgspec.Struct, kw_only=True, forbid_unknown_fields=False):
    """A secret as listed: its `name` and key names, never values (`updated_at` ISO 8601 UTC)."""

    name: str
    keys: list[str]
    updated_at: str


class SecretList(msgspec.Struct, kw_only=True):
    """`GET /apps/{app_id}/secrets`, by name."""

    secrets: list[SecretInfo]


class SecretSaved(msgspec.Struct, kw_only=True):
    """`POST /apps/{app_id}/secrets`: the secret's name and its key names (sorted)."""

    ok: bool
    name: str
    keys: list[str]


class WebhookSecret(msgspec.Struct, kw_only=True):
    """`GET /apps/{app_id}/webhook-secret`: the secret signing the app's webhook deliveries."""

    ok: bool
    app_id: str
    secret: str
    algorithm: str


class SetupEndpoints(msgspec.Struct, kw_only=True):
    """The runtime URLs of an app."""

    run: str
    runs: str
    events: str
    logs: str


class SetupApp(msgspec.Struct, kw_only=True, forbid_unknown_fields=False):
    """The app of a setup answer (`role` is the caller's)."""

    id: str
    slug: str
    name: str
    status: str
    role: str


class Setup(msgspec.Struct, kw_only=True):
    """`GET /apps/{app_id}/setup`: what a client needs to call the app."""

    ok: bool
    app: SetupApp
    agents: list[str]
    default_agent_id: str | None
    endpoints: SetupEndpoints
    runtime_keys: int
    app_header_keys: list[KeyInfo]
    secrets: list[str]


class Invite(msgspec.Struct, kw_only=True):
    """A created invite (`invite_token` shown once; `expires_at` ISO 8601 UTC)."""

    id: str
    email: str
    role: Literal["viewer", "member"]
    expires_at: str
    invite_token: str
    accept_url: str


class InviteAnswer(msgspec.Struct, kw_only=True):
    """`POST /apps/{app_id}/invites`."""

    ok: bool
    invite: Invite


class InviteAccepted(msgspec.Struct, kw_only=True):
    """`POST /auth/cli/invites/accept`: the invited account's API key (shown once)."""

    ok: bool
    app_id: str
    email: str
    role: str
    api_key: str
    key_prefix: str


class ControlState(msgspec.Struct, kw_only=True):
    """Whether an app UI is connected to the session, and its actions."""

    connected: bool
    actions: list[Any]


class Capabilities(msgspec.Struct, kw_only=True, forbid_unknown_fields=False):
    """`GET /session/runtime/capabilities`: tool, skill and agent names of the session."""

    session_id: str
    session_type: str
    sandbox_url_present: bool
    tools: list[str]
    skills: list[str]
    agents: list[Any]
    control: ControlState


class SkillName(msgspec.Struct, kw_only=True):
    """A skill."""

    name: str


class SkillList(msgspec.Struct, kw_only=True):
    """`GET /session/runtime/skills`."""

    session_id: str
    skills: list[SkillName]


class SessionTool(msgspec.Struct, kw_only=True, forbid_unknown_fields=False):
    """A session tool: `kind` `builtin` (with its JSON Schema `parameters`) or `app` (with the app's
    slug)."""

    name: str
    kind: str
    description: str = ""


class SessionToolList(msgspec.Struct, kw_only=True):
    """`GET /session/runtime/tools`."""

    tools: list[SessionTool]


class ToolResult(msgspec.Struct, kw_only=True):
    """`POST /session/runtime/tools/execute`: the tool's free-form JSON `result`."""

    ok: bool
    session_id: str
    tool_name: str
    result: Any


class ControlActions(msgspec.Struct, kw_only=True):
    """`GET /session/runtime/control/actions`."""

    actions: list[Any]


class OpenAPIDocument(msgspec.Struct, kw_only=True, forbid_unknown_fields=False):
    """This document."""

    openapi: str


# ----------------------------------------------------------------------------- operations
@dataclass(frozen=True, slots=True)
class Operation:
    """What the document says about one (method, path).

    Attributes:
        summary: One line.
        response: The Struct of the success body (`None`: no JSON body, see `media`).
        status: The success status.
        request: The Struct of the JSON request body, if any.
        query: The Struct whose fields are the query parameters, if any.
        media: The success media type.
        form: The request is `multipart/form-data` with `path` and `file`.
        extra_query: Further query parameters (name, description).
    """

    summary: str
    response: type[Any] | None = Anything
    status: int = 200
    request: type[Any] | None = None
    query: type[Any] | None = None
    media: str = "application/json"
    form: bool = False
    extra_query: tuple[tuple[str, str], ...] = ()


#: Every documented (method, path). A route of the app missing here is documented generically.
OPERATIONS: dict[tuple[str, str], Operation] = {
    ("GET", "/healthz"): Operation("Liveness", response=Ok),
    ("GET", "/readyz"): Operation("Readiness (database, migrations, sandbox)", response=Ok),
    ("GET", "/openapi.json"): Operation("This document", response=OpenAPIDocument),
    ("GET", "/auth/cli/whoami"): Operation("The caller's account", response=Whoami),
    ("POST", "/auth/cli/invites/accept"): Operation(
        "Accept an invite", request=InviteAccept, response=InviteAccepted
    ),
    ("GET", "/apps"): Operation("The caller's apps", response=AppList),
    ("POST", "/apps"): Operation(
        "Deploy a new app (the body is its manifest)", status=201, request=Manifest, response=AppAnswer
    ),
    ("POST", "/apps/api-key/rotate"): Operation("Rotate the caller's API key", response=Rotated),
    ("PATCH", "/apps/{app_id}"): Operation(
        "Deploy a new manifest version (its keys replace the deployed ones), or set the status",
        request=AppUpdate,
        response=UpdateAnswer,
    ),
    ("GET", "/apps/{app_id}/keys"): Operation("Runtime keys of an app", response=KeyList),
    ("POST", "/apps/{app_id}/keys"): Operation(
        "Mint a runtime key", status=201, request=KeyCreate, response=MintedKey
    ),
    ("DELETE", "/apps/{app_id}/keys/{key_id}"): Operation("Revoke a runtime key", response=KeyRevoked),
    ("GET", "/apps/{app_id}/x-keys"): Operation("App header keys of an app", response=KeyList),
    ("POST", "/apps/{app_id}/x-keys"): Operation(
        "Mint an app header key", status=201, request=KeyCreate, response=MintedKey
    ),
    ("DELETE", "/apps/{app_id}/x-keys/{key_id}"): Operation("Revoke an app header key", response=KeyRevoked),
    ("GET", "/apps/{app_id}/secrets"): Operation(
        "Secret names of an app (never values)", response=SecretList
    ),
    ("POST", "/apps/{app_id}/secrets"): Operation("Set a secret", request=SecretPut, response=SecretSaved),
    ("DELETE", "/apps/{app_id}/secrets/{name}"): Operation("Delete a secret", response=Ok),
    ("GET", "/apps/{app_id}/setup"): Operation("Setup state of an app", response=Setup),
    ("GET", "/apps/{app_id}/webhook-secret"): Operation(
        "The secret signing the app's webhooks (owner only)", response=WebhookSecret
    ),
    ("POST", "/apps/{app_id}/invites"): Operation(
        "Invite someone", status=201, request=InviteCreate, response=InviteAnswer
    ),
    ("POST", "/v1/apps/{app_id}/run"): Operation(
        "Run an agent and wait for its result", request=RunRequest, response=RunAnswer
    ),
    ("POST", "/v1/apps/{app_id}/runs"): Operation(
        "Queue an async run", status=202, request=RunRequest, response=RunSubmittedAnswer
    ),
    ("GET", "/v1/apps/{app_id}/runs"): Operation("List runs, newest first", response=RunPage, query=RunQuery),
    ("GET", "/v1/apps/{app_id}/runs/{run_id}"): Operation("One run", response=RunStatusAnswer),
    ("POST", "/v1/apps/{app_id}/runs/{run_id}/cancel"): Operation("Cancel a run", response=RunStatusAnswer),
    ("GET", "/v1/apps/{app_id}/runs/{run_id}/events"): Operation(
        "The run's events as Server-Sent Events (resumable with Last-Event-ID)",
        response=None,
        query=RunEventsQuery,
        media="text/event-stream",
    ),
    ("POST", "/v1/apps/{app_id}/events"): Operation(
        "Send an event", status=202, request=EventRequest, response=EventAnswer
    ),
    ("GET", "/v1/apps/{app_id}/logs/stream"): Operation(
        "The app's log lines as Server-Sent Events",
        response=None,
        media="text/event-stream",
        query=LogsQuery,
    ),
    ("POST", "/session/start"): Operation("Start (or get) the caller's session", response=SessionAnswer),
    ("GET", "/session/status"): Operation("The caller's session", response=SessionAnswer),
    ("POST", "/session/stop"): Operation("Stop the caller's session", response=SessionAnswer),
    ("GET", "/session/runtime/capabilities"): Operation(
        "Tools, skills and agents of the session", response=Capabilities, query=SessionQuery
    ),
    ("GET", "/session/runtime/skills"): Operation(
        "Skills of the session", response=SkillList, query=SessionQuery
    ),
    ("GET", "/session/runtime/tools"): Operation(
        "Tools of the session",
        response=SessionToolList,
        query=ToolsQuery,
    ),
    ("POST", "/session/runtime/tools/execute"): Operation(
        "Run a session tool", request=ToolExecute, response=ToolResult
    ),
    ("GET", "/session/runtime/control/actions"): Operation(
        "UI control actions", response=ControlActions, query=SessionQuery
    ),
    ("POST", "/session/runtime/control/call"): Operation(
        "Call a UI control action (409 while no app UI is connected)", request=ControlCall, response=Ok
    ),
    ("POST", "/chat"): Operation(
        "Chat with the session agent (SSE)", request=ChatRequest, response=None, media="text/event-stream"
    ),
    ("GET", "/session/files"): Operation(
        "List a workspace directory",
        response=FileList,
        query=FilesQuery,
    ),
    ("GET", "/session/files/read"): Operation(
        "Read a workspace text file", response=FileText, query=FilesQuery
    ),
    ("POST", "/session/files/write"): Operation(
        "Write workspace files", response=WriteAnswer, request=FilesWrite
    ),
    ("POST", "/session/files/upload"): Operation(
        "Upload a file", response=UploadAnswer, status=201, form=True
    ),
    ("GET", "/session/files/download"): Operation(
        "Download a workspace file",
        response=None,
        media="application/octet-stream",
        query=FilesQuery,
    ),
    ("POST", "/session/terminal/exec"): Operation(
        "Run a shell command in the workspace", response=TerminalAnswer, request=TerminalExec
    ),
    ("POST", "/session/heartbeat"): Operation(
        "Keep the session alive", response=HeartbeatAnswer, request=Heartbeat
    ),
    ("GET", "/automations/jobs"): Operation("The caller's automation jobs", response=JobList),
    ("POST", "/automations/jobs"): Operation(
        "Create an automation job", response=JobAnswer, status=201, request=JobCreate
    ),
    ("PATCH", "/automations/jobs/{job_id}"): Operation("Change a job", response=JobAnswer, request=JobUpdate),
    ("DELETE", "/automations/jobs/{job_id}"): Operation("Delete a job", response=JobDeleted),
    ("GET", "/automations/runs"): Operation(
        "Automation runs, newest first",
        response=AutomationRunList,
        query=StateQuery,
    ),
    ("POST", "/automations/runs/{run_id}/replay"): Operation(
        "Run a job again now", response=ReplayAnswer, status=202, request=ReplayRequest
    ),
}

_ENDPOINT_OPERATION = Operation(
    "An app's public endpoint (the declared method; auth per endpoint)",
    response=EndpointAnswer,
    request=EndpointInput,
)


def _path_params(path: str) -> list[str]:
    return re.findall(r"{([^}:]+)(?::[^}]*)?}", path)


def _ref(schema: dict[str, Any]) -> dict[str, Any]:
    return schema


def openapi_document(
    routes: list[BaseRoute], documented: list[tuple[str, Any]] | None = None
) -> dict[str, Any]:
    """The OpenAPI 3.1 document of `routes` (every method of every `Route`), plus one path per
    documented endpoint (`(app id, endpoint entry)` with `docs: true`)."""
    ops: list[tuple[str, str, Operation]] = []
    for route in routes:
        if not isinstance(route, Route):
            continue
        for method in sorted((route.methods or set()) - {"HEAD"}):
            if route.path == "/v1/apps/{app_id}/endpoints/{label}":
                op = _ENDPOINT_OPERATION
            else:
                op = OPERATIONS.get((method, route.path), Operation(f"{method} {route.path}"))
            ops.append((method, route.path, op))
    for app_id, entry in documented or []:
        ops.append(
            (
                entry.method.upper(),
                f"/v1/apps/{app_id}/endpoints/{entry.label}",
                Operation(
                    f"Endpoint {entry.label} (auth: {entry.auth.mode})",
                    response=EndpointAnswer,
                    request=EndpointInput,
                ),
            )
        )
    types: list[type[Any]] = [ErrorBody]
    for _, _, op in ops:
        types += [t for t in (op.response, op.request) if t is not None]
    unique = list(dict.fromkeys(types))
    schemas, components = msgspec.json.schema_components(unique, ref_template="#/components/schemas/{name}")
    by_type = dict(zip(unique, schemas, strict=True))
    error = {"description": "Refused", "content": {"application/json": {"schema": by_type[ErrorBody]}}}
    paths: dict[str, dict[str, Any]] = {}
    for method, path, op in ops:
        params: list[dict[str, Any]] = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in _path_params(path)
        ]
        if op.query is not None:
            query_schema = msgspec.json.schema(op.query)
            for name, field in (
                query_schema.get("$defs", {}).get(op.query.__name__, {}).get("properties") or {}
            ).items():
                params.append({"name": name, "in": "query", "required": False, "schema": _scalar(field)})
        for name, description in op.extra_query:
            params.append(
                {
                    "name": name,
                    "in": "query",
                    "required": False,
                    "description": description,
                    "schema": {"type": "string"},
                }
            )
        success: dict[str, Any] = {"description": op.summary}
        if op.response is not None:
            success["content"] = {op.media: {"schema": by_type[op.response]}}
        elif op.media != "application/json":
            success["content"] = {op.media: {"schema": {"type": "string"}}}
        operation: dict[str, Any] = {
            "summary": op.summary,
            "operationId": f"{method.lower()}_{re.sub(r'[^A-Za-z0-9]+', '_', path).strip('_') or 'root'}",
            "responses": {str(op.status): success, "4XX": error, "5XX": error},
        }
        if params:
            operation["parameters"] = params
        if op.request is not None:
            operation["requestBody"] = {
                "required": False,
                "content": {"application/json": {"schema": by_type[op.request]}},
            }
        elif op.form:
            operation["requestBody"] = {
                "required": True,
                "content": {
                    "multipart/form-data": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "path": {"type": "string"},
                                "file": {"type": "string", "contentMediaType": "application/octet-stream"},
                            },
                            "required": ["file"],
                        }
                    }
                },
            }
        paths.setdefault(path, {})[method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "ara-server",
            "version": SERVER_VERSION,
            "description": "The HTTP API of ara-server: control plane, runtime plane, sessions, automations.",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "API key, runtime key"},
                "appKey": {"type": "apiKey", "in": "header", "name": "X-Ara-App-Key"},
            },
        },
        "security": [{}, {"bearer": []}, {"appKey": []}],
    }


def _scalar(field: dict[str, Any]) -> dict[str, Any]:
    """A query parameter's schema: the field's schema without `null` alternatives or a null default."""
    options: Any = field.get("anyOf")
    out: dict[str, Any] = {k: v for k, v in field.items() if k not in ("title", "anyOf", "default")}
    if isinstance(options, list):
        kept: list[Any] = [o for o in options if isinstance(o, dict) and o.get("type") != "null"]  # pyright: ignore[reportUnknownMemberType,reportUnknownVariableType]
        if len(kept) == 1:
            out.update(kept[0])
        else:
            out["anyOf"] = kept
    if field.get("default") is not None:
        out["default"] = field["default"]
    return out


def routes(services: Services, served: Sequence[BaseRoute]) -> list[Route]:
    """`GET /openapi.json` describing `served` and itself."""

    async def document(request: Request) -> Response:
        documented = await services.endpoints.documented()
        return JSONResponse(openapi_document([*served, *own], documented))

    own: list[Route] = [Route("/openapi.json", document, methods=["GET"])]
    return own
