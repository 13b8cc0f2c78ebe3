"""The ``shallowvision`` command line: a thin Typer layer over the library."""

from shallowvision.cli import (  # noqa: F401  (register commands)
    _benchmark,
    _datasets,
    _eda,
    _evaluate,
    _models,
    _run,
    _serve,
)
from shallowvision.cli._app import app, main

__all__ = ["app", "main"]
