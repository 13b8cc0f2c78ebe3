"""The decoded cache: each split of a dataset decoded once, stored as ``.npy`` and
memory-mapped afterwards.

A slot lives under the user cache's ``decoded/`` folder, keyed by the dataset (a name, or
a path with the image size). It is current while every file that defines the data is
unchanged: the files a named dataset was decoded from, or every file a dataset given by
path could be read from (:func:`source_definition`). ``meta.json`` is written last, so a
decode killed half-way leaves a slot that is decoded again; temporary files of killed
writers are removed.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from shallowvision._io import atomic_path, sha256_file, write_json
from shallowvision.datasets._decode import _Decoded
from shallowvision.datasets._locate import cache_dir

__all__ = ["source_definition"]

_CACHE_VERSION = 2


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
        names = _files_below(path)
        files = [os.path.join(path, n) for n in names]
    else:
        names = sorted(_sibling_names(path.name))
        files = [os.fspath(path.with_name(n)) for n in names]
    now = time.time_ns()
    entries: list[list[object]] = []
    for name, file in zip(names, files, strict=True):
        try:
            st = os.stat(file)
        except OSError:
            entries.append([name, None])
            continue
        entry: list[object] = [name, st.st_size, st.st_mtime_ns]
        if now - st.st_mtime_ns < _RACY_NS:
            entry.append(sha256_file(file))
        entries.append(entry)
    return entries


def _files_below(root: Path) -> list[str]:
    """Every file below ``root`` as a relative path, ordered folder by folder.

    Listed and sorted as strings: on 50,000 files, globbing and sorting ``Path`` objects
    took longer than decoding the images.
    """
    names: list[str] = []
    for folder, _, files in os.walk(root):
        rel = os.path.relpath(folder, root)
        names.extend(f if rel == "." else os.path.join(rel, f) for f in files)
    return sorted(names, key=lambda name: name.split(os.sep))


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
        for other, split in decoded.others.items():
            _cache_write(_cache_slot(key, other), split, definition)
    return decoded
