"""How sure the model is, and whether that helps: confidence and entropy of right and wrong
predictions, and the risk-coverage curve of a model that may abstain."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import entr

from shallowvision.evaluation._arrays import thin_indices, top_label
from shallowvision.evaluation._records import Record
from shallowvision.evaluation._validation import check_predictions
from shallowvision.exceptions import DataError

__all__ = [
    "CorrectWrongHistogram",
    "RiskCoverage",
    "confidence_histogram",
    "entropy_histogram",
    "predictive_entropy",
    "risk_coverage",
]


@dataclass(frozen=True, eq=False, kw_only=True)
class CorrectWrongHistogram(Record):
    """Histograms of one per-image quantity for correct and wrong predictions.

    ``error_rate`` is the share of wrong predictions in each bin (NaN when empty):
    for confidence it should fall as confidence rises. Bins are closed on the left,
    the last one on both sides.
    """

    quantity: str
    bin_edges: np.ndarray
    correct: np.ndarray
    wrong: np.ndarray
    error_rate: np.ndarray
    mean_correct: float
    mean_wrong: float


def _split_histogram(
    quantity: str, values: np.ndarray, correct: np.ndarray, edges: np.ndarray
) -> CorrectWrongHistogram:
    n_bins = len(edges) - 1
    # Same bins for both groups: digitise once, then two bincounts.
    ids = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, n_bins - 1)
    right = np.bincount(ids[correct], minlength=n_bins)
    wrong = np.bincount(ids[~correct], minlength=n_bins)
    total = right + wrong
    with np.errstate(invalid="ignore", divide="ignore"):
        error_rate = wrong / total
    return CorrectWrongHistogram(
        quantity=quantity,
        bin_edges=edges,
        correct=right,
        wrong=wrong,
        error_rate=error_rate,
        mean_correct=float(values[correct].mean()) if correct.any() else float("nan"),
        mean_wrong=float(values[~correct].mean()) if (~correct).any() else float("nan"),
    )


def confidence_histogram(
    y_true: ArrayLike, proba: ArrayLike, *, n_bins: int = 20
) -> CorrectWrongHistogram:
    """Confidence (highest probability) of correct and wrong predictions, and error rate per bin.

    Parameters
    ----------
    y_true : array-like of int, shape (n_samples,)
    proba : array-like of float, shape (n_samples, n_classes)
    n_bins : int
        Equal-width bins over [1 / n_classes, 1], the range a confidence can take.

    Returns
    -------
    CorrectWrongHistogram
    """
    y, p, _ = check_predictions(y_true, proba)
    pred, confidence = top_label(p)
    edges = np.linspace(1.0 / p.shape[1], 1.0, n_bins + 1)
    return _split_histogram("confidence", confidence, pred == y, edges)


def predictive_entropy(proba: np.ndarray) -> np.ndarray:
    """Entropy of each probability row, in nats (0 = certain, log(n_classes) = uniform)."""
    return entr(proba).sum(axis=1)


def entropy_histogram(
    y_true: ArrayLike, proba: ArrayLike, *, n_bins: int = 20
) -> CorrectWrongHistogram:
    """Predictive entropy (nats) of correct and wrong predictions.

    Parameters
    ----------
    y_true : array-like of int, shape (n_samples,)
    proba : array-like of float, shape (n_samples, n_classes)
    n_bins : int
        Equal-width bins over [0, log(n_classes)].

    Returns
    -------
    CorrectWrongHistogram
    """
    y, p, _ = check_predictions(y_true, proba)
    edges = np.linspace(0.0, np.log(p.shape[1]), n_bins + 1)
    return _split_histogram("entropy", predictive_entropy(p), p.argmax(axis=1) == y, edges)


@dataclass(frozen=True, eq=False, kw_only=True)
class RiskCoverage(Record):
    """Accuracy of a model that abstains on its least confident images.

    Point ``i`` keeps the images with confidence >= ``thresholds[i]``: ``coverage[i]``
    is their share and ``accuracy[i]`` the accuracy on them. Images of equal confidence
    are kept or dropped together, so every point is reachable with a threshold.
    ``aurc`` is the area under the risk (1 - accuracy) against coverage curve (lower is
    better). ``coverage_at_target`` is the largest coverage whose accuracy is at least
    ``target_accuracy`` (``None`` if no coverage reaches it), and
    ``threshold_at_target`` the confidence threshold that gives it. The arrays are
    thinned to at most ``max_points`` points; the summary numbers use every point.
    """

    coverage: np.ndarray
    accuracy: np.ndarray
    thresholds: np.ndarray
    aurc: float
    target_accuracy: float
    coverage_at_target: float | None
    threshold_at_target: float | None


def risk_coverage(
    y_true: ArrayLike,
    proba: ArrayLike,
    *,
    target_accuracy: float = 0.99,
    max_points: int = 256,
) -> RiskCoverage:
    """The risk-coverage curve and the coverage at which a target accuracy is reached.

    Parameters
    ----------
    y_true : array-like of int, shape (n_samples,)
    proba : array-like of float, shape (n_samples, n_classes)
    target_accuracy : float
        The accuracy the kept images must reach, e.g. 0.99.
    max_points : int
        Most points kept in the stored curve.

    Returns
    -------
    RiskCoverage
    """
    if not 0 < target_accuracy <= 1:
        raise DataError(f"target_accuracy must be in (0, 1], got {target_accuracy}")
    y, p, _ = check_predictions(y_true, proba)
    pred, confidence = top_label(p)
    order = np.argsort(-confidence, kind="stable")
    conf, right = confidence[order], (pred == y)[order]
    # A threshold can only fall between two different confidences.
    last = np.r_[np.flatnonzero(np.diff(conf)), len(conf) - 1]
    kept = last + 1
    accuracy = np.cumsum(right)[last] / kept
    coverage = kept / len(y)
    thresholds = conf[last]
    aurc = float(np.sum((1 - accuracy) * np.diff(np.r_[0.0, coverage])))
    # A tiny slack keeps a ratio such as 99/100 from missing 0.99 by rounding.
    reach = np.flatnonzero(accuracy >= target_accuracy - 1e-12)
    best = int(reach[-1]) if len(reach) else None
    keep = thin_indices(len(coverage), max_points, best)
    return RiskCoverage(
        coverage=coverage[keep],
        accuracy=accuracy[keep],
        thresholds=thresholds[keep],
        aurc=aurc,
        target_accuracy=target_accuracy,
        coverage_at_target=float(coverage[best]) if best is not None else None,
        threshold_at_target=float(thresholds[best]) if best is not None else None,
    )
