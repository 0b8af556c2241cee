"""An app whose tools fail: one raises, one runs past the server's tool timeout."""

from ara_sdk import App

app = App("failing-e2e")


@app.tool()
def explode(reason: str) -> dict:
    """Raise an error on purpose."""
    raise ValueError(f"cannot handle {reason}")


@app.tool()
def slow(seconds: float) -> dict:
    """Sleep longer than the tool timeout."""
    import time

    time.sleep(seconds)
    return {"slept": seconds}


@app.agent()
def raiser(input: dict) -> str:
    """Uses the raising tool."""
    return "Call explode."


@app.agent()
def sleeper(input: dict) -> str:
    """Uses the slow tool."""
    return "Call slow."
