"""Readers for the file formats image datasets come in.

Every reader returns plain arrays and raises :class:`DataError` naming the file and
the problem for anything malformed: no other exception escapes for bad bytes.
"""

from __future__ import annotations

import functools
import gzip
import io
import math
import os
import re
import struct
import warnings
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal, TypeVar

import numpy as np

from shallowvision._io import ZIP_ERRORS
from shallowvision._memory import check_fits
from shallowvision.datasets._convert import (
    ImageSize,
    Resize,
    auto_size,
    check_color,
    check_resize,
    converted,
    has_colour,
    may_have_colour,
    oriented_size,
    parse_image_size,
    upright,
)
from shallowvision.exceptions import DataError

if TYPE_CHECKING:
    from PIL import Image

__all__ = [
    "IMAGE_SUFFIXES",
    "FolderImages",
    "ImageTooLargeError",
    "image_pixels",
    "image_suffixes",
    "is_image_file",
    "read_csv",
    "read_emnist_zip",
    "read_folder",
    "read_idx",
    "read_image_folder",
    "read_npz",
]

T = TypeVar("T")

# IDX type codes (third byte of the magic number); every multi-byte type is big-endian.
_IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"
# NumPy 1 arrays have at most 32 dimensions (NumPy 2: 64); IDX files have 1 to 4.
_MAX_IDX_DIMS = 32
# Decompression errors that mean "this gzip stream is damaged".
_GZIP_ERRORS = (EOFError, gzip.BadGzipFile, zlib.error)

#: The suffixes of the formats every Pillow build reads; see :func:`image_suffixes` for all.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


@functools.cache
def image_suffixes() -> frozenset[str]:
    """Suffixes of every image format the installed Pillow can open (PNG, JPEG, BMP, TIFF,
    WebP, GIF, PPM ...), lower case with the dot."""
    from PIL import Image

    return frozenset(
        ext.lower() for ext, fmt in Image.registered_extensions().items() if fmt in Image.OPEN
    )


def is_image_file(path: Path) -> bool:
    """A visible file with the suffix of a format Pillow opens."""
    return (
        path.suffix.lower() in image_suffixes() and not path.name.startswith(".") and path.is_file()
    )


# -- IDX ------------------------------------------------------------------------------------
def read_idx(source: str | os.PathLike[str] | bytes, *, name: str | None = None) -> np.ndarray:
    """Read an IDX file (raw or gzip-compressed) of any number of dimensions.

    Parameters
    ----------
    source : path or bytes
        The file, or its bytes (gzip-compressed or not).
    name : str, optional
        What to call the source in error messages (defaults to the path).
    """
    label = name or str(source if not isinstance(source, bytes) else "<bytes>")
    if isinstance(source, bytes):
        raw = source
    else:
        check_idx_fits(Path(source), label)
        try:
            raw = Path(source).read_bytes()
        except FileNotFoundError:
            raise DataError(f"{label}: file not found") from None
        except IsADirectoryError:
            raise DataError(f"{label}: is a folder, expected an IDX file") from None
    if raw[:2] == _GZIP_MAGIC:
        raw = _gunzip(raw, label)
    return parse_idx(raw, label)


def check_idx_fits(path: Path, label: str) -> None:
    """Refuse, with the numbers, an IDX file whose data would not fit in the free memory
    (read from its header, before anything is read whole); unreadable headers pass, for
    the full read to name the problem."""
    try:
        opener = gzip.open if _is_gzip(path) else open
        with opener(path, "rb") as stream:
            magic = stream.read(4)
            if len(magic) < 4 or magic[:2] != b"\x00\x00" or magic[2] not in _IDX_DTYPES:
                return
            ndim = magic[3]
            if not 0 < ndim <= _MAX_IDX_DIMS:
                return
            dims = stream.read(4 * ndim)
            if len(dims) < 4 * ndim:
                return
    except (OSError, *_GZIP_ERRORS):
        return
    shape = struct.unpack(f">{ndim}I", dims)
    payload = math.prod(shape) * _IDX_DTYPES[magic[2]].itemsize
    # The file is read whole; a compressed one is held beside its decompressed bytes.
    on_disk = path.stat().st_size if opener is gzip.open else 0
    what = (
        f"{label}: {shape[0]:,} images of {'x'.join(str(d) for d in shape[1:])} pixels"
        if len(shape) >= 3
        else f"{label}: {math.prod(shape):,} values"
    )
    check_fits(
        payload + on_disk,
        what,
        "read a subsample of the files, use a machine with more memory, or train on a Dask "
        "cluster, which reads the file in chunks",
    )


def _gunzip(raw: bytes, label: str) -> bytes:
    try:
        return gzip.decompress(raw)
    except _GZIP_ERRORS as exc:
        raise DataError(f"{label}: corrupt or truncated gzip data ({exc})") from None


def parse_idx(raw: bytes, label: str) -> np.ndarray:
    """Decode the bytes of an uncompressed IDX file."""
    if len(raw) < 4:
        raise DataError(f"{label}: too short to be an IDX file ({len(raw)} bytes)")
    zero, code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or code not in _IDX_DTYPES or ndim == 0:
        raise DataError(
            f"{label}: wrong IDX magic number 0x{raw[:4].hex()} "
            "(expected 0x000008NN for unsigned bytes, NN = number of dimensions)"
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{label}: truncated IDX header ({len(raw)} of {header} bytes)")
    if ndim > _MAX_IDX_DIMS:
        raise DataError(
            f"{label}: IDX header declares {ndim} dimensions; at most {_MAX_IDX_DIMS} are supported"
        )
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = _IDX_DTYPES[code]
    expected = math.prod(shape) * dtype.itemsize  # exact: no overflow on absurd headers
    found = len(raw) - header
    if found != expected:
        problem = "truncated" if found < expected else "has trailing bytes"
        raise DataError(
            f"{label}: IDX data {problem}: header says shape {shape} "
            f"({expected} bytes) but {found} bytes follow"
        )
    try:
        array = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    except ValueError:  # e.g. (0, 10**5, 10**5, 10**5): no bytes, yet too big a shape
        raise DataError(f"{label}: IDX header declares an impossible shape {shape}") from None
    return array if dtype.isnative else array.astype(dtype.newbyteorder("="))


def check_pair(images: np.ndarray, labels: np.ndarray, label: str) -> None:
    """Raise unless ``images`` is (n, h, w) or, in colour, (n, h, w, 3) and ``labels`` is (n,)."""
    if not (images.ndim == 3 or (images.ndim == 4 and images.shape[-1] == 3)):
        raise DataError(
            f"{label}: expected images of shape (n, height, width) or (n, height, width, 3), "
            f"got {images.shape}"
        )
    if labels.ndim != 1:
        raise DataError(f"{label}: expected labels of shape (n,), got {labels.shape}")
    if len(images) != len(labels):
        raise DataError(
            f"{label}: {len(images)} images but {len(labels)} labels; the counts must match"
        )


# -- EMNIST zip -----------------------------------------------------------------------------
def read_emnist_zip(
    path: str | os.PathLike[str], split: str, part: str
) -> tuple[np.ndarray, np.ndarray, str]:
    """Read one EMNIST split straight from the official ``gzip.zip``.

    EMNIST stores every image transposed; they are returned upright.

    Parameters
    ----------
    path : path
        The official archive (members ``gzip/emnist-<split>-<part>-{images,labels}-idx?-ubyte.gz``).
    split : str
        ``"balanced"``, ``"byclass"``, ``"bymerge"``, ``"digits"``, ``"letters"`` or ``"mnist"``.
    part : str
        ``"train"`` or ``"test"``.

    Returns
    -------
    images, labels, member_name
    """
    label = str(path)
    try:
        archive = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise DataError(f"{label}: file not found") from None
    except ZIP_ERRORS as exc:
        raise DataError(f"{label}: not a readable zip archive ({exc})") from None
    with archive:
        arrays, names = [], []
        for kind, rank in (("images", 3), ("labels", 1)):
            pattern = re.compile(rf"(^|/)emnist-{split}-{part}-{kind}-idx{rank}-ubyte(\.gz)?$")
            members = [m for m in archive.namelist() if pattern.search(m)]
            if not members:
                raise DataError(
                    f"{label}: no member emnist-{split}-{part}-{kind}-idx{rank}-ubyte.gz in the archive"
                )
            member = members[0]
            try:
                raw = archive.read(member)
            except ZIP_ERRORS as exc:
                raise DataError(f"{label}: member {member} is corrupt ({exc})") from None
            arrays.append(read_idx(raw, name=f"{label}:{member}"))
            names.append(member)
    images, labels = arrays
    check_pair(images, labels, label)
    return np.ascontiguousarray(images.transpose(0, 2, 1)), labels, names[0]


def emnist_member_files(folder: Path, split: str, part: str) -> tuple[Path, Path] | None:
    """The extracted EMNIST IDX files of one split in ``folder``, if present."""
    found = []
    for kind, rank in (("images", 3), ("labels", 1)):
        stem = f"emnist-{split}-{part}-{kind}-idx{rank}-ubyte"
        for candidate in (folder / f"{stem}.gz", folder / stem, folder / "gzip" / f"{stem}.gz"):
            if candidate.is_file():
                found.append(candidate)
                break
        else:
            return None
    return found[0], found[1]


# -- CSV ------------------------------------------------------------------------------------
_CSV_CHUNK_ROWS = 4096


def read_csv(
    path: str | os.PathLike[str], *, chunk_rows: int = _CSV_CHUNK_ROWS
) -> tuple[np.ndarray, np.ndarray]:
    """Read a Kaggle-style CSV (``label,pixel1..pixelN`` with a header) in chunks.

    Memory stays bounded: the uint8 result is allocated once and each chunk of
    ``chunk_rows`` rows is parsed (by NumPy's C ``loadtxt``), checked and copied into it.
    The file may be gzip-compressed. Any malformed line is reported with its number.

    Returns
    -------
    images : uint8 array of shape (n, side, side)
    labels : int64 array of shape (n,)
    """
    label = str(path)
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{label}: file not found")
    header, n_lines = _csv_header_and_lines(path)
    columns = [c.strip().strip('"').lower() for c in header.split(",")]
    if "label" not in columns:
        raise DataError(f"{label}: no 'label' column in the header (got {header[:40]!r})")
    width = len(columns)
    n_pixels = width - 1
    side = round(n_pixels**0.5)
    if n_pixels < 1 or side * side != n_pixels:
        raise DataError(
            f"{label}: the header has {n_pixels} pixel columns, which is not a square image; "
            "expected label,pixel1..pixelN with N = side * side"
        )
    label_col = columns.index("label")
    pixel_cols = np.array([c for c in range(width) if c != label_col])
    images = np.empty((n_lines, n_pixels), dtype=np.uint8)
    labels = np.empty(n_lines, dtype=np.int64)
    row = 0
    try:
        with _open_text(path) as stream:
            stream.readline()
            while row < n_lines:
                with warnings.catch_warnings():
                    # Blank lines are skipped; loadtxt warns that they do not count
                    # towards max_rows, which is exactly what is wanted here.
                    warnings.filterwarnings(
                        "ignore", message=".*contained no data", category=UserWarning
                    )
                    values = np.loadtxt(
                        stream,
                        delimiter=",",
                        dtype=np.int32,
                        max_rows=min(chunk_rows, n_lines - row),
                        ndmin=2,
                    )
                if len(values) == 0:
                    break
                if (
                    values.shape[1] != width
                    or values.min() < 0
                    or values[:, pixel_cols].max() > 255
                ):
                    raise ValueError("out of range")
                stop = row + len(values)
                labels[row:stop] = values[:, label_col]
                images[row:stop] = values[:, pixel_cols]
                row = stop
    except ValueError:
        raise DataError(f"{label}: {_csv_diagnose(path, width, label_col)}") from None
    except _GZIP_ERRORS as exc:
        raise DataError(f"{label}: corrupt or truncated gzip data ({exc})") from None
    if row == 0:
        raise DataError(f"{label}: the CSV has a header but no rows")
    return images[:row].reshape(row, side, side), labels[:row]


def _open_text(path: Path) -> IO[str]:
    # utf-8-sig: spreadsheet programs start their CSV files with a byte-order mark.
    if _is_gzip(path):
        return gzip.open(path, "rt", encoding="utf-8-sig", errors="replace", newline="")
    return open(path, encoding="utf-8-sig", errors="replace", newline="")


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as stream:
        return stream.read(2) == _GZIP_MAGIC


def _csv_header_and_lines(path: Path) -> tuple[str, int]:
    """The header line and an upper bound on the number of data rows."""
    opener = gzip.open if _is_gzip(path) else open
    count, last = 0, b"\n"
    try:
        with opener(path, "rb") as stream:
            header = stream.readline().decode("utf-8-sig", errors="replace").strip()
            while block := stream.read(1 << 22):
                count += block.count(b"\n")
                last = block[-1:]
    except _GZIP_ERRORS as exc:
        raise DataError(f"{path}: corrupt or truncated gzip data ({exc})") from None
    return header, count + (last != b"\n")


def _csv_diagnose(path: Path, width: int, label_col: int) -> str:
    """Find the first malformed line; only runs after the fast parser has failed."""
    with _open_text(path) as stream:
        stream.readline()
        for line_no, line in enumerate(stream, start=2):
            if not line.strip():
                continue
            fields = line.rstrip("\r\n").split(",")
            if len(fields) != width:
                return (
                    f"wrong column count: line {line_no} has {len(fields)} values, expected {width}"
                )
            for col, field in enumerate(fields, start=1):
                text = field.strip()
                if not text:
                    return f"line {line_no} has an empty value in column {col}"
                try:
                    value = int(text)
                except ValueError:
                    return f"non-numeric value {text!r} on line {line_no}, column {col}: every label and pixel must be an integer"
                if value < 0 or value > (255 if col - 1 != label_col else _MAX_LABEL):
                    what = "label" if col - 1 == label_col else "pixel value"
                    return f"line {line_no} has {what} {value} in column {col}; pixels must be 0..255 and labels 0..{_MAX_LABEL}"
    return "cannot parse as CSV"


# -- NPZ ------------------------------------------------------------------------------------


@contextmanager
def open_npz(path: str | os.PathLike[str]) -> Iterator[Any]:
    """Open an NPZ file (without pickles); any problem reading it, also inside the
    block, becomes a :class:`DataError` naming the file.

    The file is opened here, not by ``np.load``, so that it is closed even when
    it is not a valid archive.
    """
    label = str(path)
    try:
        with open(path, "rb") as stream:
            data = np.load(stream, allow_pickle=False)
            if not isinstance(data, np.lib.npyio.NpzFile):
                raise DataError(f"{label}: not an NPZ archive (a single .npy array?)")
            with data:
                yield data
    except DataError:
        raise
    except FileNotFoundError:
        raise DataError(f"{label}: file not found") from None
    except IsADirectoryError:
        raise DataError(f"{label}: is a folder, expected an NPZ file") from None
    except ZIP_ERRORS as exc:
        raise DataError(f"{label}: not a readable NPZ file ({exc})") from None


def read_npz(path: str | os.PathLike[str], part: str) -> tuple[np.ndarray, np.ndarray]:
    """Read ``x_<part>`` / ``y_<part>`` from an NPZ file (the Keras layout).

    Images may be (n, h, w) or (n, h, w, 1), or in colour (n, h, w, 3); they must hold
    integers 0..255.
    """
    label = str(path)
    with open_npz(path) as data:
        keys = set(data.files)
        x_key, y_key = f"x_{part}", f"y_{part}"
        if x_key not in keys or y_key not in keys:
            raise DataError(
                f"{label}: no arrays {x_key!r} and {y_key!r} (found {', '.join(sorted(keys))})"
            )
        images, labels = data[x_key], data[y_key]
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim == 2 and labels.ndim == 1 and len(labels) == len(images):
        side = round(images.shape[1] ** 0.5)
        if side * side == images.shape[1]:
            images = images.reshape(len(images), side, side)
    check_pair(images, labels, label)
    return _as_uint8(images, label), _as_labels(labels, label)


def _as_uint8(images: np.ndarray, label: str) -> np.ndarray:
    if images.dtype == np.uint8:
        return images
    real = images.dtype.kind in "iuf"  # not bool, complex, strings, dates or records
    if not real or (images.size and images.dtype.kind == "f" and np.isnan(images).any()):
        raise DataError(f"{label}: images must be numbers 0..255, got dtype {images.dtype}")
    if images.size and (
        images.min() < 0 or images.max() > 255 or (images != np.round(images)).any()
    ):
        raise DataError(f"{label}: pixel values must be integers 0..255")
    return images.astype(np.uint8)


#: Labels are class indices; anything this large is a corrupt file, not a class.
_MAX_LABEL = 2**31 - 1


def _as_labels(labels: np.ndarray, label: str) -> np.ndarray:
    kind = labels.dtype.kind
    integral = kind in "iu" or (
        kind == "f" and bool(np.isfinite(labels).all() and (labels == np.round(labels)).all())
    )
    if not integral:
        raise DataError(f"{label}: labels must be integers, got dtype {labels.dtype}")
    # Compared as Python numbers: a float16 or uint64 array cannot hold the bound itself.
    low, high = (float(labels.min()), float(labels.max())) if labels.size else (0.0, 0.0)
    if low < 0 or high > _MAX_LABEL:
        raise DataError(f"{label}: labels must be 0..{_MAX_LABEL:,}, found {low:g}..{high:g}")
    return labels.astype(np.int64)


# -- image folders --------------------------------------------------------------------------
@dataclass
class FolderImages:
    """What :func:`read_folder` read: images, labels, classes, the colour mode the images
    came out in, the size they were brought to, the files skipped as unreadable, and
    every image file found (read or skipped), class by class, each sorted."""

    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    color: Literal["gray", "rgb"]
    skipped: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)


def read_image_folder(
    folder: str | os.PathLike[str],
    *,
    image_size: ImageSize | int | str = (28, 28),
    color: str = "gray",
    resize: str = "stretch",
    skip_bad: bool = False,
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Read a folder with one sub-folder of images per class.

    Images (any format Pillow opens: PNG, JPEG, BMP, TIFF, WebP, GIF ...; see
    :func:`image_suffixes`) are turned upright by their EXIF orientation, converted to
    ``color`` and brought to ``image_size`` = (height, width) by ``resize``, as
    :func:`read_folder` describes; with ``image_size=None`` they keep their size, which
    must then be the same for all.

    Returns
    -------
    images, labels, class_names (sorted sub-folder names)
    """
    read = read_folder(folder, image_size=image_size, color=color, resize=resize, skip_bad=skip_bad)
    return read.images, read.labels, read.class_names


def read_folder(
    folder: str | os.PathLike[str],
    *,
    image_size: ImageSize | int | str = "auto",
    color: str = "auto",
    resize: str = "stretch",
    skip_bad: bool = False,
    n_jobs: int | None = None,
) -> FolderImages:
    """Read a folder with one sub-folder of images per class, files decoded in parallel.

    Parameters
    ----------
    folder : path
    image_size : (height, width), int, "auto" or None
        The size every image is brought to. ``"auto"``: the images' median size, its
        longer side brought down to 64 pixels; None: their own size, the same for all.
    color : {"auto", "gray", "rgb"}
        ``"gray"`` gives ``(n, height, width)`` images, ``"rgb"`` ``(n, height, width, 3)``;
        ``"auto"`` keeps colour when any image has colour (a pixel whose red, green and
        blue differ by more than 2 levels) and gives grey images otherwise.
        Transparent pixels are composited onto black for grey images and onto white
        for colour ones.
    resize : {"stretch", "pad", "crop"}
        ``"stretch"`` ignores the aspect ratio; ``"pad"`` keeps it and pads with the
        image's border colour; ``"crop"`` keeps it and takes the centre.
    skip_bad : bool
        Skip files that cannot be decoded (listed in ``skipped``) instead of stopping
        at the first with an error naming it.
    n_jobs : int, optional
        Threads decoding files (None: one per core).

    Returns
    -------
    FolderImages
    """
    size = parse_image_size(image_size)
    mode, rule = check_color(color), check_resize(resize)
    root = Path(folder)
    classes, files = _class_files(root)
    paths = [p for members in files for p in members]
    labels = np.concatenate([np.full(len(m), i, dtype=np.int64) for i, m in enumerate(files)])
    skipped: list[str] = []
    keep = np.ones(len(paths), dtype=bool)

    def bad(index: int, problem: str) -> None:
        if not skip_bad:
            raise DataError(f"{problem}; pass skip_bad=True to skip unreadable files")
        keep[index] = False
        skipped.append(problem)

    if size == "auto":
        sizes = []
        for i, found in enumerate(_in_threads(_header_size, paths, n_jobs, "reading sizes")):
            if isinstance(found, str):
                bad(i, found)
            else:
                sizes.append(found)
        if not sizes:
            raise DataError(f"{root}: no image could be read")
        size = auto_size(sizes)
    fixed: tuple[int, int] | None = size
    todo = [int(i) for i in np.flatnonzero(keep)]
    decode = functools.partial(_decode_file, color=mode, size=fixed, rule=rule)
    gray: np.ndarray | None = None
    rgb: np.ndarray | None = None
    gray_content: list[int] = []  # rows of a colour result decoded as grey: redone in colour
    first: tuple[Path, tuple[int, int]] | None = None
    for i, (pixels, problem) in zip(
        todo, _in_threads(decode, [paths[i] for i in todo], n_jobs, "decoding images"), strict=True
    ):
        if pixels is None:
            bad(i, str(problem))
            continue
        shape = (int(pixels.shape[0]), int(pixels.shape[1]))
        if first is None:
            first = (paths[i], shape)
        elif shape != first[1]:
            (h, w), (fh, fw) = shape, first[1]
            raise DataError(
                f"{paths[i]}: image is {w}x{h} but {first[0].name} is {fw}x{fh}; images of "
                "mixed sizes need image_size"
            )
        if pixels.ndim == 3:
            if rgb is None:
                rgb = np.empty((len(paths), *first[1], 3), dtype=np.uint8)
            rgb[i] = pixels
        else:
            if gray is None:
                gray = np.empty((len(paths), *first[1]), dtype=np.uint8)
            gray[i] = pixels
            gray_content.append(i)
    if first is None:
        raise DataError(f"{root}: no image could be read")
    images = gray if rgb is None else rgb
    assert images is not None
    if rgb is not None and gray_content:
        # Colour won: the images that came back grey are decoded again as colour, so
        # their transparency meets the colour background, as in a colour load.
        again = functools.partial(_decode_file, color="rgb", size=first[1], rule=rule)
        redone = _in_threads(again, [paths[i] for i in gray_content], n_jobs, "decoding images")
        for i, (pixels, problem) in zip(gray_content, redone, strict=True):
            if pixels is None:  # decoded a moment ago: changed on disk since
                raise DataError(str(problem))
            rgb[i] = pixels
    del gray
    if not keep.all():
        images, labels = images[keep], labels[keep]
        empty = [c for i, c in enumerate(classes) if not (labels == i).any()]
        if empty:
            raise DataError(
                f"{root / empty[0]}: every image of class {empty[0]!r} is unreadable "
                f"({len(skipped)} files skipped)"
            )
    return FolderImages(
        images=images,
        labels=labels,
        class_names=tuple(classes),
        color="rgb" if images.ndim == 4 else "gray",
        skipped=skipped,
        files=paths,
    )


def _class_files(root: Path) -> tuple[list[str], list[list[Path]]]:
    """The class sub-folders of ``root`` (sorted) and their image files (sorted)."""
    if not root.is_dir():
        raise DataError(f"{root}: folder not found")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DataError(
            f"{root}: no class sub-folders (expected one sub-folder of images per class)"
        )
    files: list[list[Path]] = []
    suffixes = image_suffixes()
    for cls in classes:
        # One directory read per class (no stat per file), names sorted as strings:
        # listing 100,000 files stays a fraction of decoding them.
        with os.scandir(root / cls) as entries:
            names = sorted(
                e.name
                for e in entries
                if not e.name.startswith(".")
                and os.path.splitext(e.name)[1].lower() in suffixes
                and e.is_file()
            )
        members = [root / cls / name for name in names]
        if not members:
            raise DataError(
                f"{root / cls}: class {cls!r} has no images (in any format Pillow reads: "
                "PNG, JPEG, BMP, TIFF, WebP, GIF ...)"
            )
        files.append(members)
    if len(classes) < 2:
        raise DataError(f"{root}: only one class ({classes[0]!r}); a classifier needs at least two")
    return classes, files


def _header_size(path: Path) -> tuple[int, int] | str:
    """An image file's upright ``(height, width)`` from its header, or what is wrong with it."""
    try:
        with _opened(path, str(path), load=False) as img:
            return oriented_size(img)
    except DataError as exc:
        return str(exc)


def _decode_file(
    path: Path, *, color: str, size: tuple[int, int] | None, rule: Resize
) -> tuple[np.ndarray | None, str | None]:
    """One file's pixels (grey or colour, as :func:`decode_image`), or what is wrong with it."""
    try:
        return decode_image(path, size, color=color, resize=rule), None
    except DataError as exc:
        return None, str(exc)


#: Files each thread decodes at a time, and the fewest files worth threads at all.
_FILES_PER_BATCH = 32
#: Fewest files for which a progress bar is shown (on a terminal).
_PROGRESS_FILES = 500


def _in_threads(
    fn: Callable[[Path], T], paths: list[Path], n_jobs: int | None, description: str
) -> Iterator[T]:
    """``fn(path)`` for every path, in order, computed by threads (Pillow decodes and
    resizes without the GIL), with a progress bar for long folders on a terminal."""
    from concurrent.futures import ThreadPoolExecutor

    from shallowvision._console import stderr_console

    workers = _workers(n_jobs, len(paths))
    console = stderr_console()
    with _progress(len(paths), description, console) as advance:
        if workers <= 1:
            for path in paths:
                yield fn(path)
                advance(1)
            return
        batches = [paths[i : i + _FILES_PER_BATCH] for i in range(0, len(paths), _FILES_PER_BATCH)]
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="shallowvision-decode")
        try:
            for results in pool.map(lambda batch: [fn(p) for p in batch], batches):
                yield from results
                advance(len(results))
        finally:
            # Stopped early (a bad file): the batches not yet started are dropped.
            pool.shutdown(wait=True, cancel_futures=True)


def _workers(n_jobs: int | None, n_files: int) -> int:
    if n_files < 2 * _FILES_PER_BATCH:
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cores = cores or 1
    wanted = cores if n_jobs is None else (n_jobs if n_jobs > 0 else max(1, cores + 1 + n_jobs))
    return max(1, min(wanted, math.ceil(n_files / _FILES_PER_BATCH)))


@contextmanager
def _progress(total: int, description: str, console: Any) -> Iterator[Callable[[int], None]]:
    if total < _PROGRESS_FILES or not console.is_terminal:
        yield lambda _n: None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task(description, total=total)
        yield lambda n: progress.advance(task, n)


def decode_image(
    source: str | os.PathLike[str] | bytes,
    image_size: tuple[int, int] | None,
    *,
    color: str = "gray",
    resize: str = "stretch",
    name: str | None = None,
    max_pixels: int | None = None,
    formats: tuple[str, ...] | None = None,
) -> np.ndarray:
    """Decode one image file or its bytes into a uint8 array: ``(height, width)`` grey or
    ``(height, width, 3)`` colour.

    The image is turned upright by its EXIF orientation, converted to ``color``
    (``"gray"``; ``"rgb"``; ``"auto"``: colour if the image has colour, else grey) and
    brought to ``image_size`` = (height, width) by ``resize`` (``"stretch"``, ``"pad"``
    or ``"crop"``); None keeps its size. Transparent pixels are composited onto black
    for a grey result and onto white for a colour one; 16-bit images are stretched to
    0..255 by their maximum; CMYK, YCbCr and palette images are converted through RGB.

    ``name`` is what error messages call the source (default: its path, or ``<upload>``);
    an image whose header declares more than ``max_pixels`` pixels is refused before
    its pixels are decoded; ``formats`` (Pillow names such as ``"PNG"``) limits the
    formats tried.
    """
    mode, rule = check_color(color), check_resize(resize)
    label = name or ("<upload>" if isinstance(source, bytes) else str(source))
    with _opened(source, label, max_pixels=max_pixels, formats=formats) as img:
        if mode == "auto":
            if may_have_colour(img):
                rgb = converted(img, "rgb", image_size, rule)
                if has_colour(rgb):
                    return rgb
            mode = "gray"
        return converted(img, mode, image_size, rule)


@contextmanager
def _opened(
    source: str | os.PathLike[str] | bytes,
    label: str,
    *,
    max_pixels: int | None = None,
    formats: tuple[str, ...] | None = None,
    load: bool = True,
) -> Iterator[Image.Image]:
    """The image in ``source``, decoded (``load``) and upright; anything wrong with it, in
    the body too, is one :class:`DataError` naming ``label``."""
    from PIL import Image, UnidentifiedImageError

    stream = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        with Image.open(stream, formats=formats) as img:
            if max_pixels is not None and img.width * img.height > max_pixels:
                raise ImageTooLargeError(
                    f"{label}: image is {img.width}x{img.height} pixels, more than the "
                    f"{max_pixels:,} allowed"
                )
            if not load:
                yield img
                return
            img.load()
            yield upright(img)
    except DataError:
        raise
    except FileNotFoundError:
        raise DataError(f"{label}: file not found") from None
    except UnidentifiedImageError:
        expected = "/".join(formats) if formats else "a format Pillow reads"
        raise DataError(f"{label}: corrupt or unreadable image (not {expected})") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise _unreadable(label, exc) from None


def _unreadable(label: str, exc: Exception) -> DataError:
    """The error for an image Pillow could not read: a bomb (too many pixels, or compressed
    chunks beyond Pillow's limits) or a corrupt file."""
    from PIL import Image

    text = " ".join(str(exc).split())  # one line, whatever the decoder said
    if isinstance(exc, Image.DecompressionBombError) or any(
        words in text.lower() for words in ("too large", "too much memory")
    ):
        return ImageTooLargeError(f"{label}: decompression bomb refused ({text})")
    return DataError(f"{label}: corrupt or unreadable image ({text})")


class ImageTooLargeError(DataError):
    """An image whose pixels, or whose compressed chunks, would decode to more than allowed."""


def image_pixels(
    data: bytes, *, formats: tuple[str, ...] | None = None, name: str = "<upload>"
) -> int:
    """The pixels an image file's header declares (width x height), read without decoding."""
    with _opened(data, name, formats=formats, load=False) as img:
        return int(img.width) * int(img.height)
