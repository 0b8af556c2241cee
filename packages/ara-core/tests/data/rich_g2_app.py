# fmt: off
# ruff: noqa
# pyright: basic, reportAttributeAccessIssue=false
# An app for the original ara-sdk 0.1.45; tests/data/rich_g2_app.manifest.json is the manifest it printed (json.dumps).
from ara_sdk import App, invoke, schedule, runtime, sandbox, fastapi_endpoint, file, entrypoint, Secret

app = App("rich-app", interfaces={"inherit_owner_tools": False, "zeta": 1, "alpha": [1]},
          runtime_profile=runtime(files=[file("a.txt", "hi")], startup=entrypoint("python a.py"), python_packages=["requests"], env={"MODE": 3}, memory_mb=256))

@app.tool(id="send_mail")
@app.schedule(at=["09:30", "2030-01-02T03:04:05Z"], cron="0 * * * *")
def send(to: str, n: int = 2, flag: bool = False, xs: list = [], opt: dict | None = None) -> dict:
    """Send."""
    return {}

@app.agent(entrypoint=True, skills=["send_mail", "connector:gmail"], handoff_to=["other", "other"],
           runtime={"memory_mb": 512, "python_packages": ["x"]}, sandbox=sandbox(policy="dedicated", max_concurrency=2, allow_spawn=True),
           schedules=[schedule.every(seconds=120, run=invoke.agent("boss", input={"m": 1})), schedule.cron(expr="0 9 * * 1-5", timezone="Europe/London", run=invoke.agent("other"))])
def boss(input: dict) -> str:
    """Lead."""
    return "x"

@fastapi_endpoint(method="get", auth="header")
@app.agent(always_on=False)
def other(input: dict) -> str:
    return "y"
