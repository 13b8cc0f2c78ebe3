"""Peak memory of fitting a zoo model, estimated before it starts, and the check against what is free."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from shallowvision._memory import format_bytes, free_memory
from shallowvision.exceptions import ShallowVisionError

__all__ = ["MemoryBudgetError", "MemoryProfile", "check_memory"]

_MIB = 2**20


class MemoryBudgetError(ShallowVisionError, MemoryError):
    """A fit would need more memory than the machine has free; refused before it starts.

    Attributes
    ----------
    needed, available : int
        Estimated peak and free memory, in bytes.
    n_per_class : int or None
        The largest images per class whose estimate fits, if any does.
    """

    def __init__(self, message: str, *, needed: int, available: int, n_per_class: int | None):
        super().__init__(message)
        self.needed = needed
        self.available = available
        self.n_per_class = n_per_class


@dataclass(frozen=True)
class MemoryProfile:
    """How a model's peak memory grows, beyond the uint8 pixels it is given.

    The estimate is ``fixed + min(n, SAMPLE) * per_sampled_pixel * pixels + n *
    (per_pixel * pixels + per_class * classes + per_image) + extra(n, pixels,
    classes)`` bytes, for ``n`` training images, where ``SAMPLE`` is the most images
    a chunked pipeline fits its transforms on (wide features live only there). Each
    zoo model's coefficients were measured by fitting it on 10,000 to 30,000 images
    in fresh processes (``benchmarks/bench_scale.py`` compares estimates with the peaks
    it measures at EMNIST sizes).

    Attributes
    ----------
    per_pixel : float
        Bytes per training pixel: float copies of the images (4 for one float32 copy).
    per_sampled_pixel : float
        Bytes per pixel of the images the transforms are fitted on (HOG and patch
        features, PCA's copies), at most ``SAMPLE`` of them.
    per_class : float
        Bytes per training image and class (scores, gradients, one-hot targets).
    per_image : float
        Bytes per training image for anything else (narrow features, tree leaves).
    fixed : float
        Bytes whatever the data: libraries, a chunk of features, a fitted sample.
    extra : callable, optional
        ``extra(n, pixels, classes)``: bytes that follow their own law (landmark
        matrices, forests).
    """

    per_pixel: float = 4.0
    per_sampled_pixel: float = 0.0
    per_class: float = 0.0
    per_image: float = 0.0
    fixed: float = 200 * _MIB
    extra: Callable[[int, int, int], float] | None = None

    def estimate(self, n_images: int, n_pixels: int, n_classes: int) -> int:
        """Estimated peak bytes of fitting and scoring, beyond the uint8 training pixels."""
        from shallowvision.features._chunked import FIT_SAMPLE as SAMPLE

        total = self.fixed + min(n_images, SAMPLE) * self.per_sampled_pixel * n_pixels
        total += n_images * (
            self.per_pixel * n_pixels + self.per_class * n_classes + self.per_image
        )
        if self.extra is not None:
            total += self.extra(n_images, n_pixels, n_classes)
        return math.ceil(total)


def check_memory(
    name: str,
    profile: MemoryProfile,
    n_images: int,
    image_shape: tuple[int, ...],
    n_classes: int,
    *,
    available: int | None = None,
) -> int:
    """The estimate for fitting ``name``; refuse the fit when it exceeds what is free.

    Raises
    ------
    MemoryBudgetError
        With one line stating the estimate, what is free, and the ways out: the
        largest subsample that fits (images per class), or a cluster.
    """
    n_pixels = math.prod(image_shape)
    needed = profile.estimate(n_images, n_pixels, n_classes)
    free = free_memory() if available is None else available
    if needed <= free:
        return needed
    n_per_class = _largest_fitting(profile, n_pixels, n_classes, free)
    shape = "x".join(str(s) for s in image_shape)
    way_out = (
        f"subsample to {n_per_class:,} images per class (n_per_class={n_per_class}, about "
        f"{format_bytes(profile.estimate(n_per_class * n_classes, n_pixels, n_classes))})"
        if n_per_class
        else "no subsample fits"
    )
    raise MemoryBudgetError(
        f"{name} would need about {format_bytes(needed)} to fit {n_images:,} images of "
        f"{shape} in {n_classes} classes, and {format_bytes(free)} is free: {way_out}, "
        "or train on a Dask cluster",
        needed=needed,
        available=free,
        n_per_class=n_per_class,
    )


def _largest_fitting(
    profile: MemoryProfile, n_pixels: int, n_classes: int, free: int
) -> int | None:
    """The most images per class whose estimate stays within ``free`` (bisection)."""
    low, high = 0, 1
    while profile.estimate(high * n_classes, n_pixels, n_classes) <= free and high < 10**9:
        low, high = high, high * 2
    while high - low > 1:
        mid = (low + high) // 2
        if profile.estimate(mid * n_classes, n_pixels, n_classes) <= free:
            low = mid
        else:
            high = mid
    return low or None
