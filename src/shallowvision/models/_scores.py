"""What a fitted classifier offers: whether it is fitted, gives probabilities or any scores.

The scores themselves come from :func:`shallowvision._scores.predict_scores`, which the
package offers as ``predict_scores``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["has_proba", "has_scores", "is_fitted"]


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
