"""Plotly figures and inline images for the report: one place for the report's look."""

from __future__ import annotations

import base64
import functools
import io
import textwrap
from typing import Any

import numpy as np

from shallowvision._plotting import TILE_PX

__all__ = [
    "FigureHTML",
    "cost_chart",
    "figure_html",
    "metric_bars",
    "mosaic_size",
    "png_data_uri",
]

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

#: A title line's height, and the space between the title and the plot (less above a
#: mosaic of images, which has no tick labels at its top).
_TITLE_LINE_PX = 24
_TITLE_GAP = 12
_MOSAIC_TITLE_GAP = 6

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

#: A chart's width in screen pixels in a grid of 1, 2 or 3 columns, in a window 1,400
#: pixels wide (the report's CSS: a 230-pixel menu, then the main column less padding
#: and gaps).
CELL_WIDTH = {1: 1032, 2: 510, 3: 336}

#: The width plotly gives a colour bar (with its tick labels), taken from the plot, and
#: the least plot height that leaves its tick labels apart.
_COLORBAR = 100
_COLORBAR_PLOT = 100

#: Margins of a chart: room for tick labels and axis titles; a mosaic of images, whose
#: axes are hidden, needs none below it.
_MARGIN = {"l": 60, "r": 20, "b": 50}
_MOSAIC_BOTTOM = 2

#: A title line holds about this many pixels of text per character (17-pixel title font).
_TITLE_CHAR_PX = 9

#: Pixels between a y axis and its tick labels: at the corner where both axes start,
#: the first labels of the two would otherwise touch.
_TICK_STANDOFF = 4

#: Pixels subplot titles are raised by, off the tick labels at the top of their plots.
_SUBPLOT_TITLE_SHIFT = 6


#: Height of an entry of a legend under the plot (10-pixel text), and the space above it.
_LEGEND_ROW = 19
_LEGEND_GAP = 8


def _title_line(columns: int) -> int:
    """Characters per title line in a grid of ``columns`` (at most :data:`TITLE_LINE`)."""
    width = CELL_WIDTH.get(columns, CELL_WIDTH[1])
    return min(TITLE_LINE, (width - 40) // _TITLE_CHAR_PX)


def _legend_below(fig: Any) -> int:
    """Entries of a legend the figure puts under its plot (0 for a legend elsewhere).

    Placed as a fraction of the plot's height, such a legend runs into the x axis's
    title whenever plotly gives the plot a different height: the report stacks its
    entries, one a line, at the bottom of the chart, in a margin kept for them.
    """
    legend = fig.layout.legend
    if legend.orientation != "h" or legend.y is None or legend.y >= 0:
        return 0
    return sum(1 for t in fig.data if t.showlegend is not False and t.name)


def _subplot_titles(fig: Any) -> list[Any]:
    """The annotations plotly's ``make_subplots`` puts above the top row of plots."""
    return [
        a
        for a in fig.layout.annotations
        if a.xref == "paper"
        and a.yref == "paper"
        and a.yanchor == "bottom"
        and a.showarrow is False
        and a.y is not None
        and a.y >= 0.99
    ]


def figure_html(fig: Any, *, name: str, columns: int = 1) -> FigureHTML:
    """A chart as an HTML fragment that uses the report's single embedded plotly.js.

    A long title is broken into lines that fit a cell of a grid of ``columns`` columns
    (at most :data:`TITLE_LINE` characters), below a strip kept for the mode bar, with
    the top margin and the height grown to hold them, and subplot titles under it. An
    image mosaic (square pixels) is sized to show its images :data:`TILE_PX` pixels high
    where the cell is wide enough and no taller than the cell draws it, and its heat map
    values are stored compactly. A secondary axis gets ticks of its own (plotly would
    put them where the first axis has its), and y tick labels stand off the x axis's.
    """
    title = fig.layout.title.text or ""
    lines = (
        textwrap.wrap(title, _title_line(columns)) if "<br>" not in title else title.split("<br>")
    )
    if len(lines) > 1:
        fig.update_layout(title_text="<br>".join(lines))
    # Subplot titles take a line of their own between the title and the plots.
    subtitles = _subplot_titles(fig)
    for annotation in subtitles:
        annotation.yshift = _SUBPLOT_TITLE_SHIFT
    below = max(len(lines), 1) - 1 + (1 if subtitles else 0)
    mosaic = mosaic_size(fig, columns)
    gap = _MOSAIC_TITLE_GAP if mosaic is not None and mosaic["tile"] is not None else _TITLE_GAP
    top = MODEBAR_STRIP + _TITLE_LINE_PX * (below + 1) + gap
    margin = {"t": top, **_MARGIN}
    # An explicit height sizes the chart's box before plotly draws it, so a short
    # figure (one row of pixel maps) leaves no empty space below it.
    height = (fig.layout.height or DEFAULT_HEIGHT) + top - 50
    if mosaic is not None:
        margin = mosaic["margin"] | {"t": top}
        height = top + margin["b"] + mosaic["plot_height"]
    entries = _legend_below(fig)
    if entries:
        room = _LEGEND_GAP + _LEGEND_ROW * entries
        margin["b"] += room
        height += room
        fig.update_layout(
            legend={
                "orientation": "v",
                "x": 0,
                "xanchor": "left",
                "yref": "container",
                "y": 0,
                "yanchor": "bottom",
            }
        )
    compact_heatmaps(fig)
    for axis in _axes(fig, "yaxis"):
        if axis.overlaying and axis.tickmode is None:
            axis.tickmode = "auto"
        if axis.ticklabelstandoff is None:
            axis.ticklabelstandoff = _TICK_STANDOFF
    fig.update_layout(
        margin=margin,
        font={"size": 12},
        height=height,
        # Anchored above the plot's top. Plotly puts a title's first line at the anchor
        # and the others under it, so the anchor is raised by the lines below the first.
        title={
            "yref": "paper",
            "y": 1,
            "yanchor": "bottom",
            "pad": {"b": gap + _TITLE_LINE_PX * below},
        },
    )
    import plotly.io

    # The template is set in the figure's JSON: plotly checks every one of its values
    # each time a figure is given it, which took two thirds of a report's rendering.
    spec = fig.to_plotly_json()
    spec["layout"]["template"] = _white_template()
    return FigureHTML(
        plotly.io.to_html(
            spec,
            validate=False,
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


@functools.cache
def _white_template() -> dict[str, Any]:
    """Plotly's ``plotly_white`` template, every chart's, as JSON."""
    import plotly.io

    template: dict[str, Any] = plotly.io.templates["plotly_white"].to_plotly_json()
    return template


def _axes(fig: Any, kind: str) -> list[Any]:
    """The layout's axes of one kind (``"xaxis"`` or ``"yaxis"``): ``yaxis``, ``yaxis2``, ..."""
    return [
        fig.layout[key]
        for key in fig.layout.to_plotly_json()
        if key == kind or (key.startswith(kind) and key[len(kind) :].isdigit())
    ] or [fig.layout[kind]]


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


def mosaic_size(fig: Any, columns: int = 1) -> dict[str, Any] | None:
    """How a mosaic of images (one plot, y anchored to x) is drawn in a cell of a grid of
    ``columns``: its margins, its plot's height and the side of its images in screen
    pixels (``tile``); None for other charts.

    The images are :data:`TILE_PX` pixels high where the cell is wide enough, smaller
    where it is not: plotly keeps pixels square by shrinking the plot, so a taller box
    would only be empty above and below it. A colour bar is as tall as the plot, with
    room for its tick labels.
    """
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
    tall, wide = float(shape[0]), float(shape[1])
    margin = dict(_MARGIN)
    if layout.xaxis.range is not None and layout.yaxis.range is not None:
        # The axes hold the tiles and the captions under their last row: hidden, they
        # need no margin below.
        tall = abs(layout.yaxis.range[0] - layout.yaxis.range[1])
        wide = abs(layout.xaxis.range[1] - layout.xaxis.range[0])
        if layout.xaxis.visible is False and layout.yaxis.visible is False:
            margin["b"] = _MOSAIC_BOTTOM
    labels = [
        len(str(a.text))
        for a in layout.annotations
        if a.xanchor == "right" and a.x is not None and a.x < 0
    ]
    if labels:
        # Row labels, left of the images, in 12-pixel text.
        margin["l"] = max(margin["l"], 16 + 7 * max(labels))
    width = CELL_WIDTH.get(columns, CELL_WIDTH[1])
    plot = width - margin["l"] - margin["r"] - (_COLORBAR if bar else 0)
    scale = plot / wide  # screen pixels per image pixel, filling the width
    tiles = layout.meta.get("tiles") if isinstance(layout.meta, dict) else None
    if tiles:
        scale = min(scale, TILE_PX / max(tiles["size"][0], 1))
    elif layout.height:
        scale = min(scale, (layout.height - 100) / tall)
    side = scale * min(tiles["size"]) if tiles else None
    plot_height = int(np.ceil(max(scale * tall, _COLORBAR_PLOT if bar else 0)))
    return {"margin": margin, "plot_height": plot_height, "tile": side}


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
    """Quality against cost, one trace per model; a menu switches the cost on the x axis.

    Models are told apart by colour, in the legend and on hover: names written by the
    markers would pile up where models cost and score alike.
    """
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
            mode="markers",
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
