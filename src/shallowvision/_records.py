"""Result records: frozen dataclasses that turn into JSON-ready dicts.

Every public function of :mod:`shallowvision.evaluation`, and of the ensemble, selection
and explanation code, returns one of these, so a result can be drawn, compared in a test,
or written to JSON without any conversion code of its own. They live outside the
evaluation package so that defining a record does not import it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["NOT_JSON", "Record", "jsonable"]

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
