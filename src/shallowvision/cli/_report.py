"""``shallowvision report``: a run's report, rendered again from its stored results."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shallowvision.cli._app import app


@app.command("report")
def report_cli(
    run_dir: Annotated[Path, typer.Argument(help="A run folder written by `shallowvision run`.")],
) -> None:
    """Re-render a run's report.html from its stored results, without recomputing anything."""
    from shallowvision._console import stdout_console
    from shallowvision.report import render_report

    stdout_console().print(f"report: {render_report(run_dir)}")
