"""Append-only JSON-lines files of result rows, which a killed process resumes from.

Each row is one complete line, flushed and synced to disk before the next is written,
so a process stopped at any moment (Ctrl-C, a kill, a lost machine) loses at most the
line it was writing: reading ignores that unfinished line, and the next writer drops it
before appending.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Hashable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from shallowvision.exceptions import DataError

__all__ = ["RowFile", "read_rows"]

_Row = TypeVar("_Row")


def read_rows(
    path: str | os.PathLike[str],
    parse: Callable[[Any], _Row],
    *,
    key: Callable[[_Row], Hashable],
    what: str,
) -> list[_Row]:
    """The rows of a JSON-lines file, in the order written (a later row of a key wins).

    ``parse`` makes a row of a line's JSON value, raising ``ValueError`` or
    ``TypeError`` where it does not fit. A missing file has no rows. A last line cut
    short (the process was killed while writing it) is ignored; any other unreadable
    line is a :class:`~shallowvision.exceptions.DataError` naming the line as not
    ``what``.
    """
    path = Path(path)
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").split("\n")
    complete = lines[:-1]  # the text after the last newline, if any, is unfinished
    rows: dict[Hashable, _Row] = {}
    for number, line in enumerate(complete, start=1):
        if not line.strip():
            continue
        try:
            row = parse(json.loads(line))
        except (ValueError, TypeError) as exc:
            raise DataError(f"{path}, line {number}: not a {what} ({exc})") from None
        rows.pop(key(row), None)
        rows[key(row)] = row
    return list(rows.values())


class RowFile:
    """Appends rows to a JSON-lines file, one complete line per write, flushed to disk."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if path.exists():
            text = path.read_text(encoding="utf-8")
            if text and not text.endswith("\n"):
                # Drop the line a killed run left unfinished, so appends start on a fresh line.
                from shallowvision._io import write_text

                write_text(path, text[: text.rfind("\n") + 1])

    def append(self, row: Mapping[str, Any]) -> None:
        line = json.dumps(row, sort_keys=False) + "\n"
        with open(self.path, "a", encoding="utf-8") as stream:
            stream.write(line)
            stream.flush()
            os.fsync(stream.fileno())
