"""The ``shallowvision`` command line: a thin Typer layer over the library."""

# Each module registers its commands on import, and `shallowvision --help` lists them in
# that order: the whole study first, then the data, then the models one step at a time.
# isort: off
from shallowvision.cli import (  # noqa: F401  (register commands)
    _run,
    _report,
    _datasets,
    _eda,
    _models,
    _compare,
    _tune,
    _ensemble,
    _select,
    _evaluate,
    _calibrate,
    _explain,
    _predict,
    _serve,
    _benchmark,
)

# isort: on
from shallowvision.cli._app import app, main

__all__ = ["app", "main"]
