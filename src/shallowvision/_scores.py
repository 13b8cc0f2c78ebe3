"""Continuous scores of a fitted classifier, one column per class, and their kind.

Both evaluation and models need them, so they live below both packages; each offers
:func:`predict_scores` under its own name.
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from shallowvision.exceptions import DataError

__all__ = ["Scores", "predict_scores"]


class Scores(NamedTuple):
    """What :func:`predict_scores` returns: the scores and which kind they are.

    A tuple, so ``scores, kind = predict_scores(model, X)`` unpacks it.
    """

    #: float64, shape ``(n_samples, n_classes)``.
    values: np.ndarray
    #: ``"proba"`` (from ``predict_proba``) or ``"decision"`` (from ``decision_function``).
    kind: Literal["proba", "decision"]


def predict_scores(
    estimator: Any,
    X: ArrayLike,
    *,
    response_method: Literal["auto", "predict_proba", "decision_function"] = "auto",
) -> Scores:
    """Per-class scores of a fitted classifier: probabilities or decision scores.

    A binary ``decision_function`` (1-D) becomes the two columns ``(-d, d)``, so both
    kinds share one shape. Rankings (and so ROC and PR AUC) read either kind; log loss,
    Brier score and calibration need probabilities.

    Parameters
    ----------
    estimator : fitted classifier
    X : array-like
        The samples, as the estimator expects them.
    response_method : {"auto", "predict_proba", "decision_function"}
        ``"auto"`` prefers ``predict_proba`` and falls back to ``decision_function``.

    Returns
    -------
    Scores
        ``values``, float64 of shape ``(n_samples, n_classes)``, and ``kind``,
        ``"proba"`` or ``"decision"``: the method that gave them.

    Raises
    ------
    DataError
        If the estimator has none of the asked methods.
    """
    methods = (
        ("predict_proba", "decision_function") if response_method == "auto" else (response_method,)
    )
    for method in methods:
        if hasattr(estimator, method):
            values = np.asarray(getattr(estimator, method)(X), dtype=np.float64)
            if values.ndim == 1:
                values = np.column_stack([-values, values])
            return Scores(values, "proba" if method == "predict_proba" else "decision")
    raise DataError(
        f"{type(estimator).__name__} has no {' or '.join(methods)}: this needs a model that "
        "gives probabilities or decision scores"
    )
