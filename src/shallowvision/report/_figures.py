"""Plotly figures and inline images for the report: one place for the report's look."""

from __future__ import annotations

import base64
import io
import textwrap
from typing import Any

import numpy as np

__all__ = ["FigureHTML", "cost_chart", "figure_html", "metric_bars", "png_data_uri"]

#: Qualitative palette: one colour per model, the same in every chart of a report.
PALETTE = (
    "#4C78A8",
    "#F58518",
    "#54A24B",
    "#E45756",
    "#72B7B2",
    "#EECA3B",
    "#B279A2",
    "#FF9DA6",
    "#9D755D",
    "#BAB0AC",
    "#2F4B7C",
    "#A05195",
    "#665191",
    "#D45087",
    "#F95D6A",
    "#FF7C43",
)


class FigureHTML(str):
    """An HTML fragment holding one plotly chart (a ``div`` plus its script)."""


def model_colours(names: list[str]) -> dict[str, str]:
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}


#: Characters of a chart title per line: plotly does not wrap titles, and a longer line
#: is cut off in the report's half-width grid cells.
TITLE_LINE = 50


#: A chart's height when its figure sets none (plotly's own default).
DEFAULT_HEIGHT = 450


def figure_html(fig: Any, *, name: str) -> FigureHTML:
    """A chart as an HTML fragment that uses the report's single embedded plotly.js.

    A long title is broken into lines of at most :data:`TITLE_LINE` characters, with the
    top margin and the height grown to hold them.
    """
    title = fig.layout.title.text or ""
    lines = textwrap.wrap(title, TITLE_LINE) if "<br>" not in title else title.split("<br>")
    if len(lines) > 1:
        fig.update_layout(title_text="<br>".join(lines))
    extra_title = 24 * (max(len(lines), 1) - 1)
    fig.update_layout(
        template="plotly_white",
        margin={"l": 60, "r": 20, "t": 50 + extra_title, "b": 50},
        font={"size": 12},
        # An explicit height sizes the chart's box before plotly draws it, so a short
        # figure (one row of pixel maps) leaves no empty space below it.
        height=(fig.layout.height or DEFAULT_HEIGHT) + extra_title,
    )
    return FigureHTML(
        fig.to_html(
            full_html=False,
            include_plotlyjs=False,
            div_id=f"chart-{name}",
            config={"displaylogo": False, "responsive": True},
        )
    )


def png_data_uri(figure: Any) -> str:
    """A matplotlib Figure as an inline ``data:`` URI (the report works offline)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def file_data_uri(path: Any) -> str:
    """A PNG file as an inline ``data:`` URI."""
    with open(path, "rb") as stream:
        return "data:image/png;base64," + base64.b64encode(stream.read()).decode()


def metric_bars(
    rows: list[dict[str, Any]], metrics: list[str], *, labels: dict[str, str], title: str
) -> Any:
    """Grouped bars: one group per metric, one bar per model (models toggle in the legend)."""
    import plotly.graph_objects as go

    names = [r["model"] for r in rows]
    colours = model_colours(names)
    fig = go.Figure()
    for row in rows:
        values = [row.get(m) for m in metrics]
        fig.add_bar(
            name=row["model"],
            x=[labels.get(m, m) for m in metrics],
            y=[np.nan if v is None else v for v in values],
            marker_color=colours[row["model"]],
            hovertemplate="%{fullData.name}<br>%{x}: %{y:.4f}<extra></extra>",
        )
    fig.update_layout(
        barmode="group",
        title=title,
        yaxis={"range": [0, 1.02]},
        legend={"title": "model (click to toggle)"},
    )
    return fig


def cost_chart(rows: list[dict[str, Any]], *, metric: str, metric_label: str) -> Any:
    """Quality against cost, one trace per model; a menu switches the cost on the x axis."""
    import plotly.graph_objects as go

    names = [r["model"] for r in rows]
    colours = model_colours(names)
    costs = {
        "predict ms per image": "predict_seconds_per_1000",
        "fit seconds": "fit_seconds",
        "size on disk (MB)": "size_bytes",
    }

    def cost(row: dict[str, Any], key: str) -> float:
        value = row.get(key)
        if value is None:
            return float("nan")
        return float(value) / 1e6 if key == "size_bytes" else float(value)

    fig = go.Figure()
    for row in rows:
        fig.add_scatter(
            name=row["model"],
            x=[cost(row, "predict_seconds_per_1000")],
            y=[row.get(metric)],
            mode="markers+text",
            text=[row["model"]],
            textposition="top center",
            marker={
                "size": 14,
                "color": colours[row["model"]],
                "line": {"width": 1, "color": "#333"},
            },
            customdata=[
                [
                    cost(row, "fit_seconds"),
                    cost(row, "predict_seconds_per_1000"),
                    cost(row, "size_bytes"),
                ]
            ],
            hovertemplate=(
                "<b>%{fullData.name}</b><br>"
                + metric_label
                + ": %{y:.4f}<br>fit: %{customdata[0]:.2f} s"
                "<br>predict: %{customdata[1]:.3f} ms/image<br>size: %{customdata[2]:.2f} MB<extra></extra>"
            ),
        )
    buttons = []
    for label, key in costs.items():
        buttons.append(
            {
                "label": label,
                "method": "update",
                "args": [
                    {"x": [[cost(r, key)] for r in rows]},
                    {"xaxis": {"title": {"text": label}, "type": "log"}},
                ],
            }
        )
    fig.update_layout(
        title=f"{metric_label} against cost",
        xaxis={"title": {"text": "predict ms per image"}, "type": "log"},
        yaxis={"title": {"text": metric_label}},
        updatemenus=[
            {
                "buttons": buttons,
                "direction": "down",
                "x": 1.0,
                "xanchor": "right",
                "y": 1.15,
                "yanchor": "top",
            }
        ],
        legend={"title": "model (click to toggle)"},
    )
    return fig
