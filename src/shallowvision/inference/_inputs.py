"""Turn what users hand to ``predict`` and ``serve`` into uint8 images, as training images are.

Files, folders, IDX and NPZ arrays (``predict``), uploaded image bytes and pixel
arrays sent as JSON (``serve``) all pass through here, so every way in converts
images the same way.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from shallowvision.datasets._convert import array_as, check_color
from shallowvision.datasets._readers import (
    ImageTooLargeError,
    _as_uint8,
    decode_image,
    image_pixels,
    image_suffixes,
    is_image_file,
    open_npz,
    read_idx,
)
from shallowvision.exceptions import DataError

__all__ = [
    "ImageTooLargeError",
    "decode_upload",
    "images_from_pixels",
    "read_inputs",
    "upload_pixels",
]

_NPZ_KEYS = ("x_test", "x", "images", "x_train")


def read_inputs(
    paths: list[str | os.PathLike[str]],
    *,
    image_shape: tuple[int, int],
    color: str = "gray",
    resize: str = "stretch",
) -> tuple[list[str], np.ndarray]:
    """Read images to classify.

    Parameters
    ----------
    paths : list of path
        Image files (any format Pillow opens), folders of them (searched recursively,
        sorted), IDX
        image files, or NPZ files (array ``x_test``, ``x``, ``images`` or ``x_train``).
    image_shape : (height, width)
        The model's input size; image files are brought to it by ``resize`` the same
        way training folders are; arrays must already have it.
    color : {"gray", "rgb"}
        The model's colour mode: image files and arrays are converted to it.
    resize : {"stretch", "pad", "crop"}
        The model's resize rule.

    Returns
    -------
    names : list of str
        One per image: the file path, or ``file[index]`` for arrays.
    images : uint8 array of shape (n, height, width), or (n, height, width, 3) in colour
    """
    mode = check_color(color)
    names: list[str] = []
    batches: list[np.ndarray] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if is_image_file(p))
            if not files:
                raise DataError(
                    f"{path}: no images in this folder (in any format Pillow reads: PNG, JPEG, "
                    "BMP, TIFF, WebP, GIF ...)"
                )
            for file in files:
                names.append(str(file))
                batches.append(decode_image(file, image_shape, color=mode, resize=resize)[None])
        elif not path.exists():
            raise DataError(f"{path}: file not found")
        elif path.suffix.lower() in image_suffixes():
            names.append(str(path))
            batches.append(decode_image(path, image_shape, color=mode, resize=resize)[None])
        else:
            array = array_as(_read_array(path), mode)
            if array.shape[1:3] != tuple(image_shape):
                raise DataError(
                    f"{path}: images are {array.shape[1]}x{array.shape[2]} but the model expects "
                    f"{image_shape[0]}x{image_shape[1]}"
                )
            names.extend(f"{path}[{i}]" for i in range(len(array)))
            batches.append(array)
    if not batches:
        raise DataError("no inputs given")
    return names, np.concatenate(batches)


def _read_array(path: Path) -> np.ndarray:
    if path.name.lower().endswith(".npz"):
        with open_npz(path) as data:
            key = next((k for k in _NPZ_KEYS if k in data.files), None)
            if key is None:
                raise DataError(f"{path}: no image array (looked for {', '.join(_NPZ_KEYS)})")
            array = data[key]
    elif "idx" in path.name.lower() or "ubyte" in path.name.lower():
        array = read_idx(path)
    else:
        raise DataError(f"{path}: unknown input; give image files, folders, IDX or NPZ files")
    if array.ndim == 4 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim == 2:
        array = array[None]
    if not (array.ndim == 3 or (array.ndim == 4 and array.shape[-1] == 3)):
        raise DataError(
            f"{path}: expected images of shape (n, height, width) or (n, height, width, 3), "
            f"got {array.shape}"
        )
    return _as_uint8(array, str(path))


#: Largest image (in pixels, as its header declares) that an upload may decode to.
MAX_UPLOAD_PIXELS = 4096 * 4096
#: Formats an upload may be in (a short list: each decoder is attack surface).
UPLOAD_FORMATS = ("PNG", "JPEG", "BMP")


def decode_upload(
    data: bytes,
    *,
    image_shape: tuple[int, int],
    color: str = "gray",
    resize: str = "stretch",
    name: str = "<upload>",
    max_pixels: int = MAX_UPLOAD_PIXELS,
) -> np.ndarray:
    """Decode the bytes of one uploaded image file (PNG, JPEG, BMP) into a uint8 image.

    The image is converted to ``color`` and brought to ``image_shape`` by ``resize``
    exactly as training image folders are (:func:`shallowvision.datasets.decode_image`).

    Parameters
    ----------
    data : bytes
        The file's content.
    image_shape : (height, width)
        The model's input size.
    color : {"gray", "rgb"}
        The model's colour mode.
    resize : {"stretch", "pad", "crop"}
        The model's resize rule.
    name : str
        What error messages call the upload (e.g. its file name).
    max_pixels : int
        Images whose header declares more pixels are refused before decoding.

    Returns
    -------
    uint8 array of shape (height, width), or (height, width, 3) in colour
    """
    if not data:
        raise DataError(f"{name}: empty file")
    return decode_image(
        data,
        image_shape,
        color=check_color(color),
        resize=resize,
        name=name,
        max_pixels=max_pixels,
        formats=UPLOAD_FORMATS,
    )


def upload_pixels(data: bytes, *, name: str = "<upload>") -> int:
    """The pixels an uploaded image's header declares, without decoding it (to refuse a
    request whose images would decode to too many pixels before decoding any).

    Raises :class:`DataError` for bytes that are not a PNG, JPEG or BMP image and
    :class:`ImageTooLargeError` for a decompression bomb.
    """
    if not data:
        raise DataError(f"{name}: empty file")
    return image_pixels(data, formats=UPLOAD_FORMATS, name=name)


def images_from_pixels(
    values: Any, *, image_shape: tuple[int, int], color: str = "gray", name: str = "pixels"
) -> np.ndarray:
    """Images given as (nested lists of) pixel values, e.g. parsed from JSON.

    Accepted layouts for grey images of ``(h, w)`` pixels: one image ``(h, w)`` or
    ``(h * w,)``, or a batch ``(n, h, w)`` or ``(n, h * w)``; for colour images
    (``color="rgb"``) the same with ``(h, w, 3)`` and ``h * w * 3`` values, each pixel's
    red, green and blue together. Values must be integers 0..255, as the training
    images are (floats with integral values pass).

    Returns
    -------
    uint8 array of shape (n, h, w), or (n, h, w, 3) in colour
    """
    h, w = image_shape
    shape = (h, w, 3) if check_color(color) == "rgb" else (h, w)
    size = int(np.prod(shape))
    one = ", ".join(str(v) for v in shape)
    try:
        array = np.asarray(values)
    except (ValueError, TypeError, OverflowError):
        raise DataError(
            f"{name}: rows of different lengths; expected one image ({one}) or a batch (n, {one})"
        ) from None
    if array.dtype == object and {type(v) for v in array.ravel()} <= {int, float}:
        raise DataError(f"{name}: pixel values must be integers 0..255")  # beyond int64
    if array.dtype == object or not (
        np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)
    ):
        raise DataError(
            f"{name}: every pixel must be a number 0..255 (got values of type {_kind(array)})"
        )
    if array.size == 0:
        raise DataError(f"{name}: no images (the array is empty)")
    if (array.ndim == 1 and array.size == size) or array.shape == shape:
        array = array.reshape(1, *shape)
    elif array.ndim == 2 and array.shape[1] == size:
        array = array.reshape(len(array), *shape)
    elif array.ndim != len(shape) + 1 or array.shape[1:] != shape:
        what = f"{h}x{w}" + (" colour" if len(shape) == 3 else "")
        raise DataError(
            f"{name}: shape {array.shape} does not fit the model's {what} images; expected "
            f"one image ({one}) or ({size},), or a batch (n, {one}) or (n, {size})"
        )
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise DataError(
            f"{name}: pixel values must be finite numbers 0..255 (found NaN or infinity)"
        )
    return _as_uint8(array, name)


def _kind(array: np.ndarray) -> str:
    if array.dtype == object:
        kinds = sorted({type(v).__name__ for v in array.ravel()[:1000]})
        return ", ".join(kinds)
    return {"U": "str", "b": "bool", "c": "complex"}.get(array.dtype.kind, str(array.dtype))
