# fmt: off
# ruff: noqa
# pyright: basic, reportAttributeAccessIssue=false
# An app for the original ara-sdk 0.1.58; tests/data/job_connectors_app.manifest.json is the manifest it printed (json.dumps).
import ara_sdk as ara

@ara.tool
def send(to: str, n: int = 2) -> dict:
    """Send things."""
    key = ara.secret("MAIL_KEY")
    return {}

ara.Job(
    "mail-job",
    system_instructions="Do mail.",

    skills=[ara.connectors.gmail.send_email, ara.connectors.slack],
    allow_connector_tools=False,
    required_env=["OTHER_KEY"],
    entrypoint="python main.py",
    execution={"max_retries": 3},
)
