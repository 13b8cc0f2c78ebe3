"""Plotly figures of explanations for the HTML report, drawn at the images' height x width."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from shallowvision._plotting import add_tiles, color_limit, mosaic, pixel_map_figure, plotly_figure
from shallowvision.explain._display import (
    fading_opacity,
    overlay_canvases,
    overlay_images,
    pixel_maps,
)
from shallowvision.explain._explain import Explanation, ImageExplanation

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = ["explanation_figures", "overlay_figure", "pixel_map_figure"]


def _fading_scale(steps: int = 11) -> list[list[Any]]:
    """Plotly's red-blue scale with the opacity of :func:`fading_opacity`."""
    import plotly.colors

    positions = np.linspace(0, 1, steps)
    colors = plotly.colors.sample_colorscale("RdBu_r", list(positions), colortype="tuple")
    alpha = fading_opacity(2 * positions - 1)
    return [
        [float(p), f"rgba({r * 255:.0f},{g * 255:.0f},{b * 255:.0f},{a:.3f})"]
        for p, (r, g, b), a in zip(positions, colors, alpha, strict=True)
    ]


def overlay_figure(images: Sequence[ImageExplanation], *, title: str = "") -> go.Figure:
    """Each image, then its SHAP values for the predicted and the true class over it."""
    import plotly.graph_objects as go

    fig = plotly_figure(title, "", "")
    if not images:
        return fig
    pixels, values, labels = overlay_canvases(images)
    gap = add_tiles(fig, pixels, labels, n_cols=3)
    heat, _ = mosaic(values, np.arange(len(values)), n_cols=3, gap=gap)
    limit = color_limit(values)
    fig.add_trace(
        go.Heatmap(
            z=heat,
            colorscale=_fading_scale(),
            zmin=-limit,
            zmax=limit,
            colorbar={"title": "SHAP"},
            hovertemplate="SHAP %{z:.3g}<extra></extra>",
        )
    )
    return fig


def explanation_figures(explanation: Explanation) -> dict[str, go.Figure]:
    """Every report figure of an explanation, by name.

    ``shap_classes`` (mean ``|SHAP|`` per class), ``shap_direction`` (mean signed SHAP over
    each class's images), ``importance`` (mean ``|SHAP|``, permutation and impurity side
    by side), and ``misclassified`` / ``chosen`` overlays when there are such images.
    """
    figures = {}
    for name, kind in (
        ("shap_classes", "class_mean_abs"),
        ("shap_direction", "class_mean"),
        ("importance", "importance"),
    ):
        maps, titles, title, signed = pixel_maps(explanation, kind)
        figures[name] = pixel_map_figure(maps, titles, title=title, signed=signed)
    for which in ("misclassified", "chosen"):
        images, title = overlay_images(explanation, which)
        if images:
            figures[which] = overlay_figure(images, title=title)
    return figures
