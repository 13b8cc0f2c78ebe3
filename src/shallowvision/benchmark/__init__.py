"""The Fashion-MNIST paper's benchmark protocol, resumable from a JSON-lines file.

Xiao, Rasul and Vollgraf (2017) benchmarked scikit-learn classifiers on Fashion-MNIST
with a fixed grid; :func:`run_benchmark` reproduces that protocol on any dataset, and
:func:`build_classifier` maps the grid's parameters to the installed scikit-learn.
"""

from shallowvision.benchmark._grid import (
    BenchmarkConfig,
    UnsupportedConfigError,
    build_classifier,
    get_benchmark_configs,
    get_benchmark_grid_names,
)
from shallowvision.benchmark._rows import BenchmarkResult, BenchmarkRow, read_benchmark_rows
from shallowvision.benchmark._run import fit_config, run_benchmark

__all__ = [
    "BenchmarkConfig",
    "BenchmarkResult",
    "BenchmarkRow",
    "UnsupportedConfigError",
    "build_classifier",
    "fit_config",
    "get_benchmark_configs",
    "get_benchmark_grid_names",
    "read_benchmark_rows",
    "run_benchmark",
]
