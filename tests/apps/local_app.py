"""An app with a local entrypoint (spec §1.13) for `ara local`."""

from ara_sdk import App

app = App("local-e2e")


@app.agent()
def helper(input: dict) -> str:
    """Helps."""
    return "Help."


@app.local_entrypoint()
def main(name: str = "world", punctuation: str = "!") -> str:
    return f"hello {name}{punctuation}"
