"""Fixture: the newest authoring style, a job with one tool (module-level Job, not assigned)."""

# fmt: off
# ruff: noqa
# (the original SDK produced the golden manifest from this exact text)

import ara_sdk as ara


@ara.tool
def utc_now() -> dict:
    from datetime import datetime, timezone

    return {"utc_time": datetime.now(timezone.utc).isoformat()}


ara.Job(
    "hello-hourly-agent",
    system_instructions=(
        "Reply with a short greeting that includes the UTC time. "
        "If a messaging tool is available, send it there once."
    ),
)
