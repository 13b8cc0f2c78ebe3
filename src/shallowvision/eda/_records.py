"""The base of the EDA records: evaluation's :class:`Record` with rounded float arrays in JSON.

Mean, variance and difference images are stored exactly in memory (tests compare them
with numpy to the last bit) but written to ``eda.json`` with a few decimals, which keeps
the file small and stable; a field opts in with ``metadata=decimals(n)``. A field with
:data:`~shallowvision._records.OMIT_NONE` (the colour parts) is left out while None, so
the analysis of grey images writes the same ``eda.json`` as before they existed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from shallowvision._records import Record, jsonable

__all__ = ["EdaRecord", "decimals"]


def decimals(n: int) -> dict[str, int]:
    """Field metadata: round this float array to ``n`` decimals in :meth:`EdaRecord.to_dict`."""
    return {"decimals": n}


@dataclass(frozen=True, eq=False)
class EdaRecord(Record):
    """A :class:`~shallowvision.evaluation.Record` whose float arrays may be rounded in JSON."""

    def to_dict(self) -> dict[str, Any]:
        out = {}
        for f in dataclasses.fields(self):
            if not f.metadata.get("json", True):
                continue
            value = getattr(self, f.name)
            if value is None and f.metadata.get("omit_none"):
                continue
            places = f.metadata.get("decimals")
            if places is not None and value is not None:
                # + 0.0 turns -0.0 into 0.0, so rounding never writes "-0.0".
                value = np.round(np.asarray(value, dtype=np.float64), places) + 0.0
            out[f.name] = jsonable(value)
        return out
