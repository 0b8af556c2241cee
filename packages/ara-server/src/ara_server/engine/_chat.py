"""Chat over the agent loop: the same `agent_loop` as app runs, its progress as UI stream events."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from ._loop import ToolResult, Trace, agent_loop
from ._providers import ModelProvider

__all__ = ["chat_events"]

#: Runs one tool and returns its output; a failure is returned as output (e.g. ``"error: ..."``).
CallTool = Callable[[str, dict[str, Any]], Awaitable[Any]]


class _StreamingToolbox:
    """Tools whose calls are announced on a queue before and after they run."""

    def __init__(self, specs: list[dict[str, Any]], call_tool: CallTool, events: asyncio.Queue[Any]) -> None:
        self._specs, self.call_tool, self.events = specs, call_tool, events

    @property
    def specs(self) -> list[dict[str, Any]]:
        return self._specs

    async def call(self, call_id: str, name: str, arguments: dict[str, Any]) -> ToolResult:
        await self.events.put(
            {"type": "tool-input-available", "toolCallId": call_id, "toolName": name, "input": arguments}
        )
        output = await self.call_tool(name, arguments)
        await self.events.put({"type": "tool-output-available", "toolCallId": call_id, "output": output})
        return ToolResult(True, result=output, arguments=arguments)


async def chat_events(
    model: ModelProvider,
    *,
    instructions: str,
    text: str,
    tools: list[dict[str, Any]],
    call_tool: CallTool,
) -> AsyncIterator[dict[str, Any]]:
    """Answer `text` with the agent loop and yield UI stream events as they happen.

    Events: ``tool-input-available`` (``toolCallId``, ``toolName``, ``input``) before a tool runs,
    ``tool-output-available`` (``toolCallId``, ``output``) after, then ``text-delta`` (``delta``)
    with the answer, or ``error`` (``errorText``) when the model fails or does not answer.

    Args:
        model: The model provider.
        instructions: The system prompt.
        text: The user's message.
        tools: OpenAI-style tool definitions.
        call_tool: Runs a tool; failures come back as output, they do not end the chat.
    """
    events: asyncio.Queue[Any] = asyncio.Queue()

    async def drive() -> None:
        try:
            outcome = await agent_loop(
                model,
                instructions=instructions,
                run_input={"message": text},
                tools=_StreamingToolbox(tools, call_tool, events),
                trace=Trace(),
                user_message=text,
            )
            if outcome.status == "completed":
                await events.put({"type": "text-delta", "delta": outcome.output_text})
            else:
                await events.put({"type": "error", "errorText": outcome.error or "the model failed"})
        finally:
            await events.put(None)

    task = asyncio.create_task(drive(), name="ara-chat")
    try:
        while (event := await events.get()) is not None:
            yield event
        await task
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
