"""The model zoo: registered pipelines, their search spaces and capabilities.

``score_rows`` is :func:`shallowvision.evaluation.summary_metrics` under its older name.
"""

from typing import TYPE_CHECKING

from shallowvision._lazy import lazy_names
from shallowvision._metrics import summary_metrics as score_rows
from shallowvision._scores import predict_scores
from shallowvision.models._registry import (
    ModelSpec,
    get_model,
    get_model_names,
    get_model_spec,
    get_search_space,
    list_models,
)
from shallowvision.models._scores import has_proba, has_scores

if TYPE_CHECKING:
    from shallowvision.models._compare import (
        Comparison,
        ModelScore,
        compare_models,
        fit_and_score,
        score_fitted,
    )
    from shallowvision.models._selection import (
        SelectionResult,
        evaluate_selection,
        save_selection,
        selection_figures,
    )
    from shallowvision.models._tune import SEARCHES, TuneResult, tune_model

__all__ = [
    "SEARCHES",
    "BlockRBFSVC",
    "Comparison",
    "ModelScore",
    "ModelSpec",
    "NystroemRidgeClassifier",
    "SelectionResult",
    "TuneResult",
    "WorkerLostError",
    "compare_data_parallel",
    "compare_models",
    "data_parallel_model_names",
    "evaluate_selection",
    "fit_and_score",
    "fit_data_parallel",
    "get_model",
    "get_model_names",
    "get_model_spec",
    "get_search_space",
    "has_proba",
    "has_scores",
    "list_models",
    "predict_scores",
    "save_selection",
    "score_data_parallel",
    "score_fitted",
    "score_rows",
    "selection_figures",
    "tune_model",
]


#: Names defined in modules that import scikit-learn, or that the registry does not need,
#: loaded on first use so the registry and the CLI stay light until then.
_LAZY = {
    **dict.fromkeys(
        ("Comparison", "ModelScore", "compare_models", "fit_and_score", "score_fitted"),
        "shallowvision.models._compare",
    ),
    **dict.fromkeys(
        ("SelectionResult", "evaluate_selection", "save_selection", "selection_figures"),
        "shallowvision.models._selection",
    ),
    **dict.fromkeys(("SEARCHES", "TuneResult", "tune_model"), "shallowvision.models._tune"),
    "NystroemRidgeClassifier": "shallowvision.models._kernel_ridge",
    "BlockRBFSVC": "shallowvision.models._svc",
    **dict.fromkeys(
        (
            "WorkerLostError",
            "compare_data_parallel",
            "data_parallel_model_names",
            "fit_data_parallel",
            "score_data_parallel",
        ),
        "shallowvision.models._distributed",
    ),
}


__getattr__ = lazy_names(__name__, _LAZY)
