"""The Typer application and the entry point that maps errors to one line and an exit code."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from shallowvision import __version__

__all__ = [
    "EXIT_INTERRUPTED",
    "EXIT_USER_ERROR",
    "SLEEPING_THREADS",
    "app",
    "main",
    "sleep_idle_threads_when_busy",
]

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130
#: Idle OpenMP and OpenBLAS worker threads sleep at once rather than spin first
#: (set by :func:`sleep_idle_threads_when_busy`).
SLEEPING_THREADS = {"OMP_WAIT_POLICY": "passive", "OPENBLAS_THREAD_TIMEOUT": "4"}
#: Cores' worth of other work from which idle threads should sleep rather than spin.
_BUSY_CORES = 0.5

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
    if debug:
        # What the library logs at debug level (a failed model's traceback) goes to stderr.
        import logging

        logger = logging.getLogger("shallowvision")
        logger.setLevel(logging.DEBUG)
        if not logger.handlers:
            logger.addHandler(logging.StreamHandler())


def _one_line(message: object) -> str:
    return " ".join(str(message).split())


def sleep_idle_threads_when_busy(sample_seconds: float = 0.15) -> bool:
    """Make idle OpenMP and OpenBLAS threads sleep at once if other work is using the cores now.

    Idle threads of OpenMP (HistGradientBoosting, XGBoost, LightGBM) and OpenBLAS spin
    for a while before they sleep. Next to other work, that spinning takes its cores and
    fits run slower than with :data:`SLEEPING_THREADS`; on idle cores, sleeping at once
    is what makes them slower, several times over (benchmarks/RESULTS.md). So the cores'
    use is sampled for ``sample_seconds``, and the threads sleep at once only from
    :data:`_BUSY_CORES` of other work on. The runtimes read these settings when they
    load, so this runs before any of them does; values the user set are kept. Returns
    whether the threads were made to sleep.
    """
    import psutil

    if all(name in os.environ for name in SLEEPING_THREADS):
        return False
    busy_cores = psutil.cpu_percent(interval=sample_seconds) / 100 * (psutil.cpu_count() or 1)
    if busy_cores < _BUSY_CORES:
        return False
    for name, value in SLEEPING_THREADS.items():
        os.environ.setdefault(name, value)
    return True


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the process exit code.

    A library error (:class:`~shallowvision.ShallowVisionError`) or an operating-system
    error prints one red line and returns 2; ``--debug`` re-raises it with its traceback.
    A usage error (an unknown option, a value out of its range) is one line too, with
    exit code 2.
    """
    from rich.markup import escape

    from shallowvision._console import stderr_console
    from shallowvision._workers import workers_die_with_this_process
    from shallowvision.cli._common import as_flags
    from shallowvision.exceptions import ShallowVisionError

    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    sleep_idle_threads_when_busy()
    # A command killed (even by SIGKILL) takes its worker processes with it.
    workers_die_with_this_process()
    try:
        result = app(args=args, prog_name="shallowvision", standalone_mode=False)
    except SystemExit as exc:
        code = exc.code
        return code if isinstance(code, int) else (0 if code is None else 1)
    except typer.TyperException as exc:
        code = int(getattr(exc, "exit_code", EXIT_USER_ERROR))
        if type(exc).__name__ == "NoArgsIsHelpError":  # a bare command: its help is shown
            return code
        # A usage error (unknown option, value out of range) in one line, as library errors.
        text = _one_line(exc.format_message())
        context = getattr(exc, "ctx", None)
        if context is not None:
            text += f" (see {context.command_path} --help)"
        stderr_console().print(f"[red]error:[/red] {escape(text)}", soft_wrap=True)
        return code
    except typer.Abort:
        stderr_console().print("[yellow]aborted[/yellow]")
        return 1
    except KeyboardInterrupt:
        stderr_console().print("[yellow]interrupted[/yellow]")
        return EXIT_INTERRUPTED
    except (ShallowVisionError, OSError, MemoryError) as exc:
        if debug:
            raise
        if isinstance(exc, OSError) and exc.filename is not None:
            text = f"{exc.filename}: {exc.strerror or exc}"
        elif isinstance(exc, MemoryError) and not isinstance(exc, ShallowVisionError):
            text = "out of memory; try a smaller --n-per-class or a lighter model"
        else:
            text = as_flags(str(exc))
        stderr_console().print(f"[red]error:[/red] {escape(_one_line(text))}", soft_wrap=True)
        return EXIT_USER_ERROR
    return result if isinstance(result, int) else 0
