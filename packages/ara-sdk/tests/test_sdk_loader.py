"""load_app: spec §5.1 steps 9-10 (import as `ara_user_app`, pick the App, readable errors)."""

import sys
import textwrap
from pathlib import Path

import pytest
from ara_sdk import App, AppLoadError, load_app


def _script(tmp_path: Path, body: str, name: str = "app.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


def test_prefers_the_global_named_app_and_imports_siblings(tmp_path):
    (tmp_path / "sibling_helpers_mod.py").write_text("GREETING = 'hi'\n")
    path = _script(
        tmp_path,
        """
        from sibling_helpers_mod import GREETING
        from ara_sdk import App

        other = App("other-app")
        app = App("main-app")

        @app.agent(task=GREETING)
        def hello():
            pass
    """,
    )
    before = list(sys.path)
    loaded = load_app(path)
    assert isinstance(loaded, App) and loaded.slug == "main-app"
    assert loaded.manifest["agent"]["agents"][0]["task"] == "hi"
    assert sys.modules["ara_user_app"].__file__ == str(path.resolve())
    assert sys.path == before  # the script's directory is only on sys.path during the import


def test_first_app_when_app_is_not_an_app(tmp_path):
    path = _script(
        tmp_path,
        """
        from ara_sdk import App
        app = "not an app"
        first = App("first-app")
        second = App("second-app")
    """,
    )
    assert load_app(str(path)).slug == "first-app"


def test_missing_script(tmp_path):
    with pytest.raises(AppLoadError, match=r"^Script not found: .*nope\.py$"):
        load_app(tmp_path / "nope.py")


def test_no_app_instance(tmp_path):
    path = _script(tmp_path, "x = 1\n")
    with pytest.raises(AppLoadError, match=r"No App\(\.\.\.\) instance found in script"):
        load_app(path)


def test_project_name_rule_is_explained(tmp_path):
    path = _script(
        tmp_path,
        """
        from ara_sdk import App
        app = App("My_App")
    """,
    )
    with pytest.raises(AppLoadError) as info:
        load_app(path)
    text = str(info.value)
    assert text.startswith(f"Invalid project name in {path.resolve()}:3: 'My_App'.")
    assert (
        "lowercase letters, digits and hyphens" in text and "1-63 characters" in text and "my-app-1" in text
    )
    assert "Traceback" not in text


def test_syntax_error_names_file_and_line(tmp_path):
    path = _script(tmp_path, "x = 1\ndef broken(:\n    pass\n")
    with pytest.raises(AppLoadError, match=r"app\.py:2: syntax error") as info:
        load_app(path)
    assert info.value.__cause__ is None and "Traceback" not in str(info.value)


def test_import_error_names_file_and_line(tmp_path):
    path = _script(tmp_path, "import os\nimport no_such_module_for_ara_tests\n")
    with pytest.raises(
        AppLoadError, match=r"app\.py:2: ModuleNotFoundError: No module named 'no_such_module_for_ara_tests'"
    ):
        load_app(path)


def test_declaration_error_in_script(tmp_path):
    path = _script(
        tmp_path,
        """
        from ara_sdk import App
        app = App("decl-app")

        @app.agent()
        def two(a, b) -> str:
            return ""
    """,
    )
    with pytest.raises(
        AppLoadError, match=r"app\.py:5: DeclarationError: @app\.agent requires exactly one input parameter"
    ):
        load_app(path)


def test_app_load_error_is_a_runtime_error():
    assert issubclass(AppLoadError, RuntimeError)
