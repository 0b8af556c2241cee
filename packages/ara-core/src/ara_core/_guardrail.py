"""The shell guardrail launcher for hook commands and the task guardrail preamble."""

from __future__ import annotations

import shlex

from ._helpers import (
    DEFAULT_SUBAGENT_MAX_RETRIES,
    DEFAULT_SUBAGENT_RETRY_BACKOFF_SECONDS,
    DEFAULT_SUBAGENT_TIMEOUT_SECONDS,
)

__all__ = ["guardrail_command", "task_guardrail_prefix"]

_SCRIPT = r"""set -u
ara_json() { local s=${1//\\/\\\\}; s=${s//\"/\\\"}; s=${s//$'\n'/\\n}; s=${s//$'\r'/\\r}; s=${s//$'\t'/\\t}; printf '"%s"' "$s"; }
ara_now() { date -u +%Y-%m-%dT%H:%M:%SZ; }
ara_ms() { local t; t=$(date +%s%N 2>/dev/null); case $t in *N|'') echo $(( $(date +%s) * 1000 ));; *) echo $(( t / 1000000 ));; esac; }
mkdir -p -- __WORKDIR__ && cd -- __WORKDIR__ || exit 1
RUN_ID=${ARA_RUN_ID:-${RUN_ID:-}}
if [ -z "$RUN_ID" ]; then RUN_ID="run-$(date -u +%Y%m%dT%H%M%SZ)-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"; fi
IDEMPOTENCY_KEY=${ARA_IDEMPOTENCY_KEY:-${IDEMPOTENCY_KEY:-}}
if [ -z "$IDEMPOTENCY_KEY" ]; then IDEMPOTENCY_KEY=__WORKFLOW_ID__-"$RUN_ID"; fi
export RUN_ID IDEMPOTENCY_KEY
export ARA_APP_SLUG=__APP_SLUG__ ARA_SUBAGENT_ID=__SUBAGENT_ID__ ARA_WORKFLOW_ID=__WORKFLOW_ID__
export ARA_RUN_ID="$RUN_ID" ARA_IDEMPOTENCY_KEY="$IDEMPOTENCY_KEY"
export ARA_TIMEOUT_SECONDS=__TIMEOUT__ ARA_MAX_RETRIES=__RETRIES__ ARA_RETRY_BACKOFF_SECONDS=__BACKOFF__
ara_fields() { printf '"app_slug":%s,"subagent_id":%s,"workflow_id":%s,"run_id":%s,"idempotency_key":%s' "$(ara_json "$ARA_APP_SLUG")" "$(ara_json "$ARA_SUBAGENT_ID")" "$(ara_json "$ARA_WORKFLOW_ID")" "$(ara_json "$RUN_ID")" "$(ara_json "$IDEMPOTENCY_KEY")"; }
printf '{"event":"ara.hook","phase":"start",%s,"ts":"%s"}\n' "$(ara_fields)" "$(ara_now)"
ara_started=$(ara_ms)
bash -c __COMMAND__
ara_code=$?
printf '{"event":"ara.hook","phase":"done",%s,"exit_code":%d,"duration_ms":%d,"ts":"%s"}\n' "$(ara_fields)" "$ara_code" "$(( $(ara_ms) - ara_started ))" "$(ara_now)"
exit "$ara_code"
"""  # noqa: E501 - the launcher's bytes are part of every manifest that declares a hook


def guardrail_command(
    command: str,
    *,
    app_slug: str,
    subagent_id: str,
    workflow_id: str,
    working_dir: str | None = None,
    timeout_seconds: int = DEFAULT_SUBAGENT_TIMEOUT_SECONDS,
    max_retries: int = DEFAULT_SUBAGENT_MAX_RETRIES,
    retry_backoff_seconds: int = DEFAULT_SUBAGENT_RETRY_BACKOFF_SECONDS,
) -> str:
    """Wrap a hook command in the guardrail launcher; the result is a `bash -lc` line.

    The launcher creates and enters the working dir (default `subagents/<subagent id>`); reuses
    `ARA_RUN_ID`/`RUN_ID` or derives `run-<UTC stamp>-<8 hex>`; reuses `ARA_IDEMPOTENCY_KEY`/
    `IDEMPOTENCY_KEY` or derives `<workflow id>-<run id>`; exports `ARA_APP_SLUG`,
    `ARA_SUBAGENT_ID`, `ARA_WORKFLOW_ID`, `ARA_RUN_ID`, `ARA_IDEMPOTENCY_KEY`,
    `ARA_TIMEOUT_SECONDS`, `ARA_MAX_RETRIES`, `ARA_RETRY_BACKOFF_SECONDS`; prints one JSON line
    `{"event":"ara.hook","phase":"start",...}` before and one with `"phase":"done"`, `exit_code` and
    `duration_ms` after the command; and exits with the command's status. The user command is
    shell-quoted whole into a nested `bash -c`, so quotes, newlines, `$`, backticks and heredocs
    reach bash unchanged.

    Args:
        command: Any bash command text.
        app_slug: The app's slug.
        subagent_id: The subagent id.
        workflow_id: The workflow id.
        working_dir: Directory to run in, relative to the sandbox's working directory.
        timeout_seconds: Exported as `ARA_TIMEOUT_SECONDS`.
        max_retries: Exported as `ARA_MAX_RETRIES`.
        retry_backoff_seconds: Exported as `ARA_RETRY_BACKOFF_SECONDS`.

    Returns:
        `bash -lc '<launcher script>'`.
    """
    values = {
        "__WORKDIR__": shlex.quote(working_dir or f"subagents/{subagent_id}"),
        "__APP_SLUG__": shlex.quote(app_slug),
        "__SUBAGENT_ID__": shlex.quote(subagent_id),
        "__WORKFLOW_ID__": shlex.quote(workflow_id),
        "__TIMEOUT__": str(int(timeout_seconds)),
        "__RETRIES__": str(int(max_retries)),
        "__BACKOFF__": str(int(retry_backoff_seconds)),
    }
    script = _SCRIPT
    for placeholder, value in values.items():
        script = script.replace(placeholder, value)
    # The command goes in last, so text inside it that looks like a placeholder stays as it is.
    script = script.replace("__COMMAND__", shlex.quote(command))
    return f"bash -lc {shlex.quote(script)}"


def task_guardrail_prefix(
    *,
    app_slug: str,
    subagent_id: str,
    workflow_id: str,
    working_dir: str | None = None,
    timeout_seconds: int = DEFAULT_SUBAGENT_TIMEOUT_SECONDS,
    max_retries: int = DEFAULT_SUBAGENT_MAX_RETRIES,
    retry_backoff_seconds: int = DEFAULT_SUBAGENT_RETRY_BACKOFF_SECONDS,
) -> str:
    """The preamble put before a subagent's task text (the wording is ours).

    Returns:
        A multi-line block ending with a blank line; append the task after it.
    """
    workdir = working_dir or f"subagents/{subagent_id}"
    return (
        f"[ara guardrails] You are subagent '{subagent_id}' (workflow '{workflow_id}') of app '{app_slug}'.\n"
        f"- You share a sandbox with the app's other subagents: keep every file you create under {workdir}/ "
        "and do not read, change or stop other subagents' files or processes.\n"
        "- Label your work and outputs with the current run id ($ARA_RUN_ID).\n"
        "- Treat $ARA_IDEMPOTENCY_KEY as the de-duplication key for side effects: before sending a message, "
        "booking, paying or writing elsewhere, check it was not already done for this key; "
        "never repeat it on a retry.\n"
        f"- Finish within {int(timeout_seconds)} seconds; "
        f"the run may be retried up to {int(max_retries)} times, "
        f"{int(retry_backoff_seconds)} seconds apart.\n"
        "\n"
    )
