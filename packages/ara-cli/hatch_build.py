"""Build hook: bundle the demo app into the ara-cli wheel (and sdist) as `ara_cli/_demo_apps/<name>/`.

The app lives in the repository's `apps/` directory; `ara demo` finds the bundled copy when ara-cli is
installed from a wheel. When building from an sdist, the files are already under `src/ara_cli/`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface  # pyright: ignore[reportMissingImports]

#: Apps bundled for `ara demo`, and the files of each that are shipped (tests stay in the repository).
DEMO_APPS = {
    "investor-meeting-bot": ("app.py", "README.md", "founder.ics", "inbound.eml", "sample_input.json"),
}


class CustomBuildHook(BuildHookInterface):
    """Adds the demo apps' files to the build when the repository's `apps/` directory is present."""

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        apps = Path(self.root).resolve().parents[1] / "apps"
        prefix = "ara_cli" if self.target_name == "wheel" else "src/ara_cli"
        for name, files in DEMO_APPS.items():
            for file in files:
                source = apps / name / file
                if source.is_file():
                    build_data["force_include"][str(source)] = f"{prefix}/_demo_apps/{name}/{file}"
