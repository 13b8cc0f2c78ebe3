"""The ``shallowvision`` command line: a thin Typer layer over the library."""

from shallowvision.cli import (  # noqa: F401  (register commands)
    _benchmark,
    _calibrate,
    _datasets,
    _eda,
    _ensemble,
    _evaluate,
    _explain,
    _models,
    _run,
    _select,
    _serve,
)
from shallowvision.cli._app import app, main

__all__ = ["app", "main"]
