"""Matplotlib displays of explanations, drawn at the images' height x width.

Several images share one axes as a mosaic (as the evaluation galleries do), labelled
under each tile, with one colour bar. Nothing touches pyplot's global state.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from shallowvision._plotting import (
    Display,
    MapDisplay,
    color_limit,
    mosaic,
    new_axes,
    rgba_canvas,
)
from shallowvision.exceptions import ConfigError, DataError
from shallowvision.explain._explain import Explanation, ImageExplanation

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["OverlayDisplay", "PixelMapDisplay", "pixel_maps"]

#: What :meth:`PixelMapDisplay.from_explanation` can draw.
MAP_KINDS = ("class_mean_abs", "class_mean", "importance")


def pixel_maps(explanation: Explanation, kind: str) -> tuple[np.ndarray, list[str], str, bool]:
    """``(maps, tile titles, title, signed)`` of one kind of map of an explanation.

    ``"importance"`` puts mean ``|SHAP|``, permutation and impurity importance side by
    side, each divided by its largest value (their units differ).
    """
    e = explanation
    if kind == "class_mean_abs":
        return (
            e.class_mean_abs,
            list(e.class_names),
            f"Mean |SHAP| per class ({e.n_explain} images, {e.explainer} explainer, {e.output_space})",
            False,
        )
    if kind == "class_mean":
        return (
            e.class_mean,
            list(e.class_names),
            "Mean SHAP over each class's own images (red: towards the class)",
            True,
        )
    if kind == "importance":
        parts = [("mean |SHAP|", e.mean_abs)]
        if e.permutation is not None:
            parts.append((f"permutation ({e.permutation.n_images} images)", e.permutation.values))
        if e.impurity is not None:
            parts.append(("impurity", e.impurity.values))
        maps = np.stack([_relative(v) for _, v in parts])
        return maps, [t for t, _ in parts], "Pixel importance (each divided by its maximum)", False
    raise ConfigError(f"unknown map kind {kind!r}; choose one of {', '.join(MAP_KINDS)}")


def _relative(values: np.ndarray) -> np.ndarray:
    top = np.nanmax(np.abs(values))
    return values / top if top > 0 else values


def fading_opacity(position: np.ndarray) -> np.ndarray:
    """Opacity of a diverging colour at ``position`` in [-1, 1]: 0 at the centre, 0.9 at the ends,
    so the image shows through where a SHAP value is near 0."""
    return 0.9 * np.abs(position) ** 0.7


def _fading_red_blue() -> Any:
    import matplotlib as mpl
    from matplotlib.colors import ListedColormap

    colors = mpl.colormaps["RdBu_r"](np.linspace(0, 1, 256))
    colors[:, 3] = fading_opacity(np.linspace(-1, 1, 256))
    return ListedColormap(colors, name="fading_red_blue").with_extremes(bad=(0, 0, 0, 0))


class PixelMapDisplay(MapDisplay):
    """Per-pixel maps (importances, SHAP averages, a selection mask) as one mosaic.

    Parameters
    ----------
    maps : array of shape (n_maps, height, width)
    titles : sequence of str
        One per map, written under it.
    title : str
    signed : bool
        Draw on a red-blue scale centred on 0 (else a sequential one from 0).
    """

    @classmethod
    def from_explanation(
        cls, explanation: Explanation, kind: str = "class_mean_abs", *, ax: Axes | None = None
    ) -> PixelMapDisplay:
        """Draw one kind of map of an explanation (see :data:`MAP_KINDS`)."""
        maps, titles, title, signed = pixel_maps(explanation, kind)
        return cls(maps, titles, title=title, signed=signed).plot(ax=ax)


class OverlayDisplay(Display):
    """Images with their SHAP values for the predicted and the true class laid over them.

    Each row: the image; red-blue SHAP values for the predicted class over it; the
    same for the true class (red pushes towards that class, blue away from it). Colour
    images are drawn in colour under the values, which fade to transparent near 0.

    Parameters
    ----------
    images : sequence of ImageExplanation
    title : str
    """

    def __init__(self, images: Sequence[ImageExplanation], *, title: str = "") -> None:
        self.images = tuple(images)
        self.title = title

    @classmethod
    def from_explanation(
        cls, explanation: Explanation, which: str = "misclassified", *, ax: Axes | None = None
    ) -> OverlayDisplay:
        """Draw the ``"misclassified"`` or the ``"chosen"`` images of an explanation."""
        images, title = overlay_images(explanation, which)
        return cls(images, title=title).plot(ax=ax)

    def plot(self, ax: Axes | None = None) -> OverlayDisplay:
        """Draw on ``ax`` (a new figure if None); return self."""
        n = len(self.images)
        if ax is None:
            ax = new_axes((6.4, 1.6 * max(n, 1) + 0.9))
        ax = self._start(ax)
        ax.set_axis_off()
        ax.set_title(self.title, fontsize="medium")
        if n == 0:
            ax.text(0.5, 0.5, "no images", ha="center", va="center", transform=ax.transAxes)
            return self
        pixels, values, labels = overlay_canvases(self.images)
        h = self.images[0].pixels.shape[0]
        gap = max(1, round(0.6 * h))
        picture, corners = mosaic(pixels, np.arange(len(pixels)), n_cols=3, gap=gap)
        heat, _ = mosaic(values, np.arange(len(values)), n_cols=3, gap=gap)
        import matplotlib as mpl

        limit = color_limit(values)
        if picture.ndim == 3:
            ax.imshow(rgba_canvas(picture), interpolation="nearest")
        else:
            ax.imshow(
                picture,
                cmap=mpl.colormaps["gray"].with_extremes(bad="white"),
                vmin=0,
                vmax=255,
                interpolation="nearest",
            )
        overlay = ax.imshow(
            heat,
            cmap=_fading_red_blue(),
            vmin=-limit,
            vmax=limit,
            interpolation="nearest",
        )
        for (top, left), text in zip(corners, labels, strict=True):
            ax.text(left, top + h, text, va="top", ha="left", fontsize=6.5, clip_on=False)
        ax.figure.colorbar(overlay, ax=ax, shrink=0.6, label="SHAP value")
        return self


def overlay_images(
    explanation: Explanation, which: str
) -> tuple[tuple[ImageExplanation, ...], str]:
    """The ``"misclassified"`` or ``"chosen"`` images of an explanation and a title for them."""
    if which == "misclassified":
        images = explanation.misclassified()
        return images, "Most confidently misclassified: SHAP for the predicted and the true class"
    if which == "chosen":
        images = explanation.chosen()
        return images, "Chosen images: SHAP for the predicted and the true class"
    raise DataError(f"which must be 'misclassified' or 'chosen', got {which!r}")


def overlay_canvases(
    images: Sequence[ImageExplanation],
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Three tiles per image: pixels (repeated; colour ones ``(height, width, 3)``), SHAP
    values ``(height, width)`` (NaN on the plain tile), labels."""
    pixels, values, labels = [], [], []
    nan = np.full(np.shape(images[0].predicted_values), np.nan)
    for im in images:
        pixels += [im.pixels, im.pixels, im.pixels]
        values += [nan, im.predicted_values, im.true_values]
        labels += [
            f"#{im.index} true {im.true}",
            f"pred {im.predicted} {im.score:.2f}",
            f"true {im.true}",
        ]
    return np.asarray(pixels, dtype=np.float64), np.asarray(values, dtype=np.float64), labels
