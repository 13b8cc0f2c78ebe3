"""ROC and precision-recall curves, per class and averaged.

Every curve is one-vs-rest: class ``k`` is positive, every other class negative, ranked
by column ``k`` of the scores. A binary task (two columns) has one curve, of the
positive class (column 1); a multiclass task has one per class plus the micro and
macro averages. Metrics against the decision threshold, and choosing one, are in
:mod:`._thresholds`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike
from sklearn import metrics as skm

from shallowvision.evaluation._arrays import thin_indices
from shallowvision.evaluation._records import Record
from shallowvision.evaluation._validation import check_predictions

__all__ = ["Curve", "CurveSet", "OneVsRest", "pr_curves", "roc_curves"]


@dataclass(frozen=True, eq=False, kw_only=True)
class Curve(Record):
    """One curve: ``x`` and ``y`` points, the thresholds that give them, and its area."""

    label: str
    x: np.ndarray
    y: np.ndarray
    thresholds: np.ndarray | None
    area: float
    prevalence: float | None = None

    def thinned(self, max_points: int | None) -> Curve:
        """The same curve with at most about ``max_points`` points (area unchanged)."""
        if max_points is None or len(self.x) <= max_points:
            return self
        idx = thin_indices(len(self.x), max_points)
        thresholds = self.thresholds
        if thresholds is not None:
            # A PR curve's last point has no threshold; keeping the same convention.
            thresholds = thresholds[idx[idx < len(thresholds)]]
        return dataclasses.replace(self, x=self.x[idx], y=self.y[idx], thresholds=thresholds)


@dataclass(frozen=True, eq=False, kw_only=True)
class CurveSet(Record):
    """ROC or PR curves of every class and their averages.

    ``curves`` holds the per-class curves in class order, then (multiclass only)
    ``"micro"`` and ``"macro"``. The micro average ranks every (image, class) pair
    together. The macro ROC curve is the mean true positive rate of the classes at
    every false positive rate where any class's curve bends, so its area is exactly
    the macro ROC AUC. The macro PR curve is the mean interpolated precision (the highest
    precision at that recall or beyond) on a recall grid; its ``area`` is the macro
    average precision.
    """

    kind: Literal["roc", "pr"]
    x_label: str
    y_label: str
    curves: tuple[Curve, ...]

    def __getitem__(self, label: str) -> Curve:
        for curve in self.curves:
            if curve.label == label:
                return curve
        raise KeyError(f"no curve {label!r}; have {[c.label for c in self.curves]}")

    @property
    def area_name(self) -> str:
        """What a curve's ``area`` is: ``"AUC"`` (ROC) or ``"AP"`` (average precision)."""
        return "AUC" if self.kind == "roc" else "AP"

    def legend(self, curve: Curve) -> str:
        """Legend text of a curve: its label and area."""
        return f"{curve.label} ({self.area_name} {curve.area:.3f})"

    @property
    def class_curves(self) -> tuple[Curve, ...]:
        """The per-class curves, without the averages."""
        return tuple(c for c in self.curves if c.label not in ("micro", "macro"))


# Curves are stored and drawn with at most this many points: a curve with one point
# per image (tens of thousands) looks the same and would make evaluation.json and the
# report many megabytes.
_MAX_POINTS = 1000


def _positive_columns(n_classes: int) -> list[int]:
    # A binary task is about its positive class; column 0's curve would mirror it.
    return [1] if n_classes == 2 else list(range(n_classes))


def _average_precision(precision: np.ndarray, recall: np.ndarray) -> float:
    # scikit-learn's definition of average precision: the step-wise area under the
    # PR curve, sum over thresholds of (R_n - R_{n-1}) * P_n (checked against it in tests).
    return float(-np.sum(np.diff(recall) * precision[:-1]))


class OneVsRest:
    """ROC and PR curves of every class (one-vs-rest) and of all classes pooled (micro).

    scikit-learn's ``roc_curve`` and ``precision_recall_curve`` run once per class and
    once on the pooled scores, on first use; the curve sets and the ranking metrics
    both read them, so no curve is computed twice. A class without positives (or,
    for ROC, without negatives) has ``None`` in place of its curve.

    Parameters
    ----------
    y : ndarray of int, shape (n_samples,)
    scores : ndarray of float, shape (n_samples, n_classes)
    class_names : tuple of str
        All validated by :func:`check_predictions`.
    """

    def __init__(self, y: np.ndarray, scores: np.ndarray, class_names: tuple[str, ...]) -> None:
        self.y, self.scores, self.class_names = y, scores, class_names
        self.n_classes = scores.shape[1]
        self.support = np.bincount(y, minlength=self.n_classes)
        self.prevalence = self.support / len(y)

    def _pooled(self) -> tuple[np.ndarray, np.ndarray]:
        return (self.y[:, None] == np.arange(self.n_classes)).ravel(), self.scores.ravel()

    @cached_property
    def roc(self) -> tuple[list[Curve | None], Curve | None]:
        """Per-class ROC curves and, for multiclass, the micro-average curve."""
        per_class: list[Curve | None] = []
        for k, name in enumerate(self.class_names):
            if not 0 < self.support[k] < len(self.y):
                per_class.append(None)
                continue
            fpr, tpr, thr = skm.roc_curve(self.y == k, self.scores[:, k])
            per_class.append(
                Curve(
                    label=name,
                    x=fpr,
                    y=tpr,
                    thresholds=thr,
                    area=float(skm.auc(fpr, tpr)),
                    prevalence=float(self.prevalence[k]),
                )
            )
        micro = None
        if self.n_classes > 2:
            fpr, tpr, _ = skm.roc_curve(*self._pooled())
            micro = Curve(
                label="micro", x=fpr, y=tpr, thresholds=None, area=float(skm.auc(fpr, tpr))
            )
        return per_class, micro

    @cached_property
    def pr(self) -> tuple[list[Curve | None], Curve | None]:
        """Per-class precision-recall curves and, for multiclass, the micro-average curve."""
        per_class: list[Curve | None] = []
        for k, name in enumerate(self.class_names):
            if self.support[k] == 0:
                per_class.append(None)
                continue
            # drop_intermediate keeps the first and last point of every recall level,
            # so the step-wise area (average precision) is unchanged.
            prec, rec, thr = skm.precision_recall_curve(
                self.y == k, self.scores[:, k], drop_intermediate=True
            )
            per_class.append(
                Curve(
                    label=name,
                    x=rec,
                    y=prec,
                    thresholds=thr,
                    area=_average_precision(prec, rec),
                    prevalence=float(self.prevalence[k]),
                )
            )
        micro = None
        if self.n_classes > 2:
            prec, rec, _ = skm.precision_recall_curve(*self._pooled(), drop_intermediate=True)
            micro = Curve(
                label="micro",
                x=rec,
                y=prec,
                thresholds=None,
                area=_average_precision(prec, rec),
                prevalence=1 / self.n_classes,
            )
        return per_class, micro

    def roc_set(self, max_points: int | None = _MAX_POINTS) -> CurveSet:
        """The ROC curve set: positive class (binary) or every class, micro and macro."""
        return self._curve_set("roc", self.roc, _macro_roc, max_points)

    def pr_set(self, n_grid: int = 201, max_points: int | None = _MAX_POINTS) -> CurveSet:
        """The PR curve set: positive class (binary) or every class, micro and macro."""
        return self._curve_set("pr", self.pr, lambda c: _macro_pr(c, n_grid), max_points)

    def _curve_set(
        self,
        kind: Literal["roc", "pr"],
        computed: tuple[list[Curve | None], Curve | None],
        macro: Callable[[list[Curve]], Curve],
        max_points: int | None,
    ) -> CurveSet:
        per_class, micro = computed
        curves = [c for k in _positive_columns(self.n_classes) if (c := per_class[k]) is not None]
        if micro is not None and curves:
            curves += [micro, macro(curves)]
        return CurveSet(
            kind=kind,
            x_label="False positive rate" if kind == "roc" else "Recall",
            y_label="True positive rate" if kind == "roc" else "Precision",
            curves=tuple(c.thinned(max_points) for c in curves),
        )


def _macro_roc(curves: list[Curve]) -> Curve:
    x, y = _vertical_average(curves)
    return Curve(label="macro", x=x, y=y, thresholds=None, area=float(skm.auc(x, y)))


def _macro_pr(curves: list[Curve], n_grid: int) -> Curve:
    grid = np.linspace(0.0, 1.0, n_grid)
    mean_prec = np.mean([_interpolated_precision(c.x, c.y, grid) for c in curves], axis=0)
    area = float(np.mean([c.area for c in curves]))
    return Curve(label="macro", x=grid, y=mean_prec, thresholds=None, area=area)


def roc_curves(
    y_true: ArrayLike,
    scores: ArrayLike,
    *,
    class_names: Sequence[Any] | None = None,
    max_points: int | None = _MAX_POINTS,
) -> CurveSet:
    """One-vs-rest ROC curves per class, with micro and macro averages for multiclass.

    Parameters
    ----------
    y_true : array-like of int, shape (n_samples,)
    scores : array-like of float, shape (n_samples, n_classes)
        Probabilities or decision scores; hard labels are refused.
    class_names : sequence of str, optional
    max_points : int or None
        Most points kept per curve, evenly spaced along it (None keeps scikit-learn's
        curve whole); areas always come from the whole curve.

    Returns
    -------
    CurveSet
        Classes absent from ``y_true`` (or covering all of it) have no ROC curve and are left out.
    """
    ovr = OneVsRest(*check_predictions(y_true, scores, class_names, kind="scores"))
    return ovr.roc_set(max_points)


def _vertical_average(curves: Sequence[Curve]) -> tuple[np.ndarray, np.ndarray]:
    """Mean TPR of ROC curves at every FPR where one of them bends.

    A ROC curve can jump vertically at one FPR, so the mean is taken of both the
    value on arriving at that FPR and on leaving it; between breakpoints every curve
    is linear, so the area of the result is exactly the mean of the curves' areas.
    """
    grid = np.unique(np.concatenate([c.x for c in curves]))
    limits = np.array([_arrive_leave(c.x, c.y, grid) for c in curves])  # (curves, 2, grid)
    arrive, leave = limits.mean(axis=0)
    x = np.repeat(grid, 2)
    y = np.column_stack([arrive, leave]).ravel()
    keep = np.ones(len(x), dtype=bool)
    keep[1::2] = leave != arrive  # no vertical step, no second point
    return x[keep], y[keep]


def _arrive_leave(x: np.ndarray, y: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """A piecewise-linear curve (x non-decreasing, spanning the grid) at each grid value,
    on arrival (its first point there) and on leaving (its last point there)."""
    first = np.searchsorted(x, grid, side="left")
    last = np.searchsorted(x, grid, side="right") - 1
    on_point = first <= last
    # Off the curve's points, grid value g lies strictly inside segment (last, first).
    lo, hi = np.minimum(last, first), np.maximum(last, first)
    span = x[hi] - x[lo]
    t = np.divide(grid - x[lo], span, out=np.zeros(len(grid)), where=span > 0)
    between = y[lo] + t * (y[hi] - y[lo])
    return np.array([np.where(on_point, y[first], between), np.where(on_point, y[last], between)])


def pr_curves(
    y_true: ArrayLike,
    scores: ArrayLike,
    *,
    class_names: Sequence[Any] | None = None,
    n_grid: int = 201,
    max_points: int | None = _MAX_POINTS,
) -> CurveSet:
    """One-vs-rest precision-recall curves per class, with micro and macro averages.

    ``x`` is recall and ``y`` precision; each curve's ``area`` is its average
    precision (scikit-learn's step-wise PR AUC) and ``prevalence`` the precision of a
    classifier without skill.

    Parameters
    ----------
    y_true : array-like of int, shape (n_samples,)
    scores : array-like of float, shape (n_samples, n_classes)
        Probabilities or decision scores; hard labels are refused.
    class_names : sequence of str, optional
    n_grid : int
        Number of recall values of the macro-average curve.
    max_points : int or None
        Most points kept per curve, as for :func:`roc_curves`.

    Returns
    -------
    CurveSet
    """
    ovr = OneVsRest(*check_predictions(y_true, scores, class_names, kind="scores"))
    return ovr.pr_set(n_grid, max_points)


def _interpolated_precision(
    recall: np.ndarray, precision: np.ndarray, grid: np.ndarray
) -> np.ndarray:
    """The highest precision reached at recall >= each grid value."""
    # precision_recall_curve returns recall in decreasing order; a running maximum from
    # the high-recall end gives the interpolated precision at every curve point.
    order = np.argsort(recall, kind="stable")
    r, p = recall[order], np.maximum.accumulate(precision[order][::-1])[::-1]
    idx = np.searchsorted(r, grid, side="left")
    return np.where(idx < len(r), p[np.minimum(idx, len(r) - 1)], 0.0)
