"""Sandbox runner: the Python program a sandbox runs for tool calls and prompt functions.

Cold mode (no argument): reads one JSON request from stdin,
`{"source", "function_name", "mode": "tool"|"prompt", "args"|"input"}`, and writes one JSON reply to
the original stdout: `{"ok": true, "result": ...}` or `{"ok": false, "error_type", "error",
"missing_module"?}`. Anything the function prints goes to stderr, so it cannot corrupt the reply.

Warm mode (`--serve`): a fork server inside one long-lived sandbox. The host writes length-prefixed
(4-byte big-endian) JSON requests to its stdin, each the cold request plus `"env"` (the call's whole
environment), `"cwd"` and `"output_bytes"`. A fresh child per call, forked ahead of time, reads the
next request itself (clean globals, its own environment, working directory and empty temp
directory). Once the child has written its reply it tells the server (a byte on a pipe of its
own) and exits; the server then kills everything the call left running (the child included: a
killed process runs no more code) and answers `{"reply": <cold reply or null>, "status": <wait
status, 0 when the child reported its reply>, "logs": str, "truncated": bool, "rss_bytes": int}`,
without waiting for those processes to be gone. Only then does it reap them, wait until none is
left, empty the temp directories and fork the next child, so the next request (already in the
pipe, perhaps) is read by a child that sees nothing of the call before. Its first frame,
before any request, is `{"ready": true, "rss_bytes": int}`; it exits when the host closes its stdin.

Only the standard library is used here.
"""

import json
import os
import sys

#: Names a tool's source may use for a module imported at the top of its file (the manifest carries
#: only the function's own source): `import ara_sdk as ara`, `import numpy as np`, `import pandas as pd`.
MODULE_ALIASES: dict[str, str] = {"ara": "ara_sdk", "np": "numpy", "pd": "pandas"}
#: Standard-library modules never imported on a function's behalf (importing them has side effects).
NEVER_IMPORTED = frozenset({"antigravity", "this", "idlelib", "turtle", "turtledemo", "tkinter"})


def _global_names(code, candidates, found):  # type: ignore[no-untyped-def]
    """Collect which of `candidates` `code` (and the functions, classes and comprehensions nested in
    it) loads as a global name, not as an attribute."""
    import dis

    for instruction in dis.get_instructions(code):
        if instruction.opname in ("LOAD_GLOBAL", "LOAD_NAME") and instruction.argval in candidates:
            found.add(instruction.argval)
    for const in code.co_consts:
        if hasattr(const, "co_names"):
            _global_names(const, candidates, found)
    return found


def _all_names(code, found):  # type: ignore[no-untyped-def]
    found.update(code.co_names)
    for const in code.co_consts:
        if hasattr(const, "co_names"):
            _all_names(const, found)
    return found


def _import_missing_modules(code, namespace):  # type: ignore[no-untyped-def]
    """Bind the modules a function's source uses without importing them itself.

    A tool written as `import ara_sdk as ara` at its module's top and `ara.secret(...)` in its body
    arrives here as the function's source alone, so `ara` would be a NameError at the call. Every
    global name the source loads that it does not define and that is no builtin is bound to a module
    when one can be imported under that name: an alias of `MODULE_ALIASES` (`ara` -> `ara_sdk`), a
    standard-library module (`json`, `os`, ...), or an installed top-level package (`ara_sdk`,
    `httpx`). Names that match no importable module stay unbound (the call gets the usual NameError).
    """
    import builtins
    import importlib
    import importlib.util

    candidates = {
        name
        for name in _all_names(code, set())
        if name not in namespace and not hasattr(builtins, name) and not name.startswith("__")
    }
    if not candidates:
        return
    stdlib = getattr(sys, "stdlib_module_names", frozenset())
    for name in sorted(_global_names(code, candidates, set())):
        module_name = str(MODULE_ALIASES.get(name) or name)
        if module_name in NEVER_IMPORTED:
            continue
        if module_name not in stdlib:
            try:
                if importlib.util.find_spec(module_name) is None:
                    continue
            except (ImportError, ValueError):
                continue
        try:
            namespace[name] = importlib.import_module(module_name)
        except Exception:  # a module that fails to import leaves the name unbound, as before
            continue


def call(request):  # type: ignore[no-untyped-def]
    """Run the requested function; return the JSON reply text (never raises)."""
    try:
        namespace: dict = {"__name__": "ara_sandbox"}  # type: ignore[type-arg]
        code = compile(request["source"], "<" + request["function_name"] + ">", "exec")
        exec(code, namespace)
        fn = namespace[request["function_name"]]
        _import_missing_modules(code, namespace)
        if request.get("mode") == "prompt":
            result = fn(request.get("input") or {})
        else:
            result = fn(**(request.get("args") or {}))
        try:
            return json.dumps({"ok": True, "result": result})
        except (TypeError, ValueError) as exc:
            return json.dumps(
                {
                    "ok": False,
                    "error_type": "TypeError",
                    "error": "result is not JSON-serializable ("
                    + str(exc)
                    + "); return dicts, lists, strings, numbers",
                }
            )
    except ModuleNotFoundError as exc:
        return json.dumps(
            {"ok": False, "error_type": "ModuleNotFoundError", "error": str(exc), "missing_module": exc.name}
        )
    except BaseException as exc:  # the user's code failed; report it, never a traceback on the channel
        return json.dumps({"ok": False, "error_type": type(exc).__name__, "error": str(exc)})


def main() -> None:
    reply_fd = os.dup(1)
    os.dup2(2, 1)  # the function's prints go to stderr
    sys.stdout = sys.stderr
    reply = os.fdopen(reply_fd, "w", encoding="utf-8")
    try:
        text = call(json.loads(sys.stdin.read()))
    except BaseException as exc:
        text = json.dumps({"ok": False, "error_type": type(exc).__name__, "error": str(exc)})
    reply.write(text)
    reply.flush()


CALL_DIR = "/tmp/ara-call"


def _listing(directory: str) -> set[str]:
    try:
        return set(os.listdir(directory))
    except OSError:
        return set()


def _remove_new(directory: str, before: set[str]) -> None:
    """Remove what a call created in `directory` (entries not in `before`; those include the
    mount points of the workspace, which are never touched). Symbolic links are not followed."""
    import shutil

    for name in _listing(directory) - before:
        path = os.path.join(directory, name)
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.unlink(path)
        except OSError:
            pass


def _rss_bytes() -> int:
    """This process's resident memory in bytes (`/proc/self/statm`, one short line; 0 if unreadable)."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


_libc = None


def _set_dumpable(flag: int) -> None:
    """prctl(PR_SET_DUMPABLE): a non-dumpable fork server cannot be ptraced by the calls it forks."""
    global _libc
    try:
        if _libc is None:
            import ctypes

            _libc = ctypes.CDLL(None, use_errno=True)
        _libc.prctl(4, flag, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _ready_child():  # type: ignore[no-untyped-def]
    """What a pre-forked child prepares before its request arrives (none of it depends on the
    request): the default SIGTERM action, an empty environment, and the text stream its prints
    will go through (on descriptor 1, which the call's log replaces). Returns that stream."""
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.environ.clear()
    return os.fdopen(1, "w", encoding="utf-8", errors="replace")


def _child(request, reply_path, log_path, done_w, out) -> None:  # type: ignore[no-untyped-def]
    _set_dumpable(1)
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    sys.stdout = sys.stderr = out
    os.environ.update(request.get("env") or {})
    os.chdir(request.get("cwd") or "/")
    text = call(request)
    with open(reply_path, "w", encoding="utf-8") as f:
        f.write(text)
    sys.stdout.flush()
    try:  # reply and output are complete: the server may answer before this process is gone
        os.write(done_w, b"1")
    except OSError:
        pass
    os._exit(0)


def _wait_for_the_killed() -> None:
    """Wait (at most a second) until no process but the namespace's init and this one is alive."""
    import time

    me = os.getpid()
    for _ in range(1000):
        alive = False
        for name in os.listdir("/proc"):
            if name.isdigit() and int(name) not in (1, me):
                try:
                    with open("/proc/" + name + "/stat") as f:
                        state = f.read().rsplit(")", 1)[1].split()[0]
                except (OSError, IndexError):
                    continue
                if state not in ("Z", "X"):
                    alive = True
                    break
        if not alive:
            return
        time.sleep(0.001)


def _warm_up() -> None:
    """While waiting for its request, a pre-forked child does a call of its own, so the memory a
    call touches is copied (copy-on-write after the fork) before the request arrives, not after."""
    json.loads(
        call(
            {
                "source": "def _ara_warm_up(x):\n    return [x]\n",
                "function_name": "_ara_warm_up",
                "args": {"x": 1},
            }
        )
    )
    env = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    with open(os.devnull, "w", encoding="utf-8", errors="replace") as sink:
        print("warm", file=sink)
    _set_dumpable(0)


#: Written by a child once it has read its request: the call's output limit in bytes.
REQUEST_MARK = os.path.join(CALL_DIR, ".request")


def _read_fd(fd, n):  # type: ignore[no-untyped-def]
    """Exactly `n` bytes from the descriptor (unbuffered: never a byte of the next request);
    None at end of file."""
    data = b""
    while len(data) < n:
        chunk = os.read(fd, n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def _prefork(keep_closed):  # type: ignore[no-untyped-def]
    """Fork the child for the next call ahead of time (the fork is off the call's path). It warms
    up, then reads its request itself from the host's pipe (standard input), so a request goes
    from the host to the call with no hop through this server. Returns `(pid, done_r, pidfd)`:
    the read end of the pipe on which the child reports that its reply is written (a new pipe per
    call: nothing an earlier call wrote there is read for this one), and a descriptor that becomes
    readable when the child exits (None where the kernel or Python has none: the server then waits
    for the child's exit instead of its report)."""
    done_r, done_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            import struct

            for fd in (*keep_closed, done_r):
                os.close(fd)
            _warm_up()
            out = _ready_child()
            header = _read_fd(0, 4)
            body = None if header is None else _read_fd(0, struct.unpack(">I", header)[0])
            if body is not None:
                request = json.loads(body)
                request.setdefault("env", {})["TMPDIR"] = CALL_DIR
                with open(REQUEST_MARK, "w", encoding="utf-8") as f:
                    f.write(str(int(request.get("output_bytes") or 1024 * 1024)))
                _child(request, os.path.join(CALL_DIR, ".reply"), os.path.join(CALL_DIR, ".log"), done_w, out)
        finally:
            os._exit(1)
    os.close(done_w)
    pidfd = None
    try:
        pidfd = os.pidfd_open(pid)  # type: ignore[attr-defined]
    except (AttributeError, OSError):
        pass
    return pid, done_r, pidfd


def _wait_for_the_call(done_r, pidfd):  # type: ignore[no-untyped-def]
    """Block until the call's child reports its reply (True) or exits without reporting (False)."""
    import select

    if pidfd is None:
        return False
    while True:
        try:
            ready, _, _ = select.select([done_r, pidfd], [], [])
        except InterruptedError:
            continue
        if done_r in ready:
            try:
                return os.read(done_r, 1) == b"1"
            except OSError:
                return False
        return False


def serve() -> None:
    # Imported here, not at the top: a cold call needs none of them.
    import shutil
    import signal
    import struct

    # Killing "every process but me" and emptying /tmp are only safe inside a sandbox: its own PID
    # namespace (bubblewrap is its init) and its private /tmp.
    try:
        with open("/proc/1/cmdline", "rb") as f:
            init = f.read().split(b"\0")[0]
    except OSError:
        init = b""
    if os.getpid() > 8 or not init.endswith(b"bwrap"):
        sys.stderr.write("the fork server runs only inside a bubblewrap sandbox\n")
        sys.exit(2)
    _set_dumpable(0)
    reply_fd = os.dup(1)
    replies = os.fdopen(reply_fd, "wb")
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.close(null)
    # One call here first: what any call loads on first use (the import machinery that binds a
    # source's modules, `dis`, `json`'s encoder) is then loaded once, in this server, and every
    # child starts with it instead of loading it again (about 3 ms per call).
    json.loads(
        call(
            {
                "source": "def _ara_load(x):\n    return [json.dumps(x), x]\n",
                "function_name": "_ara_load",
                "args": {"x": 1},
            }
        )
    )
    shutil.rmtree(CALL_DIR, ignore_errors=True)
    tmp_before = _listing("/tmp")
    shm_before = _listing("/dev/shm")
    os.mkdir(CALL_DIR, 0o700)
    pid, done_r, pidfd = _prefork([reply_fd])
    # Ready: the host sends no request before this frame.
    ready = json.dumps({"ready": True, "rss_bytes": _rss_bytes()}).encode()
    replies.write(struct.pack(">I", len(ready)) + ready)
    replies.flush()
    while True:
        reported = _wait_for_the_call(done_r, pidfd)
        status = 0
        if not reported:
            _, status = os.waitpid(pid, 0)
        # End whatever the call started (setsid and double-forked children too, and the child
        # itself if it is still exiting): every process of the namespace this server may signal,
        # except itself and the namespace's init. A killed process runs no more code, so nothing
        # of the call changes its reply, its files or this server once it is answered; waiting
        # until they are gone comes after the answer, before the next child is forked.
        try:
            os.kill(-1, signal.SIGKILL)
            killed = True
        except OSError:
            killed = False
        try:
            with open(REQUEST_MARK, encoding="utf-8") as f:
                limit = int(f.read())
        except (OSError, ValueError):
            if killed:
                _wait_for_the_killed()
            return  # no request was read: the host closed the pipe
        logs, truncated = b"", False
        try:
            with open(os.path.join(CALL_DIR, ".log"), "rb") as f:
                logs = f.read(limit + 1)
            truncated = len(logs) > limit
            logs = logs[:limit]
        except OSError:
            pass
        reply = None
        try:
            with open(os.path.join(CALL_DIR, ".reply"), encoding="utf-8") as f:
                reply = json.loads(f.read())
        except (OSError, ValueError):
            pass
        answer = json.dumps(
            {
                "reply": reply,
                "status": status,
                "logs": logs.decode("utf-8", "replace"),
                "truncated": truncated,
                "rss_bytes": _rss_bytes(),
            }
        ).encode()
        replies.write(struct.pack(">I", len(answer)) + answer)
        replies.flush()
        del answer, reply, logs  # the next child is forked from this server: no copy of this call
        # While the host handles the answer: reap the child, wait until the call's processes are
        # gone, clean up, then fork the next child (it may read its request at once).
        if reported:
            os.waitpid(pid, 0)
        for fd in (done_r, pidfd):
            if fd is not None:
                os.close(fd)
        if killed:
            _wait_for_the_killed()
        shutil.rmtree(CALL_DIR, ignore_errors=True)
        _remove_new("/tmp", tmp_before)
        _remove_new("/dev/shm", shm_before)
        os.mkdir(CALL_DIR, 0o700)
        pid, done_r, pidfd = _prefork([reply_fd])


if __name__ == "__main__":
    if "--serve" in sys.argv[1:]:
        serve()
    else:
        main()
