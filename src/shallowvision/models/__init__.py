"""The model zoo: registered pipelines, their search spaces and capabilities."""

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
from shallowvision.models._scores import has_proba, has_scores, predict_scores
from shallowvision.models._selection import (
    SelectionResult,
    evaluate_selection,
    save_selection,
    selection_figures,
)
from shallowvision.models._tune import SEARCHES, TuneResult, tune_model

__all__ = [
    "SEARCHES",
    "Comparison",
    "ModelScore",
    "ModelSpec",
    "SelectionResult",
    "TuneResult",
    "compare_models",
    "evaluate_selection",
    "fit_and_score",
    "get_model",
    "get_model_names",
    "get_model_spec",
    "get_search_space",
    "has_proba",
    "has_scores",
    "list_models",
    "predict_scores",
    "save_selection",
    "score_rows",
    "selection_figures",
    "tune_model",
]
