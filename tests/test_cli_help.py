"""The command line reads well: the study first, one-line summaries, an example each."""

import os
import subprocess
import sys

import pytest
import typer.main

from shallowvision.cli import app

COMMANDS = typer.main.get_command(app).commands  # type: ignore[attr-defined]


def _help(*args: str) -> str:
    env = {**os.environ, "COLUMNS": "100", "NO_COLOR": "1"}
    out = subprocess.run(
        [sys.executable, "-m", "shallowvision", *args, "--help"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return out.stdout


def test_help_lists_the_whole_study_first_with_one_line_summaries():
    text = _help()
    listed = [
        line.split()[1] for line in text.splitlines() if line.startswith("│ ") and line[2] != " "
    ]
    commands = [name for name in listed if name in COMMANDS]
    assert commands[:2] == ["run", "report"], commands
    for name, command in COMMANDS.items():
        summary = (command.help or "").strip().split("\n\n")[0]
        # A line break inside the summary breaks the table's wrapping (it is kept as is).
        assert "\n" not in summary, (name, summary)


@pytest.mark.parametrize("command", [*sorted(set(COMMANDS) - {"data"}), "data info"])
def test_every_commands_help_ends_with_an_example(command):
    text = _help(*command.split())
    assert f"Example: shallowvision {command}" in text, text[-400:]
