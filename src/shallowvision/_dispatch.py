"""Running one unit of work over many jobs: on a Dask cluster, or here under a time limit.

Model comparisons and the benchmark fit many models the same way. Inside
:func:`shallowvision._dask.dask_backend` the jobs run at once on the cluster through
joblib's Dask backend, the arrays they share sent once and safe from lost workers
(:func:`~shallowvision._dask.shared_on_cluster`). Otherwise they run one after another
in this process or, given a time limit or a deadline, in a worker process that is stopped
when a job overruns (:class:`~shallowvision._workers.TimeLimitedWorker`: one process for
the jobs, started afresh after a stop). Every job ends in an
:class:`~shallowvision._workers.Outcome`, so a job that fails, overruns or loses its
worker process costs its own result only.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shallowvision._dask import on_dask, shared_on_cluster
from shallowvision._workers import Outcome, TimeLimitedWorker
from shallowvision.exceptions import ConfigError

__all__ = ["Job", "dispatch", "outcome_of"]


@dataclass(frozen=True)
class Job:
    """One call of the unit of work, ``fn(*args, **kwargs)``.

    ``key`` is what the caller knows the job by (a model, a configuration). ``warmup``
    runs in a time-limited worker before its clock starts, to import what the work
    needs; like ``fn`` and the arguments, it must be picklable. ``deadline`` is the job's
    own limit, a :func:`time.monotonic` time by which it must end, its worker's start
    included (what is left of a time budget); with :func:`dispatch`'s ``time_limit`` too,
    whichever comes first stops it.
    """

    key: Any
    args: tuple[Any, ...]
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    warmup: Callable[[], Any] | None = None
    deadline: float | None = None


def dispatch(
    fn: Callable[..., Any],
    jobs: Iterable[Job],
    *,
    shared: Sequence[Any] = (),
    time_limit: float | None = None,
) -> Iterator[tuple[Job, Outcome]]:
    """Call ``fn`` for each job; yield each job with its outcome as it finishes.

    Parameters
    ----------
    fn : callable
        The unit of work, a module-level function (it is sent to worker processes).
    jobs : iterable of Job
        Taken one at a time here, just before each job runs; all at once for a cluster.
    shared : sequence of arrays
        Arguments every job passes (the very objects, found by identity), sent to a
        cluster once rather than with each job.
    time_limit : float, optional
        Seconds per job: each runs in its own worker process, stopped when it overruns
        (a ``"timed out"`` outcome), as is a job with a ``deadline``. Local processes
        only: on a cluster either is a :class:`~shallowvision.exceptions.ConfigError`.

    Yields
    ------
    (Job, Outcome)
        In the order of ``jobs`` here; in the order they finish on a cluster. An
        exception in ``fn`` is a ``"failed"`` outcome holding the error and, as its
        value, the traceback.
    """
    if on_dask():
        if time_limit is not None:
            raise ConfigError(
                "time_limit= stops fits in local worker processes; it cannot run on a Dask cluster"
            )
        listed = list(jobs)
        if any(job.deadline is not None for job in listed):
            raise ConfigError(
                "a deadline stops fits in local worker processes; it cannot run on a Dask cluster"
            )
        yield from _on_cluster(fn, listed, shared)
        return
    # One worker process serves the jobs one after another; a job that overruns takes it
    # with it, and the next starts a fresh one.
    with TimeLimitedWorker() as worker:
        for job in jobs:
            if time_limit is None and job.deadline is None:
                yield job, outcome_of(fn, *job.args, **job.kwargs)
            else:
                outcome = worker.run(
                    fn,
                    *job.args,
                    seconds=time_limit,
                    warmup=job.warmup,
                    deadline=job.deadline,
                    **job.kwargs,
                )
                yield job, outcome


def outcome_of(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Outcome:
    """``fn(*args, **kwargs)`` as an :class:`~shallowvision._workers.Outcome`."""
    try:
        return Outcome("ok", fn(*args, **kwargs))
    except Exception as exc:  # one failing job must not lose the others' results
        return Outcome("failed", error=f"{type(exc).__name__}: {exc}", value=traceback.format_exc())


def _on_cluster(
    fn: Callable[..., Any], jobs: list[Job], shared: Sequence[Any]
) -> Iterator[tuple[Job, Outcome]]:
    from joblib import Parallel, delayed

    with shared_on_cluster(*shared):
        outcomes = Parallel(n_jobs=-1, return_as="generator_unordered")(
            delayed(_numbered)(i, fn, *job.args, **job.kwargs) for i, job in enumerate(jobs)
        )
        for i, outcome in outcomes:
            yield jobs[i], outcome


def _numbered(i: int, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[int, Outcome]:
    # Outcomes come back in the order they finish: the number says whose each is.
    return i, outcome_of(fn, *args, **kwargs)
