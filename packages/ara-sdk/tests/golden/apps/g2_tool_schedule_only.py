"""Fixture: a tool with a schedule and no agent (the manifest gains a scheduled-jobs agent)."""

# fmt: off
# ruff: noqa
# (the original SDK produced the golden manifest from this exact text)

from ara_sdk import App

app = App("tool-cron-only")


@app.schedule(cron="0 6 * * *", timezone="Asia/Tokyo")
@app.tool()
def refresh_cache(region: str = "eu") -> dict:
    """Refresh the cache."""
    return {"region": region}
