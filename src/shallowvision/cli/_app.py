"""The Typer application and the entry point that maps errors to one line and an exit code."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from shallowvision import __version__

__all__ = ["EXIT_INTERRUPTED", "EXIT_USER_ERROR", "app", "main"]

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130
#: How idle worker threads wait: sleep at once rather than spin (see :func:`main`).
_THREAD_WAITING = {"OMP_WAIT_POLICY": "passive", "OPENBLAS_THREAD_TIMEOUT": "4"}

app = typer.Typer(
    name="shallowvision",
    help="Classical image classification: EDA, a model zoo, tuning, ensembles, explanations, "
    "calibration and one offline HTML report.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"shallowvision {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the full traceback when a command fails.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Classical image classification that is explained, calibrated and benchmarked."""


def _one_line(message: object) -> str:
    return " ".join(str(message).split())


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the process exit code.

    A library error (:class:`~shallowvision.ShallowVisionError`) or an operating-system
    error prints one red line and returns 2; ``--debug`` re-raises it with its traceback.
    Usage errors are reported by Typer (exit code 2).
    """
    from rich.markup import escape

    from shallowvision._console import stderr_console
    from shallowvision.exceptions import ShallowVisionError

    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    # Idle OpenMP threads (HistGradientBoosting, XGBoost, LightGBM) and OpenBLAS threads
    # spin before they sleep; on cores shared with other work that spinning made fits
    # 3-25x slower (benchmarks/RESULTS.md), while sleeping at once costs little on idle
    # cores. Read when those runtimes load, so set before any of them does; values the
    # user set are kept.
    for name, value in _THREAD_WAITING.items():
        os.environ.setdefault(name, value)
    try:
        app(args=args, prog_name="shallowvision")
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except KeyboardInterrupt:
        stderr_console().print("[yellow]interrupted[/yellow]")
        return EXIT_INTERRUPTED
    except (ShallowVisionError, OSError, MemoryError) as exc:
        if debug:
            raise
        if isinstance(exc, OSError) and exc.filename is not None:
            text = f"{exc.filename}: {exc.strerror or exc}"
        elif isinstance(exc, MemoryError):
            text = "out of memory; try a smaller --n-per-class or a lighter model"
        else:
            text = str(exc)
        stderr_console().print(f"[red]error:[/red] {escape(_one_line(text))}", soft_wrap=True)
        return EXIT_USER_ERROR
    return 0
