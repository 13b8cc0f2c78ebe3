"""The ``shallowvision`` command line: a thin Typer layer over the library."""

from shallowvision.cli import _datasets, _eda, _models, _run, _serve  # noqa: F401  (register commands)
from shallowvision.cli._app import app, main

__all__ = ["app", "main"]
