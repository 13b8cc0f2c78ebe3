"""Plotly figures of an ensemble comparison for the HTML report."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shallowvision._plotting import plotly_figure
from shallowvision.ensemble._compare import EnsembleComparison

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = ["ensemble_cost_figure", "ensemble_figures", "ensemble_scores_figure"]


def _kind(comparison: EnsembleComparison) -> list[str]:
    return ["member"] * len(comparison.member_rows) + ["ensemble"] * len(comparison.ensemble_rows)


def ensemble_scores_figure(comparison: EnsembleComparison) -> go.Figure:
    """Accuracy and macro F1 of every member and ensemble, side by side."""
    import plotly.graph_objects as go

    c = comparison
    fig = plotly_figure(
        f"Ensembles against their members ({c.n_eval:,} {c.evaluated_on} images)", "", "Score"
    )
    names = [r.model for r in c.rows]
    for metric, label in (("accuracy", "accuracy"), ("f1_macro", "macro F1")):
        fig.add_trace(
            go.Bar(
                x=names,
                y=[getattr(r, metric) for r in c.rows],
                name=label,
                customdata=_kind(c),
                hovertemplate="%{x} (%{customdata}): %{y:.4f}<extra>" + label + "</extra>",
            )
        )
    values = [v for r in c.rows for v in (r.accuracy, r.f1_macro) if v is not None]
    if values:
        fig.update_yaxes(range=[max(0.0, min(values) - 0.05), min(1.0, max(values) + 0.02)])
    fig.update_layout(barmode="group")
    return fig


def ensemble_cost_figure(comparison: EnsembleComparison) -> go.Figure:
    """Fit seconds and prediction seconds per 1,000 images of every member and ensemble."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    c = comparison
    names = [r.model for r in c.rows]
    fig = make_subplots(rows=1, cols=2, subplot_titles=("fit (s)", "predict (s per 1,000 images)"))
    fig.add_trace(go.Bar(x=names, y=[r.fit_seconds for r in c.rows], name="fit"), row=1, col=1)
    fig.add_trace(
        go.Bar(x=names, y=[r.predict_seconds_per_1000 for r in c.rows], name="predict"),
        row=1,
        col=2,
    )
    fig.update_layout(
        title="What the ensembles cost (voting fits include their members')",
        template="plotly_white",
        showlegend=False,
    )
    return fig


def ensemble_figures(comparison: EnsembleComparison) -> dict[str, go.Figure]:
    """Every report figure of an ensemble comparison, by name (``scores``, ``cost``)."""
    return {
        "scores": ensemble_scores_figure(comparison),
        "cost": ensemble_cost_figure(comparison),
    }
