"""Calibration measures: reliability diagrams, ECE, MCE, class-wise ECE and the Brier decomposition.

Binning
-------
Every measure here bins forecasts the same way, as ``sklearn.calibration.calibration_curve``
does: ``uniform`` bins split [0, 1] into ``n_bins`` equal widths; ``quantile`` bins put
the edges at quantiles of the forecasts, so each bin holds about as many images (tied
forecasts can merge edges, leaving fewer bins). Bins are closed on the right,
``(edge[i], edge[i + 1]]``, the first one also holding its left edge.

A forecast is a probability ``f`` and its outcome ``o`` is 1 if the event happened:
for the *top-label* diagram ``f`` is the highest probability (the confidence) and ``o``
whether the predicted class is right; for the *class-wise* diagram of class ``k``,
``f`` is the probability of ``k`` and ``o`` whether the image is of class ``k``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from shallowvision import _metrics as core
from shallowvision.evaluation._arrays import top_label
from shallowvision.evaluation._records import Record
from shallowvision.evaluation._validation import check_predictions
from shallowvision.exceptions import ConfigError, DataError

__all__ = [
    "BrierDecomposition",
    "CalibrationSummary",
    "ClasswiseReliability",
    "ReliabilityDiagram",
    "brier_decomposition",
    "calibration_summary",
    "classwise_reliability",
    "reliability_diagram",
]

Strategy = Literal["uniform", "quantile"]


@dataclass(frozen=True)
class _Bins:
    """Forecasts and outcomes gathered into bins: count, sum of forecasts, sum of outcomes."""

    edges: np.ndarray
    count: np.ndarray
    sum_forecast: np.ndarray
    sum_outcome: np.ndarray

    @classmethod
    def of(
        cls, forecast: np.ndarray, outcome: np.ndarray, n_bins: int, strategy: Strategy
    ) -> _Bins:
        if strategy == "uniform":
            edges = np.linspace(0.0, 1.0, n_bins + 1)
        elif strategy == "quantile":
            edges = np.unique(np.quantile(forecast, np.linspace(0.0, 1.0, n_bins + 1)))
            if len(edges) == 1:  # every forecast equal: one bin holding them all
                edges = np.r_[edges, edges]
        else:
            raise ConfigError(f"unknown binning strategy {strategy!r}: use 'uniform' or 'quantile'")
        ids = np.searchsorted(edges[1:-1], forecast, side="left")
        size = len(edges) - 1
        return cls(
            edges=edges,
            count=np.bincount(ids, minlength=size),
            sum_forecast=np.bincount(ids, weights=forecast, minlength=size),
            sum_outcome=np.bincount(ids, weights=outcome, minlength=size),
        )

    def means(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean forecast and observed frequency per bin (NaN for empty bins)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.sum_forecast / self.count, self.sum_outcome / self.count

    def errors(self) -> tuple[float, float]:
        """ECE (count-weighted mean gap) and MCE (largest gap) over the non-empty bins."""
        f, o = self.means()
        full = self.count > 0
        gap = np.abs(f[full] - o[full])
        return float(np.sum(self.count[full] * gap) / self.count.sum()), float(gap.max())


def _check_bins(n_bins: int) -> None:
    if int(n_bins) < 1:
        raise DataError(f"n_bins must be at least 1, got {n_bins}")


@dataclass(frozen=True, eq=False, kw_only=True)
class ReliabilityDiagram(Record):
    """Observed frequency against mean forecast per bin, with the bin counts.

    ``ece`` is the expected calibration error, ``sum(count * |accuracy - confidence|) / n``
    over the bins; ``mce`` the largest gap of a non-empty bin. Empty bins have NaN
    means (``None`` in JSON).
    """

    label: str
    strategy: str
    bin_edges: np.ndarray
    counts: np.ndarray
    mean_forecast: np.ndarray
    observed: np.ndarray
    ece: float
    mce: float

    @classmethod
    def _from_bins(cls, label: str, strategy: str, bins: _Bins) -> ReliabilityDiagram:
        f, o = bins.means()
        ece, mce = bins.errors()
        return cls(
            label=label,
            strategy=strategy,
            bin_edges=bins.edges,
            counts=bins.count,
            mean_forecast=f,
            observed=o,
            ece=ece,
            mce=mce,
        )


def reliability_diagram(
    y_true: ArrayLike,
    proba: ArrayLike,
    *,
    n_bins: int = 15,
    strategy: Strategy = "uniform",
) -> ReliabilityDiagram:
    """Top-label reliability diagram: accuracy against confidence (the highest probability).

    Parameters
    ----------
    y_true : array-like of int, shape (n_samples,)
    proba : array-like of float, shape (n_samples, n_classes)
    n_bins : int
        Number of bins (15, as in Guo et al. 2017, by default).
    strategy : {"uniform", "quantile"}
        Equal-width or equal-count bins (see the module notes).

    Returns
    -------
    ReliabilityDiagram
        Its ``ece`` and ``mce`` are the model's ECE and MCE.
    """
    y, p, _ = check_predictions(y_true, proba)
    _check_bins(n_bins)
    pred, confidence = top_label(p)
    bins = _Bins.of(confidence, (pred == y).astype(np.float64), n_bins, strategy)
    return ReliabilityDiagram._from_bins("top-label", strategy, bins)


@dataclass(frozen=True, eq=False, kw_only=True)
class ClasswiseReliability(Record):
    """One reliability diagram per class; ``classwise_ece`` is the mean of their ECEs."""

    diagrams: tuple[ReliabilityDiagram, ...]
    classwise_ece: float


def _class_bins(y: np.ndarray, p: np.ndarray, n_bins: int, strategy: Strategy) -> list[_Bins]:
    # One bincount per class: at most a few dozen classes, each a vectorised pass.
    return [
        _Bins.of(p[:, k], (y == k).astype(np.float64), n_bins, strategy) for k in range(p.shape[1])
    ]


def classwise_reliability(
    y_true: ArrayLike,
    proba: ArrayLike,
    *,
    class_names: Sequence[Any] | None = None,
    n_bins: int = 15,
    strategy: Strategy = "uniform",
) -> ClasswiseReliability:
    """Class-wise reliability diagrams and the class-wise ECE (Kull et al. 2019).

    Parameters
    ----------
    y_true : array-like of int, shape (n_samples,)
    proba : array-like of float, shape (n_samples, n_classes)
    class_names : sequence of str, optional
    n_bins : int
    strategy : {"uniform", "quantile"}

    Returns
    -------
    ClasswiseReliability
    """
    y, p, names = check_predictions(y_true, proba, class_names)
    _check_bins(n_bins)
    diagrams = tuple(
        ReliabilityDiagram._from_bins(name, strategy, bins)
        for name, bins in zip(names, _class_bins(y, p, n_bins, strategy), strict=True)
    )
    return ClasswiseReliability(
        diagrams=diagrams, classwise_ece=float(np.mean([d.ece for d in diagrams]))
    )


@dataclass(frozen=True, eq=False, kw_only=True)
class BrierDecomposition(Record):
    """Murphy's decomposition of the Brier score, per class and summed over classes.

    For each class's one-vs-rest forecasts binned as in the module notes, with ``n_b``
    images, mean forecast ``f_b`` and observed frequency ``o_b`` in bin ``b``, and base
    rate ``o``:

    - reliability = sum_b n_b (f_b - o_b)^2 / n  (lower is better)
    - resolution = sum_b n_b (o_b - o)^2 / n  (higher is better)
    - uncertainty = o (1 - o)

    ``reliability - resolution + uncertainty`` is exactly the Brier score of the
    *binned* forecasts (each forecast replaced by its bin's mean), ``binned_brier``.
    The Brier score of the raw forecasts, ``brier``, differs from it by
    ``within_bin``, the spread of the forecasts inside their bins (Stephenson et al.
    2008); it vanishes when every bin holds a single forecast value. ``brier`` is the
    multiclass Brier score, the sum of ``per_class_brier`` (up to rounding).
    """

    class_names: tuple[str, ...]
    strategy: str
    n_bins: int
    reliability: float
    resolution: float
    uncertainty: float
    binned_brier: float
    brier: float
    within_bin: float
    per_class_reliability: np.ndarray
    per_class_resolution: np.ndarray
    per_class_uncertainty: np.ndarray
    per_class_brier: np.ndarray


def _decompose(
    bins: _Bins, forecast: np.ndarray, outcome: np.ndarray
) -> tuple[float, float, float, float]:
    """Reliability, resolution, uncertainty and raw Brier score of one class."""
    n = len(outcome)
    full = bins.count > 0
    f_b, o_b = (m[full] for m in bins.means())
    n_b = bins.count[full]
    base = outcome.mean()
    return (
        float(np.sum(n_b * (f_b - o_b) ** 2) / n),
        float(np.sum(n_b * (o_b - base) ** 2) / n),
        float(base * (1 - base)),
        float(np.mean((forecast - outcome) ** 2)),
    )


def brier_decomposition(
    y_true: ArrayLike,
    proba: ArrayLike,
    *,
    class_names: Sequence[Any] | None = None,
    n_bins: int = 15,
    strategy: Strategy = "uniform",
) -> BrierDecomposition:
    """Murphy's reliability / resolution / uncertainty decomposition of the Brier score.

    Parameters
    ----------
    y_true : array-like of int, shape (n_samples,)
    proba : array-like of float, shape (n_samples, n_classes)
    class_names : sequence of str, optional
    n_bins : int
    strategy : {"uniform", "quantile"}

    Returns
    -------
    BrierDecomposition
    """
    y, p, names = check_predictions(y_true, proba, class_names)
    _check_bins(n_bins)
    parts = np.array(
        [
            _decompose(bins, p[:, k], (y == k).astype(np.float64))
            for k, bins in enumerate(_class_bins(y, p, n_bins, strategy))
        ]
    )
    rel, res, unc, per_class_brier = parts.T
    binned = rel.sum() - res.sum() + unc.sum()
    brier = core.multiclass_brier(y, p)
    return BrierDecomposition(
        class_names=names,
        strategy=strategy,
        n_bins=n_bins,
        reliability=float(rel.sum()),
        resolution=float(res.sum()),
        uncertainty=float(unc.sum()),
        binned_brier=float(binned),
        brier=brier,
        within_bin=float(brier - binned),
        per_class_reliability=rel,
        per_class_resolution=res,
        per_class_uncertainty=unc,
        per_class_brier=per_class_brier,
    )


@dataclass(frozen=True, eq=False, kw_only=True)
class CalibrationSummary(Record):
    """Everything about one model's calibration: errors, diagrams and the Brier decomposition."""

    n_bins: int
    ece: float
    mce: float
    classwise_ece: float
    top_label: ReliabilityDiagram
    top_label_quantile: ReliabilityDiagram
    classwise: ClasswiseReliability
    brier: BrierDecomposition


def calibration_summary(
    y_true: ArrayLike,
    proba: ArrayLike,
    *,
    class_names: Sequence[Any] | None = None,
    n_bins: int = 15,
) -> CalibrationSummary:
    """ECE, MCE, class-wise ECE, reliability diagrams and the Brier decomposition.

    ECE and MCE come from the top-label diagram with uniform bins; the quantile-bin
    diagram is kept alongside it, since uniform bins at high confidence hold most images.

    Parameters
    ----------
    y_true : array-like of int, shape (n_samples,)
    proba : array-like of float, shape (n_samples, n_classes)
    class_names : sequence of str, optional
    n_bins : int

    Returns
    -------
    CalibrationSummary
    """
    y, p, names = check_predictions(y_true, proba, class_names)
    top = reliability_diagram(y, p, n_bins=n_bins)
    classwise = classwise_reliability(y, p, class_names=names, n_bins=n_bins)
    return CalibrationSummary(
        n_bins=n_bins,
        ece=top.ece,
        mce=top.mce,
        classwise_ece=classwise.classwise_ece,
        top_label=top,
        top_label_quantile=reliability_diagram(y, p, n_bins=n_bins, strategy="quantile"),
        classwise=classwise,
        brier=brier_decomposition(y, p, class_names=names, n_bins=n_bins),
    )
