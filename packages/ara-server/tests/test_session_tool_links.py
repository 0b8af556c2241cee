"""Session builtin file tools and symbolic links, through the routes (httpx ASGITransport).

A session's own commands can plant symbolic links in its workspace. Every file tool of
`POST /session/runtime/tools/execute` (and of chat, which runs the same tools) must refuse to go
through a link pointing at `/etc` or at the server's data directory, never read or change what
such a link points at, and keep glob patterns inside the workspace.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from ara_server.engine import ModelTurn, RunContext, ToolCall

EXECUTE = "/session/runtime/tools/execute"
MARKER = "server-private-marker-7f3a"


class Planted:
    """The workspace with its planted links, and what they point at."""

    def __init__(self, workspace: Path, data_dir: Path) -> None:
        self.workspace, self.data_dir = workspace, data_dir
        self.marker = data_dir / "marker.txt"
        self.marker.write_text(MARKER)
        (workspace / "notes.txt").write_text("hello from the workspace\n")
        (workspace / "etc").symlink_to("/etc")  # directory link out of the workspace
        (workspace / "data").symlink_to(data_dir)  # directory link to the data dir
        (workspace / "passwd").symlink_to("/etc/passwd")  # file link to /etc
        (workspace / "marker").symlink_to(self.marker)  # file link into the data dir
        (workspace / "key").symlink_to(data_dir / "secrets.key")
        (workspace / "sub").mkdir()
        (workspace / "sub" / "up").symlink_to(data_dir)  # a link deeper down

    def data_files(self) -> set[str]:
        return {
            str(p.relative_to(self.data_dir)) for p in self.data_dir.rglob("*") if "sessions" not in p.parts
        }


@pytest.fixture
async def planted(server: Any) -> Planted:
    c, owner = server.client, server.owner()
    assert (await c.post("/session/start", headers=owner)).status_code == 200
    account = (await c.get("/auth/cli/whoami", headers=owner)).json()["user"]["id"]
    services = server.app.state.services
    return Planted(services.sessions.workspace(account), services.settings.data_dir)


async def _call(server: Any, tool: str, **args: Any) -> Any:
    return await server.client.post(EXECUTE, json={"tool_name": tool, "args": args}, headers=server.owner())


def _refused(resp: Any) -> None:
    assert resp.status_code == 422, resp.text
    assert resp.json()["error"]["code"] == "tool_failed"
    assert "root:x:" not in resp.text and MARKER not in resp.text


THROUGH_LINKS = ["etc/passwd", "etc/hostname", "data/marker.txt", "data/secrets.key", "sub/up/marker.txt"]
LINKS = ["passwd", "marker", "key"]


async def test_read_file_refuses_every_link(server: Any, planted: Planted) -> None:
    for path in [*THROUGH_LINKS, *LINKS, "/etc/passwd", "../../marker.txt", "/root/.ara/workspace/passwd"]:
        _refused(await _call(server, "read_file", path=path))
    ok = await _call(server, "read_file", path="/root/.ara/workspace/notes.txt")
    assert ok.status_code == 200 and ok.json()["result"] == "hello from the workspace\n"


async def test_write_file_never_writes_through_a_link(server: Any, planted: Planted) -> None:
    before = planted.data_files()
    for path in ["etc/evil", "data/evil.txt", "data/marker.txt", "sub/up/x/evil.txt", "/etc/evil"]:
        _refused(await _call(server, "write_file", path=path, content="evil"))
    assert planted.data_files() == before and planted.marker.read_text() == MARKER
    assert not Path("/etc/evil").exists()
    # a file link as the last component is replaced by the file, its target left alone
    replaced = await _call(server, "write_file", path="marker", content="mine")
    assert replaced.status_code == 200, replaced.text
    assert planted.marker.read_text() == MARKER
    assert not (planted.workspace / "marker").is_symlink()
    assert (planted.workspace / "marker").read_text() == "mine"


async def test_edit_file_never_edits_through_a_link(server: Any, planted: Planted) -> None:
    for path in [*THROUGH_LINKS, *LINKS]:
        _refused(await _call(server, "edit_file", path=path, old="root", new="evil"))
    _refused(await _call(server, "edit_file", path="marker", old=MARKER, new="evil"))
    assert planted.marker.read_text() == MARKER
    edited = await _call(server, "edit_file", path="notes.txt", old="hello", new="bye")
    assert edited.status_code == 200 and (planted.workspace / "notes.txt").read_text().startswith("bye")


async def test_list_dir_shows_links_without_following_them(server: Any, planted: Planted) -> None:
    for path in ["etc", "data", "sub/up", "etc/", "/etc", "..", "sub/../.."]:
        _refused(await _call(server, "list_dir", path=path))
    top = await _call(server, "list_dir")
    kinds = {e["name"]: e["type"] for e in top.json()["result"]}
    assert kinds == {
        "data": "link",
        "etc": "link",
        "key": "link",
        "marker": "link",
        "notes.txt": "file",
        "passwd": "link",
        "sub": "dir",
    }


async def test_glob_stays_inside_the_workspace(server: Any, planted: Planted) -> None:
    for pattern in ["/etc/*", "../*", "**/../../*", "..", "sub/../../*", "/", "./../*"]:
        resp = await _call(server, "glob", pattern=pattern)
        _refused(resp)
        assert "passwd" not in resp.text.replace(pattern, "")
    everything = (await _call(server, "glob", pattern="**")).json()["result"]
    assert everything == ["data", "etc", "key", "marker", "notes.txt", "passwd", "sub", "sub/up"]
    for pattern in ["etc/*", "data/*", "*/*", "**/*", "**/passwd", "**/marker.txt", "sub/up/*", "*/*/*"]:
        found = (await _call(server, "glob", pattern=pattern)).json()["result"]
        assert all(not p.startswith(("etc/", "data/", "sub/up/")) for p in found), (pattern, found)
    assert (await _call(server, "glob", pattern="**/passwd")).json()["result"] == ["passwd"]
    assert (await _call(server, "glob", pattern="/root/.ara/workspace/*.txt")).json()["result"] == [
        "notes.txt"
    ]
    assert (await _call(server, "glob", pattern="sub/*")).json()["result"] == ["sub/up"]


async def test_search_files_never_reads_through_a_link(server: Any, planted: Planted) -> None:
    for path in ["etc", "data", "sub/up", "/etc"]:
        _refused(await _call(server, "search_files", query="root", path=path))
    for query in ["root", MARKER, "localhost"]:
        resp = await _call(server, "search_files", query=query)
        assert resp.status_code == 200 and resp.json()["result"] == [], (query, resp.text)
    hits = (await _call(server, "search_files", query="hello")).json()["result"]
    assert hits == [{"path": "notes.txt", "line": 1, "text": "hello from the workspace"}]


async def test_delete_file_removes_a_link_never_its_target(server: Any, planted: Planted) -> None:
    before = planted.data_files()
    for path in [*THROUGH_LINKS, "/etc/passwd", "sub", "../marker.txt"]:
        resp = await _call(server, "delete_file", path=path)
        assert resp.status_code == 422, (path, resp.text)
    assert planted.data_files() == before
    for link in ["marker", "data", "passwd", "etc"]:
        assert (await _call(server, "delete_file", path=link)).status_code == 200
        assert not (planted.workspace / link).is_symlink()
    assert planted.marker.read_text() == MARKER and Path("/etc/passwd").exists()
    assert planted.data_files() == before


async def test_a_link_made_by_exec_is_not_followed(server: Any, planted: Planted) -> None:
    made = await _call(server, "exec", command=f"ln -s {planted.data_dir} mine && ln -s /etc/passwd pw")
    assert made.status_code == 200 and made.json()["result"]["exit_code"] == 0, made.text
    _refused(await _call(server, "read_file", path="mine/marker.txt"))
    _refused(await _call(server, "read_file", path="pw"))
    _refused(await _call(server, "write_file", path="mine/evil.txt", content="x"))
    assert not (planted.data_dir / "evil.txt").exists()


class ScriptedModel:
    """Stands in for the model: the user message is a JSON list of `[tool, arguments]` to call in
    order, then it answers with the tool outputs it saw."""

    name = "scripted"
    model = "scripted"

    async def complete(self, messages: list[dict[str, Any]], ctx: RunContext) -> ModelTurn:
        calls = json.loads(ctx.run_input["message"])
        if len(ctx.results) < len(calls):
            tool, args = calls[len(ctx.results)]
            return ModelTurn(tool_calls=[ToolCall(f"call_{len(ctx.results)}", tool, args)])
        return ModelTurn(text=json.dumps([r for _, r in ctx.results]))


async def test_chat_tools_refuse_links_too(server: Any, planted: Planted) -> None:
    server.app.state.services.sessions.provider = ScriptedModel()
    calls = [
        ["read_file", {"path": "etc/passwd"}],
        ["read_file", {"path": "marker"}],
        ["write_file", {"path": "data/evil.txt", "content": "x"}],
        ["glob", {"pattern": "/etc/*"}],
        ["glob", {"pattern": "**/../../*"}],
        ["list_dir", {"path": "data"}],
        ["search_files", {"query": MARKER}],
        ["delete_file", {"path": "data/marker.txt"}],
    ]
    resp = await server.client.post(
        "/chat", json={"messages": [{"role": "user", "content": json.dumps(calls)}]}, headers=server.owner()
    )
    assert resp.status_code == 200
    events = [json.loads(line[6:]) for line in resp.text.splitlines() if line.startswith("data: {")]
    outputs = [e["output"] for e in events if e["type"] == "tool-output-available"]
    assert len(outputs) == len(calls)
    assert outputs[6] == []  # the search found nothing
    assert all(isinstance(o, str) and o.startswith("error: ") for i, o in enumerate(outputs) if i != 6), (
        outputs
    )
    assert "root:x:" not in resp.text and MARKER not in json.dumps(outputs)
    assert planted.marker.read_text() == MARKER and not (planted.data_dir / "evil.txt").exists()


async def test_session_files_routes_refuse_the_same_links(server: Any, planted: Planted) -> None:
    c, owner = server.client, server.owner()
    for path in [*THROUGH_LINKS, *LINKS]:
        for route in ("/session/files/read", "/session/files/download"):
            resp = await c.get(route, params={"path": path}, headers=owner)
            assert (resp.status_code, resp.json()["error"]["code"]) == (403, "path_outside_workspace"), path
            assert "root:x:" not in resp.text and MARKER not in resp.text
    for path in ["etc", "data", "sub/up"]:
        resp = await c.get("/session/files", params={"path": path}, headers=owner)
        assert resp.status_code == 403, resp.text
    directory = await c.get("/session/files/read", params={"path": "sub"}, headers=owner)
    assert (directory.status_code, directory.json()["error"]["code"]) == (422, "not_a_file")
