"""Result records: frozen dataclasses that turn into JSON-ready dicts.

Every public function of :mod:`shallowvision.evaluation`, and of the ensemble, selection
and explanation code, returns one of these, so a result can be drawn, compared in a test,
or written to JSON without any conversion code of its own. They live outside the
evaluation package so that defining a record does not import it.

A :class:`StoredRecord` is also read back: its fields hold JSON values, and
:meth:`StoredRecord.from_dict` rebuilds it from its dict, naming what does not fit.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self

import numpy as np

__all__ = ["NOT_JSON", "OMIT_NONE", "Record", "RecordError", "StoredRecord", "jsonable"]

# Field metadata of what stays out of :meth:`Record.to_dict` (pixels, fitted models).
NOT_JSON = {"json": False}


@dataclass(frozen=True, eq=False)
class Record:
    """Base of every result record."""

    def to_dict(self) -> dict[str, Any]:
        """The record as plain Python values, ready for :func:`json.dumps`.

        Arrays become lists, NaN and infinities become ``None`` (JSON has no such
        numbers), nested records become dicts.
        """
        return {
            f.name: jsonable(getattr(self, f.name))
            for f in dataclasses.fields(self)
            if f.metadata.get("json", True)
        }


def jsonable(value: Any) -> Any:
    """``value`` with every numpy type, record and non-finite float made JSON-ready."""
    if isinstance(value, Record):
        return value.to_dict()
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "f" and not np.isfinite(value).all():
            cells = value.astype(object)
            cells[~np.isfinite(value)] = None
            return cells.tolist()
        return value.tolist()
    if isinstance(value, np.generic):
        return jsonable(value.item())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


#: Field metadata of a :class:`StoredRecord`: the key is left out of the stored dict when
#: the value is None (it is written only sometimes).
OMIT_NONE = {"omit_none": True}


class RecordError(ValueError):
    """A stored dict that does not fit its record: the message names where, and why."""


@dataclass(frozen=True, kw_only=True)
class StoredRecord(Record):
    """A record that is written to JSON and read back.

    Fields hold JSON values; nested records, lists and dicts of them are rebuilt from
    the field types. ``field(metadata={"key": ...})`` stores a field under another key
    (``from`` is no Python name); :data:`OMIT_NONE` leaves a None value out.
    """

    def to_dict(self) -> dict[str, Any]:
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value is None and f.metadata.get("omit_none"):
                continue
            out[f.metadata.get("key", f.name)] = _plain(value)
        return out

    @classmethod
    def from_dict(cls, data: Any, where: str = "") -> Self:
        """The record stored as ``data``; :class:`RecordError` names a key that is missing
        or unexpected, or a value of the wrong kind (``where`` prefixes its path)."""
        if not isinstance(data, Mapping):
            raise RecordError(_at(where, f"{_kind(data)} where a record belongs"))
        hints = _field_types(cls)
        values, known = {}, set()
        for f in dataclasses.fields(cls):
            key = f.metadata.get("key", f.name)
            known.add(key)
            if key in data:
                values[f.name] = _read(hints[f.name], data[key], f"{where}.{key}" if where else key)
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise RecordError(_at(where, f"no {key!r}"))
        unknown = sorted(set(data) - known)
        if unknown:
            raise RecordError(_at(where, f"unexpected {', '.join(map(repr, unknown))}"))
        return cls(**values)


def _plain(value: Any) -> Any:
    # Scalars are stored as they were given (unlike jsonable, NaN stays NaN).
    if isinstance(value, StoredRecord):
        return value.to_dict()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


_FIELD_TYPES: dict[type, dict[str, Any]] = {}


def _field_types(cls: type) -> dict[str, Any]:
    if cls not in _FIELD_TYPES:
        _FIELD_TYPES[cls] = typing.get_type_hints(cls)
    return _FIELD_TYPES[cls]


def _at(where: str, problem: str) -> str:
    return f"{where}: {problem}" if where else problem


def _kind(value: Any) -> str:
    return "null" if value is None else f"a {type(value).__name__}"


def _read(kind: Any, value: Any, where: str) -> Any:
    """``value`` as a value of type ``kind``: records rebuilt, containers checked."""
    origin = typing.get_origin(kind)
    if isinstance(kind, type) and issubclass(kind, StoredRecord):
        return kind.from_dict(value, where)
    if origin in (types.UnionType, typing.Union):
        options = [k for k in typing.get_args(kind) if k is not type(None)]
        if value is None and len(options) < len(typing.get_args(kind)):
            return None
        problems = []
        for option in options:
            try:
                return _read(option, value, where)
            except RecordError as exc:
                problems.append(str(exc))
        raise RecordError(problems[0])
    if origin is list:
        if not isinstance(value, list):
            raise RecordError(_at(where, f"{_kind(value)} where a list belongs"))
        (item,) = typing.get_args(kind)
        return [_read(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, Mapping):
            raise RecordError(_at(where, f"{_kind(value)} where an object belongs"))
        _, item = typing.get_args(kind)
        return {k: _read(item, v, f"{where}.{k}") for k, v in value.items()}
    # Scalars are kept as stored: a number the report shows as it was written.
    return value
