"""A job-first app (ara.Job and @ara.tool) for end-to-end tests."""

import ara_sdk as ara


@ara.tool
def add(a: int, b: int) -> dict:
    """Add two integers."""
    return {"sum": a + b}


@ara.tool(required_env=["JOB_REGION"])
def region() -> str:
    """The configured region."""
    import ara_sdk as ara  # the source ships alone: import inside the tool

    return ara.env("JOB_REGION", "eu")


ara.Job(
    "job-e2e",
    system_instructions="Add the numbers a and b from the input with the add tool.",
    required_env=["JOB_REGION"],
)
