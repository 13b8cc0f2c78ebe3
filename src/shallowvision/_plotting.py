"""Drawing shared by every package that draws: matplotlib Displays and plotly figures.

A Display (scikit-learn's style) holds one result and draws it with ``plot(ax=None)``
on the axes it is given, or on a new figure made without pyplot, setting ``ax_`` and
``figure_``; nothing here touches pyplot's global state (no current figure or axes, no
rcParams, no ``show()``), so drawing is safe in threads and loops. The plotly helpers
build the report's figures; plotly and matplotlib are imported only when something is
drawn. Images are drawn as one mosaic at their own height x width: grey images
``(n, height, width)`` on a colour map, colour images ``(n, height, width, 3)`` as they are.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import numpy as np
from numpy.typing import ArrayLike

from shallowvision._io import atomic_path
from shallowvision.exceptions import DataError

if TYPE_CHECKING:
    import plotly.graph_objects as go
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.image import AxesImage

__all__ = [
    "MAX_LEGEND",
    "MIN_TILE_PX",
    "TILE_PX",
    "Display",
    "MapDisplay",
    "add_tiles",
    "color_limit",
    "draw_tiles",
    "log_axis",
    "mosaic",
    "new_axes",
    "pixel_map_figure",
    "plotly_figure",
    "rgba_canvas",
    "save_png",
]

# Legends with more entries than this become unreadable; per-class lines stay unlabelled.
MAX_LEGEND = 12


def new_axes(figsize: tuple[float, float] = (6.0, 4.5)) -> Axes:
    """Axes on a new figure that belongs to no pyplot state (safe in threads and loops)."""
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, layout="constrained").add_subplot()


def save_png(figure: Figure, path: str | os.PathLike[str], *, dpi: int = 100) -> Path:
    """Write ``figure`` to ``path`` as PNG; a reader never sees a half-written file."""
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=dpi)
    return Path(path)


def mosaic(
    images: np.ndarray, indices: np.ndarray, *, n_cols: int, gap: int | tuple[int, int] = 1
) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Tile ``images[indices]`` into one array, row by row, at their own height x width.

    ``gap`` is the space between tiles, or ``(between rows, between columns)``. Returns
    the float canvas (NaN in the gaps, so they draw as background), of shape
    ``(rows, cols)`` for grey images or ``(rows, cols, 3)`` for colour ones, and the
    ``(row, col)`` pixel of each tile's top-left corner.
    """
    h, w = images.shape[1:3]
    channels = images.shape[3:]
    gap_y, gap_x = (gap, gap) if isinstance(gap, int) else gap
    n = len(indices)
    n_rows = max(1, -(-n // n_cols))
    cols = min(n, n_cols) if n else 1
    canvas = np.full((n_rows * (h + gap_y) - gap_y, cols * (w + gap_x) - gap_x, *channels), np.nan)
    corners = []
    for i, idx in enumerate(indices):
        r, c = divmod(i, n_cols)
        top, left = r * (h + gap_y), c * (w + gap_x)
        canvas[top : top + h, left : left + w] = images[idx]
        corners.append((top, left))
    return canvas, corners


def rgba_canvas(canvas: np.ndarray) -> np.ndarray:
    """A colour canvas of :func:`mosaic` (values 0-255, NaN in the gaps) as RGBA in 0-1,
    transparent where any channel is NaN (a gap, or a missing image)."""
    missing = ~np.isfinite(canvas).all(axis=-1)
    rgba = np.empty((*canvas.shape[:2], 4))
    rgba[..., :3] = np.clip(np.nan_to_num(canvas, nan=0.0) / 255.0, 0.0, 1.0)
    rgba[..., 3] = np.where(missing, 0.0, 1.0)
    return rgba


def _png_data_uri(rgba: np.ndarray) -> str:
    """An RGBA array in 0-1 as an inline PNG ``data:`` URI (plotly's Image trace shows it)."""
    import base64
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.rint(rgba * 255).astype(np.uint8), mode="RGBA").save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def draw_tiles(
    ax: Axes,
    images: np.ndarray,
    captions: Sequence[str] | None = None,
    *,
    n_cols: int,
    caption_lines: int = 2,
    row_labels: Sequence[str] | None = None,
    cmap: str = "gray",
    vmin: float = 0.0,
    vmax: float = 255.0,
) -> AxesImage | None:
    """Draw ``images`` as one mosaic at their own height x width, row by row.

    Each tile gets its caption underneath (room for ``caption_lines`` lines at the
    tile's own scale), each row its label on the left; NaN pixels (and the gaps) are
    drawn white. Returns the image artist (for a colour bar), None when there is nothing
    to draw.

    Parameters
    ----------
    ax : Axes
    images : ndarray, shape (n, height, width) or (n, height, width, 3)
        Grey images, drawn with ``cmap``, or colour images (0-255), drawn in colour.
    captions : sequence of str, optional
        One per image.
    n_cols : int
    caption_lines : int
    row_labels : sequence of str, optional
        One per row of tiles.
    cmap : str
        A matplotlib colour map name (grey images).
    vmin, vmax : float
        Pixel values at the two ends of the colour map (grey images).
    """
    import matplotlib as mpl

    ax.set_axis_off()
    if not len(images):
        ax.text(0.5, 0.5, "no images", ha="center", va="center", transform=ax.transAxes)
        return None
    h = images.shape[1]
    gap = max(1, round(0.3 * caption_lines * h)) if captions is not None else max(1, h // 8)
    canvas, corners = mosaic(images, np.arange(len(images)), n_cols=n_cols, gap=gap)
    if canvas.ndim == 3:
        image = ax.imshow(rgba_canvas(canvas), interpolation="nearest")
    else:
        colormap = mpl.colormaps[cmap].with_extremes(bad="white")
        image = ax.imshow(canvas, cmap=colormap, vmin=vmin, vmax=vmax, interpolation="nearest")
    for (top, left), caption in zip(corners, captions or (), strict=False):
        ax.text(left, top + h, caption, va="top", ha="left", fontsize=6.5, clip_on=False)
    for row, label in enumerate(row_labels or ()):
        ax.text(-gap, row * (h + gap) + h / 2, label, ha="right", va="center", fontsize="small")
    return image


class Display:
    """Base of every Display: ``_start(ax)`` picks the axes to draw on and sets ``ax_`` and ``figure_``."""

    ax_: Axes
    figure_: Figure
    _figsize: tuple[float, float] = (6.0, 4.5)

    def _start(self, ax: Axes | None) -> Axes:
        ax = ax if ax is not None else new_axes(self._figsize)
        self.ax_ = ax
        self.figure_ = ax.get_figure()  # type: ignore[assignment]
        return ax


def plotly_figure(title: str, xaxis: str, yaxis: str) -> go.Figure:
    """An empty plotly figure in the report's style, with its title and axis titles."""
    import plotly.graph_objects as go

    return go.Figure(
        layout={
            "title": title,
            "xaxis_title": xaxis,
            "yaxis_title": yaxis,
            "template": "plotly_white",
            "legend": {"font": {"size": 10}},
        }
    )


#: A mosaic's images are drawn about this many screen pixels high where there is room.
#: The room for captions is made for images ``MIN_TILE_PX`` high (larger images leave
#: more), and the report draws them no smaller: a mosaic too wide for its cell at that
#: size takes the whole width.
TILE_PX = 80
MIN_TILE_PX = 72

#: A caption line under a tile (9-pixel text) and the space around a caption, in screen
#: pixels, and the width of a character (generous, so estimates err towards room).
_CAPTION_LINE_PX = 11
_CAPTION_SPACE_PX = 5
_CAPTION_CHAR_PX = 5.0


def _caption_gaps(captions: Sequence[str], lines: int, h: int, w: int) -> tuple[int, int]:
    """Image pixels between rows and between columns of tiles that leave room for the
    captions under the tiles, drawn :data:`MIN_TILE_PX` high."""
    lines = max([lines, *(c.count("<br>") + 1 for c in captions)])
    widest = max(
        (len(re.sub(r"<[^>]+>", "", part)) for c in captions for part in c.split("<br>")),
        default=0,
    )
    scale = MIN_TILE_PX / h  # screen pixels per image pixel
    gap_y = int(np.ceil((lines * _CAPTION_LINE_PX + _CAPTION_SPACE_PX) / scale))
    gap_x = int(np.ceil((widest * _CAPTION_CHAR_PX + _CAPTION_SPACE_PX) / scale)) - w
    return gap_y, max(gap_x, h // 8, 1)


def add_tiles(
    fig: go.Figure,
    images: np.ndarray,
    captions: Sequence[str] | None = None,
    *,
    n_cols: int,
    caption_lines: int = 2,
    row_labels: Sequence[str] | None = None,
    colorscale: str = "gray",
    zmin: float = 0.0,
    zmax: float = 255.0,
    showscale: bool = False,
    hovertemplate: str | None = None,
    colorbar: dict[str, Any] | None = None,
) -> tuple[int, int]:
    """Add ``images`` to ``fig`` as one mosaic at their own height x width: a heat map of
    grey images ``(n, height, width)``, or a picture of colour ones ``(n, height, width, 3)``
    (the colour scale and hover options then do not apply).

    Captions (HTML, one per image, ``caption_lines`` lines or as many as they hold) go
    under the tiles, with room for them between the rows and the columns; row labels go
    to the left. The axes are hidden, square pixels kept, the axes' ranges hold the
    tiles and their captions, and the figure's height is set for tiles about
    :data:`TILE_PX` screen pixels high. The layout's ``meta`` records where the tiles are
    (``{"tiles": {"size": [h, w], "corners": [[top, left], ...]}}``, in the axes' units).
    Nothing is added for no images. Hovering shows nothing unless ``hovertemplate`` says
    what. Returns the gaps between rows and between columns, so a second mosaic of the
    same layout (an overlay) can be laid over this one.
    """
    import plotly.graph_objects as go

    if not len(images):
        return (0, 0)
    h, w = images.shape[1:3]
    if captions is not None:
        gap = _caption_gaps(captions, caption_lines, h, w)
    else:
        gap = (max(1, h // 8), max(1, w // 8))
    canvas, corners = mosaic(images, np.arange(len(images)), n_cols=n_cols, gap=gap)
    if canvas.ndim == 3:
        # One inline PNG: pixel centres at whole coordinates, as a heat map's, so a heat
        # map laid over it (an overlay) lines up; the gaps are transparent.
        fig.add_trace(go.Image(source=_png_data_uri(rgba_canvas(canvas)), hoverinfo="skip"))
    else:
        fig.add_trace(
            go.Heatmap(
                # An array (not nested lists) is stored as one typed buffer: NaN gaps stay
                # blank, and the figure builds and serialises in milliseconds.
                z=canvas,
                colorscale=colorscale,
                zmin=zmin,
                zmax=zmax,
                showscale=showscale,
                colorbar=colorbar,
                hoverinfo="skip" if hovertemplate is None else None,
                hovertemplate=hovertemplate,
            )
        )
    for (top, left), caption in zip(corners, captions or (), strict=False):
        # From the tile's bottom left corner down (plotly pads an annotation by 2 pixels).
        fig.add_annotation(
            x=left - 0.5,
            y=top + h - 0.5,
            text=caption,
            showarrow=False,
            xanchor="left",
            yanchor="top",
            align="left",
            font={"size": 9},
        )
    for row, label in enumerate(row_labels or ()):
        fig.add_annotation(
            x=-0.5,
            xshift=-6,
            y=row * (h + gap[0]) + (h - 1) / 2,
            text=label,
            showarrow=False,
            xanchor="right",
        )
    # The last row's captions are inside the plot too, not in the margin under it.
    tall = canvas.shape[0] + (gap[0] if captions is not None else 0)
    fig.update_yaxes(autorange=False, range=[tall - 0.5, -0.5], scaleanchor="x", visible=False)
    fig.update_xaxes(autorange=False, range=[-0.5, canvas.shape[1] - 0.5], visible=False)
    # Tiles about TILE_PX screen pixels high whatever the image size, so one image is not a poster.
    fig.update_layout(
        height=int(100 + tall * TILE_PX / h),
        # Where the tiles are, in the axes' units: the report's layout checks measure them.
        meta={"tiles": {"size": [int(h), int(w)], "corners": [list(c) for c in corners]}},
    )
    return gap


def log_axis(values: ArrayLike) -> dict[str, Any]:
    """A log axis for positive ``values`` labelled at 1, 2 and 5 of each power of ten, or
    at the powers alone beyond three decades: plotly labels every digit on a short
    range, and the labels run into each other."""
    data = np.asarray(values, dtype=np.float64)
    positive = data[np.isfinite(data) & (data > 0)]
    decades = float(np.log10(positive.max() / positive.min())) if positive.size else 0.0
    return {"type": "log", "dtick": 1 if decades > 3 else "D2"}


# Colour scales end at the 99.5th percentile of |value|, so a few extreme pixels do not wash
# out all the others (those beyond it show at full colour).
def color_limit(values: np.ndarray, quantile: float = 99.5) -> float:
    """The colour scale's end: a high ``quantile`` of |value| (the largest if that is 0; 1 if all are)."""
    finite = np.abs(values[np.isfinite(values)])
    top = float(np.percentile(finite, quantile)) if finite.size else 0.0
    return top if top > 0 else (float(finite.max()) if finite.size and finite.max() > 0 else 1.0)


class MapDisplay(Display):
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

    def __init__(
        self, maps: ArrayLike, titles: Sequence[str], *, title: str = "", signed: bool = False
    ) -> None:
        self.maps = np.asarray(maps, dtype=np.float64)
        if self.maps.ndim == 2:
            self.maps = self.maps[None]
        if self.maps.ndim != 3 or len(titles) != len(self.maps):
            raise DataError(
                f"give maps of shape (n, height, width) and one title each, got {self.maps.shape} "
                f"and {len(titles)} titles"
            )
        self.titles = list(titles)
        self.title = title
        self.signed = signed

    def plot(self, ax: Axes | None = None, *, n_cols: int | None = None) -> Self:
        """Draw on ``ax`` (a new figure if None); return self."""
        n, h, _ = self.maps.shape
        cols = n_cols or min(n, max(4, int(np.ceil(np.sqrt(n)))))
        rows = -(-n // cols)
        if ax is None:
            ax = new_axes((1.5 * cols + 1.2, 1.6 * rows + 0.7))
        ax = self._start(ax)
        gap = max(1, round(0.35 * h))
        canvas, corners = mosaic(self.maps, np.arange(n), n_cols=cols, gap=gap)
        import matplotlib as mpl

        if self.signed:
            limit = color_limit(self.maps)
            cmap, vmin, vmax = mpl.colormaps["RdBu_r"], -limit, limit
        else:
            cmap, vmin, vmax = mpl.colormaps["viridis"], 0.0, color_limit(self.maps)
        image = ax.imshow(
            canvas,
            cmap=cmap.with_extremes(bad="white"),
            vmin=vmin,
            vmax=vmax,
            interpolation="nearest",
        )
        for (top, left), text in zip(corners, self.titles, strict=True):
            ax.text(left, top + h, text, va="top", ha="left", fontsize=7, clip_on=False)
        ax.figure.colorbar(image, ax=ax, shrink=0.8)
        ax.set_axis_off()
        ax.set_title(self.title, fontsize="medium")
        return self


def pixel_map_figure(
    maps: ArrayLike, titles: Sequence[str], *, title: str = "", signed: bool = False
) -> go.Figure:
    """Per-pixel maps as one mosaic heat map, each labelled under it; hover shows the value."""

    values = np.asarray(maps, dtype=np.float64)
    if values.ndim == 2:
        values = values[None]
    n = len(values)
    limit = color_limit(values)
    fig = plotly_figure(title, "", "")
    add_tiles(
        fig,
        values,
        titles,
        n_cols=min(n, max(4, int(np.ceil(np.sqrt(n))))),
        caption_lines=1,
        colorscale="RdBu_r" if signed else "Viridis",
        zmin=-limit if signed else 0.0,
        zmax=limit,
        showscale=True,
        hovertemplate="%{z:.3g}<extra></extra>",
    )
    return fig
