"""A small app for end-to-end tests: a prompt-factory agent and two chained tools."""

from ara_sdk import App

app = App("calc-e2e")


@app.tool()
def add(a: int, b: int) -> dict:
    """Add two integers."""
    return {"sum": a + b, "types": [type(a).__name__, type(b).__name__]}


@app.tool()
def describe(sum: int) -> str:
    """Describe a sum in words."""
    return f"The sum is {sum}."


@app.agent(entrypoint=True)
def calculator(input: dict) -> str:
    """Adds numbers with its tools."""
    return f"Add the numbers a and b from the input, then describe the sum. Input keys: {sorted(input)}"
