"""Plotly figure builders for the HTML report: one function per EDA record, each returning a
``plotly.graph_objects.Figure`` (plotly is imported only when a figure is built), and
:func:`eda_figures`, every figure of an :class:`EdaResult` under its name."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal

import numpy as np

from shallowvision._plotting import MAX_LEGEND, add_tiles, log_axis, plotly_figure
from shallowvision._records import jsonable
from shallowvision.eda._analyze import EdaResult
from shallowvision.eda._duplicates import Duplicates
from shallowvision.eda._stats import (
    ClassBalance,
    ClassDifferences,
    ClassImages,
    ColourStatistics,
    Distribution,
    ImageGrid,
    InkStatistics,
    PCASummary,
    PixelHistogram,
)
from shallowvision.exceptions import DataError

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = [
    "balance_figure",
    "centre_of_mass_figure",
    "channel_histogram_figure",
    "class_images_figure",
    "differences_figure",
    "distribution_figure",
    "duplicates_figure",
    "eda_figures",
    "explained_variance_figure",
    "hue_histogram_figure",
    "image_grid_figure",
    "pixel_histogram_figure",
    "projection_figure",
]


def balance_figure(balance: ClassBalance) -> go.Figure:
    """Share of each split's images per class (train and test side by side), counts in the hover."""
    import plotly.graph_objects as go

    fig = plotly_figure("Images per class", "Class", "Share of the split's images")
    names = list(balance.class_names)
    for split, counts in (("train", balance.train_counts), ("test", balance.test_counts)):
        if counts is None:
            continue
        fig.add_trace(
            go.Bar(
                x=names,
                y=counts / max(1, counts.sum()),
                name=split,
                customdata=counts,
                hovertemplate="%{x}: %{customdata:,} images (%{y:.1%})",
            )
        )
    fig.update_layout(barmode="group", yaxis_tickformat=".0%")
    return fig


def distribution_figure(distribution: Distribution) -> go.Figure:
    """Box plots of a per-image statistic per class and overall (whiskers: 5th-95th percentile)."""
    import plotly.graph_objects as go

    d = distribution
    fig = plotly_figure(f"{d.label} per image, by class", "Class", d.label)
    names = [*d.class_names, "all"]
    q = np.vstack([d.quantiles, d.overall_quantiles[None, :]])
    means = np.r_[d.mean, d.overall_mean]
    fig.add_trace(
        go.Box(
            x=names,
            lowerfence=jsonable(q[:, 0]),
            q1=jsonable(q[:, 1]),
            median=jsonable(q[:, 2]),
            q3=jsonable(q[:, 3]),
            upperfence=jsonable(q[:, 4]),
            mean=jsonable(means),
            name=d.name,
            showlegend=False,
        )
    )
    return fig


def centre_of_mass_figure(ink: InkStatistics, mean_image: np.ndarray) -> go.Figure:
    """Each class's mean centre of mass (error bars: std of the centres) over the overall mean image."""
    import plotly.graph_objects as go

    h, w = ink.image_shape
    fig = plotly_figure(
        "Centre of mass per class (± std of the images' centres)", "x (column, px)", "y (row, px)"
    )
    picture = np.asarray(mean_image, dtype=np.float64)
    if picture.ndim == 3:
        fig.add_trace(go.Image(z=np.clip(np.rint(picture), 0, 255), hoverinfo="skip"))
    else:
        fig.add_trace(
            go.Heatmap(
                z=picture,
                colorscale="gray",
                zmin=0,
                zmax=255,
                showscale=False,
                hoverinfo="skip",
            )
        )
    # One colour per class, named in the legend and on hover: class names written by
    # the markers pile up, as centres of mass lie close together.
    x, y = jsonable(ink.centre_x.mean), jsonable(ink.centre_y.mean)
    dx, dy = jsonable(ink.centre_x.std), jsonable(ink.centre_y.std)
    for k, name in enumerate(ink.class_names):
        fig.add_trace(
            go.Scatter(
                x=[x[k]],
                y=[y[k]],
                mode="markers",
                marker={
                    "color": _class_colour(k),
                    "size": 7,
                    "line": {"width": 1, "color": "white"},
                },
                error_x={"array": [dx[k]], "color": _class_colour(k)},
                error_y={"array": [dy[k]], "color": _class_colour(k)},
                name=name,
                showlegend=len(ink.class_names) <= MAX_LEGEND,
                hovertemplate=f"{name}: (%{{x:.2f}}, %{{y:.2f}})<extra></extra>",
            )
        )
    fig.update_xaxes(range=[-0.5, w - 0.5])
    fig.update_yaxes(range=[h - 0.5, -0.5], scaleanchor="x")
    return fig


def pixel_histogram_figure(histogram: PixelHistogram) -> go.Figure:
    """Share of pixels at each grey level, overall and per class (log scale)."""
    import plotly.graph_objects as go

    fig = plotly_figure("Pixel intensities", "Grey level", "Share of pixels")
    levels = list(range(256))
    total = histogram.total
    fig.add_trace(
        go.Scatter(
            x=levels, y=total / max(1, total.sum()), mode="lines", name="all", line={"width": 3}
        )
    )
    for name, counts in zip(histogram.class_names, histogram.counts, strict=True):
        if counts.sum():
            fig.add_trace(
                go.Scatter(
                    x=levels,
                    y=counts / counts.sum(),
                    mode="lines",
                    name=name,
                    line={"width": 1},
                    visible="legendonly" if len(histogram.class_names) > 12 else True,
                )
            )
    shares = [trace.y for trace in fig.data]
    fig.update_yaxes(**log_axis(np.concatenate(shares) if shares else []))
    return fig


def channel_histogram_figure(histogram: PixelHistogram) -> go.Figure:
    """Share of each channel's values at each level, per class: red, green and blue side by
    side (log scale); classes beyond 12 start hidden (click the legend)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    if histogram.channels is None:
        raise DataError("these are grey images: there are no channel histograms to draw")
    channels = np.asarray(histogram.channels, dtype=np.float64)
    fig = make_subplots(
        rows=1,
        cols=3,
        shared_yaxes=True,
        subplot_titles=("red", "green", "blue"),
        horizontal_spacing=0.03,
    )
    levels = list(range(256))
    many = len(histogram.class_names) > 12
    for k, name in enumerate(histogram.class_names):
        for ch in range(3):
            counts = channels[k, ch]
            if counts.sum():
                fig.add_trace(
                    go.Scatter(
                        x=levels,
                        y=counts / counts.sum(),
                        mode="lines",
                        name=name,
                        legendgroup=name,
                        showlegend=ch == 0,
                        line={"width": 1, "color": _class_colour(k)},
                        visible="legendonly" if many else True,
                    ),
                    row=1,
                    col=ch + 1,
                )
    shares = [trace.y for trace in fig.data]
    fig.update_yaxes(**log_axis(np.concatenate(shares) if shares else []))
    fig.update_yaxes(title_text="Share of the channel's values", row=1, col=1)
    fig.update_xaxes(title_text="Channel value", range=[0, 255])
    fig.update_layout(
        title="Red, green and blue values per class",
        template="plotly_white",
        legend={"font": {"size": 10}},
    )
    return fig


def _class_colour(k: int) -> str:
    import plotly.colors

    palette = plotly.colors.qualitative.Plotly
    return palette[k % len(palette)]


def hue_histogram_figure(colour: ColourStatistics) -> go.Figure:
    """Share of each class's coloured pixels at each hue (grey pixels left out), with the
    hues themselves drawn along the axis."""
    import plotly.graph_objects as go

    from shallowvision._colour import hsv_to_rgb

    fig = plotly_figure(
        "Hues of each class (pixels of saturation and value >= 0.1)",
        "Hue (degrees)",
        "Share of the class's coloured pixels",
    )
    edges = np.asarray(colour.hue_edges, dtype=np.float64)
    centres = (edges[:-1] + edges[1:]) / 2
    counts = np.asarray(colour.hue_counts, dtype=np.float64)
    many = len(colour.class_names) > 12
    for k, name in enumerate(colour.class_names):
        total = counts[k].sum()
        if total:
            fig.add_trace(
                go.Scatter(
                    x=centres,
                    y=counts[k] / total,
                    mode="lines",
                    line={"shape": "hvh", "width": 1.5, "color": _class_colour(k)},
                    name=f"{name} ({colour.grey_share[k]:.0%} grey)",
                    visible="legendonly" if many else True,
                )
            )
    rgb = hsv_to_rgb(centres, np.ones_like(centres), np.ones_like(centres))
    fig.add_trace(
        go.Bar(
            x=centres,
            # A strip of the hues themselves just under the axis.
            y=[0.02] * len(centres),
            base=-0.03,
            width=edges[1] - edges[0],
            marker={
                "color": [f"rgb({r * 255:.0f},{g * 255:.0f},{b * 255:.0f})" for r, g, b in rgb]
            },
            hoverinfo="skip",
            showlegend=False,
        )
    )
    fig.update_xaxes(range=[0, 360], tickvals=list(range(0, 361, 60)))
    return fig


def _n_cols(k: int) -> int:
    return min(k, max(5, math.ceil(math.sqrt(k))))


def class_images_figure(
    images: ClassImages, *, kind: Literal["mean", "variance"] = "mean"
) -> go.Figure:
    """The mean (or variance) image of every class, at the images' own size (colour images:
    the mean in colour, the variance summed over the three channels)."""
    if kind not in ("mean", "variance"):
        raise DataError(f"kind must be 'mean' or 'variance', got {kind!r}")
    tiles = images.mean if kind == "mean" else images.total_variance
    fig = plotly_figure(f"{kind.capitalize()} image of each class", "", "")
    top = float(np.nanmax(tiles)) if kind == "variance" and np.isfinite(tiles).any() else 255.0
    add_tiles(
        fig,
        tiles,
        [f"{name} ({n:,})" for name, n in zip(images.class_names, images.counts, strict=True)],
        n_cols=_n_cols(len(images.class_names)),
        caption_lines=1,
        colorscale="gray" if kind == "mean" else "magma",
        zmax=max(top, 1e-9),
        showscale=kind == "variance",
    )
    return fig


def differences_figure(
    differences: ClassDifferences, *, view: Literal["similar", "others"] = "similar"
) -> go.Figure:
    """Absolute differences of class mean images: the most similar pairs, or one class
    against each other class."""
    if view not in ("similar", "others"):
        raise DataError(f"view must be 'similar' or 'others', got {view!r}")
    d = differences
    pairs = d.most_similar if view == "similar" else d.against_others
    title = (
        "Most similar class means: |difference|"
        if view == "similar"
        else f"{d.compare_class} against each other class: |difference of the means|"
    )
    fig = plotly_figure(title, "", "")
    if pairs:
        vmax = max(float(p.image.max()) for p in (*d.most_similar, *d.against_others))
        add_tiles(
            fig,
            np.stack([p.image for p in pairs]),
            [f"{p.first} vs<br>{p.second}: {p.distance:.1f}" for p in pairs],
            # Five a row, as the class means: nine tiles in a row of a half-width cell
            # came out a few pixels each.
            n_cols=min(len(pairs), 5),
            colorscale="magma",
            zmax=max(vmax, 1e-9),
            showscale=True,
        )
    return fig


def image_grid_figure(grid: ImageGrid) -> go.Figure:
    """A few images of each class, one row per class (scores under the images, if any)."""
    k, m = grid.indices.shape
    fig = plotly_figure(grid.title, "", "")
    tiles = grid.images.reshape(k * m, *grid.images.shape[2:]).astype(np.float64)
    tiles[grid.indices.ravel() < 0] = np.nan
    captions = None
    if grid.scores is not None:
        captions = [
            f"#{i} {s:.1f}x" if i >= 0 else ""
            for i, s in zip(grid.indices.ravel(), grid.scores.ravel(), strict=True)
        ]
    add_tiles(fig, tiles, captions, n_cols=m, caption_lines=1, row_labels=grid.class_names)
    return fig


def explained_variance_figure(pca: PCASummary) -> go.Figure:
    """Cumulative and per-component share of the pixel variance, on a log scale of components.

    Each marked level sits on the cumulative curve, at the fewest components that reach it.
    """
    import plotly.graph_objects as go

    ratio = pca.explained_variance_ratio
    cumulative = np.cumsum(ratio)
    components = np.arange(1, len(ratio) + 1)
    fig = plotly_figure(
        "PCA explained variance", "Principal components", "Share of the pixel variance"
    )
    fig.add_trace(go.Scatter(x=components, y=cumulative, mode="lines", name="cumulative"))
    # A line, not bars: bars on a log axis have uneven widths and hang off its left end.
    fig.add_trace(
        go.Scatter(x=components, y=ratio, mode="lines", name="each component", fill="tozeroy")
    )
    fig.add_trace(
        go.Scatter(
            x=pca.components_needed,
            y=pca.shares_reached,
            mode="markers+text",
            text=[
                f"{lv:.0%}: {n}"
                for lv, n in zip(pca.variance_levels, pca.components_needed, strict=True)
            ],
            # Up and to the left of a rising curve, where there is room (the right edge
            # would cut the last one off), and every other one under it to the right:
            # the levels near the top are a few components apart, and their labels
            # would run into each other.
            textposition=[
                "top left" if i % 2 == 0 else "bottom right"
                for i in range(len(pca.components_needed))
            ],
            name="components needed",
        )
    )
    ticks = [t for t in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000) if t <= len(ratio)]
    fig.update_xaxes(
        type="log", range=[0, np.log10(max(len(ratio), 2))], tickvals=ticks, ticktext=ticks
    )
    fig.update_yaxes(range=[0, 1.05])
    return fig


def projection_figure(pca: PCASummary) -> go.Figure:
    """A sample of the training images on the first two principal components, by class."""
    import plotly.graph_objects as go

    ratio = pca.explained_variance_ratio
    second = ratio[1] if len(ratio) > 1 else 0.0
    fig = plotly_figure(
        f"{len(pca.labels):,} training images on the first two principal components",
        f"PC 1 ({ratio[0]:.0%} of the variance)",
        f"PC 2 ({second:.0%})",
    )
    for c, name in enumerate(pca.class_names):
        chosen = pca.labels == c
        if chosen.any():
            # SVG, not WebGL: a few thousand points draw fast, and the report then
            # renders in any browser, with or without a GPU.
            fig.add_trace(
                go.Scatter(
                    x=pca.coordinates[chosen, 0],
                    y=pca.coordinates[chosen, 1],
                    mode="markers",
                    marker={"size": 4, "opacity": 0.6},
                    name=name,
                    customdata=pca.indices[chosen],
                    hovertemplate=f"{name} #%{{customdata}}<extra></extra>",
                )
            )
    return fig


def duplicates_figure(duplicates: Duplicates, *, pairs_per_row: int = 4) -> go.Figure:
    """Example duplicate pairs side by side, with their indices, labels and distance."""
    d = duplicates
    fig = plotly_figure(d.describe()[:1].upper() + d.describe()[1:], "", "")
    m = len(d.first_index)
    second = "train" if d.scope == "train" else "test"
    captions = []
    for i, j, a, b, dist in zip(
        d.first_index, d.second_index, d.first_label, d.second_label, d.distance, strict=True
    ):
        near = f" ({dist:.1f})" if d.kind == "near" else ""
        captions += [f"train #{i}<br>{a}", f"{second} #{j}<br>{b}{near}"]
    add_tiles(
        fig,
        d.images.reshape(2 * m, *d.images.shape[2:]),
        captions,
        n_cols=2 * max(1, min(m, pairs_per_row)),
    )
    return fig


def duplicates_name(duplicates: Duplicates) -> str:
    """``duplicates_<kind>_<scope>``, e.g. ``duplicates_near_train_test``."""
    return f"duplicates_{duplicates.kind}_{duplicates.scope.replace('-', '_')}"


def eda_figures(result: EdaResult) -> list[tuple[str, go.Figure]]:
    """Every plotly figure of an EDA, as ``(name, figure)`` in reading order.

    The names are those of :func:`save_figures`'s PNG files. Duplicate figures appear
    only for the kinds with examples; the class-against-others view only when a class
    was compared; the channel and hue histograms only for colour images.
    """
    r = result
    figures: list[tuple[str, go.Figure]] = [
        ("class_balance", balance_figure(r.balance)),
        ("samples", image_grid_figure(r.samples)),
        ("pixel_histogram", pixel_histogram_figure(r.pixels)),
    ]
    if r.pixels.channels is not None:
        figures.append(("channel_histograms", channel_histogram_figure(r.pixels)))
    if r.colour is not None:
        figures.append(("hue_histogram", hue_histogram_figure(r.colour)))
    figures += [
        *((f"ink_{d.name}", distribution_figure(d)) for d in r.ink.distributions()),
        ("centre_of_mass", centre_of_mass_figure(r.ink, r.class_images.overall_mean)),
        ("mean_images", class_images_figure(r.class_images, kind="mean")),
        ("variance_images", class_images_figure(r.class_images, kind="variance")),
        ("similar_pairs", differences_figure(r.differences, view="similar")),
    ]
    if r.differences.against_others:
        figures.append(("against_others", differences_figure(r.differences, view="others")))
    figures += [
        ("pca_variance", explained_variance_figure(r.pca)),
        ("pca_projection", projection_figure(r.pca)),
        ("atypical", image_grid_figure(r.atypical)),
    ]
    figures += [
        (duplicates_name(d), duplicates_figure(d)) for d in r.duplicates if len(d.first_index)
    ]
    return figures
