"""Model providers for the agent loop: an offline deterministic one (the default) and any
OpenAI-compatible chat-completions endpoint."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ara_http import ApiError, AsyncHttpClient, BearerAuth

__all__ = [
    "ModelError",
    "ModelProvider",
    "ModelTurn",
    "OfflineProvider",
    "OpenAICompatibleProvider",
    "RunContext",
    "ToolCall",
    "provider_from_env",
]

ANSWER_FIELDS = ("reply", "text", "output_text", "message", "summary")


class ModelError(RuntimeError):
    """The model provider failed (HTTP error, bad response)."""


@dataclass(slots=True)
class ToolCall:
    """A tool call proposed by the model."""

    id: str
    name: str
    arguments: dict[str, Any]


@dataclass(slots=True)
class ModelTurn:
    """One model answer: tool calls to make, or the final text."""

    text: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)


@dataclass(slots=True)
class RunContext:
    """What a provider may look at besides the messages.

    Attributes:
        run_input: The run input.
        instructions: The agent's instructions.
        tools: The app's tool rows in manifest order.
        results: `(tool name, result)` of every call made so far, in order.
    """

    run_input: dict[str, Any]
    instructions: str
    tools: list[dict[str, Any]]
    results: list[tuple[str, Any]] = field(default_factory=list)


class ModelProvider(Protocol):
    """Anything that can take the next step of the agent loop."""

    name: str
    model: str

    async def complete(self, messages: list[dict[str, Any]], ctx: RunContext) -> ModelTurn:
        """Return the next turn given the conversation so far."""
        ...


class OfflineProvider:
    """A deterministic provider that needs no network (docs/offline-provider.md).

    Rule: facts start as the run input's top-level keys; each turn calls the first tool (manifest
    order) not yet called whose every required parameter is a fact, with every schema property
    that is a fact; a dict result's keys join the facts (later wins) and the whole result is also a
    fact under the tool's name. With no tool left to call, the answer is the last result if it is a
    string, else its first string field among `reply`, `text`, `output_text`, `message`,
    `summary`, else its compact JSON; with no call at all, a sentence quoting the instructions'
    first line and the input message.
    """

    name = "offline"
    model = "offline-deterministic"

    async def complete(self, messages: list[dict[str, Any]], ctx: RunContext) -> ModelTurn:
        facts: dict[str, Any] = dict(ctx.run_input)
        called = set()
        for tool_name, result in ctx.results:
            called.add(tool_name)
            if isinstance(result, dict):
                facts.update(result)
            facts[tool_name] = result
        for tool in ctx.tools:
            fn = tool.get("function") or {}
            name = fn.get("name")
            if not name or name in called:
                continue
            schema = fn.get("parameters") or {}
            required = schema.get("required") or []
            if all(r in facts for r in required):
                props = schema.get("properties") or {}
                args = {p: facts[p] for p in props if p in facts}
                return ModelTurn(tool_calls=[ToolCall(f"call_{len(ctx.results) + 1}", name, args)])
        return ModelTurn(text=self._answer(ctx))

    @staticmethod
    def _answer(ctx: RunContext) -> str:
        if ctx.results:
            last = ctx.results[-1][1]
            if isinstance(last, str):
                return last
            if isinstance(last, dict):
                for key in ANSWER_FIELDS:
                    if isinstance(last.get(key), str):
                        return last[key]
            return json.dumps(last, separators=(",", ":"), ensure_ascii=False)
        first = (ctx.instructions.strip().splitlines() or [""])[0]
        message = ctx.run_input.get("message", "")
        return f"[offline model] No tool applies. Instructions: {first!r}. Message: {message!r}."


class OpenAICompatibleProvider:
    """Any OpenAI-compatible `POST {base_url}/chat/completions` endpoint with tool calling.

    Args:
        base_url: e.g. `https://api.openai.com/v1`.
        api_key: Bearer key (may be empty for local servers).
        model: Model name.
        timeout: Request timeout in seconds.
        transport: httpx transport for tests.
    """

    name = "openai-compatible"

    def __init__(
        self,
        base_url: str,
        api_key: str = "",
        model: str = "gpt-4o-mini",
        *,
        timeout: float = 120.0,
        transport: Any = None,
    ) -> None:
        self.model = model
        self.base_url, self.api_key, self.timeout, self.transport = base_url, api_key, timeout, transport

    async def complete(self, messages: list[dict[str, Any]], ctx: RunContext) -> ModelTurn:
        body: dict[str, Any] = {"model": self.model, "messages": messages}
        tools = [
            {
                "type": "function",
                "function": {
                    "name": t["function"]["name"],
                    "description": t["function"].get("description", ""),
                    "parameters": t["function"].get("parameters") or {"type": "object", "properties": {}},
                },
            }
            for t in ctx.tools
            if t.get("function")
        ]
        if tools:
            body["tools"] = tools
            body["tool_choice"] = "auto"
        try:
            async with AsyncHttpClient(
                self.base_url,
                auth=BearerAuth(self.api_key) if self.api_key else None,
                timeout=self.timeout,
                transport=self.transport,
            ) as http:
                response = await http.request("POST", "/chat/completions", json=body)
        except ApiError as exc:
            raise ModelError(f"model request failed: {exc}") from None
        try:
            message = response["choices"][0]["message"]
        except (KeyError, IndexError, TypeError):
            raise ModelError("model response has no choices[0].message") from None
        calls: list[ToolCall] = []
        for raw in message.get("tool_calls") or []:
            fn = raw.get("function") or {}
            arguments = fn.get("arguments") or "{}"
            try:
                parsed = json.loads(arguments) if isinstance(arguments, str) else dict(arguments)
            except ValueError:
                raise ModelError(
                    f"model sent invalid JSON arguments for {fn.get('name')!r}: {arguments!r}"
                ) from None
            calls.append(
                ToolCall(
                    str(raw.get("id") or f"call_{uuid.uuid4().hex[:8]}"),
                    str(fn.get("name") or ""),
                    parsed if isinstance(parsed, dict) else {},
                )
            )
        if calls:
            return ModelTurn(tool_calls=calls)
        return ModelTurn(text=str(message.get("content") or ""))


def provider_from_env(environ: Mapping[str, str] | None = None) -> ModelProvider:
    """The provider configured by the environment.

    `ARA_MODEL_BASE_URL` set -> `OpenAICompatibleProvider` with `ARA_MODEL_API_KEY` and `ARA_MODEL`
    (default `gpt-4o-mini`); otherwise `OfflineProvider`.
    """
    env = os.environ if environ is None else environ
    base = env.get("ARA_MODEL_BASE_URL", "").strip()
    if not base:
        return OfflineProvider()
    return OpenAICompatibleProvider(
        base, env.get("ARA_MODEL_API_KEY", "").strip(), env.get("ARA_MODEL", "").strip() or "gpt-4o-mini"
    )
