"""Checks at the boundary of every evaluation function.

Scores are always 2-D floats ``(n_samples, n_classes)``: a 1-D vector (hard labels, or a
binary ``decision_function``) and integer or boolean arrays are refused, so no ranking
metric can ever be computed from hard labels by mistake.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from shallowvision.exceptions import DataError

__all__ = [
    "check_class_names",
    "check_labels",
    "check_predicted_labels",
    "check_predictions",
    "check_proba",
    "check_scores",
    "class_index",
]

# float32 probabilities of 47 classes sum to 1 within about 1e-6; leave room for
# models that round their output, but catch scores that are not probabilities at all.
_SUM_TOLERANCE = 1e-4


def check_labels(y_true: ArrayLike, *, name: str = "y_true") -> np.ndarray:
    """``y_true`` as a 1-D int64 array of class indices (0, 1, ...).

    Raises
    ------
    DataError
        If the labels are not 1-D, empty, or not whole numbers >= 0.
    """
    y = np.asarray(y_true)
    if y.ndim != 1:
        raise DataError(f"{name} must be 1-D class indices, got shape {y.shape}")
    if len(y) == 0:
        raise DataError(f"{name} is empty: there is nothing to evaluate")
    if y.dtype.kind == "b":
        y = y.astype(np.int64)
    elif y.dtype.kind == "f":
        if not np.all(np.isfinite(y)) or not np.array_equal(y, np.round(y)):
            raise DataError(f"{name} must hold class indices 0, 1, ..., got non-integer values")
        y = y.astype(np.int64)
    elif y.dtype.kind not in "iu":
        raise DataError(
            f"{name} must hold class indices 0, 1, ..., got {y.dtype} values; "
            "encode class names as their index in class_names"
        )
    y = y.astype(np.int64, copy=False)
    if y.min() < 0:
        raise DataError(f"{name} holds the negative class index {y.min()}")
    return y


def check_predicted_labels(pred: ArrayLike, n_samples: int, *, name: str) -> np.ndarray:
    """Predicted class indices from labels ``(n,)`` or from probabilities ``(n, n_classes)``.

    Hard predictions are fine where only right or wrong matters (McNemar's test,
    error overlap); the highest column of a 2-D array is the prediction.
    """
    arr = np.asarray(pred)
    labels = arr.argmax(axis=1) if arr.ndim == 2 else check_labels(arr, name=name)
    if len(labels) != n_samples:
        raise DataError(f"{name} has {len(labels)} predictions for {n_samples} images")
    return labels


def check_scores(scores: ArrayLike, *, name: str = "scores") -> np.ndarray:
    """``scores`` as a 2-D float64 array ``(n_samples, n_classes)`` of probabilities or decision scores.

    Raises
    ------
    DataError
        For a 1-D vector, integer or boolean values (hard labels), fewer than two
        columns, or non-finite values.
    """
    s = np.asarray(scores)
    if s.ndim == 1:
        raise DataError(
            f"{name} must be 2-D (n_samples, n_classes) probabilities or decision scores, got a "
            f"1-D vector of {len(s)}: hard labels carry no ranking; for a binary "
            "decision_function d pass np.column_stack([-d, d]) (or use predict_scores)"
        )
    if s.ndim != 2:
        raise DataError(f"{name} must be 2-D (n_samples, n_classes), got shape {s.shape}")
    if s.dtype.kind not in "f":
        raise DataError(
            f"{name} holds {s.dtype} values, not floats: ROC AUC, PR AUC and calibration "
            "need predicted probabilities or decision scores, never hard labels"
        )
    if s.shape[1] < 2:
        raise DataError(
            f"{name} has {s.shape[1]} column; give one column per class (2 for a binary task)"
        )
    if len(s) == 0:
        raise DataError(f"{name} is empty: there is nothing to evaluate")
    s = s.astype(np.float64, copy=False)
    if not np.all(np.isfinite(s)):
        raise DataError(f"{name} contains NaN or infinite values")
    return s


def check_proba(proba: ArrayLike, *, name: str = "proba") -> np.ndarray:
    """``proba`` as 2-D float64 probabilities: each row in [0, 1] and summing to 1.

    Rows that sum to 1 within 1e-4 are divided by their sum, so float32
    probabilities become exact float64 ones that scikit-learn's metrics accept.
    """
    p = check_scores(proba, name=name)
    if p.min() < 0 or p.max() > 1:
        raise DataError(
            f"{name} must be probabilities in [0, 1], got values in [{p.min():.3g}, {p.max():.3g}]; "
            "pass predict_proba output, or use the score-based functions for decision scores"
        )
    sums = p.sum(axis=1)
    bad = np.flatnonzero(np.abs(sums - 1) > _SUM_TOLERANCE)
    if len(bad):
        raise DataError(
            f"{name} rows must sum to 1, but row {bad[0]} sums to {sums[bad[0]]:.6g} "
            f"({len(bad)} rows are off); pass predict_proba output"
        )
    return p / sums[:, None]


def check_class_names(
    class_names: Sequence[Any] | None, n_columns: int, *, name: str = "proba"
) -> tuple[str, ...]:
    """Class names as strings, one per score column; ``None`` gives ``"0", "1", ...``."""
    if class_names is None:
        return tuple(str(i) for i in range(n_columns))
    names = tuple(str(c) for c in class_names)
    if len(names) != n_columns:
        raise DataError(
            f"{name} has {n_columns} columns but class_names has {len(names)}; "
            "give one name per column, in column order"
        )
    if len(set(names)) != len(names):
        raise DataError(f"class_names must be unique, got {names}")
    return names


def check_predictions(
    y_true: ArrayLike,
    scores: ArrayLike,
    class_names: Sequence[Any] | None = None,
    *,
    kind: Literal["proba", "scores"] = "proba",
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Validate labels against scores: same length, every label a column.

    Returns
    -------
    y : ndarray of int64, shape (n,)
    scores : ndarray of float64, shape (n, n_classes)
    class_names : tuple of str
    """
    y = check_labels(y_true)
    s = check_proba(scores) if kind == "proba" else check_scores(scores)
    if len(y) != len(s):
        raise DataError(f"y_true has {len(y)} labels but {kind} has {len(s)} rows")
    names = check_class_names(class_names, s.shape[1], name=kind)
    if y.max() >= s.shape[1]:
        raise DataError(
            f"y_true holds class {y.max()} but {kind} has {s.shape[1]} columns "
            f"(classes 0..{s.shape[1] - 1})"
        )
    return y, s, names


def class_index(cls: int | str, class_names: Sequence[str]) -> int:
    """The column of class ``cls``, given as an index or a class name."""
    if isinstance(cls, str) and cls in class_names:
        return list(class_names).index(cls)
    if isinstance(cls, int | np.integer) and 0 <= int(cls) < len(class_names):
        return int(cls)
    raise DataError(
        f"unknown class {cls!r}: give an index 0..{len(class_names) - 1} or one of "
        f"{', '.join(class_names)}"
    )
