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

#: Pixels at the top of every chart kept for plotly's mode bar (shown on hover): the
#: title starts below them, so the bar never covers it.
MODEBAR_STRIP = 28

#: A title line's height, and the space between the title and the plot.
_TITLE_LINE_PX = 24
_TITLE_GAP = 12

#: Mode bar buttons the report's charts do without: selections and hover modes mean
#: nothing on them, and each widens the bar.
_MODEBAR_REMOVE = [
    "select2d",
    "lasso2d",
    "autoScale2d",
    "toggleSpikelines",
    "hoverClosestCartesian",
    "hoverCompareCartesian",
]

#: A chart's width in screen pixels in a grid of 1, 2 or 3 columns, with the report at
#: its widest (its CSS: 1280 pixels of main column, less padding and gaps).
CELL_WIDTH = {1: 1032, 2: 510, 3: 336}

#: The width plotly gives a colour bar (with its tick labels), taken from the plot, and
#: the least plot height that leaves its tick labels apart.
_COLORBAR = 100
_COLORBAR_PLOT = 180


def figure_html(fig: Any, *, name: str, columns: int = 1) -> FigureHTML:
    """A chart as an HTML fragment that uses the report's single embedded plotly.js.

    A long title is broken into lines of at most :data:`TITLE_LINE` characters, below a
    strip kept for the mode bar, with the top margin and the height grown to hold them.
    An image mosaic (square pixels) is made no taller than it is drawn in a grid of
    ``columns`` columns, and its heat map values are stored compactly.
    """
    title = fig.layout.title.text or ""
    lines = textwrap.wrap(title, TITLE_LINE) if "<br>" not in title else title.split("<br>")
    if len(lines) > 1:
        fig.update_layout(title_text="<br>".join(lines))
    top = MODEBAR_STRIP + _TITLE_LINE_PX * max(len(lines), 1) + _TITLE_GAP
    margin = {"l": 60, "r": 20, "t": top, "b": 50}
    # An explicit height sizes the chart's box before plotly draws it, so a short
    # figure (one row of pixel maps) leaves no empty space below it.
    height = (fig.layout.height or DEFAULT_HEIGHT) + top - 50
    fitted = _mosaic_height(fig, CELL_WIDTH.get(columns, CELL_WIDTH[1]), margin)
    if fitted is not None:
        height = min(height, fitted)
    compact_heatmaps(fig)
    fig.update_layout(
        template="plotly_white",
        margin=margin,
        font={"size": 12},
        height=height,
        # Anchored above the plot's top. Plotly puts a title's first line at the anchor
        # and the others under it, so the anchor is raised by the lines below the first.
        title={
            "yref": "paper",
            "y": 1,
            "yanchor": "bottom",
            "pad": {"b": _TITLE_GAP + _TITLE_LINE_PX * (max(len(lines), 1) - 1)},
        },
    )
    return FigureHTML(
        fig.to_html(
            full_html=False,
            include_plotlyjs=False,
            div_id=f"chart-{name}",
            config={
                "displaylogo": False,
                "responsive": True,
                "modeBarButtonsToRemove": _MODEBAR_REMOVE,
            },
        )
    )


def _array(value: Any) -> np.ndarray | None:
    """A trace's array, also as plotly stores it in JSON (a typed buffer in base64)."""
    if value is None:
        return None
    if isinstance(value, dict) and "bdata" in value:
        data = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = value.get("shape")
        if shape:
            data = data.reshape([int(n) for n in str(shape).split(",")])
        return data
    return np.asarray(value)


def _mosaic_height(fig: Any, width: int, margin: dict[str, int]) -> int | None:
    """The height at which a mosaic of images (one plot, y anchored to x) fills ``width``
    pixels; None for other charts. Plotly keeps pixels square by shrinking the plot, so
    a taller box would only be empty above and below it."""
    layout = fig.layout
    if layout.yaxis.scaleanchor != "x" or any(
        k.startswith(("xaxis", "yaxis")) and k not in ("xaxis", "yaxis")
        for k in layout.to_plotly_json()
    ):
        return None
    shape = None
    bar = False
    for trace in fig.data:
        if trace.type == "heatmap":
            z = _array(trace.z)
            shape = shape or (None if z is None or z.ndim != 2 else z.shape)
            bar = bar or trace.showscale is not False
        elif trace.type == "image" and shape is None:
            shape = _image_shape(trace)
    if not shape or not shape[0] or not shape[1]:
        return None
    plot = width - margin["l"] - margin["r"] - (_COLORBAR if bar else 0)
    # A colour bar is as tall as the plot: it keeps room for its tick labels.
    tall = max(plot * shape[0] / shape[1], _COLORBAR_PLOT if bar else 0)
    return int(np.ceil(margin["t"] + margin["b"] + tall))


def _image_shape(trace: Any) -> tuple[int, int] | None:
    z = _array(trace.z)
    if z is not None:
        return (int(z.shape[0]), int(z.shape[1]))
    source = trace.source or ""
    if not source.startswith("data:image/png;base64,"):
        return None
    from PIL import Image

    with Image.open(io.BytesIO(base64.b64decode(source.split(",", 1)[1]))) as image:
        return (image.height, image.width)


def compact_heatmaps(fig: Any) -> None:
    """Make a figure's heat maps smaller in the page without changing what they show.

    Values are stored as float32 (plotly writes float64, and colours and hover labels
    need no more). A mosaic of images that shows nothing on hover (the first trace, a
    heat map without a colour bar) becomes one PNG picture of the colours it had, with
    transparent gaps: a few kilobytes where its values took hundreds.
    """
    import plotly.graph_objects as go

    heatmaps = [t for t in fig.data if t.type == "heatmap"]
    for trace in heatmaps:
        z = _array(trace.z)
        if z is not None and z.dtype == np.float64:
            trace.z = z.astype(np.float32)
    # Only the first trace: plotly draws a picture below every heat map, so one under
    # an overlay stays under it.
    if not heatmaps or fig.data[0] is not heatmaps[0]:
        return
    trace = heatmaps[0]
    picture = _as_picture(trace)
    if picture is None:
        return
    # The picture takes the heat map's place in the drawing order.
    traces = list(fig.data)
    at = traces.index(trace)
    fig.data = traces[:at]
    fig.add_trace(go.Image(source=picture, x0=0, dx=1, y0=0, dy=1, hoverinfo="skip"))
    for later in traces[at + 1 :]:
        fig.add_trace(later)


def _as_picture(trace: Any) -> str | None:
    """A heat map's colours as an RGBA PNG data URI; None where a picture would lose
    something (hover text, a colour bar, axes of its own, smoothing)."""
    if (
        trace.hoverinfo != "skip"
        or trace.hovertemplate
        or trace.showscale is not False
        or trace.x is not None
        or trace.y is not None
        or trace.zsmooth not in (None, False)
        or trace.zmin is None
        or trace.zmax is None
        or trace.zmax <= trace.zmin
    ):
        return None
    stops = _stops(trace.colorscale)
    z = _array(trace.z)
    if stops is None or z is None or z.ndim != 2:
        return None
    where, colours = stops
    share = np.clip((z - trace.zmin) / (trace.zmax - trace.zmin), 0.0, 1.0)
    missing = ~np.isfinite(z)
    share = np.where(missing, 0.0, share)
    rgba = np.empty((*z.shape, 4), dtype=np.uint8)
    for channel in range(3):
        rgba[..., channel] = np.rint(np.interp(share, where, colours[:, channel]))
    rgba[..., 3] = np.where(missing, 0, 255)
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(rgba, mode="RGBA").save(buffer, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _stops(colorscale: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """A colour scale's positions and RGB colours; None for one given by name."""
    from plotly.colors import hex_to_rgb, unlabel_rgb

    if not isinstance(colorscale, list | tuple) or len(colorscale) < 2:
        return None
    where, colours = [], []
    for position, colour in colorscale:
        colour = str(colour).strip()
        if colour.startswith("#") and len(colour) == 7:
            rgb = hex_to_rgb(colour)
        elif colour.startswith("rgb("):
            rgb = unlabel_rgb(colour)
        else:
            return None
        where.append(float(position))
        colours.append([float(c) for c in rgb])
    return np.asarray(where), np.asarray(colours)


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
                # Just above the plot, under the strip the mode bar takes.
                "x": 1.0,
                "xanchor": "right",
                "y": 1.02,
                "yanchor": "bottom",
            }
        ],
        legend={"title": "model (click to toggle)"},
    )
    return fig
