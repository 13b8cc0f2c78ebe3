"""Small file helpers shared by every part that writes: atomic writes, tables and hashing."""

from __future__ import annotations

import hashlib
import json
import lzma
import os
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from shallowvision.exceptions import ConfigError, OutputError

__all__ = [
    "ZIP_ERRORS",
    "atomic_path",
    "sha256_file",
    "skops_size",
    "write_json",
    "write_table",
    "write_text",
]

#: Errors that mean "this zip archive (or NPZ) is damaged": zipfile raises
#: NotImplementedError for an unknown compression method and RuntimeError for a
#: member flagged as encrypted, besides the decompressors' own errors.
ZIP_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    lzma.LZMAError,
    EOFError,
    OSError,
    ValueError,
    NotImplementedError,
    RuntimeError,
)


@contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary sibling of ``target`` that replaces it only if the block succeeds.

    A reader never sees a half-written ``target``: it is either the old file or the
    whole new one, even if the process is killed mid-write. A write that fails for want of space or permission (any :class:`OSError`)
    raises :class:`~shallowvision.exceptions.OutputError` naming ``target``, which is
    left as it was.
    """
    target = Path(target)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        os.replace(tmp, target)
    except OutputError:
        raise
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise OutputError(
            f"{target}: cannot write the file ({reason}); nothing was changed there"
        ) from exc
    finally:
        with suppress(OSError):  # on a read-only file system even this fails
            tmp.unlink(missing_ok=True)


def write_text(target: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``target`` atomically."""
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(target)


def write_json(target: str | os.PathLike[str], data: Any, *, compact: bool = False) -> Path:
    """Write ``data`` as JSON to ``target`` atomically: indented, or on one line if ``compact``
    (a quarter of the size for files full of arrays)."""
    layout: dict[str, Any] = {"separators": (",", ":")} if compact else {"indent": 2}
    return write_text(target, json.dumps(data, **layout, default=_jsonable) + "\n")


def write_table(target: str | os.PathLike[str], data: Any, rows: list[dict[str, Any]]) -> Path:
    """Write ``data`` as JSON, or ``rows`` as CSV, as ``target``'s suffix says (atomically).

    In the CSV, nested values (a model's parameters) are JSON text, not Python's repr,
    and a column of whole numbers with gaps stays whole numbers.
    """
    path = Path(target)
    suffix = path.suffix.lower()
    if suffix == ".json":
        return write_json(path, data)
    if suffix != ".csv":
        raise ConfigError(
            f"{path}: a table is written as .json or .csv, not {suffix or 'no suffix'}"
        )
    import pandas as pd

    flat = [
        {k: json.dumps(v) if isinstance(v, dict | list) else v for k, v in row.items()}
        for row in rows
    ]
    frame = pd.DataFrame(flat)
    for column in frame.columns:
        # A column of ints with gaps (None) stays ints, not 10666.0.
        values = [row.get(column) for row in flat if row.get(column) is not None]
        if values and all(type(v) is int for v in values):
            frame[column] = frame[column].astype("Int64")
    return write_text(path, frame.to_csv(index=False))


def _jsonable(value: Any) -> Any:
    # numpy scalars and arrays, paths and tuples reach JSON as plain values.
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


class _Counter:
    """A write-only file that keeps nothing but how many bytes were written to it."""

    def __init__(self) -> None:
        self.size = 0

    def write(self, data: Any) -> int:
        n = memoryview(data).nbytes
        self.size += n
        return n


def skops_size(obj: Any) -> int:
    """Bytes of the skops file ``obj`` is written as, without a second copy of them.

    ``skops.io.dumps`` returns the archive as new bytes besides skops' own buffer; for
    a forest of a gigabyte that is a gigabyte more at the peak.
    """
    import skops.io as sio

    counter = _Counter()
    sio.dump(obj, counter)
    return counter.size


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes."""
    with open(path, "rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()


def read_stage_file(path: Path) -> dict[str, Any] | None:
    """A stage's stored record, None if absent; a damaged one is named.

    Stage files are written atomically, so damage comes from outside (a full disk
    elsewhere, an edit): the message says that resuming the run redoes the stage.
    """
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except ValueError as exc:  # JSON errors and UnicodeDecodeError alike
        record, problem = None, str(exc)
    else:
        problem = "not a stage record"
    if not isinstance(record, dict) or not isinstance(record.get("result"), dict):
        raise ConfigError(
            f"{path}: damaged stage file ({problem}); `shallowvision run --resume` redoes the stage"
        )
    return record
