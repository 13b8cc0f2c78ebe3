"""The ``shallowvision`` command line: a thin Typer layer over the library."""

from shallowvision.cli import (  # noqa: F401  (register commands)
    _datasets,
    _ensemble,
    _explain,
    _models,
    _run,
    _select,
)
from shallowvision.cli._app import app, main

__all__ = ["app", "main"]
