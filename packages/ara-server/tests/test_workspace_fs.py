"""The no-follow workspace file layer on its own: lexical checks, glob semantics, special files,
and links swapped in while operations run."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from ara_server.services.workspace_fs import (
    FileTooLarge,
    InvalidPath,
    NotAFile,
    NotDirectory,
    NotFound,
    OutsideWorkspace,
    ThroughLink,
    Workspace,
    parts,
)


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Workspace, Path]:
    root, outside = tmp_path / "ws", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "secret.txt").write_text("outside secret")
    (root / "a.py").write_text("print(1)\n")
    (root / "src" / "pkg").mkdir(parents=True)
    (root / "src" / "pkg" / "m.py").write_text("x = 1\n")
    (root / "src" / "readme.md").write_text("# hi\n")
    (root / ".hidden").write_text("h")
    return Workspace(root), outside


def test_parts_are_checked_lexically() -> None:
    assert parts("a/./b//c/../d") == ["a", "b", "d"]
    assert parts("/root/.ara/workspace/x") == ["x"] and parts(".") == []
    for hostile in ("/etc/passwd", "..", "a/../..", "/root/.ara/workspace/../x", "/root/.ara/workspaces"):
        with pytest.raises(OutsideWorkspace):
            parts(hostile)
    for bad in ("a\0b", "x" * 4097):
        with pytest.raises(InvalidPath):
            parts(bad)


def test_glob_semantics(tree: tuple[Workspace, Path]) -> None:
    ws, _ = tree
    assert ws.glob("*.py", 100) == ["a.py"]
    assert ws.glob("**/*.py", 100) == ["a.py", "src/pkg/m.py"]
    assert ws.glob("src/**/*.md", 100) == ["src/readme.md"]
    assert ws.glob("src/*/m.py", 100) == ["src/pkg/m.py"]
    assert ws.glob("src/pkg/m.py", 100) == ["src/pkg/m.py"]
    assert ws.glob("[ab].py", 100) == ["a.py"]
    assert ws.glob("nothing/*", 100) == []
    assert ws.glob("**", 100) == [".hidden", "a.py", "src", "src/pkg", "src/pkg/m.py", "src/readme.md"]
    assert len(ws.glob("**", 2)) == 2
    for hostile in ("/etc/*", "../*", "**/../../*", "src/../../*", "/"):
        with pytest.raises(OutsideWorkspace):
            ws.glob(hostile, 100)
    for bad in (".", "/root/.ara/workspace", "a\0b"):
        with pytest.raises(InvalidPath):
            ws.glob(bad, 100)


def test_links_are_never_followed(tree: tuple[Workspace, Path]) -> None:
    ws, outside = tree
    (ws.root / "out").symlink_to(outside)
    (ws.root / "s").symlink_to(outside / "secret.txt")
    with pytest.raises(ThroughLink):
        ws.read("out/secret.txt", 100)
    with pytest.raises(ThroughLink):
        ws.read("s", 100)
    with pytest.raises(ThroughLink):
        ws.list("out")
    with pytest.raises(ThroughLink):
        ws.write(["out", "new.txt"], "out/new.txt", b"x")
    with pytest.raises(ThroughLink):
        ws.search("out", "secret", max_hits=10, max_file_bytes=100)
    assert ws.search(".", "secret", max_hits=10, max_file_bytes=100) == []
    assert ws.glob("out/*", 100) == [] and ws.glob("**/secret.txt", 100) == []
    assert not (outside / "new.txt").exists()


def test_special_files_and_sizes(tree: tuple[Workspace, Path]) -> None:
    ws, _ = tree
    os.mkfifo(ws.root / "fifo")
    with pytest.raises(NotAFile):  # answered at once: the FIFO is opened without blocking
        ws.read("fifo", 100)
    assert [h.path for h in ws.search(".", "x", max_hits=10, max_file_bytes=100)] == ["src/pkg/m.py"]
    with pytest.raises(NotAFile):
        ws.read("src", 100)
    with pytest.raises(NotFound):
        ws.read("nope", 100)
    with pytest.raises(NotDirectory):
        ws.list("a.py")
    with pytest.raises(FileTooLarge):
        ws.read("a.py", 3)
    assert ws.read("a.py", 3, truncate=True) == (["a.py"], b"pri", True)
    with pytest.raises(NotAFile):
        ws.delete("src")


def test_a_link_swapped_in_during_reads_never_leads_out(tree: tuple[Workspace, Path]) -> None:
    """A racing thread swaps `d` between a real directory and a link to the outside while reads,
    listings, globs and searches run: none of them ever sees the outside file (bounded loops)."""
    ws, outside = tree
    (ws.root / "real").mkdir()
    (ws.root / "real" / "secret.txt").write_text("inside")
    d, real, link = ws.root / "d", ws.root / "real", ws.root / "d-link"
    link.symlink_to(outside)
    os.rename(real, d)
    stop = threading.Event()

    def swap() -> None:
        for _ in range(20_000):
            if stop.is_set():
                return
            for src, dst in ((d, real), (link, d), (d, link), (real, d)):
                try:
                    os.rename(src, dst)
                except OSError:  # a write made `d` while it was away: the swap goes on
                    pass

    # Each call answers with a typed path error while `d` is away: ThroughLink (a link there),
    # NotFound (renamed away) or NotDirectory (a link there at the open, a directory again by the
    # check); never a bare OSError and never the outside file.
    racer = threading.Thread(target=swap)
    racer.start()
    seen: set[str] = set()
    try:
        for _ in range(1500):
            try:
                seen.add(ws.read("d/secret.txt", 100)[1].decode())
            except (ThroughLink, NotFound, NotDirectory):
                pass
            for hit in ws.search(".", "secret", max_hits=10, max_file_bytes=100):
                seen.add(hit.text)
            try:
                seen.update(e.name for e in ws.list("d")[1])
            except (ThroughLink, NotFound, NotDirectory):
                pass
            try:
                ws.write(["d", "w.txt"], "d/w.txt", b"w")
            except (ThroughLink, NotFound, NotDirectory):
                pass
            seen.update(ws.glob("d/*", 100))
    finally:
        stop.set()
        racer.join()
    assert "outside secret" not in seen
    assert not (outside / "w.txt").exists()
