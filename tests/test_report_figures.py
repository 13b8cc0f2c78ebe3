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

from shallowvision._plotting import add_tiles, plotly_figure
from shallowvision.report._figures import CELL_WIDTH, figure_html

#: Tiles of scikit-learn's digits, each pixel a 3 x 3 block (24 x 24 tiles), and the gap
#: add_tiles leaves between them with two caption lines.
SIZE = 24
GAP = round(0.3 * 2 * SIZE)


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
    first, second = np.s_[:SIZE, :SIZE], np.s_[:SIZE, SIZE + GAP : 2 * SIZE + GAP]
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
    stored_height = fig.layout.height
    figure_html(fig, name="g", columns=columns)
    margin = fig.layout.margin
    rows, cols = 2 * SIZE + GAP, 8 * SIZE + 7 * GAP  # two rows of eight tiles
    fitted = margin.t + margin.b + (CELL_WIDTH[columns] - margin.l - margin.r) * rows / cols
    assert fig.layout.height == min(stored_height + margin.t - 50, int(np.ceil(fitted)))
    assert fig.layout.height < stored_height + margin.t - 50  # was empty above and below


def test_a_chart_that_is_not_a_mosaic_keeps_its_height():
    fig = stored(go.Figure(go.Bar(x=["a", "b"], y=[1, 2]), layout={"title": "bars"}))
    html = figure_html(fig, name="bars", columns=3)
    assert fig.layout.height == 450 + 14 and '"type":"bar"' in html
    # The mode bar keeps the buttons that mean something on a chart of the report.
    assert '"modeBarButtonsToRemove": ["select2d", "lasso2d"' in html
