"""Decoding: from located files to a split's uint8 images, int labels and provenance.

Readers for every format live in :mod:`._readers`; this module picks the reader for a
named dataset (IDX files checked against their published checksums, the EMNIST zip,
scikit-learn's digits) or a path (IDX, CSV, NPZ, folders), and carves a fixed test split
for datasets that have none.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from shallowvision._io import sha256_file
from shallowvision.datasets import _readers
from shallowvision.datasets._convert import Color, ImageSize, Resize
from shallowvision.datasets._imageset import ImageSet
from shallowvision.datasets._locate import (
    PathLike,
    _idx_labels_for,
    _resolve,
    _roles,
    _search_dirs,
    _train_test_pair,
)
from shallowvision.datasets._registry import DatasetSpec, RemoteFile
from shallowvision.exceptions import DataError

__all__ = ["FIXED_TEST_SIZE", "ReadOptions"]

#: Datasets without an official test split get this share carved off, always with seed 0,
#: so every run sees the same test images whatever its own random_state.
FIXED_TEST_SIZE = 0.2
_FIXED_TEST_SEED = 0


@dataclass(frozen=True)
class ReadOptions:
    """How image files are read: size, colour mode and resize rule (see
    :mod:`._convert`), and whether unreadable files are skipped. Files of arrays (IDX,
    CSV, NPZ) keep their own size."""

    image_size: ImageSize = "auto"
    color: Color = "auto"
    resize: Resize = "stretch"
    skip_bad: bool = False


@dataclass
class _Decoded:
    """A decoded split plus where it came from."""

    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    name: str
    source: str
    sha256: str
    #: Files read, to tell whether the cache is still current.
    inputs: list[Path] = field(default_factory=list)
    meta: dict[str, object] = field(default_factory=dict)
    #: The other splits the same decode produced (a carved test split), by split name:
    #: cached with this one, so the source is read once for both.
    others: dict[str, _Decoded] = field(default_factory=dict)

    def to_imageset(self, split: str) -> ImageSet:
        return ImageSet(
            images=self.images,
            labels=self.labels,
            class_names=self.class_names,
            name=self.name,
            split=split,
            source=self.source,
            sha256=self.sha256,
            meta=dict(self.meta),
        )


# -- named datasets -------------------------------------------------------------------------
def _read_verified(path: Path, remote: RemoteFile, verify: bool) -> tuple[bytes, str, bool]:
    """The payload of a local copy of ``remote``, its file SHA-256, and whether it was verified.

    A copy matches when its bytes hash to the published SHA-256 or, for a
    re-compressed or decompressed copy, when its payload hashes to the published
    payload hash.
    """
    _readers.check_idx_fits(path, str(path))
    raw = path.read_bytes()
    file_sha = hashlib.sha256(raw).hexdigest()
    payload = _readers._gunzip(raw, str(path)) if raw[:2] == _readers._GZIP_MAGIC else raw
    if file_sha == remote.sha256:
        return payload, file_sha, True
    if remote.content_sha256 is not None:
        if hashlib.sha256(payload).hexdigest() == remote.content_sha256:
            return payload, file_sha, True
    elif payload is raw and remote.name.endswith(".gz"):
        return payload, file_sha, False  # decompressed copy and no payload hash published
    if not verify:
        return payload, file_sha, False
    raise DataError(
        f"{path}: checksum mismatch (SHA-256 {file_sha}, expected {remote.sha256} for "
        f"{remote.name}); delete the file to download it again, or pass verify=False"
    )


def _decode_named(
    spec: DatasetSpec, part: str, data_dir: PathLike | None, download: bool, verify: bool
) -> _Decoded:
    if spec.kind == "sklearn":
        return _decode_sklearn_digits(part)
    if spec.kind == "emnist":
        return _decode_emnist(spec, part, data_dir, download, verify)
    arrays, shas, paths, verified = [], {}, [], True
    for role in _roles(spec, part):
        _, path = _resolve(spec, role, data_dir, download)
        payload, sha, ok = _read_verified(path, spec.files[role], verify)
        arrays.append(_readers.parse_idx(payload, str(path)))
        shas[path.name] = sha
        paths.append(path)
        verified &= ok
    images, labels = arrays
    _readers.check_pair(images, labels, f"{paths[0]} / {paths[1].name}")
    return _Decoded(
        images=_readers._as_uint8(images, str(paths[0])),
        labels=labels.astype(np.int64) + spec.label_offset,
        class_names=spec.class_names,
        name=spec.name,
        source=str(paths[0]),
        sha256=shas[paths[0].name],
        inputs=paths,
        meta={"files": shas, "verified": verified},
    )


def _decode_emnist(
    spec: DatasetSpec, part: str, data_dir, download: bool, verify: bool
) -> _Decoded:
    dirs = _search_dirs(spec, data_dir)
    for _, folder in dirs:
        members = _readers.emnist_member_files(folder, spec.emnist_split, part)
        if members:
            images, labels = (_readers.read_idx(p) for p in members)
            _readers.check_pair(images, labels, str(members[0]))
            images = np.ascontiguousarray(images.transpose(0, 2, 1))
            source, sha, inputs = str(members[0]), sha256_file(members[0]), list(members)
            meta: dict[str, object] = {"verified": False}
            break
    else:
        _, archive = _resolve(spec, "archive", data_dir, download)
        sha = sha256_file(archive)
        if sha != spec.files["archive"].sha256 and verify:
            raise DataError(
                f"{archive}: checksum mismatch (SHA-256 {sha}, expected "
                f"{spec.files['archive'].sha256}); delete the file to download it again"
            )
        images, labels, member = _readers.read_emnist_zip(archive, spec.emnist_split, part)
        source, inputs = f"{archive}:{member}", [archive]
        meta = {"verified": sha == spec.files["archive"].sha256}
    labels = labels.astype(np.int64) + spec.label_offset
    return _Decoded(
        images=_readers._as_uint8(images, source),
        labels=labels,
        class_names=spec.class_names,
        name=spec.name,
        source=source,
        sha256=sha,
        inputs=inputs,
        meta=meta,
    )


def _decode_sklearn_digits(part: str) -> _Decoded:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    # Digits pixels are counts 0..16; stretch them to the 0..255 range every other set uses.
    images = np.round(bunch.images * (255 / 16)).astype(np.uint8)
    whole = ImageSet(
        images, bunch.target.astype(np.int64), tuple(str(d) for d in range(10)), name="digits"
    )
    chosen = _fixed_test_split(whole, part)
    return _Decoded(
        images=chosen.images,
        labels=chosen.labels,
        class_names=whole.class_names,
        name="digits",
        source="sklearn.datasets.load_digits",
        sha256=whole.fingerprint(),
        meta={"test_split": f"carved {FIXED_TEST_SIZE:.0%} with seed {_FIXED_TEST_SEED}"},
    )


def _fixed_test_split(whole: ImageSet, part: str) -> ImageSet:
    train, test = whole.split_off(FIXED_TEST_SIZE, random_state=_FIXED_TEST_SEED, name="test")
    return test if part == "test" else train


# -- datasets given by path -----------------------------------------------------------------
def _decode_path(path: Path, part: str, options: ReadOptions) -> _Decoded:
    if path.is_dir():
        return _decode_dir(path, part, options)
    if not path.exists():
        raise DataError(f"{path}: file or folder not found")
    lower = path.name.lower()
    if lower.endswith(".npz"):
        return _decode_npz(path, part)
    if lower.endswith((".csv", ".csv.gz")):
        return _decode_pair_or_carve(path, part, lambda p: _readers.read_csv(p))
    if "idx" in lower or "ubyte" in lower:
        return _decode_pair_or_carve(
            path, part, lambda p: (_readers.read_idx(p), _readers.read_idx(_idx_labels_for(p)))
        )
    raise DataError(
        f"{path}: unknown format; give an IDX file, a .csv, a .npz, or a folder of class sub-folders"
    )


def _decode_pair_or_carve(
    path: Path, part: str, read: Callable[[Path], tuple[np.ndarray, np.ndarray]]
) -> _Decoded:
    train_file, test_file = _train_test_pair(path)
    carve = train_file is None or test_file is None
    chosen = path if carve else (test_file if part == "test" else train_file)
    assert chosen is not None  # for the type checker: carve covers the None cases
    images, labels = read(chosen)
    _readers.check_pair(images, labels, str(chosen))
    images = _readers._as_uint8(images, str(chosen))
    inputs = [chosen]
    if "ubyte" in chosen.name.lower():
        inputs.append(_idx_labels_for(chosen))
    return _from_arrays(path, images, labels, part, inputs, carve)


def _decode_npz(path: Path, part: str) -> _Decoded:
    with _readers.open_npz(path) as data:
        has_test = "x_test" in data.files and "y_test" in data.files
    images, labels = _readers.read_npz(path, part if has_test else "train")
    return _from_arrays(path, images, labels, part, [path], carve=not has_test)


def nested_split(path: Path) -> str | None:
    """``"train+test"`` for a folder with ``train/`` and ``test/`` sub-folders, ``"train"``
    for one whose only sub-folder is ``train/`` (its test split is carved), else None
    (``train`` is then a class like any other)."""
    if not (path / "train").is_dir():
        return None
    if (path / "test").is_dir():
        return "train+test"
    folders = [p.name for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")]
    return "train" if folders == ["train"] else None


def _decode_dir(path: Path, part: str, options: ReadOptions) -> _Decoded:
    # An MNIST-style folder of IDX files, or Kaggle-style CSVs.
    idx = sorted(
        p
        for p in path.iterdir()
        if p.is_file() and re.search(r"images-idx\d-ubyte(\.gz)?$", p.name)
    )
    csvs = sorted(
        p for p in path.iterdir() if p.is_file() and p.name.lower().endswith((".csv", ".csv.gz"))
    )
    for files in (idx, csvs):
        trains = [p for p in files if "train" in p.name.lower()]
        if trains:
            return _decode_path(trains[0], part, options)
    if len(csvs) == 1:
        return _decode_path(csvs[0], part, options)
    # A folder of class sub-folders, with or without train/ and test/ (or train/ alone).
    nested = nested_split(path)
    if nested == "train+test":
        return _folder_decoded(path, path / part, part, options, carve=False)
    if nested == "train":
        return _folder_decoded(path, path / "train", part, options, carve=True)
    return _folder_decoded(path, path, part, options, carve=True)


def _folder_decoded(
    root: Path, read_from: Path, part: str, options: ReadOptions, carve: bool
) -> _Decoded:
    read = _readers.read_folder(
        read_from,
        image_size=options.image_size,
        color=options.color,
        resize=options.resize,
        skip_bad=options.skip_bad,
    )
    decoded = _from_arrays(
        root, read.images, read.labels, part, read.files, carve, class_names=read.class_names
    )
    for split in (decoded, *decoded.others.values()):
        split.meta["resize"] = options.resize
        if read.skipped:
            split.meta["skipped"] = read.skipped
    return decoded


def _from_arrays(
    path: Path,
    images: np.ndarray,
    labels: np.ndarray,
    part: str,
    inputs: list[Path],
    carve: bool,
    class_names: tuple[str, ...] | None = None,
) -> _Decoded:
    labels = _readers._as_labels(np.asarray(labels), str(path))
    if class_names is None:
        class_names = tuple(str(i) for i in range(int(labels.max(initial=0)) + 1))
    whole = ImageSet(images, labels, class_names, name=_path_name(path))
    meta: dict[str, object] = {}
    parts = {part: whole}
    if carve:
        train, test = whole.split_off(FIXED_TEST_SIZE, random_state=_FIXED_TEST_SEED, name="test")
        parts = {"train": train, "test": test}
        parts = {part: parts[part], **parts}  # the asked-for split first
        meta["test_split"] = f"carved {FIXED_TEST_SIZE:.0%} with seed {_FIXED_TEST_SEED}"
    sha = _combined_sha(inputs) if len(inputs) > 2 else sha256_file(inputs[0])
    decoded = [
        _Decoded(
            images=split.images,
            labels=split.labels,
            class_names=split.class_names,
            name=split.name,
            source=str(inputs[0] if len(inputs) <= 2 else path),
            sha256=sha,
            inputs=inputs,
            meta=dict(meta),
        )
        for split in parts.values()
    ]
    decoded[0].others = dict(zip(list(parts)[1:], decoded[1:], strict=True))
    return decoded[0]


def _path_name(path: Path) -> str:
    stem = path.name
    for suffix in (".gz", ".csv", ".npz"):
        stem = stem.removesuffix(suffix)
    return re.sub(r"[-_](train|test|t10k)$", "", stem, flags=re.IGNORECASE) or stem


def _combined_sha(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for p in paths:
        digest.update(p.name.encode())
        digest.update(bytes.fromhex(sha256_file(p)))
    return digest.hexdigest()
