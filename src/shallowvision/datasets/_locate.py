"""Where a dataset's files are: an explicit data folder, the user cache, system copies,
then a checksummed download.

A named dataset is looked for in ``--data-dir`` (or ``$SHALLOWVISION_DATA``), the user
cache, and the system folders its registry entry lists (Debian's
``dataset-fashion-mnist`` installs ``/usr/share/datasets/fashion-mnist``); only when no
copy is found is it downloaded, checked against its published SHA-256, into the user
cache. A dataset given by path is one file plus the siblings it pairs with (its
train/test counterpart, an IDX images file's labels file).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from shallowvision.datasets import _readers
from shallowvision.datasets._download import download as download_file
from shallowvision.datasets._download import mirrors_for
from shallowvision.datasets._registry import (
    DatasetSpec,
    RemoteFile,
    get_dataset_names,
    get_dataset_spec,
)
from shallowvision.exceptions import DataError

__all__ = ["cache_dir", "list_datasets", "locate"]

PathLike = str | os.PathLike[str]


def cache_dir() -> Path:
    """The user cache: ``$SHALLOWVISION_CACHE``, else ``$XDG_CACHE_HOME/shallowvision``."""
    explicit = os.environ.get("SHALLOWVISION_CACHE")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg) / "shallowvision"


# -- named datasets -------------------------------------------------------------------------
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
