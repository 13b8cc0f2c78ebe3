"""``load``: from a dataset name or a path to an ImageSet, through the decoded cache."""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from shallowvision._io import atomic_path, sha256_file, write_json
from shallowvision.datasets import _readers
from shallowvision.datasets._download import download as download_file
from shallowvision.datasets._download import mirrors_for
from shallowvision.datasets._imageset import ImageSet
from shallowvision.datasets._registry import (
    DatasetSpec,
    RemoteFile,
    get_dataset_names,
    get_dataset_spec,
    is_dataset_name,
)
from shallowvision.exceptions import DataError

__all__ = ["DatasetSplits", "cache_dir", "list_datasets", "load", "load_splits", "locate"]

PathLike = str | os.PathLike[str]
SPLITS = ("train", "validation", "test")
#: Datasets without an official test split get this share carved off, always with seed 0,
#: so every run sees the same test images whatever its own random_state.
FIXED_TEST_SIZE = 0.2
_FIXED_TEST_SEED = 0
_CACHE_VERSION = 2


# -- locations ------------------------------------------------------------------------------
def cache_dir() -> Path:
    """The user cache: ``$SHALLOWVISION_CACHE``, else ``$XDG_CACHE_HOME/shallowvision``."""
    explicit = os.environ.get("SHALLOWVISION_CACHE")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg) / "shallowvision"


def _search_dirs(
    spec: DatasetSpec, data_dir: str | os.PathLike[str] | None
) -> list[tuple[str, Path]]:
    """Folders that may hold the dataset's files, in resolution order."""
    dirs: list[tuple[str, Path]] = []
    explicit = data_dir if data_dir is not None else os.environ.get("SHALLOWVISION_DATA")
    if explicit:
        where = "data-dir" if data_dir is not None else "SHALLOWVISION_DATA"
        dirs += [(where, Path(explicit) / spec.folder), (where, Path(explicit))]
    dirs.append(("cache", cache_dir() / "datasets" / spec.folder))
    dirs += [("system", Path(d)) for d in spec.system_dirs]
    return dirs


def _find_file(remote: RemoteFile, dirs: list[tuple[str, Path]]) -> tuple[str, Path] | None:
    names = [remote.name]
    if remote.name.endswith(".gz"):
        names.append(remote.name[:-3])
    for where, folder in dirs:
        for name in names:
            candidate = folder / name
            if candidate.is_file():
                return where, candidate
    return None


def _roles(spec: DatasetSpec, part: str) -> list[str]:
    if spec.kind == "emnist":
        return ["archive"]
    return [f"{part}_images", f"{part}_labels"]


def locate(name: str, *, data_dir: str | os.PathLike[str] | None = None) -> tuple[str, Path] | None:
    """Where a named dataset's files are found locally, as ``(kind, folder)``; None if absent."""
    spec = get_dataset_spec(name)
    if spec.kind == "sklearn":
        return ("embedded", Path("scikit-learn"))
    dirs = _search_dirs(spec, data_dir)
    if spec.kind == "emnist":
        for where, folder in dirs:
            if _readers.emnist_member_files(folder, spec.emnist_split, "train"):
                return where, folder
    found = [
        _find_file(spec.files[r], dirs) for part in ("train", "test") for r in _roles(spec, part)
    ]
    if all(found):
        where, path = found[0]  # type: ignore[misc]
        return where, path.parent
    return None


def list_datasets(*, data_dir: str | os.PathLike[str] | None = None) -> list[dict[str, object]]:
    """Every named dataset with its size and where it is available locally.

    Returns
    -------
    list of dict
        Keys: ``name``, ``description``, ``n_classes``, ``n_train``, ``n_test``,
        ``image_shape``, ``available`` (bool), ``location`` (str or None), ``homepage``.
    """
    rows = []
    for name in get_dataset_names():
        spec = get_dataset_spec(name)
        found = locate(name, data_dir=data_dir)
        rows.append(
            {
                "name": name,
                "description": spec.description,
                "n_classes": len(spec.class_names),
                "n_train": spec.n_train,
                "n_test": spec.n_test,
                "image_shape": spec.image_shape,
                "available": found is not None,
                "location": None if found is None else f"{found[0]}: {found[1]}",
                "homepage": spec.homepage,
            }
        )
    return rows


# -- the decoded cache ----------------------------------------------------------------------
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


def _signature(paths: list[Path]) -> list[list[object]]:
    out = []
    for p in paths:
        st = p.stat()
        out.append([str(p), st.st_size, st.st_mtime_ns])
    return out


#: A file modified this recently may be modified again within the same timestamp tick
#: (file systems stamp with a coarse clock), so its content hash is kept as well.
_RACY_NS = 2_000_000_000


def source_definition(path: Path) -> list[list[object]]:
    """What defines a dataset given by path, as the cache compares it: every file that could
    be read, with its size and modification time, and ``None`` for candidate files that
    are absent.

    A folder is defined by every file below it (a new image, class folder or
    ``t10k-*`` file changes it); a file by itself and the siblings a reader pairs it
    with (its test or train counterpart, its labels file). Files modified in the last
    two seconds also get a content hash, since a second change within the same
    timestamp tick would not show in the modification time.
    """
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file())
        names = [str(p.relative_to(path)) for p in files]
    else:
        names = sorted(_sibling_names(path.name))
        files = [path.with_name(n) for n in names]
    now = time.time_ns()
    entries: list[list[object]] = []
    for name, file in zip(names, files, strict=True):
        try:
            st = file.stat()
        except OSError:
            entries.append([name, None])
            continue
        entry: list[object] = [name, st.st_size, st.st_mtime_ns]
        if now - st.st_mtime_ns < _RACY_NS:
            entry.append(sha256_file(file))
        entries.append(entry)
    return entries


def _sibling_names(name: str) -> set[str]:
    """``name`` and the names :func:`_train_test_pair` and :func:`_idx_labels_for` look for."""
    names = {name}
    for old, new in (("train", "test"), ("train", "t10k"), ("test", "train"), ("t10k", "train")):
        names.add(re.sub(old, new, name, flags=re.IGNORECASE))
    for known in list(names):
        names.add(known.replace("images", "labels").replace("idx3", "idx1"))
    return names


def _same_definition(stored: object, root: Path) -> bool:
    """Whether the files at ``root`` are still those a cached split was decoded from."""
    if not isinstance(stored, list):
        return False
    current = source_definition(root)
    if len(current) != len(stored):
        return False
    for now, then in zip(current, stored, strict=True):
        if not isinstance(then, list) or now[:3] != then[:3]:
            return False
        if len(then) == 4:  # racy when cached: compare the content too
            target = root / str(then[0]) if root.is_dir() else root.with_name(str(then[0]))
            try:
                if sha256_file(target) != then[3]:
                    return False
            except OSError:
                return False
    return True


def _cache_slot(key: str, part: str) -> Path:
    return cache_dir() / "decoded" / key / part


def _cache_read(slot: Path, root: Path | None = None) -> _Decoded | None:
    meta_path = slot / "meta.json"
    try:
        meta = json.loads(meta_path.read_text())
        if meta.get("version") != _CACHE_VERSION:
            return None
        if root is not None:
            if not _same_definition(meta.get("definition"), root):
                return None
        elif _signature([Path(p) for p, *_ in meta["inputs"]]) != meta["inputs"]:
            return None
        images = np.load(slot / "images.npy", mmap_mode="r")
        labels = np.load(slot / "labels.npy", mmap_mode="r")
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if len(images) != len(labels) or images.dtype != np.uint8:
        return None
    return _Decoded(
        images=images,
        labels=np.asarray(labels, dtype=np.int64),
        class_names=tuple(meta["class_names"]),
        name=meta["name"],
        source=meta["source"],
        sha256=meta["sha256"],
        meta=meta.get("meta", {}),
    )


def _cache_write(
    slot: Path, decoded: _Decoded, definition: list[list[object]] | None = None
) -> None:
    """Store a decoded split; a cache that cannot be written is simply skipped.

    ``meta.json`` is what makes a slot valid: it is removed before the arrays are
    replaced and written after them, so a decode killed at any point leaves a slot that
    is decoded again, never one whose files disagree. Each array is written to a
    temporary file first; those left by killed processes are removed here.
    """
    try:
        slot.mkdir(parents=True, exist_ok=True)
        _remove_orphans(slot)
        (slot / "meta.json").unlink(missing_ok=True)
        for fname, array in (("images.npy", decoded.images), ("labels.npy", decoded.labels)):
            with atomic_path(slot / fname) as tmp, open(tmp, "wb") as out:
                np.save(out, np.ascontiguousarray(array))
        write_json(
            slot / "meta.json",
            {
                "version": _CACHE_VERSION,
                "name": decoded.name,
                "source": decoded.source,
                "sha256": decoded.sha256,
                "class_names": list(decoded.class_names),
                "inputs": _signature(decoded.inputs),
                "definition": definition,
                "meta": decoded.meta,
            },
        )
    except OSError:
        return


def _remove_orphans(slot: Path) -> None:
    """Delete temporary files in ``slot`` whose writing process no longer runs."""
    for tmp in slot.glob(".*.tmp"):
        pid = tmp.name.rsplit(".", 2)[-2]
        if pid.isdigit() and not _running(int(pid)):
            tmp.unlink(missing_ok=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _cached(
    key: str,
    part: str,
    decode: Callable[[], _Decoded],
    *,
    use_cache: bool,
    root: Path | None = None,
) -> _Decoded:
    """A decoded split from the cache if it is still current, else decoded (and cached).

    ``root`` is a dataset given by path: the cache is current only while
    :func:`source_definition` of it is unchanged. A named dataset's cache is current
    while the files it was decoded from are.
    """
    slot = _cache_slot(key, part)
    if use_cache and (hit := _cache_read(slot, root)) is not None:
        return hit
    # Listed before decoding: a file changed while it is read shows as changed next time.
    definition = source_definition(root) if use_cache and root is not None else None
    decoded = decode()
    if use_cache and decoded.inputs:
        _cache_write(slot, decoded, definition)
    return decoded


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


def _resolve(
    spec: DatasetSpec, role: str, data_dir: PathLike | None, download: bool
) -> tuple[str, Path]:
    remote = spec.files[role]
    dirs = _search_dirs(spec, data_dir)
    found = _find_file(remote, dirs)
    if found is not None:
        return found
    if not download:
        places = ", ".join(str(d) for _, d in dirs)
        raise DataError(f"{spec.name}: {remote.name} not found in {places} (downloads are off)")
    return "download", download_file(
        remote, mirrors_for(spec.mirrors), cache_dir() / "datasets" / spec.folder
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
_TRAIN_WORDS = ("train",)
_TEST_WORDS = ("t10k", "test")


def _train_test_pair(path: Path) -> tuple[Path | None, Path | None]:
    """``(train_file, test_file)`` for a file named like ``*train*`` or ``*test*`` / ``*t10k*``."""
    name = path.name

    def sibling(old: str, new: str) -> Path | None:
        candidate = path.with_name(re.sub(old, new, name, flags=re.IGNORECASE))
        return candidate if candidate != path and candidate.is_file() else None

    if any(w in name.lower() for w in _TEST_WORDS):
        return next(filter(None, (sibling(w, "train") for w in _TEST_WORDS)), None), path
    return path, next(filter(None, (sibling("train", w) for w in _TEST_WORDS)), None)


def _idx_labels_for(images_path: Path) -> Path:
    name = images_path.name
    candidate = images_path.with_name(name.replace("images", "labels").replace("idx3", "idx1"))
    if candidate == images_path or not candidate.is_file():
        raise DataError(f"{images_path}: no labels file next to it (looked for {candidate.name})")
    return candidate


def _decode_path(path: Path, part: str, image_size: tuple[int, int] | None) -> _Decoded:
    if path.is_dir():
        return _decode_dir(path, part, image_size)
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


def _decode_dir(path: Path, part: str, image_size: tuple[int, int] | None) -> _Decoded:
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
            return _decode_path(trains[0], part, image_size)
    if len(csvs) == 1:
        return _decode_path(csvs[0], part, image_size)
    # A folder of class sub-folders, with or without train/ and test/.
    sub = path / part
    if (path / "train").is_dir() and (path / "test").is_dir():
        images, labels, classes = _readers.read_image_folder(sub, image_size=image_size)
        return _folder_decoded(path, sub, images, labels, classes, part, carve=False)
    images, labels, classes = _readers.read_image_folder(path, image_size=image_size)
    return _folder_decoded(path, path, images, labels, classes, part, carve=True)


def _folder_decoded(
    root: Path,
    read_from: Path,
    images: np.ndarray,
    labels: np.ndarray,
    classes: tuple[str, ...],
    part: str,
    carve: bool,
) -> _Decoded:
    files = sorted(p for p in read_from.rglob("*") if _readers.is_image_file(p))
    decoded = _from_arrays(root, images, labels, part, files, carve, class_names=classes)
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
    if carve:
        whole = _fixed_test_split(whole, part)
        meta["test_split"] = f"carved {FIXED_TEST_SIZE:.0%} with seed {_FIXED_TEST_SEED}"
    sha = _combined_sha(inputs) if len(inputs) > 2 else sha256_file(inputs[0])
    return _Decoded(
        images=whole.images,
        labels=whole.labels,
        class_names=whole.class_names,
        name=whole.name,
        source=str(inputs[0] if len(inputs) <= 2 else path),
        sha256=sha,
        inputs=inputs,
        meta=meta,
    )


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


# -- public API -----------------------------------------------------------------------------
def _decode(
    source: str | os.PathLike[str],
    part: str,
    *,
    data_dir: str | os.PathLike[str] | None,
    download: bool,
    verify: bool,
    image_size: tuple[int, int] | None,
    cache: bool,
) -> _Decoded:
    text = os.fspath(source)
    if not text.strip():
        raise DataError(
            "no dataset given (an empty name); give a dataset name such as digits or a path"
        )
    if isinstance(source, str) and is_dataset_name(text) and not Path(text).exists():
        spec = get_dataset_spec(text)
        return _cached(
            spec.name,
            part,
            lambda: _decode_named(spec, part, data_dir, download, verify),
            use_cache=cache and spec.kind != "sklearn",
        )
    path = Path(text).expanduser()
    if not path.exists():
        if os.sep not in text and "." not in text:
            get_dataset_spec(text)  # raises "unknown dataset ..., did you mean ..."
        raise DataError(f"{path}: file or folder not found")
    resolved = path.resolve()
    size_key = "native" if image_size is None else f"{image_size[0]}x{image_size[1]}"
    key = "path-" + hashlib.sha1(f"{resolved}|{size_key}".encode()).hexdigest()[:16]
    return _cached(
        key, part, lambda: _decode_path(resolved, part, image_size), use_cache=cache, root=resolved
    )


def load(
    source: str | os.PathLike[str],
    split: str = "train",
    *,
    data_dir: str | os.PathLike[str] | None = None,
    validation_size: float | int | None = None,
    n_per_class: int | None = None,
    fraction: float | None = None,
    positive: int | str | None = None,
    random_state: int = 0,
    image_size: tuple[int, int] | None = (28, 28),
    download: bool = True,
    verify: bool = True,
    cache: bool = True,
) -> ImageSet:
    """Load one split of a named dataset or of a dataset on disk.

    Parameters
    ----------
    source : str or path
        A registered name (see :func:`list_datasets`) or a path: an IDX images file,
        a Kaggle-style CSV, an NPZ with ``x_train/y_train/x_test/y_test``, a folder of
        IDX or CSV files, or a folder with one sub-folder of images per class
        (optionally inside ``train/`` and ``test/``).
    split : {"train", "validation", "test"}
        ``"validation"`` is carved from the training split (stratified, seeded) and
        needs ``validation_size``; ``"train"`` with ``validation_size`` is the rest.
        Datasets without an official test split get a fixed 20% carved with seed 0.
    data_dir : path, optional
        Folder searched first (also ``$SHALLOWVISION_DATA``); then the user cache,
        system copies, then a download.
    validation_size : float or int, optional
        Share or count of the training split held out for validation.
    n_per_class, fraction : optional
        Seeded stratified subsample of the chosen split.
    positive : int or str, optional
        Relabel for a one-vs-rest task with this class (index or name) as positive.
    random_state : int
        Seed for the validation split and the subsample.
    image_size : (height, width) or None
        Size image-folder datasets are resized to; None keeps their own (uniform) size.
    download : bool
        Whether a missing named dataset may be downloaded.
    verify : bool
        Whether local copies must match the published checksums.
    cache : bool
        Whether to read and write the decoded ``.npy`` cache.

    Returns
    -------
    ImageSet
    """
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    if split == "validation" and validation_size is None:
        raise DataError("split='validation' is carved from train: pass validation_size (e.g. 0.1)")
    part = "test" if split == "test" else "train"
    decoded = _decode(
        source,
        part,
        data_dir=data_dir,
        download=download,
        verify=verify,
        image_size=image_size,
        cache=cache,
    )
    result = decoded.to_imageset(part)
    if validation_size is not None and part == "train":
        rest, held = result.split_off(validation_size, random_state=random_state)
        result = held if split == "validation" else rest
    if n_per_class is not None or fraction is not None:
        result = result.subsample(
            n_per_class=n_per_class, fraction=fraction, random_state=random_state
        )
    if positive is not None:
        result = result.one_vs_rest(positive)
    return result


@dataclass(frozen=True)
class DatasetSplits:
    """Disjoint train, validation and test splits of one dataset."""

    train: ImageSet
    validation: ImageSet | None
    test: ImageSet

    def __iter__(self) -> Iterator[ImageSet | None]:
        return iter((self.train, self.validation, self.test))


def load_splits(
    source: str | os.PathLike[str],
    *,
    validation_size: float | int | None = 0.1,
    **options: object,
) -> DatasetSplits:
    """Load train, validation (carved from train) and test splits with one set of options.

    Takes the keyword arguments of :func:`load`. Class names are made the same
    across the three splits.
    """
    train = load(source, "train", validation_size=validation_size, **options)  # type: ignore[arg-type]
    validation = (
        load(source, "validation", validation_size=validation_size, **options)  # type: ignore[arg-type]
        if validation_size is not None
        else None
    )
    test = load(source, "test", **options)  # type: ignore[arg-type]
    names = max((s.class_names for s in (train, validation, test) if s is not None), key=len)
    fixed = [
        s if s is None or s.class_names == names else _with_names(s, names)
        for s in (train, validation, test)
    ]
    return DatasetSplits(*fixed)  # type: ignore[arg-type]


def _with_names(split: ImageSet, names: tuple[str, ...]) -> ImageSet:
    import dataclasses

    if names[: split.n_classes] != split.class_names:
        raise DataError(
            f"{split.name}: the {split.split} split's classes {split.class_names} differ from {names}"
        )
    return dataclasses.replace(split, class_names=names)
