"""Matplotlib displays of the evaluation records, in scikit-learn's Display style.

A display holds one record. ``from_predictions(...)`` computes the record and draws it;
``plot(ax=None)`` draws on the axes it is given, or on a new figure made without
pyplot, and returns the display with ``ax_`` and ``figure_`` set. Nothing here touches
pyplot's global state: no current figure or axes, no rcParams, no ``show()``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from shallowvision._plotting import MAX_LEGEND, Display, draw_tiles, new_axes
from shallowvision.evaluation._calibration import (
    ReliabilityDiagram,
    Strategy,
    reliability_diagram,
)
from shallowvision.evaluation._curves import CurveSet, pr_curves, roc_curves
from shallowvision.evaluation._errors import (
    ConfusionResult,
    ErrorOverlap,
    Gallery,
    confidently_wrong,
    confusion,
    error_overlap,
)
from shallowvision.evaluation._robustness import RobustnessResult
from shallowvision.evaluation._thresholds import ThresholdCurves, threshold_curves
from shallowvision.evaluation._uncertainty import (
    CorrectWrongHistogram,
    RiskCoverage,
    confidence_histogram,
    entropy_histogram,
    risk_coverage,
)
from shallowvision.exceptions import DataError

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = [
    "ConfusionDisplay",
    "CurvesDisplay",
    "ErrorOverlapDisplay",
    "GalleryDisplay",
    "HistogramDisplay",
    "ReliabilityDisplay",
    "RiskCoverageDisplay",
    "RobustnessDisplay",
    "ThresholdDisplay",
]

# Matrices larger than this are drawn without a number in every cell.
_MAX_ANNOTATED = 20


def _diagonal(ax: Axes, label: str) -> None:
    """The y = x reference line: chance for ROC, perfect calibration for reliability."""
    ax.plot([0, 1], [0, 1], ls=":", color="grey", lw=1, label=label)


class CurvesDisplay(Display):
    """ROC or precision-recall curves: one thin line per class, bold dashed averages.

    Parameters
    ----------
    curves : CurveSet
    """

    def __init__(self, curves: CurveSet) -> None:
        self.curves = curves

    @classmethod
    def from_predictions(
        cls,
        y_true: ArrayLike,
        scores: ArrayLike,
        *,
        kind: Literal["roc", "pr"] = "roc",
        class_names: Sequence[Any] | None = None,
        ax: Axes | None = None,
    ) -> CurvesDisplay:
        """Compute ROC (``kind="roc"``) or PR curves from scores and draw them."""
        if kind not in ("roc", "pr"):
            raise DataError(f"kind must be 'roc' or 'pr', got {kind!r}")
        compute = roc_curves if kind == "roc" else pr_curves
        return cls(compute(y_true, scores, class_names=class_names)).plot(ax=ax)

    def plot(self, ax: Axes | None = None) -> CurvesDisplay:
        """Draw on ``ax`` (a new figure if None); return self."""
        ax = self._start(ax)
        cs = self.curves
        per_class = cs.class_curves
        many = len(per_class) > MAX_LEGEND
        step = "steps-post" if cs.kind == "pr" else "default"
        for c in per_class:
            ax.plot(
                c.x,
                c.y,
                lw=1.0,
                alpha=0.45 if many else 0.9,
                drawstyle=step,
                label=None if many else cs.legend(c),
            )
        for c in cs.curves:
            if c.label in ("micro", "macro"):
                ax.plot(
                    c.x,
                    c.y,
                    lw=2.2,
                    ls="--",
                    color="black" if c.label == "micro" else "tab:red",
                    label=cs.legend(c),
                )
        if cs.kind == "roc":
            _diagonal(ax, "chance")
            ax.set_aspect("equal")
        elif len(per_class) == 1 and per_class[0].prevalence is not None:
            ax.axhline(per_class[0].prevalence, ls=":", color="grey", lw=1, label="chance")
        ax.set(
            xlim=(-0.01, 1.01),
            ylim=(-0.01, 1.01),
            xlabel=cs.x_label,
            ylabel=cs.y_label,
            title=("ROC" if cs.kind == "roc" else "Precision-recall") + " curves, one-vs-rest",
        )
        ax.legend(loc="lower right" if cs.kind == "roc" else "lower left", fontsize="small")
        return self


class ThresholdDisplay(Display):
    """Precision, recall and F1 against the threshold, with the F1-optimal threshold marked.

    With one class (or ``label`` given) all three metrics are drawn; with several, the
    F1 curve of every class with a dot at each one's best threshold.
    """

    def __init__(self, curves: ThresholdCurves) -> None:
        self.curves = curves

    @classmethod
    def from_predictions(
        cls,
        y_true: ArrayLike,
        scores: ArrayLike,
        *,
        class_names: Sequence[Any] | None = None,
        label: str | None = None,
        ax: Axes | None = None,
    ) -> ThresholdDisplay:
        """Compute the threshold curves from scores and draw them."""
        return cls(threshold_curves(y_true, scores, class_names=class_names)).plot(
            ax=ax, label=label
        )

    def plot(self, ax: Axes | None = None, *, label: str | None = None) -> ThresholdDisplay:
        """Draw on ``ax``; ``label`` picks one class's curve. Returns self."""
        ax = self._start(ax)
        curves = self.curves.curves
        if label is not None:
            curves = tuple(c for c in curves if c.label == label)
            if not curves:
                raise DataError(f"no threshold curve for class {label!r}")
        if len(curves) == 1:
            c = curves[0]
            for name, values in (("precision", c.precision), ("recall", c.recall), ("F1", c.f1)):
                ax.plot(c.thresholds, values, lw=1.6, label=name)
            ax.axvline(
                c.best.threshold,
                color="black",
                ls="--",
                lw=1,
                label=f"max F1 {c.best.f1:.3f} at {c.best.threshold:.3g}",
            )
            ax.set_title(f"{c.label}: metrics against the decision threshold")
        else:
            for c in curves:
                (line,) = ax.plot(
                    c.thresholds,
                    c.f1,
                    lw=1.0,
                    alpha=0.7,
                    label=None if len(curves) > MAX_LEGEND else c.label,
                )
                ax.plot([c.best.threshold], [c.best.f1], "o", ms=4, color=line.get_color())
            ax.set_title("F1 against the threshold, per class (dots: F1-optimal)")
        ax.set(xlabel="Decision threshold", ylabel="Score", ylim=(-0.01, 1.01))
        if len(curves) <= MAX_LEGEND:
            ax.legend(fontsize="small", loc="lower left")
        return self


class ReliabilityDisplay(Display):
    """A reliability diagram: observed frequency per bin against the diagonal, bin counts below."""

    def __init__(self, diagram: ReliabilityDiagram) -> None:
        self.diagram = diagram

    @classmethod
    def from_predictions(
        cls,
        y_true: ArrayLike,
        proba: ArrayLike,
        *,
        n_bins: int = 15,
        strategy: Strategy = "uniform",
        ax: Axes | None = None,
    ) -> ReliabilityDisplay:
        """Compute the top-label reliability diagram and draw it."""
        return cls(reliability_diagram(y_true, proba, n_bins=n_bins, strategy=strategy)).plot(ax=ax)

    def plot(
        self, ax: Axes | None = None, *, show_counts: bool = True, legend: bool = True
    ) -> ReliabilityDisplay:
        """Draw on ``ax``; ``show_counts`` adds the images per bin on a second axis. Returns self."""
        ax = self._start(ax)
        d = self.diagram
        full = d.counts > 0
        left, width = d.bin_edges[:-1][full], np.diff(d.bin_edges)[full]
        _diagonal(ax, "perfectly calibrated")
        ax.bar(
            left,
            d.observed[full],
            width=width,
            align="edge",
            color="tab:blue",
            alpha=0.55,
            edgecolor="tab:blue",
            label="observed",
        )
        ax.plot(
            d.mean_forecast[full],
            d.observed[full],
            "o",
            ms=3.5,
            color="black",
            label="bin mean forecast",
        )
        top = d.label == "top-label"
        ax.set(
            xlim=(0, 1),
            ylim=(0, 1),
            xlabel="Confidence" if top else f"Predicted probability of {d.label}",
            ylabel="Accuracy" if top else "Observed frequency",
            title=f"{d.label} ({d.strategy} bins): ECE {d.ece:.3f}, MCE {d.mce:.3f}",
        )
        if show_counts:
            counts_ax = ax.twinx()
            counts_ax.bar(left, d.counts[full], width=width, align="edge", color="grey", alpha=0.35)
            # The count bars fill the lowest quarter, under the calibration bars' tops.
            counts_ax.set_ylim(0, 4 * max(int(d.counts.max()), 1))
            counts_ax.set_ylabel("images per bin", color="grey")
            counts_ax.tick_params(axis="y", colors="grey", labelsize="small")
            self.counts_ax_ = counts_ax
        if legend:
            ax.legend(loc="upper left", fontsize="small")
        return self


class HistogramDisplay(Display):
    """Confidence or entropy of correct and wrong predictions, with the error rate per bin."""

    def __init__(self, histogram: CorrectWrongHistogram) -> None:
        self.histogram = histogram

    @classmethod
    def from_predictions(
        cls,
        y_true: ArrayLike,
        proba: ArrayLike,
        *,
        quantity: Literal["confidence", "entropy"] = "confidence",
        n_bins: int = 20,
        ax: Axes | None = None,
    ) -> HistogramDisplay:
        """Compute the confidence (or entropy) histogram and draw it."""
        if quantity not in ("confidence", "entropy"):
            raise DataError(f"quantity must be 'confidence' or 'entropy', got {quantity!r}")
        compute = confidence_histogram if quantity == "confidence" else entropy_histogram
        return cls(compute(y_true, proba, n_bins=n_bins)).plot(ax=ax)

    def plot(self, ax: Axes | None = None, *, log: bool = True) -> HistogramDisplay:
        """Draw on ``ax``; ``log`` puts the counts on a log scale. Returns self."""
        ax = self._start(ax)
        h = self.histogram
        left, width = h.bin_edges[:-1], np.diff(h.bin_edges)
        ax.bar(
            left,
            h.correct,
            width=width,
            align="edge",
            alpha=0.55,
            color="tab:green",
            label="correct",
        )
        ax.bar(left, h.wrong, width=width, align="edge", alpha=0.55, color="tab:red", label="wrong")
        if log:
            ax.set_yscale("log")
        unit = " (nats)" if h.quantity == "entropy" else ""
        ax.set(
            xlabel=f"{h.quantity.capitalize()}{unit}",
            ylabel="images",
            title=f"{h.quantity.capitalize()} of correct and wrong predictions",
        )
        rate_ax = ax.twinx()
        centres = left + width / 2
        rate_ax.plot(centres, h.error_rate, "o-", color="black", ms=3, lw=1.2)
        rate_ax.set_ylim(0, 1)
        rate_ax.set_ylabel("error rate in bin")
        self.rate_ax_ = rate_ax
        ax.legend(loc="upper center", fontsize="small")
        return self


class RiskCoverageDisplay(Display):
    """Accuracy on the kept images against coverage, with the target accuracy marked."""

    def __init__(self, result: RiskCoverage) -> None:
        self.result = result

    @classmethod
    def from_predictions(
        cls,
        y_true: ArrayLike,
        proba: ArrayLike,
        *,
        target_accuracy: float = 0.99,
        ax: Axes | None = None,
    ) -> RiskCoverageDisplay:
        """Compute the risk-coverage curve and draw it."""
        return cls(risk_coverage(y_true, proba, target_accuracy=target_accuracy)).plot(ax=ax)

    def plot(self, ax: Axes | None = None) -> RiskCoverageDisplay:
        """Draw on ``ax``; return self."""
        ax = self._start(ax)
        r = self.result
        ax.plot(r.coverage, r.accuracy, lw=1.8, label=f"selective accuracy (AURC {r.aurc:.4f})")
        ax.axhline(
            r.target_accuracy, color="grey", ls=":", lw=1, label=f"target {r.target_accuracy:g}"
        )
        if r.coverage_at_target is not None:
            ax.axvline(
                r.coverage_at_target,
                color="black",
                ls="--",
                lw=1,
                label=f"coverage {r.coverage_at_target:.3f} reaches it",
            )
        ax.set(
            xlim=(0, 1.01),
            xlabel="Coverage (share of images kept)",
            ylabel="Accuracy on the kept images",
            title="Risk-coverage: abstaining on the least confident",
        )
        ax.legend(loc="lower left", fontsize="small")
        return self


def _draw_matrix(
    ax: Axes,
    values: np.ndarray,
    labels: Sequence[str],
    *,
    text: np.ndarray | None,
    title: str,
    xlabel: str,
    ylabel: str,
    colorbar_label: str,
) -> None:
    """A labelled heat map with optional per-cell text: confusion and overlap matrices alike."""
    image = ax.imshow(
        np.ma.masked_invalid(values.astype(np.float64)), cmap="Blues", interpolation="nearest"
    )
    ax.figure.colorbar(image, ax=ax, label=colorbar_label, shrink=0.8)
    ticks = np.arange(len(labels))
    small = len(labels) > _MAX_ANNOTATED
    ax.set_xticks(
        ticks,
        labels,
        rotation=90 if small else 45,
        ha="center" if small else "right",
        fontsize="x-small" if small else "small",
    )
    ax.set_yticks(ticks, labels, fontsize="x-small" if small else "small")
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    if text is not None and not small:
        finite = values[np.isfinite(values)]
        middle = (finite.max() + finite.min()) / 2 if finite.size else 0.0
        for (i, j), cell in np.ndenumerate(text):
            ax.text(
                j,
                i,
                cell,
                ha="center",
                va="center",
                fontsize="x-small",
                color="white" if values[i, j] > middle else "black",
            )


class ConfusionDisplay(Display):
    """The confusion matrix, in counts or row-normalised."""

    _figsize = (7.0, 6.0)

    def __init__(self, result: ConfusionResult) -> None:
        self.result = result

    @classmethod
    def from_predictions(
        cls,
        y_true: ArrayLike,
        y_pred: ArrayLike,
        *,
        class_names: Sequence[Any] | None = None,
        normalize: bool = False,
        ax: Axes | None = None,
    ) -> ConfusionDisplay:
        """Compute the confusion matrix from predicted labels and draw it."""
        return cls(confusion(y_true, y_pred, class_names=class_names)).plot(
            ax=ax, normalize=normalize
        )

    def plot(self, ax: Axes | None = None, *, normalize: bool = False) -> ConfusionDisplay:
        """Draw counts, or row-normalised shares if ``normalize``; return self."""
        ax = self._start(ax)
        r = self.result
        values = r.normalized if normalize else r.counts
        text = (
            np.vectorize(lambda v: "" if not np.isfinite(v) else f"{v:.2f}")(values)
            if normalize
            else r.counts.astype(str)
        )
        _draw_matrix(
            ax,
            values,
            r.class_names,
            text=text,
            title="Confusion matrix"
            + (" (share of each true class)" if normalize else " (images)"),
            xlabel="Predicted class",
            ylabel="True class",
            colorbar_label="share of true class" if normalize else "images",
        )
        return self


class ErrorOverlapDisplay(Display):
    """How many images each pair of models both get wrong (diagonal: each model's errors)."""

    def __init__(self, overlap: ErrorOverlap) -> None:
        self.overlap = overlap

    @classmethod
    def from_predictions(
        cls, y_true: ArrayLike, predictions: dict[str, ArrayLike], *, ax: Axes | None = None
    ) -> ErrorOverlapDisplay:
        """Compute the error overlap of several models' predictions and draw it."""
        return cls(error_overlap(y_true, predictions)).plot(ax=ax)

    def plot(self, ax: Axes | None = None) -> ErrorOverlapDisplay:
        """Draw on ``ax``; return self."""
        ax = self._start(ax)
        o = self.overlap
        _draw_matrix(
            ax,
            o.both_wrong,
            o.model_names,
            text=o.both_wrong.astype(str),
            title=f"Images both models get wrong ({len(o.all_wrong)} wrong for all)",
            xlabel="Model",
            ylabel="Model",
            colorbar_label="images",
        )
        return self


class GalleryDisplay(Display):
    """Images of a gallery at their own height x width (colour images in colour), each with
    true label, prediction and confidence."""

    def __init__(self, gallery: Gallery, images: ArrayLike) -> None:
        self.gallery = gallery
        self.images = np.asarray(images)
        if not (self.images.ndim == 3 or (self.images.ndim == 4 and self.images.shape[-1] == 3)):
            raise DataError(
                "gallery images must have shape (n, height, width), or (n, height, width, 3) "
                f"in colour, got {self.images.shape}"
            )

    @classmethod
    def from_predictions(
        cls,
        y_true: ArrayLike,
        proba: ArrayLike,
        images: ArrayLike,
        *,
        class_names: Sequence[Any] | None = None,
        max_images: int = 16,
        ax: Axes | None = None,
    ) -> GalleryDisplay:
        """Draw the most confidently wrong images."""
        gallery = confidently_wrong(y_true, proba, class_names=class_names, max_images=max_images)
        return cls(gallery, images).plot(ax=ax)

    def plot(self, ax: Axes | None = None, *, n_cols: int = 8) -> GalleryDisplay:
        """Draw the images as one mosaic on ``ax``; return self."""
        g = self.gallery
        n = len(g.indices)
        cols = max(1, min(n, n_cols))
        rows = max(1, -(-n // cols))
        if ax is None:
            ax = new_axes((1.3 * cols + 0.4, 1.55 * rows + 0.6))
        ax = self._start(ax)
        ax.set_title(f"{g.title} ({n} of {g.n_matching} images)", fontsize="medium")
        captions = [
            f"true {true}\npred {pred} {conf:.2f}"
            for true, pred, conf in zip(g.true, g.predicted, g.confidence, strict=True)
        ]
        draw_tiles(ax, self.images[g.indices], captions, n_cols=cols)
        return self


class RobustnessDisplay(Display):
    """Accuracy against severity, one line per corruption (severity 0 = clean images)."""

    def __init__(self, result: RobustnessResult) -> None:
        self.result = result

    def plot(self, ax: Axes | None = None) -> RobustnessDisplay:
        """Draw on ``ax``; return self."""
        ax = self._start(ax)
        curves = self.result.curves()
        for name, (severity, accuracy) in curves.items():
            ax.plot(severity, accuracy, "o-", lw=1.5, ms=4, label=name)
        top = max((int(s.max()) for s, _ in curves.values()), default=0)
        ax.set_xticks(range(top + 1), ["clean", *map(str, range(1, top + 1))])
        ax.set(
            ylim=(0, 1.01),
            xlabel="Severity",
            ylabel="Accuracy",
            title=f"Accuracy under corruption (clean {self.result.clean_accuracy:.3f})",
        )
        ax.legend(fontsize="small", loc="lower left")
        return self
