"""``analyze``: the whole exploratory analysis of an image dataset, as one record."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from shallowvision._records import NOT_JSON, OMIT_NONE
from shallowvision.datasets._imageset import ImageSet, resolve_class
from shallowvision.eda._duplicates import Duplicates, find_duplicates
from shallowvision.eda._records import EdaRecord
from shallowvision.eda._scan import principal_axes, project, sampled_principal_axes, scan_train
from shallowvision.eda._stats import (
    ClassBalance,
    ClassDifferences,
    ClassImages,
    ColourStatistics,
    ImageGrid,
    InkStatistics,
    PCASummary,
    PixelHistogram,
    class_balance,
    class_differences,
    class_images,
    colour_statistics,
    image_grid,
    ink_statistics,
    pca_summary,
)
from shallowvision.exceptions import ConfigError, DataError

__all__ = ["EdaResult", "analyze"]

#: Principal components every image is projected on for the near-duplicate search.
SEARCH_COMPONENTS = 32
#: Leading components found for images too wide for a full covariance; the explained
#: variance beyond them is not known, so a level they do not reach reads as "more".
PCA_COMPONENTS = 256


@dataclass(frozen=True, eq=False, kw_only=True)
class EdaResult(EdaRecord):
    """Everything the exploratory analysis found, part by part.

    Every part is a record of its own (see its class); :meth:`findings` sums them up in
    plain sentences, and ``to_dict()`` (the content of ``eda.json``) holds every part
    and the findings. ``timings`` (seconds per step) is not part of it.

    Attributes
    ----------
    name : str
        The dataset's name.
    image_shape : (height, width), or (height, width, 3) for colour images
    n_train, n_test : int
        Images analysed; ``n_test`` is None without a test split.
    settings : dict
        The options of :func:`analyze` that shaped the result.
    colour : ColourStatistics or None
        The colours of each class (colour images only; left out of ``to_dict()`` for grey
        ones).
    """

    name: str
    image_shape: tuple[int, ...]
    class_names: tuple[str, ...]
    n_train: int
    n_test: int | None
    settings: dict[str, Any]
    balance: ClassBalance
    ink: InkStatistics
    pixels: PixelHistogram
    class_images: ClassImages
    differences: ClassDifferences
    samples: ImageGrid
    atypical: ImageGrid
    pca: PCASummary
    duplicates: tuple[Duplicates, ...]
    colour: ColourStatistics | None = field(default=None, metadata=OMIT_NONE)
    timings: dict[str, float] = field(default_factory=dict, metadata=NOT_JSON)

    @property
    def color(self) -> str:
        """``"rgb"`` for colour images, ``"gray"`` for grey ones."""
        return "rgb" if len(self.image_shape) == 3 else "gray"

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "findings": self.findings()}

    def duplicates_of(self, kind: str, scope: str) -> Duplicates | None:
        """The duplicates record of ``kind`` ("exact", "near") and ``scope`` ("train", "train-test")."""
        return next((d for d in self.duplicates if d.kind == kind and d.scope == scope), None)

    def findings(self) -> list[str]:
        """The main findings as short plain-text sentences, e.g.
        ``"train is balanced: 6,000 images per class"`` or
        ``"Shirt's mean image is closest to T-shirt/top's (...)"``."""
        names = self.class_names
        h, w = self.image_shape[:2]
        test = f" and {self.n_test:,} test" if self.n_test is not None else ""
        colour = " colour" if self.color == "rgb" else ""
        lines = [
            f"{self.name}: {self.n_train:,} training{test}{colour} images of {h}x{w} pixels "
            f"in {len(names)} classes",
            self.balance.describe("train"),
        ]
        if self.n_test is not None:
            lines.append(self.balance.describe("test"))
        lines += self._ink_findings()
        if self.colour is not None:
            lines += self.colour.describe()
        d = self.differences
        if d.most_similar:
            pairs = ", ".join(
                f"{p.first} and {p.second} ({p.distance:.1f})" for p in d.most_similar[:3]
            )
            lines.append(
                f"most similar class means (mean absolute difference, grey levels): {pairs}"
            )
        if d.against_others:
            near, far = d.against_others[0], d.against_others[-1]
            lines.append(
                f"{d.compare_class}'s mean image is closest to {near.second}'s "
                f"({near.distance:.1f}) and farthest from {far.second}'s ({far.distance:.1f})"
            )
        p = self.pca
        ratio = p.explained_variance_ratio
        needed = ", ".join(
            # Wide images keep only the leading components: a level beyond them reads "more than".
            f"{'more than ' if reached < level - 1e-9 else ''}{n} for {level:.0%}"
            for level, n, reached in zip(
                p.variance_levels, p.components_needed, p.shares_reached, strict=True
            )
            if level in (0.5, 0.9, 0.95)
        )
        lines.append(
            f"PCA: the first 2 components explain {ratio[:2].sum():.0%} of the pixel "
            f"variance; components needed: {needed}"
        )
        lines += [dup.describe() for dup in self.duplicates]
        scores = self.atypical.scores
        if scores is not None and np.isfinite(scores).any():
            c, j = np.unravel_index(np.nanargmax(scores), scores.shape)
            lines.append(
                f"most atypical training image: #{self.atypical.indices[c, j]} ({names[c]}), "
                f"{scores[c, j]:.1f}x its class's median distance from the class mean"
            )
        return lines

    def _ink_findings(self) -> list[str]:
        names, ink = self.class_names, self.ink
        h, w = self.image_shape[:2]
        lines = []
        mi, nz = ink.mean_intensity, ink.nonzero_share
        if np.isfinite(mi.mean).any():
            dark, bright = int(np.nanargmin(mi.mean)), int(np.nanargmax(mi.mean))
            lines.append(
                f"mean intensity {mi.overall_mean:.1f} of 255: darkest class {names[dark]} "
                f"({mi.mean[dark]:.1f}), brightest {names[bright]} ({mi.mean[bright]:.1f})"
            )
            few, most = int(np.nanargmin(nz.mean)), int(np.nanargmax(nz.mean))
            lines.append(
                f"{self.pixels.share_zero:.0%} of all pixels are 0 and "
                f"{self.pixels.share_max:.1%} are 255; an image has {nz.overall_mean:.0%} "
                f"non-zero pixels on average, from {nz.mean[few]:.0%} ({names[few]}) "
                f"to {nz.mean[most]:.0%} ({names[most]})"
            )
        cx, cy = ink.centre_x, ink.centre_y
        if np.isfinite(cx.mean).any():
            x0, y0 = (w - 1) / 2, (h - 1) / 2
            off = np.hypot(cx.mean - x0, cy.mean - y0)
            far = int(np.nanargmax(off))
            lines.append(
                f"centre of mass at ({cx.overall_mean:.1f}, {cy.overall_mean:.1f}) on average "
                f"(image centre ({x0:.1f}, {y0:.1f})), spread ±{cx.overall_std:.1f} px across "
                f"and ±{cy.overall_std:.1f} px down; most off-centre class {names[far]} at "
                f"({cx.mean[far]:.1f}, {cy.mean[far]:.1f})"
            )
        if ink.n_blank:
            lines.append(
                f"{ink.n_blank:,} blank training image{'s' * (ink.n_blank != 1)} (every pixel 0)"
            )
        return lines


def _check(train: ImageSet, test: ImageSet | None, **counts: float) -> None:
    if len(train) == 0:
        raise DataError(f"{train.name} ({train.split}) has no images to analyse")
    if test is not None:
        if test.image_shape != train.image_shape:
            raise DataError(
                f"{test.name}: test images are {test.image_shape[0]}x{test.image_shape[1]} but "
                f"training images are {train.image_shape[0]}x{train.image_shape[1]}"
            )
        if test.class_names != train.class_names:
            raise DataError(
                f"{test.name}: the test split's classes {test.class_names} differ from the "
                f"training split's {train.class_names}"
            )
    for name, value in counts.items():
        if not value > 0:
            raise ConfigError(f"{name} must be positive, got {value!r}")


def analyze(
    train: ImageSet,
    test: ImageSet | None = None,
    *,
    compare_class: int | str | None = None,
    n_samples: int = 8,
    n_atypical: int = 6,
    n_similar: int = 5,
    near_threshold: float = 6.0,
    n_projection: int = 2000,
    max_examples: int = 12,
    random_state: int = 0,
) -> EdaResult:
    """Explore an image dataset: class balance, ink statistics, pixel histogram, class
    mean and variance images and their differences, samples, PCA, duplicates and the
    most atypical images; for colour images also each channel's histogram and the hues
    and saturation of each class.

    Everything is computed from the uint8 images in bounded chunks (never a float copy
    of the whole set): the training split is read twice and the test split twice.

    Parameters
    ----------
    train : ImageSet
        The split everything is computed on.
    test : ImageSet, optional
        Its class counts are reported, and its images searched for duplicates of
        training images.
    compare_class : int or str, optional
        The class whose mean image is compared with every other class's (index or
        name). By default, the class of the most similar pair of class means that is
        closer to the others on average.
    n_samples : int
        Images drawn at random (seeded) from each class for the sample grid.
    n_atypical : int
        Most atypical images kept per class: those farthest (RMS) from their class's
        mean image.
    n_similar : int
        Most similar pairs of class means kept.
    near_threshold : float
        Largest RMS pixel difference, in grey levels (0-255), of a near duplicate (in
        colour, over every channel value).
    n_projection : int
        Training images (a seeded random sample) kept with their coordinates on the
        first two principal components.
    max_examples : int
        Example pairs kept for each kind of duplicate.
    random_state : int
        Seed of the samples.

    Returns
    -------
    EdaResult
    """
    _check(
        train,
        test,
        n_samples=n_samples,
        n_atypical=n_atypical,
        n_similar=n_similar,
        near_threshold=near_threshold,
        n_projection=n_projection,
        max_examples=max_examples + 1,
    )
    compare = None if compare_class is None else resolve_class(train.class_names, compare_class)
    from threadpoolctl import threadpool_limits

    # The matrix products here are thin (a few rows) or small (pixels x pixels): a second
    # BLAS thread gains little, and on a shared machine its spinning costs twice the time.
    with threadpool_limits(limits=1, user_api="blas"):
        return _analyze(
            train,
            test,
            compare=compare,
            n_samples=n_samples,
            n_atypical=n_atypical,
            n_similar=n_similar,
            near_threshold=near_threshold,
            n_projection=n_projection,
            max_examples=max_examples,
            random_state=random_state,
        )


def _analyze(
    train: ImageSet,
    test: ImageSet | None,
    *,
    compare: int | None,
    n_samples: int,
    n_atypical: int,
    n_similar: int,
    near_threshold: float,
    n_projection: int,
    max_examples: int,
    random_state: int,
) -> EdaResult:
    names, y, k = train.class_names, train.labels, train.n_classes
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(step: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[step] = now - clock
        clock = now

    scan = scan_train(train.images, y, k)
    lap("scan")
    total_variance = None
    if scan.covariance is not None:
        eigenvalues, axes = principal_axes(scan.covariance)
    else:
        eigenvalues, axes = sampled_principal_axes(
            train.images,
            scan.overall_mean(),
            n_components=PCA_COMPONENTS,
            random_state=random_state,
        )
        total_variance = scan.total_variance()
    lap("pca")
    means = scan.class_means()
    d = min(SEARCH_COMPONENTS, axes.shape[1])
    coords, distances = project(
        train.images, scan.overall_mean(), axes[:, :d], labels=y, class_means=means
    )
    test_coords = (
        None if test is None else project(test.images, scan.overall_mean(), axes[:, :d])[0]
    )
    lap("projection")
    duplicates = find_duplicates(
        train,
        test,
        train_coords=coords,
        test_coords=test_coords,
        train_hashes=scan.hashes,
        threshold=near_threshold,
        max_examples=max_examples,
    )
    lap("duplicates")

    rng = np.random.default_rng(random_state)
    order = np.argsort(y, kind="stable")
    bounds = np.searchsorted(y[order], np.arange(k + 1))
    members = [order[bounds[c] : bounds[c + 1]] for c in range(k)]
    samples = [
        rng.choice(m, size=min(n_samples, len(m)), replace=False) if len(m) else m for m in members
    ]
    assert distances is not None  # labels were given to project
    medians = np.array([np.median(distances[m]) if len(m) else np.nan for m in members])
    with np.errstate(invalid="ignore", divide="ignore"):
        relative = distances / medians[y]
    atypical = [m[np.lexsort((m, -distances[m]))][:n_atypical] for m in members]
    shown = np.sort(rng.choice(len(train), size=min(n_projection, len(train)), replace=False))
    images = class_images(scan, names)
    result = EdaResult(
        name=train.name,
        image_shape=train.image_shape,
        class_names=names,
        n_train=len(train),
        n_test=None if test is None else len(test),
        settings={
            "compare_class": None if compare is None else names[compare],
            "n_samples": n_samples,
            "n_atypical": n_atypical,
            "n_similar": n_similar,
            "near_threshold": near_threshold,
            "n_projection": n_projection,
            "max_examples": max_examples,
            "random_state": random_state,
        },
        balance=class_balance(names, scan.counts, None if test is None else test.class_counts()),
        ink=ink_statistics(scan, y, names),
        pixels=PixelHistogram(
            class_names=names, counts=scan.histogram, channels=scan.channel_histogram
        ),
        class_images=images,
        differences=class_differences(images.mean, names, compare=compare, n_similar=n_similar),
        samples=image_grid(
            train.images, samples, title="Random training images of each class", class_names=names
        ),
        atypical=image_grid(
            train.images,
            atypical,
            title="Most atypical training images of each class",
            class_names=names,
            scores=relative,
            score_label="RMS distance from the class mean image, in multiples of the class's median",
        ),
        pca=pca_summary(
            eigenvalues,
            coords[shown],
            y[shown],
            shown,
            names,
            len(train),
            total_variance=total_variance,
        ),
        duplicates=duplicates,
        colour=colour_statistics(scan, names),
        timings=timings,
    )
    lap("records")
    return result
