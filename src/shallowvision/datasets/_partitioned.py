"""A dataset split as dask arrays whose chunks are read by tasks on a cluster's workers.

The client only reads metadata (file headers, sizes, the decoded cache's ``meta.json``)
and builds a task graph; every chunk of pixels is read on a worker, from a byte range of
a raw file or a memory-mapped ``.npy``, by streaming a gzip file or a compressed NPZ
member up to the chunk, or by ``dask.dataframe.read_csv``. Held-out splits are the rows
:meth:`ImageSet.split_off` chooses, computed from the labels in one task and applied
as row masks, so a partitioned split holds exactly the images :func:`load` gives.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import itertools
import json
import os
import struct
import zipfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from shallowvision._io import ZIP_ERRORS, sha256_file
from shallowvision._optional import import_optional
from shallowvision.datasets import _cache, _decode, _load, _locate, _readers
from shallowvision.datasets._imageset import held_out_indices, resolve_class
from shallowvision.datasets._registry import RemoteFile, get_dataset_spec, is_dataset_name
from shallowvision.exceptions import ConfigError, DataError

__all__ = ["PartitionedImages", "read_partitioned"]

#: Pixels per chunk unless the caller says otherwise: a few chunks per worker for a
#: million 28x28 images, each small beside a worker's memory.
DEFAULT_CHUNK_BYTES = 32 * 2**20


# -- where rows live ------------------------------------------------------------------------
@dataclass(frozen=True)
class _Rows:
    """Fixed-size rows in a file, read ``[start, stop)`` at a time on a worker.

    ``codec`` is ``"raw"`` (a byte range at ``offset``), ``"gzip"`` (the gzip stream is
    decompressed up to the chunk), ``"zip"`` (a compressed zip member, likewise) or
    ``"zip-gzip"`` (a gzip file stored in a zip, as EMNIST's are).
    """

    path: str
    offset: int
    n_rows: int
    row_shape: tuple[int, ...]
    dtype: str
    label: str
    codec: str = "raw"
    member: str = ""
    #: "pixels": validated as integers 0..255 and flattened; "labels": class indices;
    #: "cache": already uint8 pixels or int64 labels (the decoded cache).
    role: str = "pixels"
    transpose: bool = False
    label_offset: int = 0
    #: The last chunk checks that nothing follows the declared rows (streams only).
    check_end: bool = False

    @property
    def row_bytes(self) -> int:
        return int(np.prod(self.row_shape, dtype=np.int64)) * np.dtype(self.dtype).itemsize

    def read(self, start: int, stop: int) -> np.ndarray:
        want = (stop - start) * self.row_bytes
        with self._open() as stream:
            stream.seek(self.offset + start * self.row_bytes)
            raw = stream.read(want)
            trailing = self.check_end and stop == self.n_rows and bool(stream.read(1))
        if len(raw) < want:
            raise DataError(
                f"{self.label}: data truncated: the header declares {self.n_rows} rows "
                f"but the data ends within row {start + len(raw) // max(self.row_bytes, 1)}"
            )
        if trailing:
            raise DataError(
                f"{self.label}: data has trailing bytes after the {self.n_rows} rows the header declares"
            )
        block = np.frombuffer(raw, dtype=self.dtype).reshape(stop - start, *self.row_shape)
        return self._convert(block)

    @contextmanager
    def _open(self) -> Iterator[Any]:
        with ExitStack() as stack:
            try:
                if self.codec == "raw":
                    # A file, a gzip stream or a zip member: whatever reads and seeks.
                    stream: Any = stack.enter_context(open(self.path, "rb"))
                elif self.codec == "gzip":
                    stream = stack.enter_context(gzip.open(self.path, "rb"))
                else:
                    archive = stack.enter_context(zipfile.ZipFile(self.path))
                    stream = stack.enter_context(archive.open(self.member))
                    if self.codec == "zip-gzip":
                        stream = stack.enter_context(gzip.GzipFile(fileobj=stream))
            except (FileNotFoundError, IsADirectoryError):
                raise DataError(f"{self.label}: file not found") from None
            try:
                yield stream
            except (*_readers._GZIP_ERRORS, zipfile.BadZipFile) as exc:
                raise DataError(f"{self.label}: corrupt or truncated data ({exc})") from None

    def _convert(self, block: np.ndarray) -> np.ndarray:
        if self.role == "cache":
            out = block.reshape(len(block), -1) if block.ndim > 1 else block
            return np.array(out, dtype=np.int64 if block.ndim == 1 else np.uint8)
        if self.role == "labels":
            native = block.astype(block.dtype.newbyteorder("="))
            return _readers._as_labels(native, self.label) + self.label_offset
        native = block.astype(block.dtype.newbyteorder("="))
        pixels = _readers._as_uint8(native, self.label)
        if self.transpose:
            pixels = pixels.transpose(0, 2, 1)
        return np.ascontiguousarray(pixels).reshape(len(pixels), -1)


@dataclass(frozen=True)
class _Loaded:
    """A small dataset with no files to read by range (scikit-learn's digits): ``load`` on a worker."""

    name: str
    part: str
    role: str

    def read(self, start: int, stop: int) -> np.ndarray:
        data = _load.load(self.name, self.part, cache=False)
        return (data.X if self.role == "pixels" else data.labels)[start:stop]


@dataclass(frozen=True)
class _Csv:
    """A Kaggle-style CSV, read by ``dask.dataframe.read_csv``."""

    path: str
    compressed: bool
    columns: tuple[str, ...]
    label_col: int
    side: int


@dataclass(frozen=True)
class _Part:
    """One part (train or test) of a source: how to read it and what load would call it."""

    images: _Rows | _Loaded | _Csv
    labels: _Rows | _Loaded | None
    n_rows: int | None
    image_shape: tuple[int, int]
    class_names: tuple[str, ...] | None
    carve: bool
    name: str
    source: str
    sha256: str | Callable[[], str]
    meta: dict[str, object] = field(default_factory=dict)


# -- headers (the only bytes the client reads) ----------------------------------------------
def _idx_header(stream: Any, label: str) -> tuple[np.dtype, tuple[int, ...], int]:
    """The dtype, shape and header length of an IDX stream, with :func:`parse_idx`'s checks."""
    head = stream.read(4)
    if len(head) < 4:
        raise DataError(f"{label}: too short to be an IDX file ({len(head)} bytes)")
    zero, code, ndim = struct.unpack(">HBB", head)
    if zero != 0 or code not in _readers._IDX_DTYPES or ndim == 0:
        raise DataError(
            f"{label}: wrong IDX magic number 0x{head.hex()} "
            "(expected 0x000008NN for unsigned bytes, NN = number of dimensions)"
        )
    if ndim > _readers._MAX_IDX_DIMS:
        raise DataError(
            f"{label}: IDX header declares {ndim} dimensions; at most {_readers._MAX_IDX_DIMS} are supported"
        )
    dims = stream.read(4 * ndim)
    if len(dims) < 4 * ndim:
        raise DataError(f"{label}: truncated IDX header ({4 + len(dims)} of {4 + 4 * ndim} bytes)")
    return _readers._IDX_DTYPES[code], struct.unpack(f">{ndim}I", dims), 4 + 4 * ndim


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as stream:
        return stream.read(2) == _readers._GZIP_MAGIC


def _idx_rows(path: Path, role: str, label_offset: int = 0, transpose: bool = False) -> _Rows:
    """The rows of an IDX file (raw or gzip), from its header."""
    label = str(path)
    if not path.is_file():
        raise DataError(f"{label}: file not found")
    compressed = _is_gzip(path)
    try:
        with gzip.open(path, "rb") if compressed else open(path, "rb") as stream:
            dtype, shape, header = _idx_header(stream, label)
    except _readers._GZIP_ERRORS as exc:
        raise DataError(f"{label}: corrupt or truncated gzip data ({exc})") from None
    if not compressed:
        expected = int(np.prod(shape, dtype=object)) * dtype.itemsize
        found = path.stat().st_size - header
        if found != expected:
            problem = "truncated" if found < expected else "has trailing bytes"
            raise DataError(
                f"{label}: IDX data {problem}: header says shape {shape} "
                f"({expected} bytes) but {found} bytes follow"
            )
    return _Rows(
        path=str(path),
        offset=header,
        n_rows=shape[0],
        row_shape=tuple(shape[1:]),
        dtype=dtype.str,
        label=label,
        codec="gzip" if compressed else "raw",
        role=role,
        transpose=transpose,
        label_offset=label_offset,
        check_end=compressed,
    )


def _zip_member_rows(archive: Path, member: str, role: str, **options: Any) -> _Rows:
    """The rows of a gzip IDX file stored in a zip archive (EMNIST's layout)."""
    label = f"{archive}:{member}"
    try:
        with zipfile.ZipFile(archive) as zf, zf.open(member) as raw:
            stream = gzip.GzipFile(fileobj=raw) if member.endswith(".gz") else raw
            dtype, shape, header = _idx_header(stream, label)
    except ZIP_ERRORS as exc:
        raise DataError(f"{label}: member is corrupt ({exc})") from None
    return _Rows(
        path=str(archive),
        offset=header,
        n_rows=shape[0],
        row_shape=tuple(shape[1:]),
        dtype=dtype.str,
        label=label,
        codec="zip-gzip" if member.endswith(".gz") else "zip",
        member=member,
        role=role,
        check_end=True,
        **options,
    )


def _npy_rows(path: Path, role: str, *, member: str = "", label: str = "") -> _Rows:
    """The rows of a ``.npy`` file or of an NPZ member: stored members as byte ranges."""
    label = label or (f"{path}:{member}" if member else str(path))
    if not member:
        with open(path, "rb") as stream:
            shape, fortran, dtype = _npy_header(stream, label)
            offset, codec = stream.tell(), "raw"
    else:
        with zipfile.ZipFile(path) as zf:
            info = zf.getinfo(member)
            with zf.open(info) as stream:
                shape, fortran, dtype = _npy_header(stream, label)
                offset = stream.tell()
            codec = "zip"
            if info.compress_type == zipfile.ZIP_STORED:
                # The member's bytes lie in the archive as they are: read them by range.
                with open(path, "rb") as raw:
                    raw.seek(info.header_offset + 26)
                    name_len, extra_len = struct.unpack("<HH", raw.read(4))
                offset += info.header_offset + 30 + name_len + extra_len
                codec = "raw"
    if dtype.hasobject:
        raise DataError(f"{label}: holds Python objects; expected numbers")
    if fortran and len(shape) > 1:
        raise DataError(
            f"{label}: stored in Fortran order, which cannot be read by rows; "
            "save it in C order (np.ascontiguousarray) or load it with load()"
        )
    if not shape:
        raise DataError(f"{label}: holds a single value, expected one row per image")
    return _Rows(
        path=str(path),
        offset=offset,
        n_rows=shape[0],
        row_shape=tuple(shape[1:]),
        dtype=dtype.str,
        label=label,
        codec=codec,
        member=member,
        role=role,
        check_end=False,
    )


def _npy_header(stream: Any, label: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    fmt = np.lib.format
    try:
        version = fmt.read_magic(stream)
        if version == (1, 0):
            return fmt.read_array_header_1_0(stream)
        return fmt.read_array_header_2_0(stream)
    except ValueError as exc:
        raise DataError(f"{label}: not a readable .npy array ({exc})") from None


def _check_shapes(images: tuple[int, ...], labels: tuple[int, ...], label: str) -> None:
    """:func:`check_pair`'s checks and messages, on shapes alone."""
    _readers.check_pair(_shaped(images), _shaped(labels), label)


def _shaped(shape: tuple[int, ...]) -> np.ndarray:
    return np.broadcast_to(np.zeros((), dtype=np.uint8), shape)


# -- the decoded cache ----------------------------------------------------------------------
def _cached_part(inputs: list[Path], part: str) -> _Part | None:
    """The current decoded-cache entry ``load`` wrote from exactly these files, if any."""
    want = [str(p) for p in inputs]
    for meta_path in sorted((_locate.cache_dir() / "decoded").glob(f"*/{part}/meta.json")):
        try:
            meta = json.loads(meta_path.read_text())
            recorded = [str(p) for p, *_ in meta["inputs"]]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if recorded != want or (hit := _cache._cache_read(meta_path.parent)) is None:
            continue
        images = _npy_rows(meta_path.parent / "images.npy", "cache")
        labels = _npy_rows(meta_path.parent / "labels.npy", "cache")
        return _Part(
            images=images,
            labels=labels,
            n_rows=images.n_rows,
            image_shape=(int(hit.images.shape[1]), int(hit.images.shape[2])),
            class_names=hit.class_names,
            carve=False,
            name=hit.name,
            source=hit.source,
            sha256=hit.sha256,
            meta={**hit.meta, "read_from": "cache"},
        )
    return None


# -- sources --------------------------------------------------------------------------------
def _named_part(
    name: str, part: str, data_dir: Any, download: bool, verify: bool, cache: bool
) -> _Part:
    spec = get_dataset_spec(name)
    if spec.kind == "sklearn":
        # Embedded in scikit-learn and small (1,797 images): one chunk, loaded on a worker.
        [(n_rows, sha, meta)] = _on_cluster(_loaded_facts, [(name, part)])
        return _Part(
            images=_Loaded(name, part, "pixels"),
            labels=_Loaded(name, part, "labels"),
            n_rows=n_rows,
            image_shape=spec.image_shape,
            class_names=spec.class_names,
            carve=False,
            name=spec.name,
            source="sklearn.datasets.load_digits",
            sha256=sha,
            meta=meta,
        )
    if spec.kind == "emnist":
        return _emnist_part(spec, part, data_dir, download, verify, cache)
    roles = _locate._roles(spec, part)
    paths = [_locate._resolve(spec, role, data_dir, download)[1] for role in roles]
    if cache and (hit := _cached_part(paths, part)) is not None:
        return hit
    images = _idx_rows(paths[0], "pixels")
    labels = _idx_rows(paths[1], "labels", label_offset=spec.label_offset)
    _check_shapes(
        (images.n_rows, *images.row_shape), (labels.n_rows, *labels.row_shape), str(paths[0])
    )
    remotes = [spec.files[r] for r in roles]
    shas = _on_cluster(_verified_sha, [(p, r, verify) for p, r in zip(paths, remotes, strict=True)])
    return _Part(
        images=images,
        labels=labels,
        n_rows=images.n_rows,
        image_shape=(images.row_shape[0], images.row_shape[1]),
        class_names=spec.class_names,
        carve=False,
        name=spec.name,
        source=str(paths[0]),
        sha256=shas[0][0],
        meta={
            "files": {p.name: sha for p, (sha, _) in zip(paths, shas, strict=True)},
            "verified": all(ok for _, ok in shas),
        },
    )


def _emnist_part(
    spec: Any, part: str, data_dir: Any, download: bool, verify: bool, cache: bool
) -> _Part:
    for _, folder in _locate._search_dirs(spec, data_dir):
        members = _readers.emnist_member_files(folder, spec.emnist_split, part)
        if members:
            if cache and (hit := _cached_part(list(members), part)) is not None:
                return hit
            images = _idx_rows(members[0], "pixels", transpose=True)
            labels = _idx_rows(members[1], "labels", label_offset=spec.label_offset)
            source = str(members[0])
            sha: str | Callable[[], str] = _lazy_sha(members[0])
            meta: dict[str, object] = {"verified": False}
            break
    else:
        _, archive = _locate._resolve(spec, "archive", data_dir, download)
        if cache and (hit := _cached_part([archive], part)) is not None:
            return hit
        names = _emnist_members(archive, spec.emnist_split, part)
        images = _zip_member_rows(archive, names[0], "pixels", transpose=True)
        labels = _zip_member_rows(archive, names[1], "labels", label_offset=spec.label_offset)
        [(sha, ok)] = _on_cluster(_archive_sha, [(archive, spec.files["archive"].sha256, verify)])
        source, meta = f"{archive}:{names[0]}", {"verified": ok}
    _check_shapes((images.n_rows, *images.row_shape), (labels.n_rows, *labels.row_shape), source)
    return _Part(
        images=images,
        labels=labels,
        n_rows=images.n_rows,
        image_shape=(images.row_shape[1], images.row_shape[0]),
        class_names=spec.class_names,
        carve=False,
        name=spec.name,
        source=source,
        sha256=sha,
        meta=meta,
    )


def _emnist_members(archive: Path, split: str, part: str) -> list[str]:
    import re

    try:
        with zipfile.ZipFile(archive) as zf:
            names = zf.namelist()
    except ZIP_ERRORS as exc:
        raise DataError(f"{archive}: not a readable zip archive ({exc})") from None
    found = []
    for kind, rank in (("images", 3), ("labels", 1)):
        pattern = re.compile(rf"(^|/)emnist-{split}-{part}-{kind}-idx{rank}-ubyte(\.gz)?$")
        members = [m for m in names if pattern.search(m)]
        if not members:
            raise DataError(
                f"{archive}: no member emnist-{split}-{part}-{kind}-idx{rank}-ubyte.gz in the archive"
            )
        found.append(members[0])
    return found


def _path_part(path: Path, part: str, cache: bool) -> _Part:
    if path.is_dir():
        return _path_part(_dir_entry(path), part, cache)
    lower = path.name.lower()
    if lower.endswith(".npz"):
        return _npz_part(path, part, cache)
    if lower.endswith((".csv", ".csv.gz")):
        train_file, test_file = _locate._train_test_pair(path)
        carve = train_file is None or test_file is None
        chosen = path if carve else (test_file if part == "test" else train_file)
        assert chosen is not None  # carve covers the None cases
        if cache and (hit := _cached_part([chosen], part)) is not None:
            return hit
        return _csv_part(path, chosen, carve)
    if "idx" in lower or "ubyte" in lower:
        train_file, test_file = _locate._train_test_pair(path)
        carve = train_file is None or test_file is None
        chosen = path if carve else (test_file if part == "test" else train_file)
        assert chosen is not None
        labels_path = _locate._idx_labels_for(chosen)
        inputs = [chosen, labels_path] if "ubyte" in chosen.name.lower() else [chosen]
        if cache and (hit := _cached_part(inputs, part)) is not None:
            return hit
        images = _idx_rows(chosen, "pixels")
        labels = _idx_rows(labels_path, "labels")
        _check_shapes(
            (images.n_rows, *images.row_shape), (labels.n_rows, *labels.row_shape), str(chosen)
        )
        labels = replace(labels, label=str(path))
        return _Part(
            images=images,
            labels=labels,
            n_rows=images.n_rows,
            image_shape=(images.row_shape[0], images.row_shape[1]),
            class_names=None,
            carve=carve,
            name=_decode._path_name(path),
            source=str(chosen),
            sha256=_lazy_sha(chosen),
            meta={"test_split": _carved()} if carve else {},
        )
    raise DataError(
        f"{path}: unknown format; give an IDX file, a .csv, a .npz, or a folder of them"
    )


def _dir_entry(path: Path) -> Path:
    """The file of a folder that :func:`load` would read (IDX or CSV folders only)."""
    import re

    files = sorted(p for p in path.iterdir() if p.is_file())
    idx = [p for p in files if re.search(r"images-idx\d-ubyte(\.gz)?$", p.name)]
    csvs = [p for p in files if p.name.lower().endswith((".csv", ".csv.gz"))]
    for group in (idx, csvs):
        trains = [p for p in group if "train" in p.name.lower()]
        if trains:
            return trains[0]
    if len(csvs) == 1:
        return csvs[0]
    raise DataError(
        f"{path}: no IDX or CSV files to read in partitions; a folder of class "
        "sub-folders is read by load(), and its decoded cache is then read here"
    )


def _carved() -> str:
    return f"carved {_decode.FIXED_TEST_SIZE:.0%} with seed {_decode._FIXED_TEST_SEED}"


def _npz_part(path: Path, part: str, cache: bool) -> _Part:
    with _readers.open_npz(path) as data:
        keys = set(data.files)
    has_test = {"x_test", "y_test"} <= keys
    if cache and (hit := _cached_part([path], part)) is not None:
        return hit
    use = part if has_test else "train"
    x_key, y_key = f"x_{use}", f"y_{use}"
    if x_key not in keys or y_key not in keys:
        raise DataError(
            f"{path}: no arrays {x_key!r} and {y_key!r} (found {', '.join(sorted(keys))})"
        )
    try:
        images = _npy_rows(path, "pixels", member=f"{x_key}.npy", label=str(path))
        labels = _npy_rows(path, "labels", member=f"{y_key}.npy", label=str(path))
    except (*ZIP_ERRORS, KeyError) as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(f"{path}: not a readable NPZ file ({exc})") from None
    shape = (images.n_rows, *images.row_shape)
    if len(shape) == 4 and shape[-1] == 1:
        shape = shape[:3]
    if len(shape) == 2 and labels.row_shape == () and labels.n_rows == shape[0]:
        side = round(shape[1] ** 0.5)
        if side * side == shape[1]:
            shape = (shape[0], side, side)
    _check_shapes(shape, (labels.n_rows, *labels.row_shape), str(path))
    return _Part(
        images=images,
        labels=labels,
        n_rows=images.n_rows,
        image_shape=(shape[1], shape[2]),
        class_names=None,
        carve=not has_test,
        name=_decode._path_name(path),
        source=str(path),
        sha256=_lazy_sha(path),
        meta={} if has_test else {"test_split": _carved()},
    )


def _csv_part(path: Path, chosen: Path, carve: bool) -> _Part:
    label = str(chosen)
    if not chosen.is_file():
        raise DataError(f"{label}: file not found")
    compressed = _is_gzip(chosen)
    try:
        with gzip.open(chosen, "rb") if compressed else open(chosen, "rb") as stream:
            header = stream.readline().decode("utf-8", errors="replace").strip()
    except _readers._GZIP_ERRORS as exc:
        raise DataError(f"{label}: corrupt or truncated gzip data ({exc})") from None
    columns = tuple(c.strip().strip('"').lower() for c in header.split(","))
    if "label" not in columns:
        raise DataError(f"{label}: no 'label' column in the header (got {header[:40]!r})")
    n_pixels = len(columns) - 1
    side = round(n_pixels**0.5)
    if n_pixels < 1 or side * side != n_pixels:
        raise DataError(
            f"{label}: the header has {n_pixels} pixel columns, which is not a square image; "
            "expected label,pixel1..pixelN with N = side * side"
        )
    return _Part(
        images=_Csv(label, compressed, columns, columns.index("label"), side),
        labels=None,
        n_rows=None,
        image_shape=(side, side),
        class_names=None,
        carve=carve,
        name=_decode._path_name(path),
        source=label,
        sha256=_lazy_sha(chosen),
        meta={"test_split": _carved()} if carve else {},
    )


# -- tasks that run on the workers ----------------------------------------------------------
def _on_cluster(func: Callable[..., Any], calls: list[tuple[Any, ...]]) -> list[Any]:
    """``func(*args)`` for each call, as tasks (on the active Dask client's cluster)."""
    import dask

    return list(dask.compute(*[dask.delayed(func, pure=True)(*args) for args in calls]))


def _lazy_sha(path: Path) -> Callable[[], str]:
    return lambda: _on_cluster(sha256_file, [(path,)])[0]


def _verified_sha(path: Path, remote: RemoteFile, verify: bool) -> tuple[str, bool]:
    """A named dataset's file checked as :func:`load` checks it, streamed on a worker."""
    file_sha = sha256_file(path)
    if file_sha == remote.sha256:
        return file_sha, True
    compressed = _is_gzip(path)
    if remote.content_sha256 is not None:
        digest = hashlib.sha256()
        try:
            with gzip.open(path, "rb") if compressed else open(path, "rb") as stream:
                while block := stream.read(1 << 22):
                    digest.update(block)
        except _readers._GZIP_ERRORS as exc:
            raise DataError(f"{path}: corrupt or truncated gzip data ({exc})") from None
        if digest.hexdigest() == remote.content_sha256:
            return file_sha, True
    elif not compressed and remote.name.endswith(".gz"):
        return file_sha, False  # a decompressed copy, and no payload hash published
    if not verify:
        return file_sha, False
    raise DataError(
        f"{path}: checksum mismatch (SHA-256 {file_sha}, expected {remote.sha256} for "
        f"{remote.name}); delete the file to download it again, or pass verify=False"
    )


def _loaded_facts(name: str, part: str) -> tuple[int, str, dict[str, object]]:
    data = _load.load(name, part, cache=False)
    return len(data), data.sha256, dict(data.meta)


def _archive_sha(archive: Path, expected: str, verify: bool) -> tuple[str, bool]:
    sha = sha256_file(archive)
    if sha != expected and verify:
        raise DataError(
            f"{archive}: checksum mismatch (SHA-256 {sha}, expected {expected}); "
            "delete the file to download it again"
        )
    return sha, sha == expected


def _read_block(block_info: Any = None, *, reader: _Rows | _Loaded) -> np.ndarray:
    (start, stop), *_ = block_info[None]["array-location"]
    return reader.read(start, stop)


def _rows_where(block: np.ndarray, keep: np.ndarray) -> np.ndarray:
    return block[keep.reshape(-1)]


def _csv_rows(frame: Any, *, label: str, label_col: int) -> tuple[int, np.ndarray]:
    """Check one partition of a CSV as :func:`read_csv` does; return its length and labels."""
    values = frame.to_numpy()
    pixel_cols = np.array([c for c in range(values.shape[1]) if c != label_col])
    if len(values) and (values.min() < 0 or values[:, pixel_cols].max() > 255):
        raise DataError(
            f"{label}: a pixel outside 0..255 or a negative label; pixels must be 0..255 "
            "and labels non-negative integers"
        )
    return len(values), values[:, label_col].astype(np.int64)


def _csv_images(block: np.ndarray, pixel_cols: np.ndarray) -> np.ndarray:
    return block[:, pixel_cols].astype(np.uint8)


def _csv_labels(block: np.ndarray, label_col: int) -> np.ndarray:
    return block[:, label_col].astype(np.int64)


def _selection(
    labels: np.ndarray,
    *,
    class_names: tuple[str, ...] | None,
    carve: bool,
    part: str,
    split: str,
    validation_size: float | int | None,
    random_state: int,
    name: str,
) -> tuple[np.ndarray | None, int]:
    """The rows ``load`` would keep (packed bits; None for all) and the number of classes.

    The same draws as :func:`load`: the fixed test carve of a source without a test
    split, then ``split_off(validation_size, random_state)`` of the training part.
    """
    n_classes = len(class_names) if class_names else int(labels.max(initial=0)) + 1
    n = len(labels)
    rows = np.arange(n)
    if carve:
        held = held_out_indices(
            labels,
            n_classes,
            _decode.FIXED_TEST_SIZE,
            random_state=_decode._FIXED_TEST_SEED,
            name=name,
        )
        rows = held if part == "test" else np.delete(rows, held)
    if validation_size is not None and part == "train":
        held = held_out_indices(
            labels[rows], n_classes, validation_size, random_state=random_state, name=name
        )
        rows = rows[held] if split == "validation" else np.delete(rows, held)
    if len(rows) == n:
        return None, n_classes
    keep = np.zeros(n, dtype=bool)
    keep[rows] = True
    return np.packbits(keep), n_classes


def _hash_blocks(arrays: Any) -> str:
    """SHA-256 of the arrays' bytes, block after block (:meth:`ImageSet.fingerprint`'s order)."""
    digest = hashlib.sha256()
    try:
        from distributed import get_worker, worker_client

        get_worker()
    except (ImportError, ValueError):  # dask's local scheduler: no cluster
        for array in arrays.items:
            for block in array.blocks:
                digest.update(np.ascontiguousarray(block.compute()).data)
        return digest.hexdigest()
    with worker_client() as client:
        for array in arrays.items:
            blocks = list(array.blocks)
            # One block ahead: the next is read while this one is hashed.
            pending = client.compute(blocks[0]) if blocks else None
            for i in range(len(blocks)):
                current, pending = (
                    pending,
                    client.compute(blocks[i + 1]) if i + 1 < len(blocks) else None,
                )
                assert current is not None  # one future per block
                digest.update(np.ascontiguousarray(current.result()).data)
    return digest.hexdigest()


class _Opaque:
    """Dask collections carried inside a task as plain values, not computed before it.

    (Dask looks into tuples, lists, dicts and dataclasses for collections to compute.)
    """

    def __init__(self, items: tuple[Any, ...]) -> None:
        self.items = items


# -- the public API -------------------------------------------------------------------------
class PartitionedImages:
    """One split of a dataset as dask arrays, chunked by rows, read on a cluster's workers.

    Unpacks as ``images, labels = data``.

    Attributes
    ----------
    images : dask.array.Array of uint8, shape (n, height * width)
        Flattened pixels, as :attr:`ImageSet.X`.
    labels : dask.array.Array of int64, shape (n,)
    class_names, image_shape, name, split, source, meta
        As in :class:`ImageSet`.
    """

    def __init__(
        self,
        images: Any,
        labels: Any,
        *,
        class_names: tuple[str, ...],
        image_shape: tuple[int, int],
        name: str,
        split: str,
        source: str,
        sha256: str | Callable[[], str],
        meta: dict[str, object] | None = None,
    ) -> None:
        self.images = images
        self.labels = labels
        self.class_names = tuple(class_names)
        self.image_shape = (int(image_shape[0]), int(image_shape[1]))
        self.name = name
        self.split = split
        self.source = source
        self._sha256 = sha256
        self.meta = dict(meta or {})

    def __iter__(self) -> Iterator[Any]:
        return iter((self.images, self.labels))

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __repr__(self) -> str:
        return (
            f"PartitionedImages({self.name!r}, split={self.split!r}, n={len(self):,}, "
            f"image_shape={self.image_shape}, chunks={self.images.numblocks[0]})"
        )

    @property
    def X(self) -> Any:
        return self.images

    @property
    def y(self) -> Any:
        return self.labels

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @cached_property
    def sha256(self) -> str:
        """SHA-256 of the source file the pixels are read from (hashed on a worker)."""
        return self._sha256 if isinstance(self._sha256, str) else self._sha256()

    def class_counts(self) -> np.ndarray:
        """Number of images of each class, counted on the cluster."""
        import dask.array as da

        counts = da.bincount(self.labels, minlength=self.n_classes).compute()
        return np.asarray(counts[: self.n_classes])

    def fingerprint(self) -> str:
        """:meth:`ImageSet.fingerprint` of these images, hashed block after block in one task.

        The task reads one chunk at a time, wherever it is read best, so no worker
        holds more than two chunks for it and nothing passes through the client.
        """
        return _on_cluster(_hash_blocks, [(_Opaque((self.images, self.labels)),)])[0]

    def check_trainable(self) -> None:
        """Raise if these images cannot train a classifier (empty, or a single class)."""
        present = np.flatnonzero(self.class_counts())
        if len(self) == 0:
            raise DataError(f"{self.name} ({self.split}) has no images")
        if len(present) < 2:
            raise DataError(
                f"{self.name} ({self.split}) has a single class "
                f"({self.class_names[present[0]]!r}); a classifier needs at least two"
            )


def read_partitioned(
    source: str | os.PathLike[str],
    split: str = "train",
    *,
    data_dir: str | os.PathLike[str] | None = None,
    validation_size: float | int | None = None,
    positive: int | str | None = None,
    random_state: int = 0,
    chunk_bytes: int | str = DEFAULT_CHUNK_BYTES,
    download: bool = True,
    verify: bool = True,
    cache: bool = True,
) -> PartitionedImages:
    """One split of a dataset as dask arrays whose chunks are read by tasks on the workers.

    The same images, in the same order, as :func:`load` with the same arguments gives,
    without any of them passing through this process: IDX files (raw or gzip), NPZ
    archives (stored members by byte range, compressed ones by streaming), Kaggle-style
    CSVs (``dask.dataframe.read_csv``; a gzip CSV cannot be split and is one chunk), the
    decoded cache :func:`load` writes (memory-mapped ``.npy``), and named datasets
    (through their cache, else their files, checksummed on a worker). The tasks run on
    the active Dask client's cluster (on dask's local scheduler without one).

    Parameters
    ----------
    source : str or path
        A registered name or a path, as for :func:`load` (image folders only through
        the cache ``load`` writes for them).
    split : {"train", "validation", "test"}
        ``"validation"`` is carved from train and needs ``validation_size``; ``"train"``
        with ``validation_size`` is the rest.
    data_dir, download, verify, cache : optional
        As for :func:`load`; ``cache`` here only reads the cache, it never writes it.
    validation_size : float or int, optional
        Share or count of the training split held out, as for :func:`load`.
    positive : int or str, optional
        Relabel for a one-vs-rest task with this class (index or name) as positive.
    random_state : int
        Seed of the validation split.
    chunk_bytes : int or str
        Pixel bytes per chunk (``"8MiB"``); for a CSV, text bytes per partition.

    Returns
    -------
    PartitionedImages
        ``images`` (uint8, ``(n, height * width)``) and ``labels`` (int64) chunked by
        rows, with the split's class names, image shape and provenance.
    """
    da = import_optional("dask.array")
    from dask.utils import parse_bytes

    if split not in _load.SPLITS:
        raise ConfigError(f"unknown split {split!r}; choose one of {', '.join(_load.SPLITS)}")
    if split == "validation" and validation_size is None:
        raise DataError("split='validation' is carved from train: pass validation_size (e.g. 0.1)")
    budget = parse_bytes(chunk_bytes) if isinstance(chunk_bytes, str) else int(chunk_bytes)
    if budget < 1:
        raise DataError(f"chunk_bytes must be positive, got {chunk_bytes!r}")
    part = "test" if split == "test" else "train"
    text = os.fspath(source)
    if isinstance(source, str) and is_dataset_name(text) and not Path(text).exists():
        found = _named_part(text, part, data_dir, download, verify, cache)
    else:
        path = Path(text).expanduser()
        if not path.exists():
            if os.sep not in text and "." not in text:
                get_dataset_spec(text)  # raises "unknown dataset ..., did you mean ..."
            raise DataError(f"{path}: file or folder not found")
        found = _path_part(path.resolve(), part, cache)

    # The labels of every chunk meet in one task (8 bytes an image), which returns the
    # rows to keep as packed bits.
    select = functools.partial(
        _selection,
        class_names=found.class_names,
        carve=found.carve,
        part=part,
        split=split,
        validation_size=validation_size,
        random_state=random_state,
        name=found.name,
    )
    if isinstance(found.images, _Csv):
        images, labels, (packed, n_classes) = _csv_arrays(found.images, budget, select)
    else:
        images, labels = _arrays(found, budget, da)
        packed, n_classes = _on_cluster(select, [(labels,)])[0]
    if packed is not None:
        keep = np.unpackbits(packed, count=len(labels)).astype(bool)
        images, labels = _take_rows(images, keep, da), _take_rows(labels, keep, da)
    class_names = found.class_names or tuple(str(i) for i in range(n_classes))
    meta = dict(found.meta)
    if positive is not None:
        index = resolve_class(class_names, positive)
        meta.update(positive=class_names[index], original_class_names=list(class_names))
        labels = labels.map_blocks(_one_vs_rest, index=index, dtype=np.int64)
        class_names = (f"not {class_names[index]}", class_names[index])
    return PartitionedImages(
        images,
        labels,
        class_names=class_names,
        image_shape=found.image_shape,
        name=found.name,
        split=split,
        source=found.source,
        sha256=found.sha256,
        meta=meta,
    )


def _one_vs_rest(block: np.ndarray, index: int) -> np.ndarray:
    return (block == index).astype(np.int64)


def _arrays(found: _Part, budget: int, da: Any) -> tuple[Any, Any]:
    """The part's images and labels as dask arrays with the same row chunks."""
    height, width = found.image_shape
    assert isinstance(found.images, _Rows | _Loaded)
    assert found.labels is not None and found.n_rows is not None
    n = found.n_rows
    rows = max(1, budget // (height * width))
    sizes = tuple(min(rows, n - s) for s in range(0, n, rows)) or (0,)
    images = da.map_blocks(
        _read_block,
        chunks=(sizes, (height * width,)),
        dtype=np.uint8,
        meta=np.empty((0, height * width), dtype=np.uint8),
        reader=found.images,
        name=f"read-images-{_token(found.images)}",
    )
    labels = da.map_blocks(
        _read_block,
        chunks=(sizes,),
        dtype=np.int64,
        meta=np.empty((0,), dtype=np.int64),
        reader=found.labels,
        name=f"read-labels-{_token(found.labels)}",
    )
    return images, labels


def _token(reader: Any) -> str:
    """Names the read tasks after the reader and the file's size and time, so a changed file is read again."""
    from dask.base import tokenize

    path = getattr(reader, "path", None)
    stat = os.stat(path) if path else None
    return tokenize(reader, None if stat is None else (stat.st_size, stat.st_mtime_ns))


def _csv_arrays(
    csv: _Csv, budget: int, select: Callable[[np.ndarray], Any]
) -> tuple[Any, Any, Any]:
    """A CSV's images and labels, and ``select`` of its labels, from one parse of the file
    to check it, count its rows and choose them (and one more to read it when asked)."""
    import dask

    dd = import_optional("dask.dataframe")
    kwargs: dict[str, Any] = (
        {"blocksize": None, "compression": "gzip"} if csv.compressed else {"blocksize": budget}
    )
    try:
        frame = dd.read_csv(
            csv.path,
            header=0,
            names=list(csv.columns),
            dtype=np.int32,
            skip_blank_lines=True,
            **kwargs,
        )
        parts = frame.to_delayed()
        checked = [
            dask.delayed(_csv_rows)(p, label=csv.path, label_col=csv.label_col) for p in parts
        ]
        lengths, selected = dask.compute(
            [c[0] for c in checked],
            dask.delayed(select)(dask.delayed(np.concatenate)([c[1] for c in checked])),
        )
    except DataError:
        raise
    except (ValueError, TypeError, OverflowError) as exc:
        message = _on_cluster(_csv_problem, [(csv,)])[0]
        raise DataError(f"{csv.path}: {message or exc}") from None
    lengths = [int(v) for v in lengths]
    if not sum(lengths):
        raise DataError(f"{csv.path}: the CSV has a header but no rows")
    values = frame.to_dask_array(lengths=lengths)
    pixel_cols = np.array([c for c in range(len(csv.columns)) if c != csv.label_col])
    images = values.map_blocks(
        _csv_images,
        pixel_cols=pixel_cols,
        chunks=(values.chunks[0], (len(pixel_cols),)),
        dtype=np.uint8,
    )
    labels = values.map_blocks(_csv_labels, label_col=csv.label_col, drop_axis=1, dtype=np.int64)
    return images, labels, selected


def _csv_problem(csv: _Csv) -> str:
    return _readers._csv_diagnose(Path(csv.path), len(csv.columns), csv.label_col)


def _take_rows(array: Any, keep: np.ndarray, da: Any) -> Any:
    """The rows of ``array`` where ``keep`` is True, chunk by chunk, with known chunk sizes."""
    bounds = np.cumsum((0, *array.chunks[0]))
    counts = tuple(int(keep[a:b].sum()) for a, b in itertools.pairwise(bounds))
    mask = da.from_array(
        keep.reshape(-1, *([1] * (array.ndim - 1))),
        chunks=(array.chunks[0], *[(1,)] * (array.ndim - 1)),
    )
    taken = da.map_blocks(
        _rows_where,
        array,
        mask,
        chunks=(counts, *array.chunks[1:]),
        dtype=array.dtype,
        meta=np.empty((0, *array.shape[1:]), dtype=array.dtype),
    )
    nonempty = [i for i, c in enumerate(counts) if c]
    if len(nonempty) == len(counts):
        return taken
    return da.concatenate([taken.blocks[i] for i in nonempty]) if nonempty else taken
