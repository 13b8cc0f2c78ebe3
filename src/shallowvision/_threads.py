"""Pieces of one batch computed by threads: numpy, BLAS and OpenCV release the GIL."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import nullcontext
from typing import Any, TypeVar

from joblib import Parallel, delayed, effective_n_jobs
from threadpoolctl import threadpool_limits

__all__ = ["map_in_threads"]

T = TypeVar("T")


def map_in_threads(
    fn: Callable[[T], Any],
    items: Iterable[T],
    n_jobs: int | None,
    *,
    single_threaded_blas: bool = False,
    batch_size: int | str = "auto",
) -> list[Any]:
    """``[fn(item) for item in items]``, shared by ``n_jobs`` threads (joblib's convention:
    None is one, -1 is every core), in order.

    ``single_threaded_blas`` limits BLAS to one thread while they run, so that each
    thread's products neither compete with the others' nor change their order of
    summation (and so their rounding) with the number of threads BLAS picks.
    """
    items = list(items)
    workers = min(effective_n_jobs(n_jobs), len(items))
    if workers <= 1:
        return [fn(item) for item in items]
    limits = threadpool_limits(1, user_api="blas") if single_threaded_blas else nullcontext()
    with limits:
        return list(
            Parallel(n_jobs=workers, prefer="threads", batch_size=batch_size)(
                delayed(fn)(item) for item in items
            )
        )
