"""What every shallowvision transformer shares: it works on flattened images and knows their shape."""

from __future__ import annotations

import math

import numpy as np
from sklearn.utils.validation import validate_data

from shallowvision.exceptions import ConfigError

__all__ = [
    "COLOUR_CHANNELS",
    "ImageShapeMixin",
    "check_image_shape",
    "check_positive_int",
    "infer_image_shape",
]


def check_positive_int(value, name: str, *, minimum: int = 1) -> int:
    """``value`` as an int, or a ValueError naming the parameter when it is not an int of
    at least ``minimum`` (1: a positive one)."""
    if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < minimum:
        kind = "a positive int" if minimum == 1 else f"an int of at least {minimum}"
        raise ConfigError(f"{name} must be {kind}, got {value!r}")
    return int(value)


#: Channels of a colour image; a grey one has none (its shape is (height, width)).
COLOUR_CHANNELS = 3


def check_image_shape(image_shape) -> tuple[int, ...]:
    """``image_shape`` as a tuple of ints, ``(height, width)`` or ``(height, width, 3)``, or a
    ConfigError naming the parameter."""
    try:
        shape = tuple(int(v) for v in image_shape)
    except (TypeError, ValueError):
        shape = ()
    colour = len(shape) == 3 and shape[2] == COLOUR_CHANNELS
    if not (len(shape) == 2 or colour) or min(shape) < 1:
        raise ConfigError(
            f"image_shape must be (height, width) for grey images or (height, width, 3) "
            f"for colour ones, got {image_shape!r}"
        )
    return shape


def _colour_side(n_features: int) -> int | None:
    """The side of the square colour images with ``n_features`` values, if there are such."""
    if n_features % COLOUR_CHANNELS:
        return None
    side = math.isqrt(n_features // COLOUR_CHANNELS)
    # A side of 1 would claim every width of 3, which small test matrices have.
    return side if side > 1 and side * side * COLOUR_CHANNELS == n_features else None


def infer_image_shape(
    n_features: int,
    image_shape: tuple[int, ...] | None = None,
    *,
    strict: bool = False,
    spatial: bool = False,
) -> tuple[int, ...]:
    """The shape of flattened images with ``n_features`` values: ``(height, width)`` for
    grey images, ``(height, width, 3)`` for colour ones (channels last).

    An explicit ``image_shape`` must multiply to ``n_features``. Without one, grey
    square images are assumed. A non-square width is an error when ``strict``; when
    ``spatial`` (transformers that look at neighbouring pixels) a width that square
    colour images have is an error too, since read as one row it would mix the
    channels' values as if they were neighbours. Otherwise a non-square width is read
    as one row of pixels.
    """
    if image_shape is not None:
        shape = check_image_shape(image_shape)
        if math.prod(shape) != n_features:
            size = "x".join(str(v) for v in shape)
            raise ConfigError(
                f"image_shape {size} has {math.prod(shape)} values but X has {n_features} "
                "features; pass the (height, width) or (height, width, 3) of the images X "
                "was flattened from"
            )
        return shape
    side = math.isqrt(n_features)
    if side * side == n_features:
        return side, side
    colour = _colour_side(n_features)
    if strict or (spatial and colour):
        hint = (
            f"; for {colour}x{colour} colour images pass image_shape=({colour}, {colour}, 3)"
            if colour
            else ""
        )
        raise ConfigError(
            f"X has {n_features} features, which is not a square grey image; pass "
            f"image_shape=(height, width) or (height, width, 3){hint}"
        )
    return 1, n_features


class ImageShapeMixin:
    """Validation for transformers whose input rows are flattened ``image_shape`` images.

    Subclasses declare an ``image_shape`` parameter (None = grey square images) and
    call :meth:`_validate_images` in ``fit`` (``reset=True``) and ``transform``.
    Transformers that need real spatial neighbourhoods set ``_spatial = True``: they
    refuse, rather than misread, a width that colour images have when no shape is given.
    """

    image_shape: tuple[int, ...] | None
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
        self.image_shape_ = infer_image_shape(X.shape[1], self.image_shape, spatial=self._spatial)

    def _images(self, X: np.ndarray) -> np.ndarray:
        """``X`` viewed as ``(n, height, width)``, or ``(n, height, width, 3)`` in colour."""
        return X.reshape(len(X), *self.image_shape_)
