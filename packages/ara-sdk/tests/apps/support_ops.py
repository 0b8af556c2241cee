"""The worked example of spec §1.9b."""

from ara_sdk import App, fastapi_endpoint

app = App("support-ops", interfaces={"inherit_owner_tools": False})


@app.schedule(cron="0 * * * *")
@app.tool()
def send_email(to: str, body: str = "x") -> dict:
    return {"sent": to}


@app.agent(entrypoint=True)
def support_coordinator(input: dict) -> str:
    """Coordinate support."""
    return "Coordinate support."


@fastapi_endpoint(auth="hmac")
@app.agent()
def inbound_webhook(input: dict) -> str:
    return "Handle the webhook."
