"""Fixture: the display-name App of the agent-first generation (task/instructions kwargs)."""

# fmt: off
# ruff: noqa
# (the original SDK produced the golden manifest from this exact text)

from ara_sdk import App, runtime

app = App(
    "Booking Desk",
    project_name="booking-desk",
    description="  Books meetings.  ",
    runtime_profile=runtime(memory_mb=512),
)


@app.agent(task="Book the meeting.", entrypoint=True, skills=["calendar"])
def booking_coordinator():
    pass


@app.agent(instructions="Answer billing questions.", handoff_to=["booking-coordinator"])
def billing_helper(input: dict) -> str:
    return "unused"


@app.agent(prompt_factory=True)
def dynamic_prompt(input: dict) -> str:
    """Build the prompt from the input."""
    return f"Handle {input}"


@app.tool(description="Find free slots.")
def find_slots(day: str, length_minutes: int = 30) -> list:
    return [day, length_minutes]


@app.tool()
def confirm_booking(slot: str) -> dict:
    """Confirm a slot."""
    return {"slot": slot}
