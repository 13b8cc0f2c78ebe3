"""shallowvision: classical image classification that is explained, calibrated and benchmarked.

Importing the package is cheap and has no side effects; sub-packages
(``shallowvision.datasets``, ``shallowvision.models`` ...) are imported on first use.
"""

from importlib import import_module
from typing import Any

from shallowvision.exceptions import (
    ConfigError,
    DataError,
    MissingDependencyError,
    OutputError,
    ShallowVisionError,
)

__version__ = "0.1.0"

_SUBPACKAGES = (
    "datasets",
    "eda",
    "features",
    "models",
    "evaluation",
    "ensemble",
    "explain",
    "persistence",
    "run",
    "report",
    "benchmark",
)

__all__ = [
    "ConfigError",
    "DataError",
    "MissingDependencyError",
    "OutputError",
    "ShallowVisionError",
    "__version__",
    *_SUBPACKAGES,
]


def __getattr__(name: str) -> Any:
    if name in _SUBPACKAGES:
        return import_module(f"shallowvision.{name}")
    raise AttributeError(f"module 'shallowvision' has no attribute {name!r}")
