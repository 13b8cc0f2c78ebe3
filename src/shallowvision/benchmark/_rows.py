"""Benchmark rows, as the JSON-lines file of a run stores them, one complete line each."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shallowvision._jsonl import read_rows
from shallowvision._records import Record
from shallowvision.benchmark._grid import config_key

__all__ = ["DONE_STATUSES", "BenchmarkResult", "BenchmarkRow", "read_benchmark_rows"]

#: Row statuses that count as done when a benchmark resumes; failed rows are retried.
DONE_STATUSES = ("ok", "skipped", "timed out")


@dataclass(frozen=True, kw_only=True)
class BenchmarkRow(Record):
    """One configuration's result: mean test accuracy over the repeats and seconds per fit.

    ``status`` is ``"ok"``, ``"failed"`` (``error`` says why), ``"skipped"`` (the
    installed scikit-learn cannot run it; ``error`` says why) or ``"timed out"``.
    ``warnings`` holds the distinct warnings the fits raised (e.g. non-convergence).
    The run's identity (dataset, fingerprint of the training images, repeats, seed)
    is stored on every row, so each line of the file stands alone.
    """

    classifier: str
    params: dict[str, Any]
    status: str = "ok"
    accuracy: float | None = None
    accuracy_std: float | None = None
    scores: tuple[float, ...] = ()
    fit_seconds: float | None = None
    predict_seconds: float | None = None
    warnings: tuple[str, ...] = ()
    error: str = ""
    dataset: str = ""
    train_fingerprint: str = ""
    n_train: int = 0
    n_test: int = 0
    repeats: int = 1
    seed: int = 0
    n_jobs: int | None = None

    @property
    def key(self) -> str:
        return config_key(self.classifier, self.params)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BenchmarkRow:
        """A row from its :meth:`to_dict` (a line of the JSON-lines file)."""
        values = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        for name in ("scores", "warnings"):
            values[name] = tuple(values.get(name, ()))
        return cls(**values)


#: Row fields that must match for rows of a file to belong to the same benchmark.
_IDENTITY = ("dataset", "train_fingerprint", "n_test", "repeats", "seed")


def read_benchmark_rows(path: str | os.PathLike[str]) -> list[BenchmarkRow]:
    """The rows of a benchmark file, in the order written (a later row of a key wins).

    A last line cut short (the process was killed while writing it) is ignored; any
    other unreadable line is an error naming the line.
    """
    return read_rows(path, BenchmarkRow.from_dict, key=lambda row: row.key, what="benchmark row")


@dataclass(frozen=True, kw_only=True)
class BenchmarkResult(Record):
    """Every row of a benchmark run, in grid order, and where they are stored.

    ``n_resumed`` rows were read back from ``path`` instead of being fitted again.
    """

    grid: str
    dataset: str
    n_train: int
    n_test: int
    repeats: int
    seed: int
    rows: tuple[BenchmarkRow, ...]
    n_resumed: int = 0
    path: str | None = None

    def to_frame(self) -> Any:
        """The rows as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame([r.to_dict() for r in self.rows])

    def best(self) -> dict[str, BenchmarkRow]:
        """The most accurate finished row of each classifier."""
        out: dict[str, BenchmarkRow] = {}
        for row in self.rows:
            if row.status != "ok":
                continue
            current = out.get(row.classifier)
            if current is None or (row.accuracy or 0.0) > (current.accuracy or 0.0):
                out[row.classifier] = row
        return out
