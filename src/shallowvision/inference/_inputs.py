"""Turn what users hand to ``predict`` (image files, folders, IDX and NPZ arrays) into uint8 images."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from shallowvision.datasets._readers import IMAGE_SUFFIXES, _as_uint8, decode_image, read_idx
from shallowvision.exceptions import DataError

__all__ = ["read_inputs"]

_NPZ_KEYS = ("x_test", "x", "images", "x_train")


def read_inputs(
    paths: list[str | os.PathLike[str]], *, image_shape: tuple[int, int]
) -> tuple[list[str], np.ndarray]:
    """Read images to classify.

    Parameters
    ----------
    paths : list of path
        PNG/JPEG/BMP files, folders of them (searched recursively, sorted), IDX
        image files, or NPZ files (array ``x_test``, ``x``, ``images`` or ``x_train``).
    image_shape : (height, width)
        The model's input size; image files are converted to grayscale and resized to
        it the same way training folders are; arrays must already have it.

    Returns
    -------
    names : list of str
        One per image: the file path, or ``file[index]`` for arrays.
    images : uint8 array of shape (n, height, width)
    """
    names: list[str] = []
    batches: list[np.ndarray] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files = sorted(
                p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
            )
            if not files:
                raise DataError(f"{path}: no images ({'/'.join(IMAGE_SUFFIXES)}) in this folder")
            for file in files:
                names.append(str(file))
                batches.append(decode_image(file, image_shape)[None])
        elif not path.exists():
            raise DataError(f"{path}: file not found")
        elif path.suffix.lower() in IMAGE_SUFFIXES:
            names.append(str(path))
            batches.append(decode_image(path, image_shape)[None])
        else:
            array = _read_array(path)
            if array.shape[1:] != tuple(image_shape):
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
        try:
            with np.load(path, allow_pickle=False) as data:
                key = next((k for k in _NPZ_KEYS if k in data.files), None)
                if key is None:
                    raise DataError(f"{path}: no image array (looked for {', '.join(_NPZ_KEYS)})")
                array = data[key]
        except (ValueError, OSError) as exc:
            if isinstance(exc, DataError):
                raise
            raise DataError(f"{path}: not a readable NPZ file ({exc})") from None
    elif "idx" in path.name.lower() or "ubyte" in path.name.lower():
        array = read_idx(path)
    else:
        raise DataError(f"{path}: unknown input; give image files, folders, IDX or NPZ files")
    if array.ndim == 4 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim == 2:
        array = array[None]
    if array.ndim != 3:
        raise DataError(f"{path}: expected images of shape (n, height, width), got {array.shape}")
    return _as_uint8(array, str(path))
