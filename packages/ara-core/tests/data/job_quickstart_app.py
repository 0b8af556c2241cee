# fmt: off
# ruff: noqa
# pyright: basic, reportAttributeAccessIssue=false
# An app for the original ara-sdk 0.1.58; tests/data/job_quickstart_app.manifest.json is the manifest it printed (json.dumps).
import ara_sdk as ara

@ara.tool
def utc_now() -> dict:
    from datetime import datetime, timezone
    return {"utc_time": datetime.now(timezone.utc).isoformat()}

ara.Job(
    "hello-hourly-agent",
    system_instructions=(
        "Reply with one short hello message and include UTC time. "
        "If linq_send_message is available and a phone route is paired, "
        "send the same message there once."
    ),
)
