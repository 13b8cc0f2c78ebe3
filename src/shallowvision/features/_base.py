"""What every shallowvision transformer shares: it works on flattened images and knows their shape."""

from __future__ import annotations

import math

import numpy as np
from sklearn.utils.validation import validate_data

from shallowvision.exceptions import ConfigError

__all__ = ["ImageShapeMixin", "check_positive_int", "infer_image_shape"]


def check_positive_int(value, name: str, *, minimum: int = 1) -> int:
    """``value`` as an int, or a ValueError naming the parameter when it is not an int of
    at least ``minimum`` (1: a positive one)."""
    if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < minimum:
        kind = "a positive int" if minimum == 1 else f"an int of at least {minimum}"
        raise ConfigError(f"{name} must be {kind}, got {value!r}")
    return int(value)


def infer_image_shape(
    n_features: int, image_shape: tuple[int, int] | None = None, *, strict: bool = False
) -> tuple[int, int]:
    """The (height, width) of flattened images with ``n_features`` pixels.

    An explicit ``image_shape`` must multiply to ``n_features``. Without one, a
    square is assumed; a non-square width is an error when ``strict`` (transformers
    that look at neighbouring pixels) and otherwise read as one row of pixels.
    """
    if image_shape is not None:
        h, w = (int(v) for v in image_shape)
        if h * w != n_features:
            raise ConfigError(
                f"image_shape {h}x{w} has {h * w} pixels but X has {n_features} features; "
                "pass the (height, width) of the images X was flattened from"
            )
        return h, w
    side = math.isqrt(n_features)
    if side * side != n_features:
        if not strict:
            return 1, n_features
        raise ConfigError(
            f"X has {n_features} features, which is not a square image; pass image_shape=(height, width)"
        )
    return side, side


class ImageShapeMixin:
    """Validation for transformers whose input rows are flattened ``image_shape`` images.

    Subclasses declare an ``image_shape`` parameter (None = square) and call
    :meth:`_validate_images` in ``fit`` (``reset=True``) and ``transform``.
    Transformers that need real spatial neighbourhoods set ``_spatial = True``.
    """

    image_shape: tuple[int, int] | None
    _spatial: bool = False

    def _validate_images(self, X, *, reset: bool, dtype=(np.float64, np.float32)) -> np.ndarray:
        X = validate_data(self, X, reset=reset, dtype=dtype)
        if reset:
            self._set_image_shape(X)
        return X

    def _validate_labelled_images(self, X, y, *, dtype="numeric") -> tuple[np.ndarray, np.ndarray]:
        """Validate training images and their class labels (supervised ``fit``)."""
        X, y = validate_data(self, X, y, dtype=dtype)
        self._set_image_shape(X)
        return X, y

    def _set_image_shape(self, X: np.ndarray) -> None:
        self.image_shape_ = infer_image_shape(X.shape[1], self.image_shape, strict=self._spatial)

    def _images(self, X: np.ndarray) -> np.ndarray:
        """``X`` viewed as ``(n, height, width)``."""
        return X.reshape(len(X), *self.image_shape_)
