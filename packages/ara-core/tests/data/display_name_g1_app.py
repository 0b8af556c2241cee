# fmt: off
# ruff: noqa
# pyright: basic, reportAttributeAccessIssue=false, reportCallIssue=false, reportArgumentType=false
# An app for the original ara-sdk 0.1.30; tests/data/display_name_g1_app.manifest.json is the manifest it printed (json.dumps).
from ara_sdk import App, invoke, schedule, sandbox

app = App(name="Investor Booker", project_name="Team Internal App", description="d")


@app.agent(task="Book investors.", skills=["lookup"], schedules=[schedule.cron(id="daily", expr="0 9 * * *", run=invoke.agent("booking-coordinator", input={"k": 1})), schedule.every(id="poll", seconds=300, run=invoke.tool("lookup", args={"q": "x"}))], sandbox=sandbox(policy="dedicated"))
def booking_coordinator():
    pass


@app.agent(prompt_factory=True)
def writer(input: dict) -> str:
    return "x"


@app.tool(description="Look up.")
def lookup(q: str) -> dict:
    return {}
