"""Controlled corruptions of uint8 image batches, and accuracy under each of them.

Every corruption is a pure function ``(images, severity, random_state) -> images`` on a
``(n, height, width)`` grey or ``(n, height, width, 3)`` colour uint8 batch, vectorised over
the batch; it never changes its input. The first six work on both (on colour images
channel by channel, the same shift, angle or blur for the three channels); the last four
change colours and need colour images. Severities run from 1 (mild) to 3:

============== ============================================ ==================
corruption     what it does                                 severity 1 / 2 / 3
============== ============================================ ==================
shift          move each image by s pixels in one of the    1 / 2 / 3 pixels
               8 directions (drawn per image), filling with 0
rotate         rotate each image about its centre, the      10 / 20 / 30 degrees
               sign drawn per image (bilinear, filling with 0)
gaussian_noise add N(0, sigma) noise, sigma a share of 255   0.05 / 0.10 / 0.20
blur           Gaussian blur of standard deviation sigma    0.5 / 1.0 / 1.5 pixels
contrast       pull pixels towards the image's mean by      0.4 / 0.2 / 0.1
               keeping this share of their deviation
invert         255 - pixel (one severity only)              1
hue_shift      turn every hue by this many degrees, the     30 / 60 / 120 degrees
               direction drawn per image
saturation     keep this share of each pixel's distance     0.5 / 0.25 / 0.1
               from its grey (luma) level
color_jitter   per image, random brightness, contrast and   0.1 / 0.2 / 0.4
               saturation factors in 1 ± j and a hue turn
               of up to ± 180 j degrees, in that order
grayscale      luma (0.299 R + 0.587 G + 0.114 B) in all    1
               three channels (one severity only)
============== ============================================ ==================
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import ndimage

from shallowvision.evaluation._records import Record
from shallowvision.evaluation._validation import check_labels
from shallowvision.exceptions import ConfigError, DataError

__all__ = [
    "RobustnessResult",
    "RobustnessRow",
    "blur",
    "color_jitter",
    "contrast",
    "corrupt",
    "evaluate_robustness",
    "gaussian_noise",
    "get_corruption_names",
    "grayscale",
    "hue_shift",
    "invert",
    "rotate",
    "saturation",
    "shift",
]

RandomState = int | np.random.Generator | None


def _check_images(images: ArrayLike) -> np.ndarray:
    x = np.asarray(images)
    if not (x.ndim == 3 or (x.ndim == 4 and x.shape[-1] == 3)) or x.dtype != np.uint8:
        raise DataError(
            "corruptions take a uint8 batch of shape (n, height, width), or (n, height, width, 3) "
            f"in colour, got {x.dtype} {x.shape}"
        )
    return x


def _check_colour(images: ArrayLike, name: str) -> np.ndarray:
    x = _check_images(images)
    if x.ndim != 4:
        raise DataError(
            f"{name} changes colours and needs a colour batch (n, height, width, 3), got {x.shape}"
        )
    return x


def _to_uint8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def _level(name: str, severity: int) -> float:
    levels = _CORRUPTIONS[name].levels
    if not isinstance(severity, int | np.integer) or not 1 <= severity <= len(levels):
        raise ConfigError(
            f"severity {severity!r} is out of range for {name!r}: use 1..{len(levels)}"
        )
    return levels[int(severity) - 1]


def shift(images: ArrayLike, severity: int = 1, random_state: RandomState = None) -> np.ndarray:
    """Move each image by ``severity`` pixels in one of the 8 directions, drawn per image.

    Pixels moved in from outside are 0; pixels moved out are lost.
    """
    x = _check_images(images)
    s = int(_level("shift", severity))
    rng = np.random.default_rng(random_state)
    steps = np.array([(dy, dx) for dy in (-s, 0, s) for dx in (-s, 0, s) if (dy, dx) != (0, 0)])
    choice = rng.integers(0, len(steps), size=len(x))
    h, w = x.shape[1:3]
    padded = np.pad(x, ((0, 0), (s, s), (s, s), *((0, 0),) * (x.ndim - 3)))
    out = np.empty_like(x)
    # One slice per direction (8 at most), each over all the images that drew it.
    for i, (dy, dx) in enumerate(steps):
        members = choice == i
        out[members] = padded[members, s - dy : s - dy + h, s - dx : s - dx + w]
    return out


def rotate(images: ArrayLike, severity: int = 1, random_state: RandomState = None) -> np.ndarray:
    """Rotate each image about its centre by ``10 * severity`` degrees, clockwise or not at random."""
    x = _check_images(images)
    angle = _level("rotate", severity)
    sign = np.random.default_rng(random_state).choice([-1.0, 1.0], size=len(x))
    out = np.empty_like(x)
    for s in (-1.0, 1.0):
        members = sign == s
        if members.any():
            turned = ndimage.rotate(
                x[members].astype(np.float32), s * angle, axes=(1, 2), reshape=False, order=1
            )
            out[members] = _to_uint8(turned)
    return out


def gaussian_noise(
    images: ArrayLike, severity: int = 1, random_state: RandomState = None
) -> np.ndarray:
    """Add Gaussian noise of standard deviation 0.05, 0.10 or 0.20 times 255, clipped to 0..255."""
    x = _check_images(images)
    sigma = _level("gaussian_noise", severity) * 255.0
    noise = np.random.default_rng(random_state).normal(0.0, sigma, size=x.shape)
    return _to_uint8(x + noise)


def blur(images: ArrayLike, severity: int = 1, random_state: RandomState = None) -> np.ndarray:
    """Gaussian blur of standard deviation 0.5, 1.0 or 1.5 pixels (deterministic)."""
    x = _check_images(images)
    sigma = _level("blur", severity)
    # sigma 0 along the batch axis keeps images apart while one call blurs them all.
    sigmas = (0, sigma, sigma, *(0,) * (x.ndim - 3))  # nor across the channels
    return _to_uint8(ndimage.gaussian_filter(x.astype(np.float32), sigma=sigmas))


def contrast(images: ArrayLike, severity: int = 1, random_state: RandomState = None) -> np.ndarray:
    """Keep 0.4, 0.2 or 0.1 of each pixel's deviation from its image's mean (deterministic;
    in colour, from the mean of its own channel)."""
    x = _check_images(images)
    keep = _level("contrast", severity)
    mean = x.mean(axis=(1, 2), keepdims=True)
    return _to_uint8(mean + keep * (x - mean))


def invert(images: ArrayLike, severity: int = 1, random_state: RandomState = None) -> np.ndarray:
    """``255 - pixel``: dark on light becomes light on dark (deterministic, one severity)."""
    x = _check_images(images)
    _level("invert", severity)
    return 255 - x


def _grey_levels(x: np.ndarray) -> np.ndarray:
    """Luma of float RGB images, with a channel axis of 1 to broadcast against them."""
    from shallowvision._colour import luma

    return luma(x)[..., None]


def adjust_saturation(x: np.ndarray, factor: ArrayLike) -> np.ndarray:
    """Float RGB images moved towards (factor < 1) or away from their grey levels: 0 gives
    grey (luma in every channel), 1 the images. ``factor`` is a number or one per image."""
    f = np.asarray(factor, dtype=np.float64).reshape(-1, *(1,) * (x.ndim - 1))
    grey = _grey_levels(x)
    return grey + f * (x - grey)


def adjust_hue(x: np.ndarray, degrees: ArrayLike) -> np.ndarray:
    """Float RGB images (0-255) with every hue turned by ``degrees`` (a number or one per
    image), saturation and value kept."""
    from shallowvision._colour import hsv_to_rgb, rgb_to_hsv

    turn = np.asarray(degrees, dtype=np.float64).reshape(-1, *(1,) * (x.ndim - 2))
    hue, sat, value = rgb_to_hsv(np.clip(x, 0, 255))
    return hsv_to_rgb(hue + turn, sat, value).astype(np.float64) * 255.0


def hue_shift(images: ArrayLike, severity: int = 1, random_state: RandomState = None) -> np.ndarray:
    """Turn every hue by 30, 60 or 120 degrees, one way or the other at random per image."""
    x = _check_colour(images, "hue_shift")
    angle = _level("hue_shift", severity)
    sign = np.random.default_rng(random_state).choice([-1.0, 1.0], size=len(x))
    return _to_uint8(adjust_hue(x.astype(np.float64), sign * angle))


def saturation(
    images: ArrayLike, severity: int = 1, random_state: RandomState = None
) -> np.ndarray:
    """Keep 0.5, 0.25 or 0.1 of each pixel's distance from its grey level (deterministic)."""
    x = _check_colour(images, "saturation")
    return _to_uint8(adjust_saturation(x.astype(np.float64), _level("saturation", severity)))


def color_jitter(
    images: ArrayLike, severity: int = 1, random_state: RandomState = None
) -> np.ndarray:
    """Random brightness, contrast and saturation factors in ``1 ± j`` and a hue turn of up
    to ``± 180 j`` degrees, drawn per image (j = 0.1, 0.2 or 0.4), applied in that order."""
    x = _check_colour(images, "color_jitter").astype(np.float64)
    j = _level("color_jitter", severity)
    rng = np.random.default_rng(random_state)
    n = len(x)
    brightness, contrast_, saturation_ = (rng.uniform(1 - j, 1 + j, n) for _ in range(3))
    turn = rng.uniform(-180 * j, 180 * j, n)
    each = (-1, 1, 1, 1)
    x = np.clip(x * brightness.reshape(each), 0, 255)
    mean = _grey_levels(x).mean(axis=(1, 2), keepdims=True)
    x = np.clip(mean + contrast_.reshape(each) * (x - mean), 0, 255)
    x = np.clip(adjust_saturation(x, saturation_), 0, 255)
    return _to_uint8(adjust_hue(x, turn))


def grayscale(images: ArrayLike, severity: int = 1, random_state: RandomState = None) -> np.ndarray:
    """Luma (``0.299 R + 0.587 G + 0.114 B``) in all three channels (deterministic, one severity)."""
    x = _check_colour(images, "grayscale")
    _level("grayscale", severity)
    return np.repeat(_to_uint8(_grey_levels(x.astype(np.float64))), 3, axis=3)


@dataclass(frozen=True)
class _Corruption:
    function: Callable[[ArrayLike, int, RandomState], np.ndarray]
    levels: tuple[float, ...]
    unit: str
    colour_only: bool = False


_CORRUPTIONS: dict[str, _Corruption] = {
    "shift": _Corruption(shift, (1, 2, 3), "pixels"),
    "rotate": _Corruption(rotate, (10, 20, 30), "degrees"),
    "gaussian_noise": _Corruption(gaussian_noise, (0.05, 0.10, 0.20), "sigma / 255"),
    "blur": _Corruption(blur, (0.5, 1.0, 1.5), "sigma (pixels)"),
    "contrast": _Corruption(contrast, (0.4, 0.2, 0.1), "contrast kept"),
    "invert": _Corruption(invert, (1,), ""),
    "hue_shift": _Corruption(hue_shift, (30, 60, 120), "degrees", colour_only=True),
    "saturation": _Corruption(saturation, (0.5, 0.25, 0.1), "saturation kept", colour_only=True),
    "color_jitter": _Corruption(color_jitter, (0.1, 0.2, 0.4), "jitter", colour_only=True),
    "grayscale": _Corruption(grayscale, (1,), "", colour_only=True),
}


def get_corruption_names(color: str = "gray") -> list[str]:
    """Names of the corruptions of ``color`` images (``"gray"`` or ``"rgb"``), in the order
    reports list them: colour images have the grey ones and the colour ones."""
    if color not in ("gray", "rgb"):
        raise ConfigError(f"color must be 'gray' or 'rgb', got {color!r}")
    return [name for name, c in _CORRUPTIONS.items() if color == "rgb" or not c.colour_only]


def _corruption(name: str) -> _Corruption:
    if name not in _CORRUPTIONS:
        raise ConfigError(
            f"unknown corruption {name!r}; choose from {', '.join(get_corruption_names('rgb'))}"
        )
    return _CORRUPTIONS[name]


def corrupt(
    images: ArrayLike, name: str, severity: int = 1, random_state: RandomState = None
) -> np.ndarray:
    """Apply the corruption called ``name`` (see :func:`get_corruption_names`)."""
    return _corruption(name).function(images, severity, random_state)


@dataclass(frozen=True, eq=False, kw_only=True)
class RobustnessRow(Record):
    """Accuracy under one corruption at one severity; ``drop`` is clean minus corrupted accuracy."""

    corruption: str
    severity: int
    parameter: float
    unit: str
    accuracy: float
    drop: float


@dataclass(frozen=True, eq=False, kw_only=True)
class RobustnessResult(Record):
    """Accuracy on clean images and under every corruption and severity."""

    n_images: int
    random_state: int
    clean_accuracy: float
    rows: tuple[RobustnessRow, ...]

    def curves(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per corruption: severities (0 = clean) and the accuracy at each."""
        out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for name in dict.fromkeys(r.corruption for r in self.rows):
            rows = [r for r in self.rows if r.corruption == name]
            out[name] = (
                np.array([0] + [r.severity for r in rows]),
                np.array([self.clean_accuracy] + [r.accuracy for r in rows]),
            )
        return out


def _seed(random_state: int, name: str, severity: int) -> np.random.Generator:
    # Each (corruption, severity) has its own stream, the same whichever others are run.
    return np.random.default_rng([random_state, zlib.crc32(name.encode()), severity])


def evaluate_robustness(
    estimator: Any,
    images: ArrayLike,
    labels: ArrayLike,
    *,
    corruptions: Sequence[str] | None = None,
    severities: Sequence[int] = (1, 2, 3),
    random_state: int = 0,
) -> RobustnessResult:
    """Accuracy of a fitted model under every corruption and severity.

    Parameters
    ----------
    estimator : fitted classifier
        Anything whose ``predict`` takes flattened uint8 images ``(n, height * width)``
        (colour: ``height * width * 3``; a pipeline that scales pixels itself).
    images : array-like of uint8, shape (n, height, width) or (n, height, width, 3)
        The evaluation images (usually the test split).
    labels : array-like, shape (n,)
        Their true labels, as ``predict`` returns them.
    corruptions : sequence of str, optional
        Names from :func:`get_corruption_names`; by default every one for the images'
        colour (the colour corruptions only for colour images).
    severities : sequence of int
        Severities to run; those a corruption does not have (``invert`` has only 1) are skipped.
    random_state : int
        Seed of the random corruptions.

    Returns
    -------
    RobustnessResult
    """
    x = _check_images(images)
    y = np.asarray(labels)
    if len(y) != len(x):
        raise DataError(f"{len(x)} images but {len(y)} labels; the counts must match")
    if y.dtype.kind in "iufb":
        y = check_labels(y, name="labels")
    color = "rgb" if x.ndim == 4 else "gray"
    names = list(corruptions) if corruptions is not None else get_corruption_names(color)
    grey_only = [name for name in names if _corruption(name).colour_only and color == "gray"]
    if grey_only:
        raise ConfigError(
            f"{grey_only[0]} changes colours, and these images are grey; choose from "
            f"{', '.join(get_corruption_names('gray'))}"
        )

    def accuracy(batch: np.ndarray) -> float:
        return float(np.mean(np.asarray(estimator.predict(batch.reshape(len(batch), -1))) == y))

    clean = accuracy(x)
    rows = []
    for name in names:
        spec = _corruption(name)
        for severity in sorted(set(severities)):
            if not 1 <= severity <= len(spec.levels):
                continue
            acc = accuracy(spec.function(x, severity, _seed(random_state, name, severity)))
            rows.append(
                RobustnessRow(
                    corruption=name,
                    severity=int(severity),
                    parameter=float(spec.levels[severity - 1]),
                    unit=spec.unit,
                    accuracy=acc,
                    drop=clean - acc,
                )
            )
    return RobustnessResult(
        n_images=len(x), random_state=random_state, clean_accuracy=clean, rows=tuple(rows)
    )
