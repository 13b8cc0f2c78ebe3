"""The packages import only downwards: the layers contract in pyproject.toml holds.

import-linter reads every import statement, those inside functions included, so an
upward import (and with it a cycle between packages) cannot hide in a function body.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# The console script's entry point, run by this interpreter so the test needs no PATH.
LINT_IMPORTS = "from importlinter.cli import lint_imports_command; lint_imports_command()"


def lint_imports(project: Path) -> subprocess.CompletedProcess:
    """Run import-linter on ``project/src/shallowvision`` with ``project/pyproject.toml``."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(project / "src"), os.environ.get("PYTHONPATH")])
        ),
        "COLUMNS": "200",  # one import per line in the report, however long
    }
    return subprocess.run(
        [sys.executable, "-c", LINT_IMPORTS, "--no-cache"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_packages_import_only_downwards():
    run = lint_imports(ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 kept, 0 broken" in run.stdout


def test_an_upward_import_inside_a_function_breaks_the_contract(tmp_path):
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    package = tmp_path / "src" / "shallowvision"
    shutil.copytree(
        ROOT / "src" / "shallowvision", package, ignore=shutil.ignore_patterns("__pycache__")
    )
    with open(package / "datasets" / "_imageset.py", "a", encoding="utf-8") as module:
        module.write(
            "\n\ndef _upward():\n    from shallowvision.cli import main\n\n    return main\n"
        )
    run = lint_imports(tmp_path)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "shallowvision.datasets is not allowed to import shallowvision.cli" in run.stdout
    assert "shallowvision.datasets._imageset -> shallowvision.cli" in run.stdout
