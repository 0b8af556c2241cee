"""Fixture: HTTP endpoints in both decorator orders, runtime profile, sandbox and per-agent runtime."""

# fmt: off
# ruff: noqa
# (the original SDK produced the golden manifest from this exact text)

from ara_sdk import App, entrypoint, fastapi_endpoint, file, runtime, sandbox

app = App(
    "endpoint-shapes",
    interfaces={"inherit_owner_tools": False, "fastapi_endpoints": [{"label": "manual", "method": "GET"}]},
    runtime_profile=runtime(
        python_packages=["requests==2.32.3"],
        memory_mb=1024,
        env={"MODE": "prod"},
        files=[file("notes/readme.txt", "hello")],
        startup=entrypoint("python boot.py"),
    ),
    agent={"model": "gpt-test", "default_profile_id": "custom"},
)


@fastapi_endpoint(method="get", path="/hooks//inbound/", auth="header")
@app.agent()
def inbound(input: dict) -> str:
    """Handle an inbound call."""
    return "Handle it."


@app.agent(
    runtime={"memory_mb": 256},
    sandbox=sandbox(policy="dedicated", max_concurrency=2),
)
@fastapi_endpoint(label="Signed Hook", auth="hmac", docs=True)
def signed(input: dict) -> str:
    return "Signed."


@app.agent(entrypoint=True)
@fastapi_endpoint(auth="bearer", auth_secret_env="MY_TOKEN")
def main_agent(input: dict) -> str:
    """Main."""
    return "Main."
