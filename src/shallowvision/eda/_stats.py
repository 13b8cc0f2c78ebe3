"""The EDA's records other than duplicates, and how each is built from one :class:`TrainScan`.

Coordinates of images are in pixels: ``x`` is the column (0 at the left), ``y`` the row
(0 at the top), so the centre of a 28x28 image is (13.5, 13.5).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from shallowvision._records import OMIT_NONE
from shallowvision.eda._records import EdaRecord, decimals
from shallowvision.eda._scan import HUE_BINS, SATURATION_BINS, TrainScan

__all__ = [
    "QUANTILES",
    "ClassBalance",
    "ClassDifferences",
    "ClassImages",
    "ColourStatistics",
    "Distribution",
    "ImageGrid",
    "InkStatistics",
    "MeanDifference",
    "PCASummary",
    "PixelHistogram",
]

#: Quantiles kept for every per-image statistic (the boxes and whiskers of the box plots).
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
#: Shares of the pixel variance whose component counts are reported.
VARIANCE_LEVELS = (0.5, 0.8, 0.9, 0.95, 0.99)
#: Largest/smallest class ratio still called balanced.
BALANCED_RATIO = 1.1


# -- class balance --------------------------------------------------------------------------
@dataclass(frozen=True, eq=False, kw_only=True)
class ClassBalance(EdaRecord):
    """Images per class in train (and test).

    Attributes
    ----------
    imbalance_ratio : float
        Images of the largest class over those of the smallest non-empty one (train).
    balanced : bool
        Whether that ratio is at most 1.1 and no class is empty.
    """

    class_names: tuple[str, ...]
    train_counts: np.ndarray
    test_counts: np.ndarray | None
    imbalance_ratio: float
    balanced: bool

    @property
    def empty_classes(self) -> tuple[str, ...]:
        """Classes without a training image."""
        return tuple(c for c, n in zip(self.class_names, self.train_counts, strict=True) if n == 0)

    def describe(self, split: str = "train") -> str:
        """One line of findings, e.g. ``"train is balanced: 6,000 images per class"``."""
        counts = self.train_counts if split == "train" else self.test_counts
        if counts is None:
            return f"no {split} split"
        present = counts[counts > 0]
        if not len(present):
            return f"{split} has no images"
        lo, hi = int(present.min()), int(present.max())
        empty = [c for c, n in zip(self.class_names, counts, strict=True) if n == 0]
        missing = f"; no images of {', '.join(empty)}" if empty else ""
        if hi <= BALANCED_RATIO * lo:
            spread = (
                f"{lo:,} images per class" if lo == hi else f"{lo:,} to {hi:,} images per class"
            )
            return f"{split} is balanced: {spread}{missing}"
        big = self.class_names[int(np.argmax(counts))]
        small = self.class_names[int(np.argmin(np.where(counts > 0, counts, counts.max() + 1)))]
        return (
            f"{split} is imbalanced: {big} has {hi:,} images, {hi / lo:.1f}x the {lo:,} "
            f"of {small}{missing}"
        )


def class_balance(
    class_names: tuple[str, ...], train_counts: np.ndarray, test_counts: np.ndarray | None
) -> ClassBalance:
    """Images per class and whether the training split is balanced."""
    present = train_counts[train_counts > 0]
    ratio = float(present.max() / present.min()) if len(present) else float("nan")
    return ClassBalance(
        class_names=class_names,
        train_counts=np.asarray(train_counts, dtype=np.int64),
        test_counts=None if test_counts is None else np.asarray(test_counts, dtype=np.int64),
        imbalance_ratio=ratio,
        balanced=bool(len(present) == len(train_counts) and ratio <= BALANCED_RATIO),
    )


# -- per-image statistics -------------------------------------------------------------------
@dataclass(frozen=True, eq=False, kw_only=True)
class Distribution(EdaRecord):
    """The distribution of one per-image statistic, per class and overall.

    Attributes
    ----------
    name : str
        ``"mean_intensity"``, ``"nonzero_share"``, ``"centre_x"``, ``"centre_y"`` or ``"spread"``.
    label : str
        Axis label, with its unit.
    bin_edges : ndarray, shape (n_bins + 1,)
    counts : ndarray of int, shape (n_classes, n_bins)
        Images of each class per bin.
    mean, std : ndarray, shape (n_classes,)
    quantiles : ndarray, shape (n_classes, 5)
        The 5th, 25th, 50th, 75th and 95th percentiles of each class.
    overall_mean, overall_std : float
    overall_quantiles : ndarray, shape (5,)
    n_undefined : int
        Images where the statistic is undefined (the centre of mass and ink spread of an
        all-zero image); they are left out.
    """

    name: str
    label: str
    class_names: tuple[str, ...]
    bin_edges: np.ndarray = field(metadata=decimals(4))
    counts: np.ndarray
    mean: np.ndarray = field(metadata=decimals(4))
    std: np.ndarray = field(metadata=decimals(4))
    quantiles: np.ndarray = field(metadata=decimals(4))
    overall_mean: float = field(metadata=decimals(4))
    overall_std: float = field(metadata=decimals(4))
    overall_quantiles: np.ndarray = field(metadata=decimals(4))
    n_undefined: int


def distribution(
    name: str,
    label: str,
    values: np.ndarray,
    labels: np.ndarray,
    class_names: tuple[str, ...],
    value_range: tuple[float, float],
    n_bins: int = 32,
) -> Distribution:
    """Histogram per class, mean, std and quantiles of one per-image statistic."""
    k = len(class_names)
    defined = np.isfinite(values)
    v, y = values[defined], labels[defined]
    edges = np.linspace(*value_range, n_bins + 1)
    bins = np.clip(np.searchsorted(edges, v, side="right") - 1, 0, n_bins - 1)
    counts = np.bincount(y * n_bins + bins, minlength=k * n_bins).reshape(k, n_bins)
    mean, std = np.full(k, np.nan), np.full(k, np.nan)
    quantiles = np.full((k, len(QUANTILES)), np.nan)
    order = np.argsort(y, kind="stable")
    bounds = np.searchsorted(y[order], np.arange(k + 1))
    for c in range(k):
        members = v[order[bounds[c] : bounds[c + 1]]]
        if len(members):
            mean[c], std[c] = members.mean(), members.std()
            quantiles[c] = np.quantile(members, QUANTILES)
    has = len(v) > 0
    return Distribution(
        name=name,
        label=label,
        class_names=class_names,
        bin_edges=edges,
        counts=counts,
        mean=mean,
        std=std,
        quantiles=quantiles,
        overall_mean=float(v.mean()) if has else float("nan"),
        overall_std=float(v.std()) if has else float("nan"),
        overall_quantiles=np.quantile(v, QUANTILES) if has else np.full(len(QUANTILES), np.nan),
        n_undefined=int(np.count_nonzero(~defined)),
    )


@dataclass(frozen=True, eq=False, kw_only=True)
class InkStatistics(EdaRecord):
    """Per-image ink statistics of the training images, per class and overall.

    ``mean_intensity`` is each image's mean pixel value (0-255; in colour, the mean of
    every channel value); ``nonzero_share`` its share of non-zero pixels (in colour, of
    pixels with a non-zero channel); the centre and spread weigh each pixel by the sum
    of its channels in colour; ``centre_x`` and ``centre_y`` its intensity-weighted centre
    of mass (pixels); ``spread`` the intensity-weighted RMS distance of its pixels from
    that centre (pixels). The spread of the centres themselves is each class's
    ``centre_x.std`` and ``centre_y.std``.

    Attributes
    ----------
    n_blank : int
        Images whose every pixel is 0.
    blank_index : ndarray of int
        The first (at most 12) of them.
    """

    class_names: tuple[str, ...]
    image_shape: tuple[int, int]
    mean_intensity: Distribution
    nonzero_share: Distribution
    centre_x: Distribution
    centre_y: Distribution
    spread: Distribution
    n_blank: int
    blank_index: np.ndarray

    def distributions(self) -> tuple[Distribution, ...]:
        """The five distributions, in a fixed order."""
        return (self.mean_intensity, self.nonzero_share, self.centre_x, self.centre_y, self.spread)

    def table(self) -> list[dict[str, object]]:
        """One row per class: the mean of each statistic, and the spread of the centres."""
        rows = []
        for c, name in enumerate(self.class_names):
            rows.append(
                {
                    "class": name,
                    "mean_intensity": float(self.mean_intensity.mean[c]),
                    "nonzero_share": float(self.nonzero_share.mean[c]),
                    "centre_x": float(self.centre_x.mean[c]),
                    "centre_y": float(self.centre_y.mean[c]),
                    "centre_x_std": float(self.centre_x.std[c]),
                    "centre_y_std": float(self.centre_y.std[c]),
                    "spread": float(self.spread.mean[c]),
                }
            )
        return rows


def ink_statistics(
    scan: TrainScan, labels: np.ndarray, class_names: tuple[str, ...]
) -> InkStatistics:
    """The per-image statistics of a scan, as distributions."""
    h, w = scan.image_size
    blank = np.flatnonzero(scan.mean_intensity == 0)
    reach = float(np.hypot(h - 1, w - 1) / 2) or 0.5

    def make(name: str, label: str, values: np.ndarray, lo: float, hi: float) -> Distribution:
        return distribution(name, label, values, labels, class_names, (lo, hi))

    return InkStatistics(
        class_names=class_names,
        image_shape=(h, w),
        mean_intensity=make(
            "mean_intensity", "Mean intensity (0-255)", scan.mean_intensity, 0, 255
        ),
        nonzero_share=make("nonzero_share", "Share of non-zero pixels", scan.nonzero_share, 0, 1),
        centre_x=make("centre_x", "Centre of mass x (column, px)", scan.centre_x, -0.5, w - 0.5),
        centre_y=make("centre_y", "Centre of mass y (row, px)", scan.centre_y, -0.5, h - 0.5),
        spread=make("spread", "Ink spread around its centre (RMS, px)", scan.spread, 0, reach),
        n_blank=len(blank),
        blank_index=blank[:12],
    )


# -- pixels ---------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False, kw_only=True)
class PixelHistogram(EdaRecord):
    """How often each grey level 0-255 occurs, per class (training images).

    In colour, ``counts`` pools the values of all three channels and ``channels`` holds
    each channel's own counts, shape ``(n_classes, 3, 256)`` (red, green, blue); None
    for grey images.
    """

    class_names: tuple[str, ...]
    counts: np.ndarray  # (n_classes, 256)
    channels: np.ndarray | None = field(default=None, metadata=OMIT_NONE)

    @property
    def total(self) -> np.ndarray:
        """Counts of all classes together, shape (256,)."""
        return self.counts.sum(axis=0)

    @property
    def share_zero(self) -> float:
        """Share of all pixels that are 0."""
        total = self.total
        return float(total[0] / max(1, total.sum()))

    @property
    def share_max(self) -> float:
        """Share of all pixels that are 255."""
        total = self.total
        return float(total[255] / max(1, total.sum()))

    def to_dict(self) -> dict[str, object]:
        return {**super().to_dict(), "share_zero": self.share_zero, "share_max": self.share_max}


# -- colour -----------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False, kw_only=True)
class ColourStatistics(EdaRecord):
    """The colours of each class's training images (colour datasets only).

    Attributes
    ----------
    channel_means : ndarray, shape (n_classes, 3)
        Mean red, green and blue value of each class (0-255; NaN for an empty class).
    hue_edges : ndarray, shape (37,)
        Hue bins, in degrees (0 red, 120 green, 240 blue).
    hue_counts : ndarray of int, shape (n_classes, 36)
        Pixels of each class per hue bin, counting only pixels coloured enough to have a
        hue (saturation and value both at least 0.1).
    grey_share : ndarray, shape (n_classes,)
        Share of each class's pixels left out of the hue counts as grey, black or white.
    saturation_edges : ndarray, shape (21,)
    saturation_counts : ndarray of int, shape (n_classes, 20)
        Pixels of each class per saturation bin (HSV saturation, 0 for grey).
    mean_saturation : ndarray, shape (n_classes,)
        From the saturation histogram's bin centres.
    dominant_hue : ndarray, shape (n_classes,)
        Centre (degrees) of each class's fullest hue bin; NaN without coloured pixels.
    """

    class_names: tuple[str, ...]
    channel_means: np.ndarray = field(metadata=decimals(3))
    hue_edges: np.ndarray
    hue_counts: np.ndarray
    grey_share: np.ndarray = field(metadata=decimals(4))
    saturation_edges: np.ndarray = field(metadata=decimals(3))
    saturation_counts: np.ndarray
    mean_saturation: np.ndarray = field(metadata=decimals(4))
    dominant_hue: np.ndarray = field(metadata=decimals(1))

    def describe(self) -> list[str]:
        """Findings lines: the mean colour, and where the classes differ in colour."""
        names, m = self.class_names, self.channel_means
        present = np.isfinite(m).all(axis=1)
        if not present.any():
            return []
        overall = np.nanmean(m[present], axis=0)
        lines = [
            "mean colour (red, green, blue) over the classes: "
            + ", ".join(f"{v:.0f}" for v in overall)
            + "; "
            + ", ".join(
                f"{names[c]} ({', '.join(f'{v:.0f}' for v in m[c])})"
                for c in np.flatnonzero(present)[:6]
            )
            + (" ..." if present.sum() > 6 else "")
        ]
        s = self.mean_saturation
        if np.isfinite(s).any():
            lo, hi = int(np.nanargmin(s)), int(np.nanargmax(s))
            hues = [
                f"{names[c]} {self.dominant_hue[c]:.0f}°"
                for c in range(len(names))
                if np.isfinite(self.dominant_hue[c])
            ][:6]
            lines.append(
                f"most saturated class {names[hi]} ({s[hi]:.2f}), least {names[lo]} "
                f"({s[lo]:.2f}); commonest hue: {', '.join(hues) or 'none (all grey)'}"
            )
        return lines


def colour_statistics(scan: TrainScan, class_names: tuple[str, ...]) -> ColourStatistics | None:
    """The colour record of a scan of colour images; None for grey images."""
    if scan.channel_histogram is None or scan.hue_histogram is None:
        return None
    assert scan.saturation_histogram is not None and scan.n_grey_pixels is not None
    k = scan.n_classes
    with np.errstate(invalid="ignore", divide="ignore"):
        channel_means = scan.class_means().reshape(k, -1, 3).mean(axis=1)
        pixels = scan.saturation_histogram.sum(axis=1)
        grey_share = scan.n_grey_pixels / pixels
        s_edges = np.linspace(0, 1, SATURATION_BINS + 1)
        centres = (s_edges[:-1] + s_edges[1:]) / 2
        mean_saturation = scan.saturation_histogram @ centres / pixels
    h_edges = np.linspace(0, 360, HUE_BINS + 1)
    hue_centres = (h_edges[:-1] + h_edges[1:]) / 2
    coloured = scan.hue_histogram.sum(axis=1) > 0
    dominant = np.where(coloured, hue_centres[scan.hue_histogram.argmax(axis=1)], np.nan)
    return ColourStatistics(
        class_names=class_names,
        channel_means=channel_means,
        hue_edges=h_edges,
        hue_counts=scan.hue_histogram,
        grey_share=grey_share,
        saturation_edges=s_edges,
        saturation_counts=scan.saturation_histogram,
        mean_saturation=mean_saturation,
        dominant_hue=dominant,
    )


# -- class images ---------------------------------------------------------------------------
@dataclass(frozen=True, eq=False, kw_only=True)
class ClassImages(EdaRecord):
    """Mean and variance image of each class (variance with ddof 0; NaN for an empty class).

    Colour images have colour means and a variance per channel: ``mean`` and
    ``variance`` are ``(n_classes, height, width, 3)``, ``overall_mean`` is
    ``(height, width, 3)``.
    """

    class_names: tuple[str, ...]
    counts: np.ndarray
    mean: np.ndarray = field(metadata=decimals(3))  # (n_classes, height, width[, 3])
    variance: np.ndarray = field(metadata=decimals(2))  # (n_classes, height, width[, 3])
    overall_mean: np.ndarray = field(metadata=decimals(3))  # (height, width[, 3])

    @property
    def total_variance(self) -> np.ndarray:
        """Each class's variance image summed over the channels, ``(n_classes, height, width)``
        (the variance itself for grey images)."""
        return self.variance.sum(axis=3) if self.variance.ndim == 4 else self.variance


def class_images(scan: TrainScan, class_names: tuple[str, ...]) -> ClassImages:
    shape = (scan.n_classes, *scan.image_shape)
    return ClassImages(
        class_names=class_names,
        counts=scan.counts,
        mean=scan.class_means().reshape(shape),
        variance=scan.class_variances().reshape(shape),
        overall_mean=scan.overall_mean().reshape(scan.image_shape),
    )


@dataclass(frozen=True, eq=False, kw_only=True)
class MeanDifference(EdaRecord):
    """The absolute difference of two classes' mean images; ``distance`` is its mean (grey
    levels). In colour, ``image`` is the difference averaged over the three channels."""

    first: str
    second: str
    first_index: int
    second_index: int
    distance: float = field(metadata=decimals(4))
    image: np.ndarray = field(metadata=decimals(3))  # (height, width)


@dataclass(frozen=True, eq=False, kw_only=True)
class ClassDifferences(EdaRecord):
    """How far apart the class mean images are.

    Attributes
    ----------
    distance : ndarray, shape (n_classes, n_classes)
        Mean absolute difference of the two mean images, in grey levels (NaN for an
        empty class).
    most_similar : tuple of MeanDifference
        The closest pairs of classes, closest first.
    compare_class : str or None
        The class drawn against every other one.
    against_others : tuple of MeanDifference
        ``compare_class`` against each other class, closest first.
    """

    class_names: tuple[str, ...]
    distance: np.ndarray = field(metadata=decimals(4))
    most_similar: tuple[MeanDifference, ...]
    compare_class: str | None
    against_others: tuple[MeanDifference, ...]


def _difference(
    means: np.ndarray, names: tuple[str, ...], a: int, b: int, d: float
) -> MeanDifference:
    return MeanDifference(
        first=names[a],
        second=names[b],
        first_index=int(a),
        second_index=int(b),
        distance=float(d),
        image=_channel_mean(np.abs(means[a] - means[b])),
    )


def _channel_mean(image: np.ndarray) -> np.ndarray:
    """A colour image ``(height, width, 3)`` averaged over its channels; a grey one as it is."""
    return image.mean(axis=2) if image.ndim == 3 else image


def default_compare_class(distance: np.ndarray) -> int | None:
    """The class of the most similar pair that is, on average, closer to all the others."""
    k = len(distance)
    finite = np.isfinite(distance) & ~np.eye(k, dtype=bool)
    if not finite.any():
        return None
    off = np.where(finite, distance, np.inf)
    a, b = np.unravel_index(np.argmin(off), off.shape)
    average = np.where(finite, distance, 0.0).sum(axis=1) / np.maximum(finite.sum(axis=1), 1)
    return int(a if average[a] <= average[b] else b)


def class_differences(
    means: np.ndarray, class_names: tuple[str, ...], *, compare: int | None, n_similar: int
) -> ClassDifferences:
    """Distances between class means, the most similar pairs and one class against the others.

    Parameters
    ----------
    means : ndarray, shape (n_classes, height, width) or (n_classes, height, width, 3)
    compare : int or None
        Index of the class drawn against the others; None picks
        :func:`default_compare_class`.
    n_similar : int
        Most similar pairs kept.
    """
    k = len(means)
    flat = means.reshape(k, -1)
    distance = np.full((k, k), np.nan)
    for a in range(k):
        distance[a] = np.abs(flat - flat[a]).mean(axis=1)
    upper_a, upper_b = np.triu_indices(k, 1)
    d = distance[upper_a, upper_b]
    valid = np.flatnonzero(np.isfinite(d))
    closest = valid[np.argsort(d[valid], kind="stable")][:n_similar]
    if compare is None:
        compare = default_compare_class(distance)
    others: tuple[MeanDifference, ...] = ()
    if compare is not None and np.isfinite(distance[compare, compare]):
        row = distance[compare]
        order = [c for c in np.argsort(row, kind="stable") if c != compare and np.isfinite(row[c])]
        others = tuple(_difference(means, class_names, compare, c, row[c]) for c in order)
    return ClassDifferences(
        class_names=class_names,
        distance=distance,
        most_similar=tuple(
            _difference(means, class_names, upper_a[i], upper_b[i], d[i]) for i in closest
        ),
        compare_class=None if compare is None else class_names[compare],
        against_others=others,
    )


# -- images of each class -------------------------------------------------------------------
@dataclass(frozen=True, eq=False, kw_only=True)
class ImageGrid(EdaRecord):
    """A few images of each class: one row per class.

    Attributes
    ----------
    indices : ndarray of int, shape (n_classes, n_columns)
        Training-image indices; -1 where a class has fewer images.
    images : ndarray of uint8, shape (n_classes, n_columns, height, width[, 3])
        The images (zeros where the index is -1).
    scores : ndarray of float, shape (n_classes, n_columns), or None
        A number per image (NaN where the index is -1), described by ``score_label``.
    """

    title: str
    class_names: tuple[str, ...]
    indices: np.ndarray
    images: np.ndarray
    scores: np.ndarray | None = field(default=None, metadata=decimals(3))
    score_label: str | None = None


def image_grid(
    images: np.ndarray,
    picks: list[np.ndarray],
    *,
    title: str,
    class_names: tuple[str, ...],
    scores: np.ndarray | None = None,
    score_label: str | None = None,
) -> ImageGrid:
    """An :class:`ImageGrid` of ``images[picks[c]]`` for each class ``c``."""
    columns = max([len(p) for p in picks] + [1])
    indices = np.full((len(picks), columns), -1, dtype=np.int64)
    pictures = np.zeros((len(picks), columns, *images.shape[1:]), dtype=np.uint8)
    grid_scores = np.full((len(picks), columns), np.nan) if scores is not None else None
    for c, chosen in enumerate(picks):
        indices[c, : len(chosen)] = chosen
        if len(chosen):
            pictures[c, : len(chosen)] = images[chosen]
        if grid_scores is not None and scores is not None:
            grid_scores[c, : len(chosen)] = scores[chosen]
    return ImageGrid(
        title=title,
        class_names=class_names,
        indices=indices,
        images=pictures,
        scores=grid_scores,
        score_label=score_label,
    )


# -- principal components -------------------------------------------------------------------
@dataclass(frozen=True, eq=False, kw_only=True)
class PCASummary(EdaRecord):
    """Principal components of the training pixels.

    Attributes
    ----------
    explained_variance_ratio : ndarray
        Share of the pixel variance along each component, largest first.
    total_variance : float
        Sum of the pixel variances (grey levels squared).
    variance_levels, components_needed : ndarray, shape (5,)
        Components needed to explain 50, 80, 90, 95 and 99% of the variance.
    coordinates : ndarray, shape (m, 2)
        A seeded, stratified sample of training images on the first two components.
    labels, indices : ndarray of int, shape (m,)
        Their classes and image indices.
    """

    class_names: tuple[str, ...]
    explained_variance_ratio: np.ndarray = field(metadata=decimals(7))
    total_variance: float = field(metadata=decimals(3))
    variance_levels: np.ndarray
    components_needed: np.ndarray
    coordinates: np.ndarray = field(metadata=decimals(2))
    labels: np.ndarray
    indices: np.ndarray

    def components_for(self, level: float) -> int:
        """Components needed to explain the share ``level`` of the variance."""
        return _components_for(self.explained_variance_ratio, level)

    @property
    def shares_reached(self) -> np.ndarray:
        """The share of the variance the first ``components_needed`` components explain."""
        cumulative = np.cumsum(self.explained_variance_ratio)
        return cumulative[np.clip(self.components_needed, 1, len(cumulative)) - 1]


def _components_for(ratio: np.ndarray, level: float) -> int:
    cumulative = np.cumsum(ratio)
    return min(len(cumulative), int(np.searchsorted(cumulative, level - 1e-12)) + 1)


def pca_summary(
    eigenvalues: np.ndarray,
    coordinates: np.ndarray,
    labels: np.ndarray,
    indices: np.ndarray,
    class_names: tuple[str, ...],
    n_images: int,
    *,
    total_variance: float | None = None,
) -> PCASummary:
    """Explained variance of the eigenvalues and the 2-D coordinates of a sample.

    ``total_variance`` is the variance the ratios are shares of, when ``eigenvalues``
    are only the leading ones (default: their sum, the whole spectrum).
    """
    rank = max(1, min(n_images - 1, len(eigenvalues)))
    values = eigenvalues[:rank]
    total = float(eigenvalues.sum()) if total_variance is None else float(total_variance)
    ratio = values / total if total > 0 else np.zeros_like(values)
    plane = np.zeros((len(coordinates), 2))
    plane[:, : min(2, coordinates.shape[1])] = coordinates[:, :2]
    return PCASummary(
        class_names=class_names,
        explained_variance_ratio=ratio,
        total_variance=total,
        variance_levels=np.array(VARIANCE_LEVELS),
        components_needed=np.array([_components_for(ratio, v) for v in VARIANCE_LEVELS]),
        coordinates=plane,
        labels=labels,
        indices=indices,
    )
