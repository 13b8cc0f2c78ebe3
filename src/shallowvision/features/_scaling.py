"""Pixel scaling: uint8 0..255 to float32 0..1, the first step of most pipelines."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from shallowvision.exceptions import ConfigError
from shallowvision.features._base import ImageShapeMixin

__all__ = ["PixelScaler"]


class PixelScaler(ImageShapeMixin, OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Divide pixel intensities by ``max_value``, returning float32.

    Stateless apart from the input width and image shape it records, so it can sit
    at the head of any pipeline and models never see uint8 arithmetic.

    Parameters
    ----------
    max_value : float, default=255.0
        The intensity that maps to 1.0.
    image_shape : (height, width), (height, width, 3) or None
        Shape the rows were flattened from, channels last for colour; None means
        square images.
    """

    def __init__(
        self, *, max_value: float = 255.0, image_shape: tuple[int, ...] | None = None
    ) -> None:
        self.max_value = max_value
        self.image_shape = image_shape

    def fit(self, X, y=None):
        if not self.max_value > 0:
            raise ConfigError(f"max_value must be positive, got {self.max_value!r}")
        self._validate_images(X, reset=True, dtype=(np.float32, np.float64))
        return self

    def transform(self, X):
        check_is_fitted(self, "image_shape_")
        X = self._validate_images(X, reset=False, dtype="numeric")
        if X.dtype == np.float64:
            return (X / self.max_value).astype(np.float32)
        # Straight from the integer pixels into one float32 array: no float copy first.
        return np.divide(X, np.float32(self.max_value), dtype=np.float32)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags
