"""The installed console script, run in a subprocess as a user would."""

import json
import os
import shutil
import subprocess
import sys

import pytest

EXE = shutil.which("shallowvision", path=os.path.dirname(sys.executable)) or "shallowvision"


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [EXE, *args], capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=300
    )


def test_version_and_module_entry_point():
    assert cli("--version").stdout.strip() == "shallowvision 0.1.0"
    out = subprocess.run(
        [sys.executable, "-m", "shallowvision", "--version"], capture_output=True, text=True
    )
    assert out.returncode == 0 and out.stdout.strip() == "shallowvision 0.1.0"


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["datasets"],
        ["data"],
        ["data", "info"],
        ["models"],
        ["compare"],
        ["tune"],
        ["predict"],
        ["ensemble"],
        ["select"],
        ["explain"],
    ],
)
def test_help_on_every_command(command):
    out = cli(*command, "--help")
    assert out.returncode == 0, out.stderr
    assert "Usage: shallowvision" in out.stdout


def test_datasets_table_and_json():
    out = cli("datasets", "--json")
    rows = {r["name"]: r for r in json.loads(out.stdout)}
    assert rows["emnist-letters"]["n_classes"] == 26 and rows["digits"]["available"] is True
    table = cli("datasets", env={"COLUMNS": "200"}).stdout
    assert "emnist-balanced" in table and "112,800" in table


def test_data_info_digits():
    out = cli("data", "info", "digits", "--json")
    assert out.returncode == 0
    train, test = json.loads(out.stdout)
    assert (train["n_images"], test["n_images"]) == (1438, 359)
    assert train["class_counts"]["0"] == 142


def test_library_error_is_one_red_line_and_exit_2():
    out = cli("data", "info", "fashon-mnist")
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "error: unknown dataset 'fashon-mnist': did you mean 'fashion-mnist'"
    )
    assert "Traceback" not in out.stderr and out.stdout == ""


def test_debug_shows_the_traceback():
    out = cli("--debug", "data", "info", "/nonexistent/images.csv")
    assert out.returncode != 0 and "Traceback" in out.stderr and "DataError" in out.stderr


def test_usage_error_exit_code():
    out = cli("data", "info", "digits", "--no-such-option")
    assert out.returncode == 2 and "No such option" in out.stderr
