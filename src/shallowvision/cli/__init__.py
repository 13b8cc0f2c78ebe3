"""The ``shallowvision`` command line: a thin Typer layer over the library."""

# Each module registers its commands on import, and `shallowvision --help` lists them in
# that order.
# isort: off
from shallowvision.cli import (  # noqa: F401  (register commands)
    _benchmark,
    _datasets,
    _eda,
    _ensemble,
    _evaluate,
    _calibrate,
    _explain,
    _models,
    _compare,
    _tune,
    _predict,
    _run,
    _report,
    _select,
    _serve,
)

# isort: on
from shallowvision.cli._app import app, main

__all__ = ["app", "main"]
