"""Ensembles: soft and hard voting and stacking of zoo models or fitted models, compared with
their members on the same validation images."""

from shallowvision.ensemble._build import (
    ENSEMBLE_METHODS,
    StackingEnsemble,
    VotingEnsemble,
    get_final_estimator,
    get_final_estimator_names,
    make_ensemble,
)
from shallowvision.ensemble._compare import EnsembleComparison, compare_ensembles, ensemble_label
from shallowvision.ensemble._display import EnsembleDisplay
from shallowvision.ensemble._figures import (
    ensemble_cost_figure,
    ensemble_figures,
    ensemble_scores_figure,
)

__all__ = [
    "ENSEMBLE_METHODS",
    "EnsembleComparison",
    "EnsembleDisplay",
    "StackingEnsemble",
    "VotingEnsemble",
    "compare_ensembles",
    "ensemble_cost_figure",
    "ensemble_figures",
    "ensemble_label",
    "ensemble_scores_figure",
    "get_final_estimator",
    "get_final_estimator_names",
    "make_ensemble",
]
