"""A job-first app in the newest original style: `import ara_sdk as ara` (and `json`) only at the
module's top, used inside the tool's body, whose source alone is shipped to the server."""

import json

import ara_sdk as ara


@ara.tool
def sign(word: str) -> dict:
    """Sign a word with the app's token."""
    token = ara.secret("JOB_TOKEN")
    return {"signed": json.dumps([word, token[::-1]]), "region": ara.env("JOB_REGION", "eu")}


ara.Job(
    "job-toplevel-import",
    system_instructions="Sign the word from the input with the sign tool.",
)
