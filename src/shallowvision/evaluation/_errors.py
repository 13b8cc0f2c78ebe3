"""Error analysis from stored predictions: confusion matrix, most confused pairs, galleries
of misclassified images, label-noise suspects and the error overlap between models.

Nothing here draws at random or needs typing in: every number and every image index is
a function of the labels and probabilities passed in; ties are broken by image order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.metrics import confusion_matrix

from shallowvision.evaluation._arrays import top_label
from shallowvision.evaluation._records import Record
from shallowvision.evaluation._validation import (
    check_class_names,
    check_labels,
    check_predicted_labels,
    check_predictions,
    class_index,
)
from shallowvision.exceptions import DataError

__all__ = [
    "ConfusedPair",
    "ConfusionResult",
    "ErrorOverlap",
    "Gallery",
    "confidently_wrong",
    "confusion",
    "error_overlap",
    "misclassified_gallery",
    "most_confused_pairs",
]


@dataclass(frozen=True, eq=False, kw_only=True)
class ConfusionResult(Record):
    """Confusion matrix (rows = true class, columns = predicted class).

    ``normalized`` divides each row by its class's number of images (NaN for a class
    without images); ``error_rate`` is the share of each class's images predicted as
    another class.
    """

    class_names: tuple[str, ...]
    counts: np.ndarray
    normalized: np.ndarray
    support: np.ndarray
    error_rate: np.ndarray


def confusion(
    y_true: ArrayLike, y_pred: ArrayLike, *, class_names: Sequence[Any] | None = None
) -> ConfusionResult:
    """Confusion matrix in counts and row-normalised, and the per-class error rates.

    Parameters
    ----------
    y_true, y_pred : array-like of int, shape (n_samples,)
        True and predicted class indices.
    class_names : sequence of str, optional
        One per class; by default as many as the largest index seen needs.

    Returns
    -------
    ConfusionResult
    """
    y = check_labels(y_true)
    pred = check_labels(y_pred, name="y_pred")
    if len(y) != len(pred):
        raise DataError(f"y_true has {len(y)} labels but y_pred has {len(pred)}")
    n_classes = len(class_names) if class_names is not None else int(max(y.max(), pred.max())) + 1
    names = check_class_names(class_names, n_classes, name="the confusion matrix")
    if max(y.max(), pred.max()) >= n_classes:
        raise DataError(
            f"labels go up to {max(y.max(), pred.max())} but there are {n_classes} class names"
        )
    counts = confusion_matrix(y, pred, labels=np.arange(n_classes))
    support = counts.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        normalized = counts / support[:, None]
        error_rate = 1.0 - np.diag(counts) / support
    return ConfusionResult(
        class_names=names,
        counts=counts,
        normalized=normalized,
        support=support,
        error_rate=error_rate,
    )


@dataclass(frozen=True, eq=False, kw_only=True)
class ConfusedPair(Record):
    """Images of class ``true`` predicted as ``predicted``; ``rate`` is their share of ``true``."""

    true: str
    predicted: str
    true_index: int
    predicted_index: int
    count: int
    rate: float


def most_confused_pairs(result: ConfusionResult, *, top: int = 10) -> tuple[ConfusedPair, ...]:
    """The off-diagonal cells with the most images, largest first (ties in class order).

    Parameters
    ----------
    result : ConfusionResult
    top : int
        How many pairs at most; pairs with no image are never listed.

    Returns
    -------
    tuple of ConfusedPair
    """
    counts = result.counts.copy()
    np.fill_diagonal(counts, 0)
    flat = np.argsort(-counts, axis=None, kind="stable")[:top]
    pairs = []
    for t, p in zip(*np.unravel_index(flat, counts.shape), strict=True):
        if counts[t, p] == 0:
            break
        pairs.append(
            ConfusedPair(
                true=result.class_names[t],
                predicted=result.class_names[p],
                true_index=int(t),
                predicted_index=int(p),
                count=int(counts[t, p]),
                rate=float(result.normalized[t, p]),
            )
        )
    return tuple(pairs)


@dataclass(frozen=True, eq=False, kw_only=True)
class Gallery(Record):
    """Selected images (by index into the arrays evaluated) with their labels and confidence.

    ``confidence`` is the probability of the predicted class, ``true_proba`` that of the
    true class. The pixels are not part of the record: displays take the images array.
    """

    title: str
    indices: np.ndarray
    true: tuple[str, ...]
    predicted: tuple[str, ...]
    confidence: np.ndarray
    true_proba: np.ndarray
    n_matching: int


def _gallery(
    title: str,
    y: np.ndarray,
    p: np.ndarray,
    names: Sequence[str],
    mask: np.ndarray,
    max_images: int,
) -> Gallery:
    pred, conf = top_label(p)
    members = np.flatnonzero(mask)
    # Most confident first; a stable sort keeps image order among ties.
    chosen = members[np.argsort(-conf[members], kind="stable")][:max_images]
    return Gallery(
        title=title,
        indices=chosen,
        true=tuple(names[i] for i in y[chosen]),
        predicted=tuple(names[i] for i in pred[chosen]),
        confidence=conf[chosen],
        true_proba=p[chosen, y[chosen]],
        n_matching=len(members),
    )


def misclassified_gallery(
    y_true: ArrayLike,
    proba: ArrayLike,
    *,
    true_class: int | str,
    predicted_class: int | str,
    class_names: Sequence[Any] | None = None,
    max_images: int = 16,
) -> Gallery:
    """Images of ``true_class`` predicted as ``predicted_class``, most confident first.

    Parameters
    ----------
    y_true : array-like of int, shape (n_samples,)
    proba : array-like of float, shape (n_samples, n_classes)
    true_class, predicted_class : int or str
        Class indices or names.
    class_names : sequence of str, optional
    max_images : int

    Returns
    -------
    Gallery
    """
    y, p, names = check_predictions(y_true, proba, class_names)
    t, q = class_index(true_class, names), class_index(predicted_class, names)
    mask = (y == t) & (p.argmax(axis=1) == q)
    return _gallery(f"{names[t]} predicted as {names[q]}", y, p, names, mask, max_images)


def confidently_wrong(
    y_true: ArrayLike,
    proba: ArrayLike,
    *,
    class_names: Sequence[Any] | None = None,
    max_images: int = 16,
) -> Gallery:
    """The wrong predictions made with the highest confidence: suspects of label noise.

    Parameters
    ----------
    y_true : array-like of int, shape (n_samples,)
    proba : array-like of float, shape (n_samples, n_classes)
    class_names : sequence of str, optional
    max_images : int

    Returns
    -------
    Gallery
    """
    y, p, names = check_predictions(y_true, proba, class_names)
    mask = p.argmax(axis=1) != y
    return _gallery("most confidently wrong", y, p, names, mask, max_images)


@dataclass(frozen=True, eq=False, kw_only=True)
class ErrorOverlap(Record):
    """Which images several models get wrong.

    ``both_wrong[i, j]`` counts the images models ``i`` and ``j`` both get wrong (the
    diagonal: each model's errors); ``jaccard`` divides it by the images either gets
    wrong. ``n_wrong_counts[m]`` is the number of images exactly ``m`` models get
    wrong, and ``all_wrong`` lists the images every model gets wrong.
    """

    model_names: tuple[str, ...]
    n_images: int
    both_wrong: np.ndarray
    jaccard: np.ndarray
    n_wrong_counts: np.ndarray
    all_wrong: np.ndarray


def error_overlap(y_true: ArrayLike, predictions: Mapping[str, ArrayLike]) -> ErrorOverlap:
    """Error-overlap matrix between models evaluated on the same images.

    Parameters
    ----------
    y_true : array-like of int, shape (n_samples,)
    predictions : mapping of str to array-like
        Model name to its predicted class indices ``(n_samples,)`` or its
        probabilities ``(n_samples, n_classes)`` (the highest column is the prediction).

    Returns
    -------
    ErrorOverlap
    """
    y = check_labels(y_true)
    if len(predictions) < 1:
        raise DataError("error_overlap needs the predictions of at least one model")
    w = np.array(
        [
            check_predicted_labels(p, len(y), name=f"model {n!r}") != y
            for n, p in predictions.items()
        ],
        dtype=np.int64,
    )  # (models, images)
    both = w @ w.T
    errors = np.diag(both)
    union = errors[:, None] + errors[None, :] - both
    with np.errstate(invalid="ignore", divide="ignore"):
        jaccard = both / union
    n_wrong = w.sum(axis=0)
    return ErrorOverlap(
        model_names=tuple(predictions),
        n_images=len(y),
        both_wrong=both,
        jaccard=jaccard,
        n_wrong_counts=np.bincount(n_wrong, minlength=len(w) + 1),
        all_wrong=np.flatnonzero(n_wrong == len(w)),
    )
