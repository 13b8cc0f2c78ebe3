"""Moment-based deskewing: undo the slant of each image, for a whole batch at once."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from shallowvision.exceptions import ConfigError
from shallowvision.features._base import ImageShapeMixin

__all__ = ["Deskewer", "deskew_images", "shear_images"]


def _moments(images: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centre of mass (row, col) and the skew ``cov(row, col) / var(row)`` of each image."""
    _n, h, w = images.shape
    rows = np.arange(h, dtype=np.float64)
    cols = np.arange(w, dtype=np.float64)
    mass = images.sum(axis=(1, 2), dtype=np.float64)
    safe = np.where(mass > 0, mass, 1.0)
    row_profile = images.sum(axis=2, dtype=np.float64)  # (n, h)
    col_profile = images.sum(axis=1, dtype=np.float64)  # (n, w)
    mean_r = np.where(mass > 0, row_profile @ rows / safe, (h - 1) / 2)
    mean_c = np.where(mass > 0, col_profile @ cols / safe, (w - 1) / 2)
    var_r = row_profile @ rows**2 / safe - mean_r**2
    cross = np.einsum("nij,i,j->n", images, rows, cols, dtype=np.float64) / safe
    cov_rc = cross - mean_r * mean_c
    skew = np.where(var_r > 1e-2, cov_rc / np.where(var_r > 1e-2, var_r, 1.0), 0.0)
    return mean_r, mean_c, skew


def shear_images(
    images: np.ndarray,
    skew: np.ndarray | float,
    *,
    centre: tuple[np.ndarray, np.ndarray] | None = None,
    shift: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Shear each image horizontally by ``skew`` (column shift per row), bilinear, zero outside.

    Output pixel ``(r, c)`` samples the input at row ``r + shift_r`` and column
    ``c + shift_c + skew * (r + shift_r - centre_r)``; ``centre`` defaults to the image
    centre and ``shift`` to zero. A positive skew undoes a slant whose columns grow with
    the row.
    """
    images = np.asarray(images, dtype=np.float32)
    n, h, w = images.shape
    skew = np.broadcast_to(np.asarray(skew, dtype=np.float64), (n,))
    if centre is None:
        centre = (np.full(n, (h - 1) / 2), np.full(n, (w - 1) / 2))
    if shift is None:
        shift = (np.zeros(n), np.zeros(n))
    r = np.arange(h, dtype=np.float64)[None, :, None] + shift[0][:, None, None]
    c = (
        np.arange(w, dtype=np.float64)[None, None, :]
        + shift[1][:, None, None]
        + skew[:, None, None] * (r - centre[0][:, None, None])
    )
    r = np.broadcast_to(r, (n, h, w))
    return _bilinear(images, r, c)


def _bilinear(images: np.ndarray, r: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Sample every image at its own coordinates ``(n, h, w)``; zero outside the image."""
    n, h, w = images.shape
    padded = np.zeros((n, h + 2, w + 2), dtype=np.float32)
    padded[:, 1:-1, 1:-1] = images
    # Coordinates in the padded frame, clipped so both neighbours stay in the zero border.
    r = np.clip(r + 1.0, 0.0, h + 1.0 - 1e-6)
    c = np.clip(c + 1.0, 0.0, w + 1.0 - 1e-6)
    r0 = np.floor(r).astype(np.intp)
    c0 = np.floor(c).astype(np.intp)
    fr = (r - r0).astype(np.float32)
    fc = (c - c0).astype(np.float32)
    flat = padded.reshape(n, -1)
    base = r0 * (w + 2) + c0
    take = lambda offset: np.take_along_axis(flat, (base + offset).reshape(n, -1), axis=1)  # noqa: E731
    top = take(0) * (1 - fc.reshape(n, -1)) + take(1) * fc.reshape(n, -1)
    bottom = take(w + 2) * (1 - fc.reshape(n, -1)) + take(w + 3) * fc.reshape(n, -1)
    out = top * (1 - fr.reshape(n, -1)) + bottom * fr.reshape(n, -1)
    return out.reshape(n, h, w)


def deskew_images(images: np.ndarray, *, centre: bool = True, max_skew: float = 1.0) -> np.ndarray:
    """Deskewed copies of ``images`` ``(n, height, width)`` as float32.

    Each image is sheared horizontally about its centre of mass so that the covariance
    of its row and column coordinates (intensity-weighted) becomes zero: the classic
    deskewing of handwritten digits. With ``centre`` the centre of mass is also moved
    to the middle of the image. Skews beyond ``max_skew`` columns per row are clipped.
    """
    images = np.asarray(images, dtype=np.float32)
    n, h, w = images.shape
    mean_r, mean_c, skew = _moments(images)
    skew = np.clip(skew, -max_skew, max_skew)
    middle = (np.full(n, (h - 1) / 2), np.full(n, (w - 1) / 2))
    shift = (mean_r - middle[0], mean_c - middle[1]) if centre else (np.zeros(n), np.zeros(n))
    return shear_images(images, skew, centre=(mean_r, mean_c), shift=shift)


class Deskewer(ImageShapeMixin, OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Moment-based deskewing of flattened images (stateless, vectorised over the batch).

    Parameters
    ----------
    centre : bool, default=True
        Also move each image's centre of mass to the middle.
    max_skew : float, default=1.0
        Largest shear applied, in columns per row.
    image_shape : (height, width) or None
        Shape the rows were flattened from; None means square images (a width that
        is not a square is then read as one row of pixels, so pass the shape of
        non-square images). Grey images only: the moments are of intensities.
    """

    _spatial = True

    def __init__(
        self,
        *,
        centre: bool = True,
        max_skew: float = 1.0,
        image_shape: tuple[int, ...] | None = None,
    ) -> None:
        self.centre = centre
        self.max_skew = max_skew
        self.image_shape = image_shape

    def fit(self, X, y=None):
        if not self.max_skew >= 0:
            raise ConfigError(f"max_skew must be non-negative, got {self.max_skew!r}")
        self._validate_images(X, reset=True, dtype=(np.float32, np.float64))
        if len(self.image_shape_) != 2:
            raise ConfigError(
                f"Deskewer works on grey images, got image_shape {self.image_shape_}; "
                "load the images with color='gray' or leave deskewing out"
            )
        return self

    def transform(self, X):
        check_is_fitted(self, "image_shape_")
        X = self._validate_images(X, reset=False, dtype=(np.float32, np.float64))
        out = deskew_images(self._images(X), centre=self.centre, max_skew=self.max_skew)
        return out.reshape(len(X), -1)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags
