"""Fixture: schedules in every form, on agents and tools, in both decorator orders."""

# fmt: off
# ruff: noqa
# (the original SDK produced the golden manifest from this exact text)

from ara_sdk import App, invoke, schedule

app = App("schedule-shapes", interfaces={"inherit_owner_tools": False})


@app.schedule(cron="*/15 * * * *")
@app.tool()
def poll_inbox(limit: int = 10) -> dict:
    """Poll the inbox."""
    return {"limit": limit}


@app.tool()
@app.schedule(at=["09:30", "2030-01-02T03:04:05Z"], timezone="Europe/Paris")
def send_digest() -> str:
    return "sent"


@app.schedule(id="nightly", cron="0 2 * * *", run=invoke.agent("reporter", input={"kind": "nightly"}))
@app.agent(
    entrypoint=True,
    skills=["send_email", "send_email", " search "],
    handoff_to=["reporter"],
    schedules=[
        schedule.cron(
            expr="0 9 * * 1-5", run=invoke.agent("planner"), id="weekday-morning", timezone="America/New_York"
        )
    ],
)
def planner(input: dict) -> str:
    """Plan the day."""
    return "Plan the day."


@app.agent(always_on=False, schedules=[schedule.every(seconds=3600, run=invoke.tool("poll_inbox", args={"limit": 5}), id="hourly")])
@app.schedule(at="07:05")
def reporter(input: dict) -> str:
    """Write the report."""
    return "Write the report."
