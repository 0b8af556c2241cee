"""The run engine with real subprocesses, and the OpenAI-compatible provider against a fake
chat-completions server under real uvicorn on loopback."""

import asyncio
import json
import socket
import threading
import time
from typing import Any

import pytest
import uvicorn
from ara_core import signature_schema
from ara_server.engine import OfflineProvider, OpenAICompatibleProvider, execute_agent_run, provider_from_env
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


def _tool(fn_source: str, name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {"name": name, "description": "", "parameters": schema},
        "function_name": name,
        "source": fn_source,
    }


def _manifest(tools: list[dict[str, Any]], prompt: str | None = None) -> dict[str, Any]:
    row: dict[str, Any] = {"id": "agent", "task": "Do it.", "instructions": "Do it."}
    if prompt:
        row["prompt_factory"] = {"function_name": "agent", "source": prompt, "parameters": {}}
    return {"name": "t", "slug": "t", "agent": {"agents": [row], "tools": tools}}


def double(n: int) -> dict:
    return {"doubled": n * 2, "type": type(n).__name__}


def shout(doubled: int, word: str = "hey") -> str:
    print("this print must not corrupt the result")
    return f"{word.upper()} {doubled}"


TOOLS = [
    _tool(
        "def double(n: int) -> dict:\n    return {'doubled': n * 2, 'type': type(n).__name__}\n",
        "double",
        signature_schema(double),
    ),
    _tool(
        "def shout(doubled: int, word: str = 'hey') -> str:\n"
        "    print('this print must not corrupt the result')\n"
        "    return f'{word.upper()} {doubled}'\n",
        "shout",
        signature_schema(shout),
    ),
]


async def test_offline_chain_coerces_arguments_and_keeps_prints_out_of_results(tmp_path):
    prompt = "def agent(input: dict) -> str:\n    return 'Double ' + str(input['n'])\n"
    out = await execute_agent_run(
        _manifest(TOOLS, prompt),
        "agent",
        {"n": "21", "word": "yo"},
        workdir=tmp_path,
        provider=OfflineProvider(),
    )
    assert out.status == "completed", out.error
    assert out.instructions == "Double 21"
    assert out.output_text == "YO 42"
    calls = out.tool_calls
    assert calls[0] == {
        "name": "double",
        "arguments": {"n": 21},
        "result": {"doubled": 42, "type": "int"},
        "error": None,
    }
    assert calls[1]["arguments"] == {"doubled": 42, "word": "yo"}
    shout_entry = [e for e in out.trace if e["type"] == "tool_call"][1]
    assert "must not corrupt" in shout_entry["logs"]
    assert [e["seq"] for e in out.trace] == list(range(len(out.trace)))


async def test_no_tool_applies_gives_a_deterministic_sentence(tmp_path):
    out = await execute_agent_run(
        _manifest(TOOLS), "agent", {"message": "hello"}, workdir=tmp_path, provider=OfflineProvider()
    )
    assert out.status == "completed"
    assert out.output_text == "[offline model] No tool applies. Instructions: 'Do it.'. Message: 'hello'."


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("def boom(n: int) -> dict:\n    raise KeyError('missing thing')\n", "KeyError: 'missing thing'"),
        ("def boom(n: int) -> dict:\n    return {1, 2}\n", "not JSON-serializable"),
        (
            "def boom(n: int) -> dict:\n    import surely_not_installed_pkg\n",
            "runtime(python_packages=[...])",
        ),
        ("def boom(n: int) -> dict:\n    import os\n    os._exit(3)\n", "crashed (exit code 3)"),
    ],
)
async def test_tool_failures_fail_the_run_with_the_error_in_the_trace(tmp_path, source, expected):
    tools = [
        _tool(source, "boom", {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]})
    ]
    out = await execute_agent_run(
        _manifest(tools), "agent", {"n": 1}, workdir=tmp_path, provider=OfflineProvider()
    )
    assert out.status == "failed"
    assert expected in out.error
    assert expected in out.trace[-1]["error"]


async def test_bad_argument_names_the_json_path(tmp_path):
    out = await execute_agent_run(
        _manifest(TOOLS), "agent", {"n": "twenty"}, workdir=tmp_path, provider=OfflineProvider()
    )
    assert out.status == "failed"
    assert "`$.n` must be integer" in (out.error or "")


async def test_timeout_kills_the_tool_and_the_loop_stays_responsive(tmp_path):
    slow = [
        _tool(
            "def slow(s: float) -> dict:\n    import time\n    time.sleep(s)\n    return {}\n",
            "slow",
            {"type": "object", "properties": {"s": {"type": "number"}}, "required": ["s"]},
        )
    ]
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.05)
            ticks += 1

    task = asyncio.create_task(ticker())
    started = time.monotonic()
    results = await asyncio.gather(
        *(
            execute_agent_run(
                _manifest(slow),
                "agent",
                {"s": 60},
                workdir=tmp_path / str(i),
                provider=OfflineProvider(),
                tool_timeout_seconds=1.0,
            )
            for i in range(2)
        )
    )
    elapsed = time.monotonic() - started
    task.cancel()
    assert all(r.status == "failed" and "timed out after 1 s" in (r.error or "") for r in results)
    assert elapsed < 30  # killed, not waited for 60 s
    assert ticks >= 5  # the event loop kept running while both tools slept


def test_provider_from_env():
    assert isinstance(provider_from_env({}), OfflineProvider)
    provider = provider_from_env({"ARA_MODEL_BASE_URL": "http://127.0.0.1:9/v1", "ARA_MODEL": "m"})
    assert isinstance(provider, OpenAICompatibleProvider) and provider.model == "m"


class FakeChatCompletions:
    """A chat-completions server: asks for the `double` tool, then answers with its result."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []

    async def handle(self, request: Request) -> JSONResponse:
        body = await request.json()
        self.requests.append(body)
        self.headers.append(dict(request.headers))
        tool_messages = [m for m in body["messages"] if m["role"] == "tool"]
        if not tool_messages:
            message = {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_abc",
                        "type": "function",
                        "function": {"name": "double", "arguments": json.dumps({"n": "5"})},
                    }
                ],
            }
        else:
            result = json.loads(tool_messages[-1]["content"])
            message = {"role": "assistant", "content": f"The double is {result['doubled']}."}
        return JSONResponse(
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "model": body["model"],
                "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            }
        )


@pytest.fixture
def fake_model():
    fake = FakeChatCompletions()
    app = Starlette(routes=[Route("/v1/chat/completions", fake.handle, methods=["POST"])])
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    yield fake, f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    server.should_exit = True
    thread.join(10)
    sock.close()


async def test_openai_compatible_provider_tool_call_then_answer(tmp_path, fake_model):
    fake, base = fake_model
    provider = OpenAICompatibleProvider(base, "sk-test", "fake-model")
    out = await execute_agent_run(
        _manifest(TOOLS[:1]), "agent", {"message": "double five"}, workdir=tmp_path, provider=provider
    )
    assert out.status == "completed", out.error
    assert out.output_text == "The double is 10."
    assert out.tool_calls == [
        {"name": "double", "arguments": {"n": 5}, "result": {"doubled": 10, "type": "int"}, "error": None}
    ]
    first, second = fake.requests
    assert fake.headers[0]["authorization"] == "Bearer sk-test"
    assert first["model"] == "fake-model" and first["tool_choice"] == "auto"
    assert first["tools"][0]["function"]["name"] == "double"
    assert first["messages"][0] == {"role": "system", "content": "Do it."}
    assert first["messages"][1] == {"role": "user", "content": "double five"}
    assert second["messages"][2]["tool_calls"][0]["id"] == "call_abc"
    assert second["messages"][3] == {
        "role": "tool",
        "tool_call_id": "call_abc",
        "content": json.dumps({"doubled": 10, "type": "int"}),
    }
    model_entries = [e for e in out.trace if e["type"] == "model"]
    assert model_entries[0]["provider"] == "openai-compatible" and model_entries[0]["tool_calls"] == [
        "double"
    ]


async def test_openai_compatible_provider_http_error_fails_the_run(tmp_path):
    provider = OpenAICompatibleProvider("http://127.0.0.1:9/v1", "", "m", timeout=2)
    out = await execute_agent_run(
        _manifest(TOOLS[:1]), "agent", {"message": "x"}, workdir=tmp_path, provider=provider
    )
    assert out.status == "failed" and "model request failed" in (out.error or "")
