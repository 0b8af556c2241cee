import subprocess
import sys

from ara_cli.__main__ import main


def test_init_scaffolds_an_app_whose_own_tests_pass(tmp_path, capsys):
    target = tmp_path / "my-app"
    assert main(["init", "my-app", "--directory", str(target)]) == 0
    assert sorted(p.name for p in target.iterdir()) == [
        ".env.example",
        ".gitignore",
        "README.md",
        "app.py",
        "test_app.py",
    ]
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(target),
            str(target / "test_app.py"),
        ],
        cwd=target,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 passed" in proc.stdout


def test_init_rejects_bad_names_and_non_empty_dirs(tmp_path, capsys):
    assert main(["init", "Bad_Name", "--directory", str(tmp_path / "x")]) == 1
    assert "lowercase letters, digits and hyphens" in capsys.readouterr().err
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("x")
    assert main(["init", "ok-name", "--directory", str(tmp_path / "busy")]) == 1
    assert "is not empty" in capsys.readouterr().err


def test_completion_script(capsys):
    assert main(["completion", "bash"]) == 0
    assert "_ara" in capsys.readouterr().out
