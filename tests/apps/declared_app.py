"""An app whose every declaration runs on ara-server: a pipeline run on demand and on an event, a
handler agent (0, 1 and 2 parameters), a startup entrypoint, a tool that imports a package the app
declares in python_packages, and a subagent hook that runs `python` through a login shell."""

from ara_sdk import App, entrypoint, runtime, subagent_hook

app = App(
    name="Declared E2E",
    project_name="declared-e2e",
    runtime_profile=runtime(
        python_packages=["inflection==0.5.1"],
        startup=entrypoint("echo startup-ran-$ARA_APP_SLUG > startup.txt; echo started $(cat startup.txt)"),
    ),
    interfaces={"tool_privileges": [{"toolkit": "gmail", "allowed_actions": ["send"]}]},
)


@app.tool()
def step_one(label: str = "x") -> dict:
    """Write the first line."""
    with open("steps.txt", "a") as fh:
        fh.write(f"one:{label}\n")
    print("step one wrote", label)
    return {"step": 1}


@app.tool()
def step_two(label: str = "x") -> dict:
    """Write the second line."""
    with open("steps.txt", "a") as fh:
        fh.write(f"two:{label}\n")
    return {"step": 2, "lines": open("steps.txt").read().splitlines()}


@app.tool()
def camel(word: str) -> str:
    """Camel-case a word with the declared package."""
    # Installed at deploy into the app's own environment (python_packages), not the workspace's.
    import inflection  # pyright: ignore[reportMissingImports]

    return inflection.camelize(word)


@app.agent(entrypoint=True, task="Camel-case the word.")
def camel_agent(input: dict) -> str:
    """Camel-case the word."""
    return "Camel-case the word."


@app.pipeline(
    id="two-steps",
    steps=[
        {"id": "first", "kind": "tool", "tool_name": "step-one", "args": {"label": "a"}},
        {"id": "second", "kind": "tool", "tool_name": "step-two", "args": {"label": "a"}},
    ],
)
def two_steps():
    """Two steps in order."""


@app.pipeline(
    id="on-order",
    trigger={"type": "api", "event": "order.created"},
    steps=[
        {"id": "first", "kind": "tool", "tool_name": "step-one", "args": {"label": "evt"}},
        {"id": "second", "kind": "tool", "tool_name": "step-two", "args": {"label": "evt"}},
    ],
)
def on_order():
    """Runs when an order is created."""


@app.handler(id="hello0")
def hello0():
    return "hello from nowhere"


@app.handler(id="hello1")
def hello1(request):
    return {"response": "hello " + request["message"]}


@app.handler(id="hello2")
def hello2(request, ctx):
    return f"hello {request['message']} in run {ctx.run_id} of {ctx['app_slug']}"


@app.subagent(
    channels=["email"],
    hooks=[
        subagent_hook(
            event="py.check", command="python -c 'import inflection, sys; print(sys.version_info[0])'"
        )
    ],
)
def checker():
    """Checks python."""
