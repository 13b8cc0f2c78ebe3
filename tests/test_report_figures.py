"""How the report embeds a chart: title below the mode bar, mosaics sized to their cell,
and image data kept small."""

from __future__ import annotations

import base64
import io
import json
import re

import numpy as np
import plotly.graph_objects as go
import plotly.io
import pytest
from PIL import Image

from shallowvision._plotting import MIN_TILE_PX, TILE_PX, add_tiles, plotly_figure
from shallowvision.report._figures import CELL_WIDTH, figure_html, mosaic_size

#: Tiles of scikit-learn's digits, each pixel a 3 x 3 block (24 x 24 tiles).
SIZE = 24


def tiles(n: int = 16) -> np.ndarray:
    from sklearn.datasets import load_digits

    digits = load_digits().images[:n] * 15
    images = np.kron(digits, np.ones((1, 3, 3))).astype(np.uint8)
    images[0] = 0
    images[1] = 255
    return images


def stored(fig: go.Figure) -> go.Figure:
    """The figure as the report reads it back from ``figures/<name>.json``."""
    return plotly.io.from_json(fig.to_json())


def gallery(n_cols: int = 8) -> go.Figure:
    fig = plotly_figure("Shirt predicted as T-shirt/top", "", "")
    add_tiles(fig, tiles(), [f"true a<br>pred b {i}" for i in range(16)], n_cols=n_cols)
    return stored(fig)


def picture(fig: go.Figure) -> np.ndarray:
    source = fig.data[0].source
    assert source.startswith("data:image/png;base64,")
    with Image.open(io.BytesIO(base64.b64decode(source.split(",", 1)[1]))) as image:
        return np.asarray(image.convert("RGBA"))


def test_a_grey_mosaic_becomes_one_picture_of_the_same_colours():
    fig = gallery()
    canvas = _z(fig.data[0])
    plain = len(fig.to_html(full_html=False, include_plotlyjs=False))
    html = figure_html(fig, name="g", columns=1)
    assert [t.type for t in fig.data] == ["image"]
    rgba = picture(fig)
    assert rgba.shape == (*canvas.shape, 4)
    gaps = ~np.isfinite(canvas)
    assert gaps.any() and (rgba[gaps, 3] == 0).all() and (rgba[~gaps, 3] == 255).all()
    # The plotly "gray" scale: 0 is black, 255 its end colour, values between in order.
    left = fig.layout.meta["tiles"]["corners"][1][1]
    first, second = np.s_[:SIZE, :SIZE], np.s_[:SIZE, left : left + SIZE]
    assert (rgba[first][..., :3] == 0).all()
    assert (rgba[second][..., :3] == [254, 254, 253]).all()
    # The same pixels in a tenth of the bytes, with the captions kept.
    assert len(html) * 10 < plain
    assert html.count("true a") == 16


def _z(trace) -> np.ndarray:
    z = trace.z
    data = np.frombuffer(base64.b64decode(z["bdata"]), dtype=z["dtype"])
    return data.reshape([int(n) for n in z["shape"].split(",")])


def test_a_heat_map_with_hover_or_colour_bar_stays_one_in_float32():
    fig = go.Figure(go.Heatmap(z=np.linspace(0, 1, 64).reshape(8, 8), colorscale="RdBu"))
    fig.update_yaxes(scaleanchor="x")
    html = figure_html(stored(fig), name="map")
    assert '"type":"heatmap"' in html and '"dtype":"f4"' in html and '"f8"' not in html
    values = json.loads('"' + re.search(r'"bdata":"([^"]+)"', html).group(1) + '"')
    np.testing.assert_allclose(
        np.frombuffer(base64.b64decode(values), np.float32), np.linspace(0, 1, 64), rtol=1e-6
    )


def test_a_picture_under_an_overlay_stays_under_it():
    fig = gallery()
    canvas = _z(fig.data[0])
    fig.add_trace(go.Heatmap(z=np.where(np.isfinite(canvas), 0.5, np.nan), opacity=0.5))
    figure_html(fig, name="overlay")
    assert [t.type for t in fig.data] == ["image", "heatmap"]


@pytest.mark.parametrize("columns", [1, 2, 3])
def test_a_mosaic_is_no_taller_than_its_cell_draws_it(columns):
    fig = gallery()
    size = mosaic_size(fig, columns)
    figure_html(fig, name="g", columns=columns)
    margin = fig.layout.margin
    # The axes hold the two rows of tiles and the captions under each: nothing below.
    tall = abs(fig.layout.yaxis.range[0] - fig.layout.yaxis.range[1])
    wide = abs(fig.layout.xaxis.range[1] - fig.layout.xaxis.range[0])
    assert margin.b == 2
    plot = CELL_WIDTH[columns] - margin.l - margin.r
    scale = min(plot / wide, TILE_PX / SIZE)
    assert fig.layout.height == margin.t + margin.b + int(np.ceil(scale * tall))
    assert size["tile"] == pytest.approx(scale * SIZE)
    # Full width: images TILE_PX high; a half or a third draws these eight a row too small.
    assert (columns == 1) == (size["tile"] == pytest.approx(TILE_PX))
    assert (columns > 1) == (size["tile"] < MIN_TILE_PX)


def test_captions_have_room_under_their_images_at_the_least_size():
    # 8 x 8 images with one caption line: two image pixels between rows left 14 screen
    # pixels at 56-pixel images, less than the 16 a 9-pixel caption line takes.
    for images, captions in (
        (tiles()[:, ::3, ::3], [f"#{i} 1.5x" for i in range(16)]),
        (tiles(), [f"true Shirt<br>pred T-shirt/top {i}" for i in range(16)]),
    ):
        fig = plotly_figure("", "", "")
        add_tiles(fig, images, captions, n_cols=8)
        h = images.shape[1]
        corners = fig.layout.meta["tiles"]["corners"]
        lines = captions[0].count("<br>") + 1
        gap_y = corners[8][0] - corners[0][0] - h
        gap_x = corners[1][1] - corners[0][1] - images.shape[2]
        scale = MIN_TILE_PX / h  # screen pixels per image pixel, at the least
        # A caption line is 11 pixels high, and captions start 2 pixels under their image.
        assert gap_y * scale >= 2 + 11 * lines + 2
        widest = max(len(part) for part in re.split("<br>", captions[-1]))
        assert (images.shape[2] + gap_x) * scale >= 4.5 * widest
        # The last row's captions are inside the axes, not cut off under them.
        assert fig.layout.yaxis.range[0] >= corners[-1][0] + h - 0.5 + gap_y
        assert {a.align for a in fig.layout.annotations} == {"left"}


def test_a_mosaic_too_small_for_a_cell_takes_the_whole_width():
    from types import SimpleNamespace

    from shallowvision.report._render import Section

    bars = go.Figure(go.Bar(x=["a"], y=[1]), layout={"title": "bars"})
    charts = {"bars": bars, "wide": gallery(n_cols=8), "narrow": gallery(n_cols=2)}
    run = SimpleNamespace(chart=lambda name: stored(charts[name]))
    page = "".join(Section("s", "S").stored_charts(run, list(charts), columns=2).blocks)
    # In order: the bars in a half-width cell, the eight-wide mosaic across the page,
    # the two-wide one back in half a row.
    grids = re.findall(r'<div class="grid cols-(\d)">(.*?)</div></div>', page, flags=re.S)
    assert [(cols, re.findall(r'id="chart-(\w+)"', cells)) for cols, cells in grids] == [
        ("2", ["bars"]),
        ("1", ["wide"]),
        ("2", ["narrow"]),
    ]


def test_titles_break_to_fit_their_cell():
    title = "Risk-coverage: abstaining on the least confident"
    for columns, lines in ((1, 1), (2, 1), (3, 2)):
        fig = go.Figure(go.Scatter(x=[0, 1], y=[0, 1]), layout={"title": title})
        figure_html(fig, name="t", columns=columns)
        text = fig.layout.title.text.split("<br>")
        # 17-pixel text in a third of the page holds about 32 characters.
        assert len(text) == lines and all(
            9 * len(line) <= CELL_WIDTH[columns] - 40 for line in text
        )


def test_subplot_titles_get_a_line_between_the_title_and_the_plots():
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, subplot_titles=("fit (s)", "predict (s)"))
    fig.add_bar(x=["a"], y=[1], row=1, col=1)
    fig.add_bar(x=["a"], y=[2], row=1, col=2)
    fig.update_layout(title="What the ensembles cost")
    figure_html(fig, name="cost", columns=2)
    plain = go.Figure(go.Bar(x=["a"], y=[1]), layout={"title": "What the ensembles cost"})
    figure_html(plain, name="plain", columns=2)
    assert fig.layout.margin.t == plain.layout.margin.t + 24
    assert fig.layout.title.pad.b == plain.layout.title.pad.b + 24
    # Raised off the tick labels at the top of their plots.
    assert {a.yshift for a in fig.layout.annotations} == {6}


def test_a_second_axis_gets_ticks_of_its_own_and_y_labels_stand_off_the_corner():
    fig = go.Figure(
        [go.Bar(x=[1, 2], y=[10, 100]), go.Scatter(x=[1, 2], y=[0.1, 0.5], yaxis="y2")],
        layout={"yaxis": {"type": "log"}, "yaxis2": {"overlaying": "y", "side": "right"}},
    )
    figure_html(fig, name="two", columns=2)
    assert fig.layout.yaxis2.tickmode == "auto"
    assert fig.layout.yaxis.ticklabelstandoff == fig.layout.yaxis2.ticklabelstandoff == 4


def test_a_legend_under_the_plot_is_stacked_in_a_margin_kept_for_it():
    names = ["perfectly calibrated", "before (ECE 0.045)", "after (ECE 0.034)"]
    fig = go.Figure(
        [go.Scatter(x=[0, 1], y=[0, 1], name=n) for n in names],
        layout={"legend": {"orientation": "h", "y": -0.2}, "height": 400},
    )
    figure_html(fig, name="legend", columns=2)
    legend = fig.layout.legend
    assert (legend.orientation, legend.yref, legend.y, legend.yanchor) == (
        "v",
        "container",
        0,
        "bottom",
    )
    # The plot keeps its height; the chart grows by three entries and a gap.
    assert fig.layout.margin.b == 50 + 8 + 3 * 19
    assert fig.layout.height - fig.layout.margin.t - fig.layout.margin.b == 400 - 100


def test_the_cost_chart_names_models_by_colour_not_by_labels_that_pile_up():
    from shallowvision.report._figures import cost_chart

    rows = [
        {"model": name, "f1": 0.9, "fit_seconds": 1.0, "predict_seconds_per_1000": 1.0}
        for name in ("lr", "lr-tuned", "lr-tuned-19px")
    ]
    fig = cost_chart(rows, metric="f1", metric_label="macro F1")
    assert {t.mode for t in fig.data} == {"markers"} and {t.text for t in fig.data} == {None}
    assert len({t.marker.color for t in fig.data}) == 3


def test_a_chart_that_is_not_a_mosaic_keeps_its_height():
    fig = stored(go.Figure(go.Bar(x=["a", "b"], y=[1, 2]), layout={"title": "bars"}))
    html = figure_html(fig, name="bars", columns=3)
    assert fig.layout.height == 450 + 14 and '"type":"bar"' in html
    # The mode bar keeps the buttons that mean something on a chart of the report.
    assert '"modeBarButtonsToRemove": ["select2d", "lasso2d"' in html
