"""The golden cases: which fixture app is compared with which published version of the original."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[3]


@dataclass(frozen=True)
class Case:
    """One app loaded by one original version.

    Attributes:
        name: Short name used in the golden file name and the test id.
        app: The app script.
        version: The original ara-sdk version that produced the golden file.
    """

    name: str
    app: Path
    version: str

    @property
    def golden(self) -> Path:
        return HERE / f"{self.name}.{self.version}.json"


def _apps(prefix: str, version: str) -> list[Case]:
    return [Case(p.stem, p, version) for p in sorted((HERE / "apps").glob(f"{prefix}_*.py"))]


CASES: list[Case] = [
    *_apps("g2", "0.1.45"),
    *_apps("g1", "0.1.30"),
    *_apps("g3", "0.1.58"),
    Case("repo_calc_app", REPO / "tests" / "apps" / "calc_app.py", "0.1.45"),
    Case("repo_support_ops", REPO / "packages" / "ara-sdk" / "tests" / "apps" / "support_ops.py", "0.1.45"),
    Case("repo_investor_meeting_bot", REPO / "apps" / "investor-meeting-bot" / "app.py", "0.1.30"),
]


def dump_snippet() -> str:
    """Python source that loads `sys.argv[1]` like the `ara` command and prints its manifest JSON."""
    return DUMP


def dumps(manifest: object) -> str:
    """The golden text of a manifest: `json.dumps(indent=2)` plus a newline; non-JSON values by type."""
    import json

    return json.dumps(manifest, indent=2, default=_default) + "\n"


def _default(value: object) -> str:
    return f"<{type(value).__name__}>"


DUMP = r"""
import importlib.util, json, sys
sys.path.insert(0, __import__("os").path.dirname(sys.argv[1]))
spec = importlib.util.spec_from_file_location("ara_user_app", sys.argv[1])
module = importlib.util.module_from_spec(spec)
sys.modules["ara_user_app"] = module
spec.loader.exec_module(module)
import ara_sdk
manifest = None
App = getattr(ara_sdk.core, "App", None)
App = App if isinstance(App, type) else None
Job = getattr(ara_sdk.core, "Job", None)
for value in vars(module).values():
    if Job is not None and isinstance(value, Job):
        manifest = value.app.manifest
        break
    if App is not None and isinstance(value, App):
        manifest = value.manifest
        break
if manifest is None and getattr(ara_sdk.core, "_minimal_app_singleton", None) is not None:
    manifest = ara_sdk.core._minimal_app_singleton.manifest
if manifest is None:
    raise SystemExit("no app in " + sys.argv[1])
sys.stdout.write(json.dumps(manifest, indent=2, default=lambda v: "<" + type(v).__name__ + ">") + "\n")
"""
