"""``shallowvision report``: a run's report, rendered again from its stored results, or
several runs compared on one page."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shallowvision.cli._app import app
from shallowvision.cli._examples import example


@app.command("report", epilog=example("report"))
def report_cli(
    run_dirs: Annotated[
        list[Path],
        typer.Argument(
            help="A run folder written by `shallowvision run`; with --compare, two or more.",
            show_default=False,
        ),
    ],
    compare: Annotated[
        bool,
        typer.Option(
            "--compare",
            help="Compare the runs on one page; the first is the reference.",
        ),
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="With --compare: the page to write "
            "[default: comparison.html next to the first run].",
        ),
    ] = None,
) -> None:
    """Render a run's report again, or compare several runs on one page.

    report.html is rendered from the run's stored results, without recomputing
    anything; with --compare, one offline page compares the runs with the first."""
    from shallowvision._console import stdout_console
    from shallowvision.exceptions import ConfigError
    from shallowvision.report import compare_runs, render_report

    if compare:
        stdout_console().print(f"comparison: {compare_runs(run_dirs, out)}")
        return
    if len(run_dirs) != 1 or out is not None:
        what = "several run folders" if len(run_dirs) != 1 else "--out"
        raise ConfigError(f"{what} only with --compare (shallowvision report --compare A B)")
    stdout_console().print(f"report: {render_report(run_dirs[0])}")
