"""An app whose hooks run when events arrive: a command hook, a subagent hook wrapped by the
guardrail launcher, and a task hook run by an agent."""

from ara_sdk import App, subagent_hook

app = App(name="Hooks E2E", project_name="hooks-e2e")


@app.tool()
def summarize(message: str) -> str:
    """Summarize the incoming message."""
    return f"summary: {message}"


@app.agent(entrypoint=True, task="Summarize incoming mail.")
def mail_agent():
    pass


@app.hook(
    event="mail.received",
    command=(
        'echo "hook saw $(python3 -c "import json,os; '
        "print(json.loads(os.environ['ARA_EVENT'])['message'])\")\" > hook.txt; cat hook.txt"
    ),
)
def on_mail():
    pass


@app.hook(event="mail.received", agent="mail-agent", task="Summarize the new mail.")
def summarize_mail():
    pass


@app.subagent(hooks=[subagent_hook(event="mail.received", command="echo subagent-ran > done.txt")])
def archiver():
    """Archives mail."""
