"""Colour histograms of flattened images, region by region, in HSV, CIE Lab or RGB.

Shape features (HOG, patches) see where the edges are; these see which colours there
are, and roughly where. Each region of a coarse grid gets one histogram per channel of
the chosen colour space, as shares of the region's pixels, so the features do not
depend on the image size.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from shallowvision.exceptions import ConfigError
from shallowvision.features._base import COLOUR_CHANNELS, ImageShapeMixin
from shallowvision.features._hog import _pair

__all__ = ["ColorHistogram", "rgb_to_lab"]

#: Values converted and binned per pass: bounds the chunk's index and float32 temporaries.
_CHUNK_VALUES = 2**22

#: The range of each channel's histogram; Lab's a and b cover the sRGB gamut.
_RANGES = {
    "hsv": ((0.0, 1.0), (0.0, 1.0), (0.0, 1.0)),
    "lab": ((0.0, 100.0), (-87.0, 99.0), (-108.0, 95.0)),
    "rgb": ((0.0, 1.0), (0.0, 1.0), (0.0, 1.0)),
}

# sRGB (D65) to CIE XYZ, and the D65 white point (2 degree observer), as scikit-image uses.
_RGB_TO_XYZ = np.array(
    [
        [0.412453, 0.357580, 0.180423],
        [0.212671, 0.715160, 0.072169],
        [0.019334, 0.119193, 0.950227],
    ],
    dtype=np.float32,
)
_WHITE = np.array([0.95047, 1.0, 1.08883], dtype=np.float32)


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """CIE L*a*b* (D65) of float sRGB values in [0, 1] (channels last), as
    :func:`skimage.color.rgb2lab`: L in [0, 100], a and b about -110 to 100."""
    rgb = np.asarray(rgb, dtype=np.float32)
    linear = np.where(rgb > 0.04045, ((rgb + 0.055) / 1.055) ** 2.4, rgb / 12.92)
    xyz = (linear @ _RGB_TO_XYZ.T) / _WHITE
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16.0 / 116.0)
    fx, fy, fz = f[..., 0], f[..., 1], f[..., 2]
    lab = np.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], axis=-1)
    return lab.astype(np.float32, copy=False)


def _triple(value, name: str) -> tuple[int, int, int]:
    triple = (value,) * 3 if np.isscalar(value) else tuple(value)
    if len(triple) != 3 or not all(
        isinstance(v, int | np.integer) and not isinstance(v, bool) and v >= 1 for v in triple
    ):
        raise ConfigError(f"{name} must be a positive int or three of them, got {value!r}")
    return int(triple[0]), int(triple[1]), int(triple[2])


def _region_index(size: int, regions: int) -> np.ndarray:
    """The region of each of ``size`` positions when they are cut into ``regions`` near-equal runs."""
    return (np.arange(size) * regions // size).astype(np.intp)


def _to_8bit(chunk: np.ndarray) -> np.ndarray:
    """Values in [0, 1] as 8-bit levels (int32, channels last; grey as three equal channels)."""
    levels = np.rint(np.clip(chunk, 0.0, 1.0) * np.float32(255)).astype(np.int32)
    return np.repeat(levels[..., None], COLOUR_CHANNELS, axis=-1) if levels.ndim == 3 else levels


def _bins_8bit(levels: np.ndarray, bins: np.ndarray, *, hsv: bool) -> np.ndarray:
    """The bin of each channel (a new last axis of 3) of 8-bit RGB ``levels``, in HSV or RGB.

    A bin of ``x`` in [0, 1] is ``floor(x * bins)``, here a ratio of integers: exact, so a
    value on a bin's edge falls in the bin above, as ``np.histogram`` puts it, and a
    quarter of the time of converting floats to HSV (0.15 against 0.64 ms a 64x64x3
    image).
    """
    if not hsv:
        return np.minimum(levels * bins // 255, bins - 1)
    r, g, b = levels[..., 0], levels[..., 1], levels[..., 2]
    top = np.maximum(np.maximum(r, g), b)
    span = top - np.minimum(np.minimum(r, g), b)
    # Hue times 6 * span, in [0, 6 span): the sector of the largest channel, red first.
    hue = np.where(top == r, g - b, np.where(top == g, b - r + 2 * span, r - g + 4 * span))
    hue += np.where(hue < 0, 6 * span, 0)
    out = np.empty(levels.shape, dtype=np.intp)
    nb_h, nb_s, nb_v = (int(v) for v in bins)
    out[..., 0] = hue * nb_h // np.maximum(6 * span, 1)  # grey (span 0): hue 0
    out[..., 1] = span * nb_s // np.maximum(top, 1)  # black (top 0): saturation 0
    out[..., 2] = np.minimum(top * nb_v // 255, nb_v - 1)
    np.minimum(out, bins - 1, out=out)
    return out


class ColorHistogram(
    ImageShapeMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator
):
    """Per-region histograms of each channel of a colour space, of flattened images.

    Parameters
    ----------
    space : {"hsv", "lab", "rgb"}, default="hsv"
        Colour space of the histograms. HSV separates hue from brightness; CIE Lab
        measures colour differences about as people see them.
    bins : int or (int, int, int), default=8
        Bins of each channel's histogram (hue bins span the colour circle).
    grid : int or (int, int), default=2
        Rows and columns of the grid of regions, each with its own histograms (clipped
        to the image's height and width).
    image_shape : (height, width, 3), (height, width) or None
        Shape the rows were flattened from, channels last; None means grey square
        images (a width that colour images have is refused: pass their shape). Grey
        images are read as colour with three equal channels.

    Attributes
    ----------
    grid_ : (int, int)
        The grid of regions used.
    n_output_features_ : int
        ``grid_[0] * grid_[1] * sum(bins)``.

    Notes
    -----
    Inputs are RGB values scaled to [0, 1] (after :class:`PixelScaler`); values outside
    are clipped. HSV and RGB histograms read them as 8-bit levels (rounded to the nearest
    1/255, which the images' own values are). Each histogram counts shares of its
    region's pixels, so every channel's histogram in a region sums to 1. The output is
    float32, computed a chunk of images at a time.
    """

    _spatial = True

    def __init__(
        self,
        *,
        space: str = "hsv",
        bins: int | tuple[int, int, int] = 8,
        grid: int | tuple[int, int] = 2,
        image_shape: tuple[int, ...] | None = None,
    ) -> None:
        self.space = space
        self.bins = bins
        self.grid = grid
        self.image_shape = image_shape

    def fit(self, X, y=None):
        if self.space not in _RANGES:
            raise ConfigError(f"space must be one of {', '.join(_RANGES)}, got {self.space!r}")
        bins = _triple(self.bins, "bins")
        grid = _pair(self.grid, "grid")
        self._validate_images(X, reset=True, dtype=(np.float32, np.float64))
        h, w = self.image_shape_[:2]
        self.grid_ = (min(grid[0], h), min(grid[1], w))
        self.n_output_features_ = self.grid_[0] * self.grid_[1] * sum(bins)
        self._n_features_out = self.n_output_features_
        return self

    def transform(self, X):
        check_is_fitted(self, "grid_")
        X = self._validate_images(X, reset=False, dtype=(np.float32, np.float64))
        images = self._images(X)
        per_image = int(np.prod(self.image_shape_[:2])) * COLOUR_CHANNELS
        rows = max(1, _CHUNK_VALUES // per_image)
        out = np.empty((len(X), self.n_output_features_), dtype=np.float32)
        for start in range(0, len(X), rows):
            out[start : start + rows] = self._histograms(images[start : start + rows])
        return out

    def _histograms(self, chunk: np.ndarray) -> np.ndarray:
        """``(n, regions * sum(bins))`` histograms of a chunk of images."""
        n = len(chunk)
        bins = np.array(_triple(self.bins, "bins"), dtype=np.intp)
        if self.space == "lab":
            rgb = np.clip(chunk.astype(np.float32, copy=False), 0.0, 1.0)
            if rgb.ndim == 3:  # grey: three equal channels
                rgb = np.repeat(rgb[..., None], COLOUR_CHANNELS, axis=-1)
            low, high = np.array(_RANGES["lab"], dtype=np.float32).T
            index = (rgb_to_lab(rgb) - low) * (bins / (high - low)).astype(np.float32)
            index = np.clip(index.astype(np.intp), 0, bins - 1)
        else:
            index = _bins_8bit(_to_8bit(chunk), bins, hsv=self.space == "hsv")
        # One bincount over (image, region, channel's bin) counts every histogram of the chunk.
        h, w = self.image_shape_[:2]
        (gr, gc), total = self.grid_, int(bins.sum())
        region = _region_index(h, gr)[:, None] * gc + _region_index(w, gc)[None, :]
        offsets = np.concatenate([[0], np.cumsum(bins)[:-1]]).astype(np.intp)
        index += offsets
        index += ((np.arange(n, dtype=np.intp)[:, None, None] * (gr * gc) + region) * total)[
            ..., None
        ]
        counts = np.bincount(index.ravel(), minlength=n * gr * gc * total)
        # Shares of each region's pixels, so regions of unequal size weigh alike.
        pixels = np.bincount(region.ravel(), minlength=gr * gc).astype(np.float32)
        hist = counts.reshape(n, gr * gc, total).astype(np.float32) / pixels[:, None]
        return hist.reshape(n, -1)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags
