"""Sandbox runner: executed as a script by a fresh Python process for one tool call or prompt.

Reads one JSON request from stdin: `{"source", "function_name", "mode": "tool"|"prompt", "args"|"input"}`;
writes one JSON reply to the original stdout: `{"ok": true, "result": ...}` or
`{"ok": false, "error_type", "error", "missing_module"?}`. Anything the function prints goes to
stderr, so it cannot corrupt the reply. Only the standard library is used here.
"""

import json
import os
import sys


def main() -> None:
    reply_fd = os.dup(1)
    os.dup2(2, 1)  # the function's prints go to stderr
    sys.stdout = sys.stderr
    reply = os.fdopen(reply_fd, "w", encoding="utf-8")
    try:
        request = json.loads(sys.stdin.read())
        namespace: dict = {"__name__": "ara_sandbox"}  # type: ignore[type-arg]
        code = compile(request["source"], "<" + request["function_name"] + ">", "exec")
        exec(code, namespace)
        fn = namespace[request["function_name"]]
        if request.get("mode") == "prompt":
            result = fn(request.get("input") or {})
        else:
            result = fn(**(request.get("args") or {}))
        try:
            text = json.dumps({"ok": True, "result": result})
        except (TypeError, ValueError) as exc:
            text = json.dumps(
                {
                    "ok": False,
                    "error_type": "TypeError",
                    "error": "result is not JSON-serializable ("
                    + str(exc)
                    + "); return dicts, lists, strings, numbers",
                }
            )
    except ModuleNotFoundError as exc:
        text = json.dumps(
            {"ok": False, "error_type": "ModuleNotFoundError", "error": str(exc), "missing_module": exc.name}
        )
    except BaseException as exc:  # the user's code failed; report it, never a traceback on the channel
        text = json.dumps({"ok": False, "error_type": type(exc).__name__, "error": str(exc)})
    reply.write(text)
    reply.flush()


if __name__ == "__main__":
    main()
