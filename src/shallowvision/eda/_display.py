"""Matplotlib displays of the EDA records, in the style of :mod:`shallowvision.evaluation`.

A display holds one record; ``plot(ax=None)`` draws on the axes it is given, or on a new
figure made without pyplot, and returns the display with ``ax_`` and ``figure_`` set.
Images are always drawn as images, at the dataset's own height x width (one tile per
image, nearest-neighbour scaling).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal

import numpy as np

from shallowvision._plotting import MAX_LEGEND, Display, draw_tiles, new_axes
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
    from matplotlib.axes import Axes

__all__ = [
    "CentreOfMassDisplay",
    "ChannelHistogramDisplay",
    "ClassBalanceDisplay",
    "ClassImagesDisplay",
    "DifferencesDisplay",
    "DistributionDisplay",
    "DuplicatesDisplay",
    "ExplainedVarianceDisplay",
    "HueHistogramDisplay",
    "ImageGridDisplay",
    "PixelHistogramDisplay",
    "ProjectionDisplay",
    "class_colours",
    "tile_figsize",
]


def tile_figsize(
    n_rows: int,
    n_cols: int,
    image_shape: tuple[int, ...],
    *,
    caption_lines: int = 0,
    label_inches: float = 0.0,
    colorbar: bool = False,
) -> tuple[float, float]:
    """Figure size (inches) for a mosaic of ``n_rows`` x ``n_cols`` tiles.

    A tile is 0.7 inch wide, or 1.15 inch when it has a caption (room for a class name
    and a number at 6.5 points), whatever its pixel count; its height follows the
    image's aspect ratio.
    """
    h, w = image_shape[:2]
    tile_w = 1.15 if caption_lines else 0.7
    tile_h = tile_w * h / w
    width = n_cols * tile_w * 1.05 + label_inches + (1.2 if colorbar else 0.0) + 0.4
    height = n_rows * (tile_h * 1.05 + 0.13 * caption_lines) + 0.9
    return (max(width, 6.0), max(height, 2.0))


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def class_colours(n: int) -> list[tuple[float, float, float, float]]:
    """One distinct colour per class: tab10 or tab20 up to 20 classes, a rainbow beyond."""
    import matplotlib as mpl

    if n <= 10:
        return [mpl.colormaps["tab10"](i) for i in range(n)]
    if n <= 20:
        return [mpl.colormaps["tab20"](i) for i in range(n)]
    return [mpl.colormaps["gist_rainbow"](i / max(1, n - 1)) for i in range(n)]


def _tick_labels(ax: Axes, names: tuple[str, ...], axis: Literal["x", "y"] = "x") -> None:
    many = len(names) > 12
    ticks = np.arange(len(names))
    if axis == "x":
        ax.set_xticks(ticks, names, rotation=90 if many else 30, ha="center" if many else "right")
    else:
        ax.set_yticks(ticks, names)
    if len(names) > 20:
        ax.tick_params(axis=axis, labelsize="x-small")


class ClassBalanceDisplay(Display):
    """Images per class: train bars against the left axis, test bars against the right,
    both axes scaled so that equal shares of a split have equal heights."""

    _figsize = (7.0, 4.5)

    def __init__(self, balance: ClassBalance) -> None:
        self.balance = balance

    def plot(self, ax: Axes | None = None) -> ClassBalanceDisplay:
        """Draw on ``ax``; return self."""
        ax = self._start(ax)
        b = self.balance
        x = np.arange(len(b.class_names))
        both = b.test_counts is not None
        width = 0.4 if both else 0.8
        ax.bar(x - width / 2 * both, b.train_counts, width=width, color="tab:blue", label="train")
        top = max(1, int(b.train_counts.max())) * 1.2
        ax.set_ylim(0, top)
        ax.set_ylabel("train images")
        _tick_labels(ax, b.class_names)
        if b.test_counts is not None:
            test_ax = ax.twinx()
            test_ax.bar(x + width / 2, b.test_counts, width=width, color="tab:orange", label="test")
            ratio = b.test_counts.sum() / max(1, b.train_counts.sum())
            test_ax.set_ylim(0, top * ratio if ratio > 0 else 1)
            test_ax.set_ylabel("test images", color="tab:orange")
            test_ax.tick_params(axis="y", colors="tab:orange")
            self.test_ax_ = test_ax
            handles = ax.get_legend_handles_labels()[0] + test_ax.get_legend_handles_labels()[0]
            ax.legend(handles=handles, loc="upper left", ncol=2, fontsize="small")
        state = "balanced" if b.balanced else f"imbalance ratio {b.imbalance_ratio:.2f}"
        ax.set_title(f"Images per class ({state})")
        return self


class DistributionDisplay(Display):
    """Box plots of one per-image statistic: each class, and all images together.

    Boxes span the 25th to 75th percentiles with the median marked; whiskers reach the
    5th and 95th percentiles; the dot is the mean.
    """

    _figsize = (7.0, 4.0)

    def __init__(self, distribution: Distribution) -> None:
        self.distribution = distribution

    def plot(self, ax: Axes | None = None) -> DistributionDisplay:
        """Draw on ``ax``; return self."""
        ax = self._start(ax)
        d = self.distribution
        rows = [*zip(d.class_names, d.quantiles, d.mean, strict=True)]
        rows.append(("all", d.overall_quantiles, d.overall_mean))
        stats = [
            {
                "label": name,
                "whislo": q[0],
                "q1": q[1],
                "med": q[2],
                "q3": q[3],
                "whishi": q[4],
                "mean": m,
            }
            for name, q, m in rows
            if np.isfinite(q).all()
        ]
        positions = [i for i, (_, q, _) in enumerate(rows) if np.isfinite(q).all()]
        ax.bxp(
            stats,
            positions=positions,
            showfliers=False,
            showmeans=True,
            meanprops={"marker": "o", "markersize": 3, "markerfacecolor": "black"},
            medianprops={"color": "tab:red"},
        )
        _tick_labels(ax, (*d.class_names, "all"))
        ax.axvline(len(d.class_names) - 0.5, color="grey", lw=0.8, ls=":")
        ax.set_ylabel(d.label)
        undefined = f" ({d.n_undefined:,} blank images left out)" if d.n_undefined else ""
        ax.set_title(f"{d.label} per image, by class{undefined}", fontsize="medium")
        return self


class CentreOfMassDisplay(Display):
    """Each class's mean centre of mass, with the standard deviation of the centres as error
    bars, over the mean image of all classes (in image coordinates; in colour for colour
    images)."""

    def __init__(self, ink: InkStatistics, mean_image: np.ndarray) -> None:
        self.ink = ink
        self.mean_image = np.asarray(mean_image)
        if self.mean_image.shape[:2] != tuple(ink.image_shape):
            raise DataError(
                f"the mean image has shape {self.mean_image.shape}, the images {ink.image_shape}"
            )

    def plot(self, ax: Axes | None = None) -> CentreOfMassDisplay:
        """Draw on ``ax``; return self."""
        ax = self._start(ax)
        ink = self.ink
        h, w = ink.image_shape
        if self.mean_image.ndim == 3:
            ax.imshow(np.clip(self.mean_image / 255.0, 0, 1), interpolation="nearest")
        else:
            ax.imshow(self.mean_image, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        colours = class_colours(len(ink.class_names))
        many = len(ink.class_names) > MAX_LEGEND
        for c, name in enumerate(ink.class_names):
            x, y = ink.centre_x.mean[c], ink.centre_y.mean[c]
            if not np.isfinite(x):
                continue
            ax.errorbar(
                x,
                y,
                xerr=ink.centre_x.std[c],
                yerr=ink.centre_y.std[c],
                fmt="o",
                ms=4,
                lw=1,
                capsize=2,
                color=colours[c],
                label=None if many else name,
            )
            if many:
                ax.annotate(
                    name,
                    (x, y),
                    fontsize=5,
                    color=colours[c],
                    xytext=(2, 2),
                    textcoords="offset points",
                )
        ax.plot([(w - 1) / 2], [(h - 1) / 2], "x", color="red", ms=8, mew=1.5, label="image centre")
        ax.set(
            xlim=(-0.5, w - 0.5),
            ylim=(h - 0.5, -0.5),
            xlabel="x (column, px)",
            ylabel="y (row, px)",
        )
        ax.set_title("Centre of mass per class (± std of the images' centres)", fontsize="medium")
        ax.legend(fontsize="x-small", loc="center left", bbox_to_anchor=(1.02, 0.5))
        return self


class PixelHistogramDisplay(Display):
    """Share of pixels at each grey level (log scale), all classes and, up to 12, each class."""

    def __init__(self, histogram: PixelHistogram) -> None:
        self.histogram = histogram

    def plot(self, ax: Axes | None = None) -> PixelHistogramDisplay:
        """Draw on ``ax``; return self."""
        ax = self._start(ax)
        hist = self.histogram
        levels = np.arange(256)
        if len(hist.class_names) <= MAX_LEGEND:
            for name, counts, colour in zip(
                hist.class_names, hist.counts, class_colours(len(hist.class_names)), strict=True
            ):
                total = counts.sum()
                if total:
                    ax.step(
                        levels,
                        counts / total,
                        where="mid",
                        lw=0.8,
                        alpha=0.8,
                        color=colour,
                        label=name,
                    )
        total = hist.total
        ax.step(
            levels, total / max(1, total.sum()), where="mid", lw=1.8, color="black", label="all"
        )
        ax.set_yscale("log")
        ax.set(
            xlim=(-0.5, 255.5),
            xlabel="Grey level",
            ylabel="Share of pixels",
            title=f"Pixel intensities ({hist.share_zero:.0%} are 0, {hist.share_max:.1%} are 255)",
        )
        ax.legend(fontsize="x-small", ncol=2)
        return self


#: Line colours of the red, green and blue channels.
CHANNEL_COLOURS = ("tab:red", "tab:green", "tab:blue")
CHANNEL_NAMES = ("red", "green", "blue")


class ChannelHistogramDisplay(Display):
    """Share of each channel's values at each level, per class: the red, green and blue
    histograms side by side along one axis (log scale), one line per class (up to 12,
    else all classes together)."""

    _figsize = (9.0, 4.5)

    def __init__(self, histogram: PixelHistogram) -> None:
        if histogram.channels is None:
            raise DataError("these are grey images: there are no channel histograms to draw")
        self.histogram = histogram

    def plot(self, ax: Axes | None = None) -> ChannelHistogramDisplay:
        """Draw on ``ax``; return self."""
        ax = self._start(ax)
        hist = self.histogram
        channels = np.asarray(hist.channels, dtype=np.float64)  # (k, 3, 256)
        names = list(hist.class_names)
        if len(names) > MAX_LEGEND:
            channels, names = channels.sum(axis=0, keepdims=True), ["all classes"]
        levels = np.arange(256)
        for c, (name, colour) in enumerate(zip(names, class_colours(len(names)), strict=True)):
            for ch in range(3):
                counts = channels[c, ch]
                if counts.sum():
                    ax.step(
                        ch * 256 + levels,
                        counts / counts.sum(),
                        where="mid",
                        lw=0.9,
                        color=colour,
                        label=name if ch == 0 else None,
                    )
        for ch, (tint, label) in enumerate(zip(CHANNEL_COLOURS, CHANNEL_NAMES, strict=True)):
            ax.axvspan(ch * 256 - 0.5, ch * 256 + 255.5, color=tint, alpha=0.07, lw=0)
            ax.text(
                ch * 256 + 128,
                1.0,
                label,
                transform=ax.get_xaxis_transform(),
                ha="center",
                va="bottom",
                color=tint,
                fontsize="small",
            )
        ax.set_yscale("log")
        ax.set_xticks([0, 128, 256, 384, 512, 640, 767], ["0", "128"] * 3 + ["255"])
        ax.set(xlim=(-0.5, 767.5), xlabel="Channel value", ylabel="Share of the channel's values")
        ax.set_title("Red, green and blue values per class", fontsize="medium", pad=16)
        ax.legend(fontsize="x-small", ncol=2)
        return self


class HueHistogramDisplay(Display):
    """Share of each class's coloured pixels at each hue (grey pixels left out), over a strip
    of the hues themselves."""

    _figsize = (8.0, 4.5)

    def __init__(self, colour: ColourStatistics) -> None:
        self.colour = colour

    def plot(self, ax: Axes | None = None) -> HueHistogramDisplay:
        """Draw on ``ax``; return self."""
        from shallowvision._colour import hsv_to_rgb

        ax = self._start(ax)
        c = self.colour
        edges = np.asarray(c.hue_edges, dtype=np.float64)
        counts = np.asarray(c.hue_counts, dtype=np.float64)
        names = list(c.class_names)
        grey = np.asarray(c.grey_share, dtype=np.float64)
        if len(names) > MAX_LEGEND:
            counts, names, grey = counts.sum(axis=0, keepdims=True), ["all classes"], grey[:0]
        top = 0.0
        for k, (name, colour) in enumerate(zip(names, class_colours(len(names)), strict=True)):
            total = counts[k].sum()
            if not total:
                continue
            share = counts[k] / total
            top = max(top, float(share.max()))
            label = name + (f" ({grey[k]:.0%} grey)" if len(grey) else "")
            ax.stairs(share, edges, lw=1.2, color=colour, label=label)
        top = top or 1.0
        strip = hsv_to_rgb(np.linspace(0, 360, 361), np.ones(361), np.ones(361))[None]
        ax.imshow(strip, extent=(0, 360, -0.08 * top, -0.02 * top), aspect="auto")
        ax.set_xticks(
            range(0, 361, 60), ["0 red", "60", "120 green", "180", "240 blue", "300", "360"]
        )
        ax.set(
            xlim=(0, 360),
            ylim=(-0.09 * top, 1.08 * top),
            xlabel="Hue (degrees)",
            ylabel="Share of the class's coloured pixels",
        )
        ax.set_title(
            "Hues of each class (pixels of saturation and value >= 0.1)", fontsize="medium"
        )
        ax.legend(fontsize="x-small", ncol=2)
        return self


class ClassImagesDisplay(Display):
    """The mean image, or the variance image, of every class (colour images: the mean in
    colour, the variance summed over the three channels)."""

    def __init__(self, images: ClassImages) -> None:
        self.images = images

    def plot(
        self, ax: Axes | None = None, *, kind: Literal["mean", "variance"] = "mean"
    ) -> ClassImagesDisplay:
        """Draw the ``kind`` image of each class on ``ax``; return self."""
        if kind not in ("mean", "variance"):
            raise DataError(f"kind must be 'mean' or 'variance', got {kind!r}")
        ci = self.images
        k = len(ci.class_names)
        cols = min(k, max(5, math.ceil(math.sqrt(k))))
        tiles = ci.mean if kind == "mean" else ci.total_variance
        colour = ci.mean.ndim == 4
        if ax is None:
            ax = new_axes(
                tile_figsize(
                    -(-k // cols),
                    cols,
                    tiles.shape[1:],
                    caption_lines=1,
                    colorbar=kind == "variance",
                )
            )
        ax = self._start(ax)
        top = float(np.nanmax(tiles)) if kind == "variance" and np.isfinite(tiles).any() else 255.0
        image = draw_tiles(
            ax,
            tiles,
            [f"{name} ({n:,})" for name, n in zip(ci.class_names, ci.counts, strict=True)],
            n_cols=cols,
            caption_lines=1,
            cmap="gray" if kind == "mean" else "magma",
            vmax=max(top, 1e-9),
        )
        if kind == "variance" and image is not None:
            label = "variance, summed over R, G, B" if colour else "variance (grey levels²)"
            ax.figure.colorbar(image, ax=ax, shrink=0.7, label=label)
        ax.set_title(
            f"{kind.capitalize()} image of each class (training images in brackets)",
            fontsize="medium",
        )
        return self


class DifferencesDisplay(Display):
    """Absolute differences between class mean images: the most similar pairs, or one class
    against each other class; the caption gives each image's mean (grey levels)."""

    def __init__(self, differences: ClassDifferences) -> None:
        self.differences = differences

    def plot(
        self, ax: Axes | None = None, *, view: Literal["similar", "others"] = "similar"
    ) -> DifferencesDisplay:
        """Draw on ``ax``; ``view`` picks the most similar pairs or the chosen class against
        the others. Returns self."""
        if view not in ("similar", "others"):
            raise DataError(f"view must be 'similar' or 'others', got {view!r}")
        d = self.differences
        pairs = d.most_similar if view == "similar" else d.against_others
        cols = min(max(1, len(pairs)), 10)
        shape = d.most_similar[0].image.shape if d.most_similar else (1, 1)
        if ax is None:
            rows = max(1, -(-len(pairs) // cols))
            ax = new_axes(tile_figsize(rows, cols, shape, caption_lines=2, colorbar=True))
        ax = self._start(ax)
        vmax = max([float(p.image.max()) for p in (*d.most_similar, *d.against_others)] + [1e-9])
        tiles = np.stack([p.image for p in pairs]) if pairs else np.zeros((0, *shape))
        image = draw_tiles(
            ax,
            tiles,
            [f"{p.first} vs\n{p.second}: {p.distance:.1f}" for p in pairs],
            n_cols=cols,
            cmap="magma",
            vmax=vmax,
        )
        if image is not None:
            ax.figure.colorbar(image, ax=ax, shrink=0.7, label="|difference| (grey levels)")
        title = (
            "Most similar class means: |difference|"
            if view == "similar"
            else f"{d.compare_class} against each other class: |difference of the means|"
        )
        ax.set_title(title, fontsize="medium")
        return self


class ImageGridDisplay(Display):
    """A few images of each class, one row per class (with each image's score, if any)."""

    def __init__(self, grid: ImageGrid) -> None:
        self.grid = grid

    def plot(self, ax: Axes | None = None) -> ImageGridDisplay:
        """Draw on ``ax``; return self."""
        g = self.grid
        k, m = g.indices.shape
        shape = g.images.shape[2:]
        captions = None
        if g.scores is not None:
            captions = [
                f"#{i} {s:.1f}x" if i >= 0 else ""
                for i, s in zip(g.indices.ravel(), g.scores.ravel(), strict=True)
            ]
        if ax is None:
            ax = new_axes(
                tile_figsize(k, m, shape, caption_lines=1 if captions else 0, label_inches=1.2)
            )
        ax = self._start(ax)
        tiles = g.images.reshape(k * m, *shape).astype(np.float64)
        tiles[g.indices.ravel() < 0] = np.nan
        draw_tiles(ax, tiles, captions, n_cols=m, caption_lines=1, row_labels=g.class_names)
        title = g.title + (f"\n({g.score_label})" if g.score_label else "")
        ax.set_title(title, fontsize="medium")
        return self


class ExplainedVarianceDisplay(Display):
    """Cumulative share of the pixel variance against the number of principal components."""

    def __init__(self, pca: PCASummary) -> None:
        self.pca = pca

    def plot(self, ax: Axes | None = None) -> ExplainedVarianceDisplay:
        """Draw on ``ax``; return self."""
        ax = self._start(ax)
        p = self.pca
        ratio = p.explained_variance_ratio
        components = np.arange(1, len(ratio) + 1)
        ax.plot(components, np.cumsum(ratio), lw=1.8, label="cumulative")
        # Filled, not bars: bars on a log axis have uneven widths.
        ax.fill_between(components, ratio, color="tab:grey", alpha=0.5, label="each component")
        levels = zip(p.variance_levels, p.components_needed, p.shares_reached, strict=True)
        for level, n, reached in levels:
            ax.plot([n], [reached], "o", ms=4, color="black")
            ax.annotate(
                f"{level:.0%}: {n}",
                (n, reached),
                xytext=(-4, 4),
                textcoords="offset points",
                ha="right",
                fontsize="x-small",
            )
        ax.set_xscale("log")
        ax.set(
            xlim=(1, max(len(ratio), 2)),
            ylim=(0, 1.05),
            xlabel="Principal components",
            ylabel="Share of the pixel variance",
            title="PCA explained variance",
        )
        ax.legend(loc="center right", fontsize="small")
        return self


class ProjectionDisplay(Display):
    """A sample of the training images on the first two principal components, by class."""

    _figsize = (7.0, 5.5)

    def __init__(self, pca: PCASummary) -> None:
        self.pca = pca

    def plot(self, ax: Axes | None = None) -> ProjectionDisplay:
        """Draw on ``ax``; return self."""
        ax = self._start(ax)
        p = self.pca
        colours = class_colours(len(p.class_names))
        many = len(p.class_names) > MAX_LEGEND
        for c, name in enumerate(p.class_names):
            points = p.coordinates[p.labels == c]
            if len(points):
                ax.scatter(
                    points[:, 0],
                    points[:, 1],
                    s=4,
                    alpha=0.6,
                    color=colours[c],
                    label=None if many else name,
                )
        ratio = p.explained_variance_ratio
        second = ratio[1] if len(ratio) > 1 else 0.0
        ax.set(
            xlabel=f"PC 1 ({ratio[0]:.0%} of the variance)",
            ylabel=f"PC 2 ({second:.0%})",
            title=f"{len(p.labels):,} training images on the first two principal components",
        )
        if not many:
            ax.legend(fontsize="x-small", markerscale=2.5, loc="best")
        return self


class DuplicatesDisplay(Display):
    """Example pairs of duplicate images, side by side, with their indices and labels."""

    def __init__(self, duplicates: Duplicates) -> None:
        self.duplicates = duplicates

    def plot(self, ax: Axes | None = None, *, pairs_per_row: int = 4) -> DuplicatesDisplay:
        """Draw on ``ax``; return self."""
        d = self.duplicates
        m = len(d.first_index)
        per_row = max(1, min(m, pairs_per_row))
        shape = d.images.shape[2:]
        if ax is None:
            ax = new_axes(
                tile_figsize(max(1, -(-m // per_row)), 2 * per_row, shape, caption_lines=2)
            )
        ax = self._start(ax)
        second = "train" if d.scope == "train" else "test"
        captions = []
        for i, j, a, b, dist in zip(
            d.first_index, d.second_index, d.first_label, d.second_label, d.distance, strict=True
        ):
            captions += [
                f"train #{i}\n{a}",
                f"{second} #{j}\n{b}" + (f" ({dist:.1f})" if d.kind == "near" else ""),
            ]
        draw_tiles(ax, d.images.reshape(2 * m, *shape), captions, n_cols=2 * per_row)
        ax.set_title(_sentence(d.describe()), fontsize="medium")
        return self
