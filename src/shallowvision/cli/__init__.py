"""The ``shallowvision`` command line: a thin Typer layer over the library."""

from shallowvision.cli import _datasets  # noqa: F401  (registers commands)
from shallowvision.cli._app import app, main

__all__ = ["app", "main"]
