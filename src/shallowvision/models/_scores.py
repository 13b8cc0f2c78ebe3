"""Continuous scores from any fitted classifier: what every AUC and calibration figure needs."""

from __future__ import annotations

from typing import Any

import numpy as np

from shallowvision._scores import predict_scores as scores_of

__all__ = ["has_proba", "has_scores", "is_fitted", "predict_scores"]


def is_fitted(estimator: Any) -> bool:
    """Whether ``estimator`` (a pipeline included) has been fitted."""
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(estimator)
    except NotFittedError:
        return False
    except TypeError:  # not an estimator at all
        return False
    return True


def has_proba(estimator: Any) -> bool:
    """Whether a fitted classifier (or pipeline) offers ``predict_proba``."""
    try:
        return hasattr(estimator, "predict_proba")
    except AttributeError:
        return False


def has_scores(estimator: Any) -> bool:
    """Whether a classifier offers continuous scores: probabilities or a decision function."""
    try:
        return has_proba(estimator) or hasattr(estimator, "decision_function")
    except AttributeError:
        return False


def predict_scores(estimator: Any, X: Any) -> tuple[np.ndarray, str]:
    """Per-class scores of shape ``(n, n_classes)`` and their kind.

    Returns probabilities (kind ``"proba"``) when the classifier has
    ``predict_proba``, else its decision scores (kind ``"decision"``); a binary
    decision vector ``d`` becomes the two columns ``(-d, d)`` so both kinds share one
    shape. Rankings (and so ROC and PR AUC) are the same for either kind.
    """
    kind = "proba" if has_proba(estimator) else "decision"
    return scores_of(estimator, X, response_method="auto"), kind
