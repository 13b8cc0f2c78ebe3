"""The model zoo: registered pipelines, their search spaces and capabilities."""

from shallowvision.models._benchmark import (
    BenchmarkConfig,
    BenchmarkResult,
    BenchmarkRow,
    UnsupportedConfigError,
    build_classifier,
    fit_config,
    get_benchmark_configs,
    get_benchmark_grid_names,
    read_benchmark_rows,
    run_benchmark,
)
from shallowvision.models._compare import (
    Comparison,
    ModelScore,
    compare_models,
    fit_and_score,
    score_rows,
)
from shallowvision.models._registry import (
    ModelSpec,
    get_model,
    get_model_names,
    get_model_spec,
    get_search_space,
    list_models,
)
from shallowvision.models._scores import has_proba, predict_scores
from shallowvision.models._tune import SEARCHES, TuneResult, tune_model

__all__ = [
    "SEARCHES",
    "BenchmarkConfig",
    "BenchmarkResult",
    "BenchmarkRow",
    "Comparison",
    "ModelScore",
    "ModelSpec",
    "TuneResult",
    "UnsupportedConfigError",
    "build_classifier",
    "compare_models",
    "fit_and_score",
    "fit_config",
    "get_benchmark_configs",
    "get_benchmark_grid_names",
    "get_model",
    "get_model_names",
    "get_model_spec",
    "get_search_space",
    "has_proba",
    "list_models",
    "predict_scores",
    "read_benchmark_rows",
    "run_benchmark",
    "score_rows",
    "tune_model",
]
