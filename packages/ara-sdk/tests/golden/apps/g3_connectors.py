"""Fixture: connectors, secrets, env and required_env in the newest authoring style."""

# fmt: off
# ruff: noqa
# (the original SDK produced the golden manifest from this exact text)

import ara_sdk as ara


@ara.tool(id="lookup", required_env=["LOOKUP_TOKEN", "CRM_TOKEN"])
def lookup_customer(email: str, limit: int = 3) -> dict:
    """Look a customer up.

    Returns the first matches.
    """
    token = ara.secret("CRM_TOKEN")
    region = ara.env("REGION", "eu")
    other = ara.secret('SECOND_TOKEN', "fallback")
    return {"email": email, "limit": limit, "auth": bool(token), "region": region, "o": other}


job = ara.Automation(
    "Customer Desk!",
    system_instructions="  Answer customers; use lookup.  ",
    skills=[
        "faq",
        ara.connectors.gmail.send_email,
        ara.connectors.gmail.read_email,
        ara.connectors.slack,
        "connector:Google Calendar:Create Event",
        " faq ",
    ],
    allow_connector_tools=False,
    required_env=["OPENAI_API_KEY", "CRM_TOKEN", "OPENAI_API_KEY"],
    entrypoint="python start.py",
    execution={"mode": "sandbox_required"},
)


@ara.tool(parameters={"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]})
def search(q):
    return {"q": q}
