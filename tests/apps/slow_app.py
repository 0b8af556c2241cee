"""An app with a slow command hook, for cancellation."""

from ara_sdk import App

app = App(name="Slow E2E", project_name="slow-e2e")


@app.tool()
def noop(message: str) -> str:
    """Do nothing."""
    return message


@app.agent(entrypoint=True, task="Wait.")
def waiter():
    pass


@app.hook(event="slow.start", command="echo started; sleep 987.75")
def slow():
    pass
