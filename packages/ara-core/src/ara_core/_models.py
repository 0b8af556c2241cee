"""`validate_manifest`: decode a manifest into the typed `Manifest`, check the rules that span fields,
and keep the exact document alongside so nothing a newer SDK sends is lost."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Collection, Iterable, Mapping
from datetime import datetime
from typing import Any, TypeVar, cast

import msgspec
from msgspec import UnsetType

from ._schedules import MIN_EVERY_SECONDS, validate_cron, validate_timezone
from ._secrets import validate_env_key
from ._wire import (
    AgentBlock,
    AgentRun,
    InterfacesSettings,
    JsonObject,
    LegacyCommandWorkflow,
    LegacyTaskWorkflow,
    Manifest,
    RuntimeSettings,
    SandboxSettings,
    Schedule,
    ToolRun,
    Workflow,
)
from .errors import DeclarationError, ManifestError

__all__ = [
    "ManifestDocument",
    "decode_manifest",
    "encode_manifest",
    "manifest_json_schema",
    "validate_manifest",
]

_T = TypeVar("_T")
_PATH_IN_MSG = re.compile(r" - at `\$([^`]*)`$")
_MAX_PATH_BYTES = 1024
_MAX_SEGMENT_BYTES = 255
_ENDPOINT_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD")
_ENDPOINT_AUTH_MODES = ("none", "header", "bearer", "hmac")
_SANDBOX_POLICIES = ("dedicated", "ephemeral", "inherited", "shared")
_MANIFEST_DECODER = msgspec.json.Decoder(Manifest)
_ENCODER = msgspec.json.Encoder()
_JSON_DECODER = msgspec.json.Decoder()
_TOP_LEVEL_DEFAULTS: tuple[tuple[str, Any], ...] = (
    ("description", ""),
    ("agent", {}),
    ("workflows", []),
    ("interfaces", {}),
    ("runtime_profile", {}),
)


class ManifestDocument(msgspec.Struct, frozen=True, kw_only=True):
    """A validated manifest: the typed value and the document it came from.

    Attributes:
        manifest: The typed manifest (keys it does not know are not in it).
        raw: A deep copy of the document as sent, every key kept (including keys only a newer SDK
            knows), with absent top-level keys filled by their empty defaults (`description` `""`,
            `agent` `{}`, `workflows` `[]`, `interfaces` `{}`, `runtime_profile` `{}`). Store this.
    """

    manifest: Manifest
    raw: JsonObject


def encode_manifest(
    manifest: Manifest,
    *,
    agent_base: Mapping[str, Any] | None = None,
    legacy_workflow_ids: Collection[str] = (),
) -> bytes:
    """Encode a typed manifest as compact JSON bytes, keys in wire order (the original SDK's bytes).

    Args:
        manifest: The manifest to encode.
        agent_base: The app's own ``agent`` dict (``App(agent={...})``), which the original SDK
            starts the ``agent`` block from: its keys come first, in its order, and a generated key
            of the same name replaces the value in place. Default: none.
        legacy_workflow_ids: Ids of workflows declared with the oldest SDKs' ``@app.task`` /
            ``@app.hook``, written in their key order (`LegacyTaskWorkflow`, or
            `LegacyCommandWorkflow` for run-mode workflows). Default: none.

    Returns:
        UTF-8 JSON; `UNSET` fields are left out.

    Raises:
        TypeError: `agent_base` holds a value that is not JSON-serialisable.
    """
    # Encoding writes each value in its own order; the declared field types only matter to decoding.
    if legacy_workflow_ids and not isinstance(manifest.workflows, UnsetType):
        ids = frozenset(legacy_workflow_ids)
        laid_out = tuple(_legacy_layout(wf) if wf.id in ids else wf for wf in manifest.workflows)
        manifest = msgspec.structs.replace(manifest, workflows=cast("tuple[Workflow, ...]", laid_out))
    if agent_base:
        block: dict[str, Any] = dict(agent_base)
        if not isinstance(manifest.agent, UnsetType):
            block.update((name, getattr(manifest.agent, name)) for name in _present_fields(manifest.agent))
        manifest = msgspec.structs.replace(manifest, agent=cast("AgentBlock", block))
    return _ENCODER.encode(manifest)


def _present_fields(value: msgspec.Struct) -> list[str]:
    return [name for name in value.__struct_fields__ if not isinstance(getattr(value, name), UnsetType)]


def _legacy_layout(workflow: Workflow) -> LegacyTaskWorkflow | LegacyCommandWorkflow:
    kind = LegacyCommandWorkflow if workflow.mode == "run" else LegacyTaskWorkflow
    return kind(**msgspec.structs.asdict(workflow))


def decode_manifest(data: bytes | str) -> Manifest:
    """Decode manifest JSON into the typed `Manifest`, checking types only (no cross-field rules).

    Unknown keys are accepted and dropped. Use `validate_manifest` for input from outside.

    Args:
        data: Manifest JSON text.

    Returns:
        The typed manifest.

    Raises:
        ManifestError: Not JSON, or a value of the wrong type; the error names its JSON path.
    """
    try:
        return _MANIFEST_DECODER.decode(data)
    except msgspec.ValidationError as exc:
        raise ManifestError([_split_validation_error(exc, "$")]) from None
    except msgspec.DecodeError as exc:
        raise ManifestError([("$", f"not valid JSON: {exc}")]) from None


def _split_validation_error(exc: msgspec.ValidationError, prefix: str) -> tuple[str, str]:
    text = str(exc)
    match = _PATH_IN_MSG.search(text)
    path = prefix + (match.group(1) if match else "")
    return path, _PATH_IN_MSG.sub("", text)


def _parse(obj: JsonObject | str | bytes) -> object:
    """The document as fresh JSON values: parsed from text, or a deep copy of a dict."""
    too_deep = ManifestError([("$", "nested too deeply")])
    if not isinstance(obj, str | bytes):
        try:
            return _JSON_DECODER.decode(
                _ENCODER.encode(obj)
            )  # a deep copy, several times faster than copy.deepcopy
        except (TypeError, msgspec.EncodeError) as exc:
            raise ManifestError([("$", f"not JSON-serialisable: {exc}")]) from None
        except RecursionError:
            raise too_deep from None
    try:
        return _JSON_DECODER.decode(obj)
    except RecursionError:
        raise too_deep from None
    except (msgspec.DecodeError, UnicodeDecodeError) as exc:
        problem = str(exc)
    try:  # parse again with the standard library for its line and column
        json.loads(obj)
    except json.JSONDecodeError as exc:
        problem = f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    except UnicodeDecodeError:
        problem = "the bytes are not UTF-8"
    except RecursionError:
        raise too_deep from None
    raise ManifestError([("$", f"not valid JSON: {problem}")])


def _json_type_name(value: object) -> str:
    if value is None:
        return "null"
    for kind, name in (
        (bool, "boolean"),
        (int, "integer"),
        (float, "number"),
        (str, "string"),
        (list, "array"),
    ):
        if isinstance(value, kind):
            return name
    return type(value).__name__


def validate_manifest(obj: JsonObject | str | bytes, *, require_slug: bool = False) -> ManifestDocument:
    """Validate a manifest and return it typed, with the exact document alongside.

    Types are checked against the `Manifest` Structs (unknown keys accepted and kept in `raw`);
    the verbatim blocks (`runtime_profile`, `interfaces`, agent and subagent `runtime`/`sandbox`)
    against their read models. Then the rules that span fields:

    * `name` non-empty; `slug` non-empty when `require_slug`;
    * agent ids non-empty and unique; `default_agent_id` names an agent; tool names non-empty and
      unique; workflow ids unique; schedule ids non-empty and unique within their agent or tool;
    * a workflow's `agent_id`, an agent schedule's `run.agent_id` and a pipeline agent step's
      `agent_id` name an agent; a tool schedule's `run.tool_name` and a pipeline tool step's
      `tool_name` name a tool;
    * cron expressions have 5 valid fields; time zones are IANA names; `one_shot_at` is an ISO-8601
      date-time; `every_seconds` is at least 60;
    * run-mode workflows have `run.command`; a hook has a task or a command, not both;
    * an endpoint has a label, an HTTP method (`GET`, `POST`, `PUT`, `PATCH`, `DELETE`, `OPTIONS`,
      `HEAD`) and an auth mode (`none`, `header`, `bearer`, `hmac`); listed labels are unique;
    * a sandbox `policy` is `shared`, `dedicated`, `ephemeral` or `inherited`, `max_concurrency` >= 1;
    * runtime `env` keys are valid, unreserved names (not `ARA_*`, `MODAL_*`, `SESSION_ID`,
      `USER_ID`, `APP_ID`) with string values;
    * `runtime_profile.files[i].path` is a normalised relative path (no `.`, `..` or empty segment,
      no NUL or backslash, at most 1024 bytes), unique, and never a parent of another file's path.

    Args:
        obj: A manifest dict, or its JSON text (str or UTF-8 bytes).
        require_slug: Also require a non-empty `slug` (create requests).

    Returns:
        A `ManifestDocument` with `.manifest` (typed) and `.raw` (the dict to store).

    Raises:
        ManifestError: With `.errors` as `(json_path, message)` pairs, e.g.
            `("$.agent.tools[3].function.name", "Expected `str`, got `int`")`; every rule is checked,
            so all problems are reported at once (a type error stops at the first one).
    """
    data = _parse(obj)
    if not isinstance(data, dict):
        raise ManifestError([("$", f"expected a JSON object, got {_json_type_name(data)}")])
    try:
        model = msgspec.convert(data, Manifest, strict=True)
    except msgspec.ValidationError as exc:
        raise ManifestError([_split_validation_error(exc, "$")]) from None
    except RecursionError:
        raise ManifestError([("$", "nested too deeply")]) from None
    errors = _Checker(model, require_slug=require_slug).run()
    if errors:
        raise ManifestError(errors)
    raw = cast(JsonObject, data)  # already a fresh copy
    for key, default in _TOP_LEVEL_DEFAULTS:
        raw.setdefault(key, copy.copy(default))
    return ManifestDocument(manifest=model, raw=raw)


def convert_block(value: object, kind: type[_T], path: str) -> _T:
    """Convert one verbatim block (e.g. an agent's `sandbox`) into its read model.

    Args:
        value: The JSON value.
        kind: The read-model Struct type.
        path: The block's JSON path, used in errors.

    Raises:
        ManifestError: A value of the wrong type, named by its full JSON path.
    """
    try:
        return msgspec.convert(value, kind, strict=True)
    except msgspec.ValidationError as exc:
        raise ManifestError([_split_validation_error(exc, path)]) from None


def _set(value: _T | UnsetType) -> _T | None:
    return None if isinstance(value, UnsetType) else value


def _items(value: tuple[_T, ...] | UnsetType) -> tuple[_T, ...]:
    return () if isinstance(value, UnsetType) else value


class _Checker:
    """The cross-field rules of `validate_manifest`, collecting `(path, message)` pairs."""

    def __init__(self, model: Manifest, *, require_slug: bool) -> None:
        self.model = model
        self.require_slug = require_slug
        self.errors: list[tuple[str, str]] = []
        block = _set(model.agent)
        self.agents = _items(block.agents) if block else ()
        self.tools = _items(block.tools) if block else ()
        self.subagents = _items(block.subagents) if block else ()
        profiles = _items(block.profiles) if block else ()
        # The oldest SDKs declared agents only as profiles; references name those then.
        self.agent_ids = [row.id for row in self.agents] or [p.id for p in profiles]
        self.tool_names = [tool.name for tool in self.tools]

    def add(self, path: str, message: str) -> None:
        self.errors.append((path, message))

    def run(self) -> list[tuple[str, str]]:
        model = self.model
        if not model.name.strip():
            self.add("$.name", "must be a non-empty string")
        if self.require_slug and not (_set(model.slug) or "").strip():
            self.add("$.slug", "must be a non-empty string")
        self._agents()
        self._tools()
        self._subagents()
        self._workflows()
        runtime = self.block(model.runtime_profile, RuntimeSettings, "$.runtime_profile")
        if runtime is not None:
            self._files(runtime)
        interfaces = self.block(model.interfaces, InterfacesSettings, "$.interfaces")
        if interfaces is not None:
            labels: dict[str, int] = {}
            for i, entry in enumerate(_items(interfaces.fastapi_endpoints)):
                where = f"$.interfaces.fastapi_endpoints[{i}]"
                self.endpoint(entry.label, entry.method, entry.auth.mode, where)
                if entry.label in labels:
                    self.add(
                        f"{where}.label",
                        f"duplicate endpoint label {entry.label!r} (also [{labels[entry.label]}])",
                    )
                labels.setdefault(entry.label, i)
        return self.errors

    def endpoint(self, label: str, method: str, mode: str, path: str) -> None:
        if not label.strip():
            self.add(f"{path}.label", "must be a non-empty string")
        if method not in _ENDPOINT_METHODS:
            self.add(f"{path}.method", f"must be one of: {', '.join(_ENDPOINT_METHODS)}; got {method!r}")
        if mode not in _ENDPOINT_AUTH_MODES:
            self.add(f"{path}.auth.mode", f"must be one of: {', '.join(_ENDPOINT_AUTH_MODES)}; got {mode!r}")

    def block(self, value: JsonObject | UnsetType, kind: type[_T], path: str) -> _T | None:
        if isinstance(value, UnsetType):
            return None
        if kind is RuntimeSettings and not self._env_ok(value.get("env"), f"{path}.env"):
            return None
        try:
            return convert_block(value, kind, path)
        except ManifestError as exc:
            self.errors.extend(exc.errors)
            return None

    def _env_ok(self, env: object, path: str) -> bool:
        """Check a runtime `env` map key by key, so each error names its key."""
        if not isinstance(env, dict):
            return True  # absent, or a wrong type the read model reports
        ok = True
        for key, value in cast("dict[str, object]", env).items():
            try:
                validate_env_key(key)
            except DeclarationError as exc:
                self.add(f"{path}.{key}", str(exc))
                ok = False
            if not isinstance(value, str):
                self.add(f"{path}.{key}", f"must be a string, got {_json_type_name(value)}")
                ok = False
        return ok

    def names_agent(self, agent_id: str, path: str) -> None:
        if self.agent_ids and agent_id not in self.agent_ids:
            self.add(path, f"names no agent; agents are {', '.join(self.agent_ids)}")

    def names_tool(self, tool_name: str, path: str) -> None:
        if tool_name not in self.tool_names:
            known = ", ".join(name for name in self.tool_names if name) or "none"
            self.add(path, f"names no tool; tools are {known}")

    def _agents(self) -> None:
        seen: set[str] = set()
        for i, row in enumerate(self.agents):
            path = f"$.agent.agents[{i}]"
            if not row.id.strip():
                self.add(f"{path}.id", "must be a non-empty string")
            elif row.id in seen:
                self.add(f"{path}.id", f"duplicate agent id {row.id!r}")
            seen.add(row.id)
            self._schedules(_items(row.schedules), f"{path}.schedules")
            self.block(row.runtime, RuntimeSettings, f"{path}.runtime")
            self._sandbox(row.sandbox, f"{path}.sandbox")
            if (spec := _set(row.fastapi_endpoint)) is not None:
                self.endpoint(spec.label, spec.method, spec.auth.mode, f"{path}.fastapi_endpoint")
        block = _set(self.model.agent)
        default = _set(block.default_agent_id) if block else None
        if default and self.agent_ids and default not in self.agent_ids:
            self.add("$.agent.default_agent_id", f"names no agent; agents are {', '.join(self.agent_ids)}")

    def _tools(self) -> None:
        seen: set[str] = set()
        for i, tool in enumerate(self.tools):
            path = f"$.agent.tools[{i}]"
            name = tool.name
            if not name.strip():
                where = (
                    "id"
                    if isinstance(tool.function, UnsetType) and isinstance(tool.id, str)
                    else "function.name"
                )
                self.add(f"{path}.{where}", "must be a non-empty string")
                continue
            if name in seen:
                self.add(f"{path}.function.name", f"duplicate tool name {name!r}")
            seen.add(name)
            self._schedules(_items(tool.schedules), f"{path}.schedules")

    def _subagents(self) -> None:
        for i, row in enumerate(self.subagents):
            path = f"$.agent.subagents[{i}]"
            self.block(row.runtime, RuntimeSettings, f"{path}.runtime")
            self._sandbox(row.sandbox, f"{path}.sandbox")
            for j, hook in enumerate(_items(row.hooks)):
                if _set(hook.task) and _set(hook.command):
                    self.add(f"{path}.hooks[{j}]", "a hook has a task or a command, not both")

    def _sandbox(self, value: JsonObject | UnsetType, path: str) -> None:
        sandbox = self.block(value, SandboxSettings, path)
        if sandbox is None:
            return
        policy = _set(sandbox.policy)
        if policy is not None and policy.lower() not in _SANDBOX_POLICIES:
            self.add(f"{path}.policy", f"must be one of: {', '.join(_SANDBOX_POLICIES)}; got {policy!r}")
        limit = _set(sandbox.max_concurrency)
        if limit is not None and limit < 1:
            self.add(f"{path}.max_concurrency", f"must be at least 1, got {limit}")

    def _schedules(self, schedules: Iterable[Schedule], path: str) -> None:
        seen: set[str] = set()
        for j, sched in enumerate(schedules):
            where = f"{path}[{j}]"
            if not sched.id.strip():
                self.add(f"{where}.id", "must be a non-empty string")
            elif sched.id in seen:
                self.add(f"{where}.id", f"duplicate schedule id {sched.id!r}")
            seen.add(sched.id)
            if sched.kind == "cron":
                self.cron(_set(sched.cron) or "", f"{where}.cron")
                self.timezone(_set(sched.timezone), f"{where}.timezone")
                self.instant(_set(sched.one_shot_at), f"{where}.one_shot_at")
            else:
                every = _set(sched.every_seconds)
                if every is None or every < MIN_EVERY_SECONDS:
                    self.add(f"{where}.every_seconds", "every schedule minimum interval is 60 seconds")
            run = _set(sched.run)
            if run is None:
                self.add(
                    f"{where}.run", "a schedule needs a run target: invoke.agent(...) or invoke.tool(...)"
                )
            elif isinstance(run, AgentRun):
                if not run.agent_id.strip():
                    self.add(f"{where}.run.agent_id", "must be a non-empty string")
                else:
                    self.names_agent(run.agent_id, f"{where}.run.agent_id")
            elif isinstance(run, ToolRun):  # pyright: ignore[reportUnnecessaryIsInstance]
                self.names_tool(run.tool_name, f"{where}.run.tool_name")

    def _workflows(self) -> None:
        seen: set[str] = set()
        for i, wf in enumerate(_items(self.model.workflows)):
            path = f"$.workflows[{i}]"
            if not wf.id.strip():
                self.add(f"{path}.id", "must be a non-empty string")
            elif wf.id in seen:
                self.add(f"{path}.id", f"duplicate workflow id {wf.id!r}")
            seen.add(wf.id)
            agent_id = _set(wf.agent_id)
            if agent_id:
                self.names_agent(agent_id, f"{path}.agent_id")
            run = _set(wf.run)
            if wf.mode == "run" and not (run and (_set(run.command) or "").strip()):
                self.add(f"{path}.run.command", "run-mode workflows need a command")
            for j, step in enumerate(_items(wf.pipeline)):
                where = f"{path}.pipeline[{j}]"
                if step.kind == "tool":
                    self.names_tool(_set(step.tool_name) or "", f"{where}.tool_name")
                else:
                    step_agent = _set(step.agent_id) or ""
                    if not step_agent.strip():
                        self.add(f"{where}.agent_id", "must be a non-empty string")
                    else:
                        self.names_agent(step_agent, f"{where}.agent_id")
            trigger = _set(wf.trigger)
            if trigger is not None:
                if expr := (_set(trigger.cron) or _set(trigger.schedule)):
                    field = "cron" if _set(trigger.cron) else "schedule"
                    self.cron(expr, f"{path}.trigger.{field}")
                self.timezone(_set(trigger.timezone), f"{path}.trigger.timezone")
                self.instant(_set(trigger.one_shot_at), f"{path}.trigger.one_shot_at")
            if (schedule := _set(wf.schedule)) and not (
                trigger and (_set(trigger.cron) or _set(trigger.schedule))
            ):
                self.cron(schedule, f"{path}.schedule")

    def _files(self, runtime: RuntimeSettings) -> None:
        seen: dict[str, int] = {}
        for i, item in enumerate(_items(runtime.files)):
            where = f"$.runtime_profile.files[{i}].path"
            if not _relative_path(item.path):
                self.add(
                    where,
                    f"{item.path!r} must be a normalised relative path inside the app's working directory "
                    "(segments separated by single '/', no '.', '..', NUL or backslash; at most 1024 bytes)",
                )
            elif item.path in seen:
                self.add(where, f"{item.path!r} is also files[{seen[item.path]}]")
            else:
                seen[item.path] = i
        for path, i in seen.items():
            parts = path.split("/")
            parent = next(
                ("/".join(parts[:cut]) for cut in range(1, len(parts)) if "/".join(parts[:cut]) in seen), None
            )
            if parent is not None:
                self.add(
                    f"$.runtime_profile.files[{i}].path",
                    f"{path!r} needs {parent!r} to be a directory, but files[{seen[parent]}] is a file there",
                )

    def cron(self, expr: str, path: str) -> None:
        try:
            validate_cron(expr, where="cron")
        except DeclarationError as exc:
            self.add(path, str(exc).removeprefix("cron: "))

    def timezone(self, name: str | None, path: str) -> None:
        if name is None:
            return
        try:
            validate_timezone(name, where="timezone")
        except DeclarationError as exc:
            self.add(path, str(exc).removeprefix("timezone: "))

    def instant(self, text: str | None, path: str) -> None:
        if text is None:
            return
        try:
            datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            self.add(path, f"must be an ISO-8601 date-time such as 2030-01-02T03:04:05Z, got {text!r}")


def _relative_path(path: str) -> bool:
    """Whether `path` is a normalised relative path (the rules of `runtime_profile.files[i].path`)."""
    if not path or "\0" in path or "\\" in path or path.startswith("/"):
        return False
    if len(path.encode("utf-8", "surrogatepass")) > _MAX_PATH_BYTES:
        return False
    return all(
        part not in ("", ".", "..") and len(part.encode("utf-8", "surrogatepass")) <= _MAX_SEGMENT_BYTES
        for part in path.split("/")
    )


def manifest_json_schema() -> dict[str, Any]:
    """The JSON Schema (2020-12) of a manifest, generated from the Structs (`docs/manifest.schema.json`).

    The verbatim blocks are described by their read models: `runtime_profile` and agent/subagent
    `runtime` by `RuntimeSettings`, agent/subagent `sandbox` by `SandboxSettings`, `interfaces` by
    `InterfacesSettings`; each still allows keys the schema does not list.

    Returns:
        A JSON Schema object with `$defs`.
    """
    (root, runtime, sandbox, interfaces), defs = msgspec.json.schema_components(
        [Manifest, RuntimeSettings, SandboxSettings, InterfacesSettings], ref_template="#/$defs/{name}"
    )
    blocks: dict[tuple[str, str], dict[str, Any]] = {
        ("Manifest", "runtime_profile"): runtime,
        ("Manifest", "interfaces"): interfaces,
        ("AgentRow", "runtime"): runtime,
        ("AgentRow", "sandbox"): sandbox,
        ("SubagentRow", "runtime"): runtime,
        ("SubagentRow", "sandbox"): sandbox,
    }
    for (struct, field), ref in blocks.items():
        defs[struct]["properties"][field] = dict(ref)
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **root, "$defs": defs}
    out: dict[str, Any] = msgspec.json.decode(_ENCODER.encode(schema))  # tuple defaults become lists
    return out
