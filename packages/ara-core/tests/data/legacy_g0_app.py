# fmt: off
# ruff: noqa
# pyright: basic, reportAttributeAccessIssue=false, reportCallIssue=false, reportArgumentType=false
# An app for the original ara-sdk 0.1.5; tests/data/legacy_g0_app.manifest.json is the manifest it printed (json.dumps).
from ara_sdk import App, cron, subagent_hook, sandbox, runtime, command_adapter

app = App(name="Meeting Booker", description="Books meetings.", interfaces={"inherit_owner_tools": False})


@app.agent(instructions="Coordinate bookings.", handoff_to=["notifier"])
def coordinator():
    pass


@app.task(agent="coordinator", schedule=cron("0 9 * * 1-5", timezone="Europe/London"))
def morning_digest():
    """Send the morning digest."""


@app.task(id="plain-task", trigger={"type": "api"})
def plain():
    pass


@app.hook(event="mail.received", command="python handle.py")
def on_mail():
    pass


@app.hook(event="scheduler.followups", schedule="0 13 * * 1-5")
def followups():
    """Follow up."""


@app.subagent(
    id="booking-coordinator",
    channels=["SMS", "email"],
    sandbox=sandbox(max_concurrency=3),
    runtime={"adapter": command_adapter("python worker.py")},
    hooks=[subagent_hook(event="mail.received", command="echo hi"), subagent_hook(event="cal.changed", task="Recheck")],
    schedule=cron("0 10 * * 1-5"),
)
def booking():
    """Book meetings."""


@app.handler(id="lookup", description="Look things up.")
def lookup(query: str, limit: int = 3) -> dict:
    return {}


@app.tool(id="lookup-tool", handler="lookup", description="Lookup tool.")
def lookup_tool(query: str) -> dict:
    return {}
