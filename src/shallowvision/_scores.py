"""Continuous scores of a fitted classifier, one column per class.

Both evaluation and models need them, so they live below both packages.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from shallowvision.exceptions import DataError

__all__ = ["predict_scores"]


def predict_scores(
    estimator: Any,
    X: ArrayLike,
    *,
    response_method: Literal["auto", "predict_proba", "decision_function"] = "predict_proba",
) -> np.ndarray:
    """2-D scores of a fitted classifier: ``predict_proba`` or ``decision_function``.

    A binary ``decision_function`` (1-D) becomes the two columns ``(-d, d)``, so every
    score array has one column per class.

    Parameters
    ----------
    estimator : fitted classifier
    X : array-like
        The samples, as the estimator expects them.
    response_method : {"predict_proba", "decision_function", "auto"}
        ``"auto"`` prefers ``predict_proba`` and falls back to ``decision_function``.

    Returns
    -------
    ndarray of float64, shape (n_samples, n_classes)
    """
    methods = (
        ("predict_proba", "decision_function") if response_method == "auto" else (response_method,)
    )
    for method in methods:
        if hasattr(estimator, method):
            scores = np.asarray(getattr(estimator, method)(X), dtype=np.float64)
            if scores.ndim == 1:
                scores = np.column_stack([-scores, scores])
            return scores
    raise DataError(
        f"{type(estimator).__name__} has no {' or '.join(methods)}: this needs a model that "
        "gives probabilities or decision scores"
    )
