"""How a decoded image file becomes a working image: its colour mode, size and resize rule.

One conversion is applied to the images a model is trained on and, recorded in its model
file, to every image it is later asked about, so the two are converted alike.

- **Colour** ``"gray"`` gives ``(height, width)`` uint8 images (ITU-R 601 luma, as
  Pillow's ``"L"`` mode); ``"rgb"`` gives ``(height, width, 3)``; ``"auto"`` keeps colour
  when any image of the dataset has colour.
- **Orientation**: the EXIF orientation tag is applied first, so a photo taken sideways
  is upright.
- **Transparency** (``RGBA``, ``LA``, ``PA``, palette images with a transparent colour) is
  composited onto a stated background: **black** for grey images (the background of
  MNIST-style images, where ink is bright) and **white** for colour ones (the background
  such images are usually drawn on).
- **16- and 32-bit** images (``I;16``, ``I``, ``F``) are stretched to 0..255 by their
  maximum; CMYK and YCbCr images are converted to RGB; palette images through their
  palette.
- **Size and resize rule**: ``"stretch"`` resizes to the size whatever the aspect ratio;
  ``"pad"`` keeps the aspect ratio and pads with the image's own border colour (the
  median of its outermost pixels); ``"crop"`` keeps the aspect ratio and takes the
  centre.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np

from shallowvision.exceptions import ConfigError

if TYPE_CHECKING:
    from PIL import Image

__all__ = [
    "COLOR_MODES",
    "MAX_AUTO_SIDE",
    "RESIZE_RULES",
    "check_color",
    "check_resize",
    "parse_image_size",
]

Color = Literal["auto", "gray", "rgb"]
Resize = Literal["stretch", "pad", "crop"]
#: A requested size: (height, width), ``"auto"`` (chosen from the data) or None (native).
ImageSize = tuple[int, int] | Literal["auto"] | None

COLOR_MODES: tuple[str, ...] = ("auto", "gray", "rgb")
RESIZE_RULES: tuple[str, ...] = ("stretch", "pad", "crop")
#: ``image_size="auto"`` takes the median size of a folder's images, its longer side
#: brought down to this (classical models on pixels grow with every pixel).
MAX_AUTO_SIDE = 64
#: Largest side an explicit size may have (the model file's own bound).
MAX_SIDE = 2048
#: What transparent pixels are composited onto, per colour mode.
GRAY_BACKGROUND = 0
RGB_BACKGROUND = (255, 255, 255)
#: An image counts as having colour when some pixel's channels differ by more than this
#: (a grey picture saved as an RGB JPEG comes back with channels within a level or two).
GRAY_TOLERANCE = 2

_GRAY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
_WIDE_MODES = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
_SIZE_TEXT = re.compile(r"^\s*(\d+)\s*(?:[xX×]\s*(\d+))?\s*$")


# -- options ---------------------------------------------------------------------------------
def check_color(value: str) -> Color:
    """``value`` if it is a colour mode (``auto``, ``gray``, ``rgb``)."""
    text = str(value).strip().lower()
    if text not in COLOR_MODES:
        raise ConfigError(f"unknown color {value!r}; choose one of {', '.join(COLOR_MODES)}")
    return text  # type: ignore[return-value]


def check_resize(value: str) -> Resize:
    """``value`` if it is a resize rule (``stretch``, ``pad``, ``crop``)."""
    text = str(value).strip().lower()
    if text not in RESIZE_RULES:
        raise ConfigError(f"unknown resize {value!r}; choose one of {', '.join(RESIZE_RULES)}")
    return text  # type: ignore[return-value]


def parse_image_size(value: object) -> ImageSize:
    """A requested image size as ``(height, width)``, ``"auto"`` or None (native).

    Accepts an int (a square side), a ``(height, width)`` pair, ``"auto"``, ``"native"``
    or None, and text such as ``"32"`` or ``"48x64"`` (height x width).
    """
    if value is None or (isinstance(value, str) and value.strip().lower() == "native"):
        return None
    if isinstance(value, str) and value.strip().lower() == "auto":
        return "auto"
    sides: Sequence[object]
    if isinstance(value, str):
        match = _SIZE_TEXT.match(value)
        if match is None:
            raise ConfigError(
                f"image size {value!r}: give a side (32), HEIGHTxWIDTH (48x64), auto or native"
            )
        sides = [match.group(1), match.group(2) or match.group(1)]
    elif isinstance(value, int | np.integer) and not isinstance(value, bool):
        sides = [value, value]
    elif isinstance(value, Sequence) and len(value) == 2:
        sides = value
    else:
        raise ConfigError(
            f"image size {value!r}: give (height, width), a side, 'auto' or None (native)"
        )
    try:
        h, w = (int(s) for s in sides)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise ConfigError(f"image size {value!r}: the sides must be whole numbers") from None
    if not (1 <= h <= MAX_SIDE and 1 <= w <= MAX_SIDE) or any(
        isinstance(s, float) and s != int(s) for s in sides
    ):
        raise ConfigError(f"image size {value!r}: each side must be 1..{MAX_SIDE} pixels")
    return h, w


def auto_size(sizes: Sequence[tuple[int, int]]) -> tuple[int, int]:
    """The median ``(height, width)`` of ``sizes``, the longer side brought down to
    :data:`MAX_AUTO_SIDE` with the aspect ratio kept."""
    heights = np.array([s[0] for s in sizes])
    widths = np.array([s[1] for s in sizes])
    h, w = float(np.median(heights)), float(np.median(widths))
    scale = min(1.0, MAX_AUTO_SIDE / max(h, w))
    return max(1, round(h * scale)), max(1, round(w * scale))


# -- one image -------------------------------------------------------------------------------
def oriented_size(img: Image.Image) -> tuple[int, int]:
    """``(height, width)`` of ``img`` once its EXIF orientation is applied (header only)."""
    orientation = img.getexif().get(0x0112, 1)
    if orientation in (5, 6, 7, 8):  # the four orientations that turn by a quarter
        return img.width, img.height
    return img.height, img.width


def upright(img: Image.Image) -> Image.Image:
    """``img`` turned as its EXIF orientation tag says (itself when there is none)."""
    from PIL import ImageOps

    if img.getexif().get(0x0112, 1) in (None, 1):
        return img
    turned = ImageOps.exif_transpose(img)
    return img if turned is None else turned


def _has_alpha(img: Image.Image) -> bool:
    return img.mode in ("RGBA", "RGBa", "LA", "La", "PA") or (
        img.mode == "P" and "transparency" in img.info
    )


def _stretched(img: Image.Image) -> Image.Image:
    """A 16- or 32-bit image as 8-bit grey, stretched by its maximum, a band of rows at a
    time (a 4096x4096 16-bit image never needs whole float64 copies)."""
    from PIL import Image

    array = np.asarray(img)
    top = float(array.max()) if array.size else 0.0
    top = top if top > 0 else 1.0
    gray = np.empty(array.shape, dtype=np.uint8)
    for start in range(0, len(array), _ROWS_PER_BAND):
        band = array[start : start + _ROWS_PER_BAND].astype(np.float64)
        gray[start : start + _ROWS_PER_BAND] = np.round(np.clip(band, 0, None) / top * 255)
    return Image.fromarray(gray)


#: Rows converted at once from 16- and 32-bit images (a few MB of float64).
_ROWS_PER_BAND = 128


def to_gray(img: Image.Image) -> Image.Image:
    """``img`` in mode ``"L"``; transparency composited onto black."""
    from PIL import Image

    if _has_alpha(img):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (GRAY_BACKGROUND,) * 3 + (255,))
        img = Image.alpha_composite(background, rgba)
    if img.mode in _WIDE_MODES:
        return _stretched(img)
    return img.convert("L")


def to_rgb(img: Image.Image) -> Image.Image:
    """``img`` in mode ``"RGB"``; transparency composited onto white."""
    from PIL import Image

    if _has_alpha(img):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (*RGB_BACKGROUND, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    if img.mode in _WIDE_MODES:
        return _stretched(img).convert("RGB")
    return img.convert("RGB")


def may_have_colour(img: Image.Image) -> bool:
    """Whether ``img``'s mode can hold colour (a grey palette still answers True)."""
    return img.mode not in _GRAY_MODES


def has_colour(rgb: np.ndarray) -> bool:
    """Whether an ``(h, w, 3)`` uint8 image has a pixel whose channels differ by more than
    :data:`GRAY_TOLERANCE`."""
    # Pairwise channel differences: as exact as max - min over the channels, several
    # times faster than a reduction along an axis of three.
    red, green, blue = (rgb[..., c].astype(np.int16) for c in range(3))
    return bool(
        (np.abs(red - green) > GRAY_TOLERANCE).any()
        or (np.abs(green - blue) > GRAY_TOLERANCE).any()
        or (np.abs(red - blue) > GRAY_TOLERANCE).any()
    )


def resized(img: Image.Image, size: tuple[int, int] | None, rule: Resize) -> Image.Image:
    """``img`` brought to ``size`` = (height, width) by ``rule`` (None keeps its size)."""
    from PIL import Image, ImageOps

    if size is None or img.size == (size[1], size[0]):
        return img
    target = (size[1], size[0])
    method = Image.Resampling.LANCZOS
    if rule == "crop":
        return ImageOps.fit(img, target, method)
    if rule == "pad":
        return ImageOps.pad(img, target, method, color=_border_colour(img))
    return img.resize(target, method)


def _border_colour(img: Image.Image) -> int | tuple[int, ...]:
    """The median of the outermost pixels, per channel: what ``pad`` fills with."""
    array = np.asarray(img)
    frame = np.concatenate([array[0], array[-1], array[1:-1, 0], array[1:-1, -1]], axis=0).reshape(
        -1, 1 if array.ndim == 2 else array.shape[-1]
    )
    median = np.median(frame, axis=0).round().astype(int)
    return int(median[0]) if array.ndim == 2 else tuple(int(v) for v in median)


def converted(
    img: Image.Image, color: Literal["gray", "rgb"], size: tuple[int, int] | None, rule: Resize
) -> np.ndarray:
    """An upright image as the uint8 array of ``color`` at ``size`` by ``rule``."""
    mode = to_rgb(img) if color == "rgb" else to_gray(img)
    return np.asarray(resized(mode, size, rule), dtype=np.uint8)


# -- arrays ----------------------------------------------------------------------------------
#: Pixel values converted at once from colour to grey (a 16 MB uint32 temporary).
_ARRAY_CHUNK_VALUES = 1 << 22


def array_as(images: np.ndarray, color: Color) -> np.ndarray:
    """uint8 images ``(n, h, w)`` or ``(n, h, w, 3)`` in ``color`` (``"auto"`` keeps them).

    Colour becomes grey by the same luma Pillow's ``"L"`` conversion uses
    (``(299 R + 587 G + 114 B) / 1000``), a chunk of images at a time; grey becomes
    colour by repeating the channel.
    """
    if color == "auto" or (images.ndim == 3) == (color == "gray"):
        return images
    if color == "rgb":
        return np.repeat(images[..., None], 3, axis=-1)
    out = np.empty(images.shape[:-1], dtype=np.uint8)
    weights = np.array([19595, 38470, 7471], dtype=np.uint32)  # Pillow's, in 1/65536ths
    step = max(1, _ARRAY_CHUNK_VALUES // max(1, int(np.prod(images.shape[1:]))))
    for start in range(0, len(images), step):
        chunk = images[start : start + step].astype(np.uint32)
        out[start : start + step] = (chunk @ weights + 0x8000) >> 16
    return out
