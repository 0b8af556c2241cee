"""The docs and READMEs stand alone: no references to files or section numbers outside the repository,
and every relative link points at a file in it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = sorted(
    [
        REPO / "README.md",
        *REPO.glob("docs/*.md"),
        *REPO.glob("packages/*/README.md"),
        *REPO.glob("apps/*/README.md"),
    ]
)
OUTSIDE = {
    "a path outside the repository": re.compile(r"\.\./shared|(?<![\w>])/work/main"),
    "a section number of a document users cannot open": re.compile(r"§|\bspec section\b"),
    "an internal seed or generation code": re.compile(r"\bseed 00\d\b|\bG[0-3]\b"),
    "an internal compatibility-case code": re.compile(r"\bC\d{1,2}\b"),
}
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_doc_stands_alone(doc: Path) -> None:
    text = doc.read_text(encoding="utf-8")
    for what, pattern in OUTSIDE.items():
        hits = [line for line in text.splitlines() if pattern.search(line)]
        assert not hits, f"{doc.relative_to(REPO)} cites {what}: {hits[:3]}"
    for target in LINK.findall(re.sub(r"`[^`\n]*`", "", text)):  # links, not code spans
        if "://" in target or target.startswith("mailto:"):
            continue
        assert (doc.parent / target).resolve().exists(), f"{doc.relative_to(REPO)} links to missing {target}"


INSTALL = re.compile(r"\bpip install\b.*\bara-(core|http|sdk|cli|server)\b")


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_install_commands_point_at_our_wheels(doc: Path) -> None:
    """The registry's ara-core, ara-cli and ara-sdk are other projects: every install command in a
    code block must name our wheels (`--find-links`)."""
    blocks = re.findall(r"```[a-z]*\n(.*?)```", doc.read_text(encoding="utf-8"), re.S)
    commands = [line for block in blocks for line in block.splitlines() if INSTALL.search(line)]
    assert all("--find-links" in line for line in commands), commands
