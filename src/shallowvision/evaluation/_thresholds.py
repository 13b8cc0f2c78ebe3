"""The decision threshold: precision, recall and F1 against it, and choosing one.

An image is predicted positive for class ``k`` when its score in column ``k`` reaches
the threshold. :func:`threshold_curves` shows every threshold with the F1-optimal one;
:func:`choose_operating_point` picks one from a target (a fixed threshold, a minimum
precision, or the costs of the two errors). As for the ROC and PR curves, a binary task
is about its positive class (column 1).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from shallowvision.evaluation._arrays import thin_indices
from shallowvision.evaluation._curves import _positive_columns
from shallowvision.evaluation._records import Record
from shallowvision.evaluation._validation import check_predictions, class_index
from shallowvision.exceptions import DataError

__all__ = [
    "OperatingPoint",
    "ThresholdCurve",
    "ThresholdCurves",
    "choose_operating_point",
    "threshold_curves",
]


@dataclass(frozen=True, eq=False, kw_only=True)
class OperatingPoint(Record):
    """A decision threshold for one class and what it gives.

    An image is predicted positive when its score is >= ``threshold``; ``inf`` (``None``
    in JSON) means nothing is predicted positive. ``cost`` is the total cost
    ``fp_cost * fp + fn_cost * fn`` when the point was chosen by costs.
    """

    label: str
    criterion: str
    threshold: float
    precision: float
    recall: float
    f1: float
    false_positive_rate: float
    tp: int
    fp: int
    fn: int
    tn: int
    cost: float | None = None


@dataclass(frozen=True, eq=False, kw_only=True)
class ThresholdCurve(Record):
    """Precision, recall and F1 against the decision threshold for one class.

    The arrays are thinned to at most ``max_points`` thresholds for drawing and
    storage; ``best`` (the F1-optimal threshold) comes from every threshold.
    """

    label: str
    thresholds: np.ndarray
    precision: np.ndarray
    recall: np.ndarray
    f1: np.ndarray
    best: OperatingPoint


@dataclass(frozen=True, eq=False, kw_only=True)
class ThresholdCurves(Record):
    """Threshold curves of the positive class (binary) or of every class (multiclass)."""

    curves: tuple[ThresholdCurve, ...]


@dataclass(frozen=True)
class _Counts:
    """Confusion counts of one class at every distinct threshold, highest first.

    Index 0 is the threshold ``inf`` (nothing predicted positive).
    """

    thresholds: np.ndarray
    tp: np.ndarray
    fp: np.ndarray
    n_pos: int
    n_neg: int

    @classmethod
    def of(cls, positive: np.ndarray, score: np.ndarray) -> _Counts:
        order = np.argsort(-score, kind="stable")
        s, pos = score[order], positive[order]
        # The last image of every run of equal scores closes a threshold.
        last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
        tp = np.r_[0, np.cumsum(pos)[last]]
        fp = np.r_[0, last + 1 - tp[1:]]
        n_pos = int(pos.sum())
        return cls(np.r_[np.inf, s[last]], tp, fp, n_pos, len(s) - n_pos)

    def precision(self) -> np.ndarray:
        # With nothing predicted positive precision is undefined; 1 is scikit-learn's
        # convention at the end of a PR curve.
        return np.divide(
            self.tp, self.tp + self.fp, out=np.ones(len(self.tp)), where=(self.tp + self.fp) > 0
        )

    def recall(self) -> np.ndarray:
        return self.tp / max(self.n_pos, 1)

    def f1(self) -> np.ndarray:
        denom = self.tp + self.fp + self.n_pos  # 2tp + fp + fn
        return np.divide(2 * self.tp, denom, out=np.zeros(len(self.tp)), where=denom > 0)

    def best_f1_index(self) -> int:
        # argmax takes the first maximum: the highest threshold among equally good ones.
        return int(np.argmax(self.f1()))

    def point(
        self, i: int, label: str, criterion: str, cost: float | None = None
    ) -> OperatingPoint:
        tp, fp = int(self.tp[i]), int(self.fp[i])
        return OperatingPoint(
            label=label,
            criterion=criterion,
            threshold=float(self.thresholds[i]),
            precision=float(self.precision()[i]),
            recall=float(self.recall()[i]),
            f1=float(self.f1()[i]),
            false_positive_rate=fp / self.n_neg if self.n_neg else float("nan"),
            tp=tp,
            fp=fp,
            fn=self.n_pos - tp,
            tn=self.n_neg - fp,
            cost=cost,
        )


def threshold_curves(
    y_true: ArrayLike,
    scores: ArrayLike,
    *,
    class_names: Sequence[Any] | None = None,
    max_points: int = 256,
) -> ThresholdCurves:
    """Precision, recall and F1 against the threshold, with the F1-optimal threshold.

    Parameters
    ----------
    y_true : array-like of int, shape (n_samples,)
    scores : array-like of float, shape (n_samples, n_classes)
        Probabilities or decision scores.
    class_names : sequence of str, optional
    max_points : int
        Most thresholds kept per curve (evenly spaced in rank; the best one always kept).

    Returns
    -------
    ThresholdCurves
        One curve for a binary task (the positive class), one per class otherwise.
    """
    y, s, names = check_predictions(y_true, scores, class_names, kind="scores")
    curves = []
    for k in _positive_columns(s.shape[1]):
        counts = _Counts.of(y == k, s[:, k])
        if counts.n_pos == 0:
            continue
        f1 = counts.f1()
        best = counts.best_f1_index()
        # The inf threshold (nothing predicted positive) is only a starting point.
        idx = thin_indices(len(f1) - 1, max_points, best - 1) + 1
        curves.append(
            ThresholdCurve(
                label=names[k],
                thresholds=counts.thresholds[idx],
                precision=counts.precision()[idx],
                recall=counts.recall()[idx],
                f1=f1[idx],
                best=counts.point(best, names[k], "max_f1"),
            )
        )
    return ThresholdCurves(curves=tuple(curves))


def choose_operating_point(
    y_true: ArrayLike,
    scores: ArrayLike,
    *,
    positive: int | str = 1,
    class_names: Sequence[Any] | None = None,
    threshold: float | None = None,
    min_precision: float | None = None,
    fp_cost: float | None = None,
    fn_cost: float | None = None,
) -> OperatingPoint:
    """Choose a decision threshold for one class (one-vs-rest) from a target.

    Give at most one target; without one the F1-optimal threshold is chosen.

    Parameters
    ----------
    y_true : array-like of int, shape (n_samples,)
    scores : array-like of float, shape (n_samples, n_classes)
    positive : int or str
        The positive class, as an index or a class name (default: column 1, the
        positive class of a binary task).
    class_names : sequence of str, optional
    threshold : float, optional
        Use this fixed threshold.
    min_precision : float, optional
        The threshold with the highest recall whose precision is at least this.
    fp_cost, fn_cost : float, optional
        Costs of a false positive and of a false negative (give both): the threshold
        with the lowest total cost.

    Returns
    -------
    OperatingPoint

    Raises
    ------
    DataError
        If several targets are given, or no threshold reaches ``min_precision``.
    """
    y, s, names = check_predictions(y_true, scores, class_names, kind="scores")
    k = class_index(positive, names)
    targets = {
        "threshold": threshold is not None,
        "min_precision": min_precision is not None,
        "costs": fp_cost is not None or fn_cost is not None,
    }
    if sum(targets.values()) > 1:
        raise DataError(
            "give one target for the operating point: a threshold, a minimum precision or the "
            f"two costs, got {', '.join(t for t, given in targets.items() if given)}"
        )
    counts = _Counts.of(y == k, s[:, k])
    if counts.n_pos == 0:
        raise DataError(f"class {names[k]!r} has no true images: it has no operating point")
    if threshold is not None:
        # Counts at a fixed threshold are those of the lowest curve threshold >= it.
        i = int(np.searchsorted(-counts.thresholds, -float(threshold), side="right")) - 1
        return dataclasses.replace(
            counts.point(i, names[k], "threshold"), threshold=float(threshold)
        )
    if min_precision is not None:
        precision = counts.precision()
        ok = np.flatnonzero((precision >= min_precision) & (counts.tp > 0))
        if not len(ok):
            raise DataError(
                f"no threshold reaches precision {min_precision:g} for class {names[k]!r}; "
                f"the highest is {precision[1:].max():.4g}"
            )
        i = int(ok[np.argmax(counts.tp[ok])])  # most recall; first = highest threshold
        return counts.point(i, names[k], "min_precision")
    if fp_cost is not None or fn_cost is not None:
        if fp_cost is None or fn_cost is None or fp_cost < 0 or fn_cost < 0:
            raise DataError(
                f"give both fp_cost and fn_cost, each >= 0; got fp_cost={fp_cost}, fn_cost={fn_cost}"
            )
        cost = fp_cost * counts.fp + fn_cost * (counts.n_pos - counts.tp)
        i = int(np.argmin(cost))
        return counts.point(i, names[k], "costs", cost=float(cost[i]))
    return counts.point(counts.best_f1_index(), names[k], "max_f1")
