"""Plotly figure builders for the HTML report: one function per record, each returning a
``plotly.graph_objects.Figure`` (plotly is imported only when a figure is built)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from shallowvision._plotting import add_tiles, log_axis, plotly_figure
from shallowvision.evaluation._calibration import ReliabilityDiagram
from shallowvision.evaluation._calibrators import CalibrationComparison
from shallowvision.evaluation._curves import CurveSet
from shallowvision.evaluation._errors import ConfusionResult, ErrorOverlap, Gallery
from shallowvision.evaluation._records import jsonable
from shallowvision.evaluation._robustness import RobustnessResult
from shallowvision.evaluation._thresholds import ThresholdCurves
from shallowvision.evaluation._uncertainty import CorrectWrongHistogram, RiskCoverage

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = [
    "calibration_figure",
    "confusion_figure",
    "curves_figure",
    "error_overlap_figure",
    "gallery_figure",
    "histogram_figure",
    "reliability_figure",
    "risk_coverage_figure",
    "robustness_figure",
    "threshold_figure",
]

_UNIT = {"range": [0, 1]}


def _diagonal(fig: go.Figure, name: str) -> None:
    """The y = x reference line: chance for ROC, perfect calibration for reliability."""
    import plotly.graph_objects as go

    line = {"dash": "dot", "color": "grey", "width": 1}
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name=name, line=line))


def curves_figure(curves: CurveSet) -> go.Figure:
    """ROC or PR curves: every class and the micro and macro averages (click the legend to hide)."""
    import plotly.graph_objects as go

    name = "ROC" if curves.kind == "roc" else "Precision-recall"
    fig = plotly_figure(f"{name} curves, one-vs-rest", curves.x_label, curves.y_label)
    shape = "hv" if curves.kind == "pr" else "linear"
    for c in curves.curves:
        average = c.label in ("micro", "macro")
        fig.add_trace(
            go.Scatter(
                x=c.x,
                y=c.y,
                mode="lines",
                name=curves.legend(c),
                line={
                    "width": 3 if average else 1.5,
                    "dash": "dash" if average else "solid",
                    "shape": shape,
                },
            )
        )
    if curves.kind == "roc":
        _diagonal(fig, "chance")
    fig.update_xaxes(**_UNIT)
    fig.update_yaxes(**_UNIT)
    return fig


def threshold_figure(curves: ThresholdCurves) -> go.Figure:
    """Precision, recall and F1 against the threshold (one class), or F1 of every class."""
    import plotly.graph_objects as go

    fig = plotly_figure("Metrics against the decision threshold", "Decision threshold", "Score")
    if len(curves.curves) == 1:
        c = curves.curves[0]
        for name, values in (("precision", c.precision), ("recall", c.recall), ("F1", c.f1)):
            fig.add_trace(go.Scatter(x=c.thresholds, y=values, mode="lines", name=name))
        fig.add_vline(
            x=c.best.threshold,
            line_dash="dash",
            annotation_text=f"max F1 {c.best.f1:.3f} at {c.best.threshold:.3g}",
        )
        fig.update_layout(title=f"{c.label}: metrics against the decision threshold")
        return fig
    for c in curves.curves:
        fig.add_trace(
            go.Scatter(x=c.thresholds, y=c.f1, mode="lines", name=c.label, legendgroup=c.label)
        )
        fig.add_trace(
            go.Scatter(
                x=[c.best.threshold],
                y=[c.best.f1],
                mode="markers",
                legendgroup=c.label,
                showlegend=False,
                name=f"{c.label} best",
                hovertext=f"{c.label}: max F1 {c.best.f1:.3f} at {c.best.threshold:.3g}",
            )
        )
    fig.update_layout(title="F1 against the threshold, per class (markers: F1-optimal)")
    return fig


def reliability_figure(
    diagrams: Sequence[ReliabilityDiagram], names: Sequence[str] | None = None
) -> go.Figure:
    """Reliability diagrams overlaid (e.g. before and after calibration), counts in the hover."""
    import plotly.graph_objects as go

    names = list(names) if names is not None else [d.label for d in diagrams]
    top = all(d.label == "top-label" for d in diagrams)
    fig = plotly_figure(
        "Reliability diagram",
        "Confidence" if top else "Predicted probability",
        "Accuracy" if top else "Observed frequency",
    )
    _diagonal(fig, "perfectly calibrated")
    for name, d in zip(names, diagrams, strict=True):
        full = d.counts > 0
        fig.add_trace(
            go.Scatter(
                x=d.mean_forecast[full],
                y=d.observed[full],
                mode="lines+markers",
                name=f"{name} (ECE {d.ece:.3f}, MCE {d.mce:.3f})",
                customdata=d.counts[full],
                hovertemplate="forecast %{x:.3f}<br>observed %{y:.3f}<br>%{customdata} images",
            )
        )
        fig.add_trace(
            go.Bar(
                x=(d.bin_edges[:-1] + d.bin_edges[1:])[full] / 2,
                y=d.counts[full],
                name=f"{name}: images per bin",
                opacity=0.3,
                yaxis="y2",
            )
        )
    fig.update_layout(
        yaxis={"range": [0, 1]},
        xaxis={"range": [0, 1]},
        barmode="group",
        yaxis2={
            "overlaying": "y",
            "side": "right",
            "title": "images per bin",
            "showgrid": False,
            "tickmode": "auto",
        },
        # Under the plot: on its right, the legend would lie over the second axis's labels.
        legend={"orientation": "h", "yanchor": "top", "y": -0.2, "x": 0},
    )
    return fig


def calibration_figure(comparison: CalibrationComparison) -> go.Figure:
    """Before and after reliability diagrams of a post-hoc calibration."""
    pairs = [(comparison.before, "before"), (comparison.after, f"after {comparison.method}")]
    shown = [(d, name) for d, name in pairs if d is not None]
    fig = reliability_figure([d for d, _ in shown], [name for _, name in shown])
    fig.update_layout(title=f"Calibration by {comparison.method}: before and after")
    return fig


def histogram_figure(histogram: CorrectWrongHistogram) -> go.Figure:
    """Confidence or entropy histogram of correct and wrong predictions, error rate per bin."""
    import plotly.graph_objects as go

    h = histogram
    centres = (h.bin_edges[:-1] + h.bin_edges[1:]) / 2
    fig = plotly_figure(
        f"{h.quantity.capitalize()} of correct and wrong predictions", h.quantity, "images"
    )
    fig.add_trace(go.Bar(x=centres, y=h.correct, name="correct", opacity=0.6))
    fig.add_trace(go.Bar(x=centres, y=h.wrong, name="wrong", opacity=0.6))
    fig.add_trace(
        go.Scatter(x=centres, y=h.error_rate, mode="lines+markers", name="error rate", yaxis="y2")
    )
    fig.update_layout(
        barmode="overlay",
        # Counts from 1 up.
        yaxis=log_axis([1, *np.ravel(h.correct), *np.ravel(h.wrong)]),
        yaxis2={
            "overlaying": "y",
            "side": "right",
            "type": "linear",
            "range": [0, 1.02],
            "tickformat": ".0%",
            "nticks": 6,
            # Ticks of its own: an overlaying axis takes the first axis's by default.
            "tickmode": "auto",
            "title": "error rate",
            "showgrid": False,
        },
        legend={"orientation": "h", "y": -0.25},
    )
    return fig


def risk_coverage_figure(result: RiskCoverage) -> go.Figure:
    """Selective accuracy against coverage, with the target accuracy and the coverage reaching it."""
    import plotly.graph_objects as go

    r = result
    fig = plotly_figure(
        "Risk-coverage: abstaining on the least confident", "Coverage", "Accuracy on kept images"
    )
    fig.add_trace(
        go.Scatter(
            x=r.coverage,
            y=r.accuracy,
            mode="lines",
            name=f"AURC {r.aurc:.4f}",
            customdata=r.thresholds,
            hovertemplate="coverage %{x:.3f}<br>accuracy %{y:.4f}<br>confidence >= %{customdata:.3f}",
        )
    )
    fig.add_hline(
        y=r.target_accuracy, line_dash="dot", annotation_text=f"target {r.target_accuracy:g}"
    )
    if r.coverage_at_target is not None:
        fig.add_vline(
            x=r.coverage_at_target,
            line_dash="dash",
            annotation_text=f"coverage {r.coverage_at_target:.3f}",
        )
    return fig


def _heatmap(
    values: np.ndarray, labels: Sequence[str], text: np.ndarray, title: str, axis: str
) -> go.Figure:
    import plotly.graph_objects as go

    fig = plotly_figure(
        title,
        f"Predicted {axis}" if axis == "class" else axis.capitalize(),
        f"True {axis}" if axis == "class" else axis.capitalize(),
    )
    fig.add_trace(
        go.Heatmap(
            z=jsonable(values.astype(np.float64)),
            x=list(labels),
            y=list(labels),
            text=text,
            texttemplate="%{text}" if len(labels) <= 20 else None,
            colorscale="Blues",
        )
    )
    fig.update_yaxes(autorange="reversed")
    return fig


def confusion_figure(result: ConfusionResult, *, normalize: bool = False) -> go.Figure:
    """The confusion matrix as a heat map (counts, or shares of each true class)."""
    values = result.normalized if normalize else result.counts
    text = (
        np.where(np.isfinite(values), np.round(values, 2), np.nan).astype(str)
        if normalize
        else result.counts.astype(str)
    )
    title = "Confusion matrix" + (" (share of each true class)" if normalize else " (images)")
    return _heatmap(values, result.class_names, text, title, "class")


def error_overlap_figure(overlap: ErrorOverlap) -> go.Figure:
    """Images each pair of models both get wrong."""
    return _heatmap(
        overlap.both_wrong,
        overlap.model_names,
        overlap.both_wrong.astype(str),
        f"Images both models get wrong ({len(overlap.all_wrong)} wrong for all)",
        "model",
    )


def gallery_figure(gallery: Gallery, images: ArrayLike, *, n_cols: int = 8) -> go.Figure:
    """A gallery as one mosaic at the images' own size (grey levels, or colour), labelled
    under each tile."""
    g = gallery
    fig = plotly_figure(f"{g.title} ({len(g.indices)} of {g.n_matching} images)", "", "")
    captions = [
        f"true {true}<br>pred {pred} {conf:.2f}"
        for true, pred, conf in zip(g.true, g.predicted, g.confidence, strict=True)
    ]
    add_tiles(fig, np.asarray(images)[g.indices], captions, n_cols=n_cols)
    return fig


def robustness_figure(result: RobustnessResult) -> go.Figure:
    """Accuracy against severity per corruption (severity 0 = clean)."""
    import plotly.graph_objects as go

    fig = plotly_figure(
        f"Accuracy under corruption (clean {result.clean_accuracy:.3f})", "Severity", "Accuracy"
    )
    for name, (severity, accuracy) in result.curves().items():
        fig.add_trace(go.Scatter(x=severity, y=accuracy, mode="lines+markers", name=name))
    fig.update_yaxes(range=[0, 1.01])
    fig.update_xaxes(tickvals=[0, 1, 2, 3], ticktext=["clean", "1", "2", "3"])
    return fig
