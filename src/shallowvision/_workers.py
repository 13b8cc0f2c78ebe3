"""Worker processes: a function run in its own process under a time limit, and workers
that end with the process that started them."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Outcome", "die_with_parent", "run_with_time_limit", "workers_die_with_this_process"]

#: prctl's option to have the kernel send a signal when the parent ends (linux/prctl.h).
_PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> None:
    """In a worker process: be killed (SIGKILL) by the kernel when ``parent`` ends, even by
    SIGKILL; a worker whose parent has already gone exits at once.

    Linux's parent-death signal (``prctl(PR_SET_PDEATHSIG)``), through ctypes; elsewhere
    only the second check is made.
    """
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent ended before the signal was asked for
        os._exit(1)


def workers_die_with_this_process() -> None:
    """Make joblib's process workers (loky, the default backend) die with this process.

    Without it, a SIGKILL of a command left its workers (about 200 MB each) and their
    resource trackers alive until loky's idle timeout, minutes later. Registered as
    joblib's default backend, so ``prefer="threads"`` still chooses threads; meant for
    the command line's process, not called on import.
    """
    import threading

    from joblib.parallel import BACKENDS, register_parallel_backend

    loky = BACKENDS["loky"]
    parent = os.getpid()

    def backend(**options: Any) -> Any:
        # The kernel's signal follows the thread that started the worker: only workers
        # started from the main thread, which lives as long as the process, ask for it.
        if threading.current_thread() is threading.main_thread():
            options |= {"initializer": die_with_parent, "initargs": (parent,)}
        return loky(**options)

    register_parallel_backend("loky-bound", backend, make_default=True)


@dataclass(frozen=True)
class Outcome:
    """What came back from a worker: ``status`` is ``"ok"``, ``"timed out"`` or ``"failed"``."""

    status: str
    value: Any = None
    error: str = ""


_STARTED = "started"
#: Seconds a worker may take to start (import its libraries, receive its data).
_STARTUP_SECONDS = 300.0


def _child(
    conn: Any,
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    warmup: Callable[[], Any] | None,
    parent: int,
) -> None:
    die_with_parent(parent)
    # The work's own worker processes (joblib's) end with this one when it is stopped.
    workers_die_with_this_process()
    # Reaching "started" means the libraries are imported and the data arrived: the
    # time limit starts then, so it measures the work, not the process start-up.
    if warmup is not None:
        warmup()
    conn.send(_STARTED)
    try:
        conn.send(Outcome("ok", fn(*args, **kwargs)))
    except BaseException as exc:  # report every failure to the parent, then exit
        conn.send(
            Outcome("failed", error=f"{type(exc).__name__}: {exc}", value=traceback.format_exc())
        )
    finally:
        conn.close()


def run_with_time_limit(
    fn: Callable[..., Any],
    *args: Any,
    seconds: float | None = None,
    warmup: Callable[[], Any] | None = None,
    deadline: float | None = None,
    **kwargs: Any,
) -> Outcome:
    """Call ``fn(*args, **kwargs)`` in a fresh ``spawn`` process; kill it after ``seconds``
    or at ``deadline``, whichever comes first.

    The ``seconds`` clock starts when the worker is ready: arguments received and
    ``warmup()`` (e.g. importing the libraries the work needs) done. ``deadline`` is a
    :func:`time.monotonic` time that counts the worker's start too: a time budget spends
    it as well, so a worker still starting at the deadline is stopped.

    A fit that hangs or runs away cannot be interrupted from inside Python, so it
    runs in its own process, which is terminated (then killed) at the deadline.
    ``fn`` and its arguments must be picklable (module-level functions, arrays).
    """
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    # Not a daemon: joblib runs a daemon's parallel loops (a forest's trees, HOG's
    # threads) on one core. It ends with this process all the same (die_with_parent),
    # and is joined below whatever happens.
    process = ctx.Process(
        target=_child, args=(child, fn, args, kwargs, warmup, os.getpid()), daemon=False
    )
    process.start()
    child.close()
    try:
        startup = _STARTUP_SECONDS if deadline is None else min(_STARTUP_SECONDS, _left(deadline))
        if not parent.poll(startup):
            if deadline is not None and _left(deadline) <= 0:
                return Outcome(
                    "timed out", error="the time budget ran out while its worker started"
                )
            return Outcome("failed", error=f"worker did not start (exit code {process.exitcode})")
        if parent.recv() != _STARTED:
            return Outcome("failed", error=f"worker did not start (exit code {process.exitcode})")
        limit, budgeted = seconds, False
        if deadline is not None and (limit is None or _left(deadline) < limit):
            limit, budgeted = _left(deadline), True
        if parent.poll(limit):
            try:
                return parent.recv()
            except EOFError:
                return Outcome("failed", error=f"worker died (exit code {process.exitcode})")
        assert limit is not None  # poll(None) waits for the outcome
        if budgeted:
            return Outcome(
                "timed out", error=f"stopped after {limit:.1f} s, when the time budget ran out"
            )
        return Outcome("timed out", error=f"stopped after {limit:g} s")
    finally:
        if process.is_alive():
            process.terminate()
            process.join(2)
            if process.is_alive():
                process.kill()
        process.join()
        parent.close()


def _left(deadline: float) -> float:
    """Seconds to ``deadline`` (a :func:`time.monotonic` time), never below zero."""
    return max(deadline - time.monotonic(), 0.0)
