"""Worker processes: functions run in a process of their own under a time limit, and
workers that end with the process that started them."""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Outcome",
    "TimeLimitedWorker",
    "die_with_parent",
    "run_with_time_limit",
    "workers_die_with_this_process",
]

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


def _serve(conn: Any, parent: int) -> None:
    """A worker's loop: run each call the parent sends, send back its outcome, until the
    parent sends None or goes."""
    die_with_parent(parent)
    # The work's own worker processes (joblib's) end with this one when it is stopped.
    workers_die_with_this_process()
    if sys.platform.startswith("linux"):
        # Linux's own start method, which a spawned process does not inherit: under spawn's,
        # every lock a parallel loop makes (a thread pool's) is registered with the parent's
        # resource tracker, which reports it leaked when a stopped fit leaves it behind.
        mp.set_start_method("fork", force=True)
    while True:
        try:
            task = conn.recv()
        except (EOFError, KeyboardInterrupt):  # the parent closed its end, or Ctrl-C
            return
        if task is None:
            return
        fn, args, kwargs, warmup = task
        del task
        try:
            # Reaching "started" means the libraries are imported and the data arrived:
            # the time limit starts then, so it measures the work, not the start-up.
            if warmup is not None:
                warmup()
            conn.send(_STARTED)
            outcome = Outcome("ok", fn(*args, **kwargs))
        except BaseException as exc:  # report every failure to the parent
            outcome = Outcome(
                "failed", error=f"{type(exc).__name__}: {exc}", value=traceback.format_exc()
            )
        # Nothing of a call outlives it: a worker that serves many fits holds one at a time.
        del fn, args, kwargs, warmup
        conn.send(outcome)
        del outcome


class TimeLimitedWorker:
    """A ``spawn`` worker process that runs calls one after another, each stopped when it
    overruns its time limit or deadline.

    The process starts with the first call and serves the next ones, so a comparison
    pays a fresh interpreter's start (importing scikit-learn and the rest: seconds on two
    cores) once rather than per model. A call that overruns, or whose process dies,
    takes the process with it, and the next call starts a fresh one. A call that raises
    is reported as ``"failed"`` and leaves the process serving. Use it as a context
    manager, or :meth:`close` it.
    """

    def __init__(self) -> None:
        self._process: Any = None
        self._conn: Any = None

    def __enter__(self) -> TimeLimitedWorker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def run(
        self,
        fn: Callable[..., Any],
        *args: Any,
        seconds: float | None = None,
        warmup: Callable[[], Any] | None = None,
        deadline: float | None = None,
        **kwargs: Any,
    ) -> Outcome:
        """``fn(*args, **kwargs)`` in the worker, as :func:`run_with_time_limit` runs it."""
        task = (fn, args, kwargs, warmup)
        if self._process is None or not self._process.is_alive():
            self._start()
        try:
            self._conn.send(task)
        except OSError:  # the process ended since its last call
            self._start()
            self._conn.send(task)
        del task
        try:
            outcome, serving = self._wait(seconds, deadline)
        except BaseException:  # Ctrl-C while waiting: stop the work with the command
            self._stop(idle=False)
            raise
        if not serving:
            self._stop(idle=False)
        return outcome

    def close(self) -> None:
        """End the worker process (it is idle between calls: it is asked to exit)."""
        self._stop(idle=True)

    def _stop(self, *, idle: bool) -> None:
        """End the worker process: asked to when it is ``idle``, else stopped at once."""
        process, conn = self._process, self._conn
        self._process = self._conn = None
        if process is None:
            return
        if idle and process.is_alive():
            with contextlib.suppress(OSError):
                conn.send(None)
            process.join(2)
        if process.is_alive():
            process.terminate()
            process.join(2)
            if process.is_alive():
                process.kill()
        process.join()
        conn.close()

    def _start(self) -> None:
        self._stop(idle=False)
        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe()
        # Not a daemon: joblib runs a daemon's parallel loops (a forest's trees, HOG's
        # threads) on one core. It ends with this process all the same (die_with_parent),
        # and close() joins it.
        self._process = ctx.Process(target=_serve, args=(child, os.getpid()), daemon=False)
        self._process.start()
        child.close()

    def _wait(self, seconds: float | None, deadline: float | None) -> tuple[Outcome, bool]:
        """The outcome of the call sent, and whether the process can serve another."""
        conn, process = self._conn, self._process
        startup = _STARTUP_SECONDS if deadline is None else min(_STARTUP_SECONDS, _left(deadline))
        if not conn.poll(startup):
            if deadline is not None and _left(deadline) <= 0:
                error = "the time budget ran out while its worker started"
                return Outcome("timed out", error=error), False
            return Outcome(
                "failed", error=f"worker did not start (exit code {process.exitcode})"
            ), False
        try:
            message = conn.recv()
        except EOFError:
            return Outcome("failed", error=f"worker died (exit code {process.exitcode})"), False
        if isinstance(message, Outcome):  # its warm-up failed
            return message, True
        limit, budgeted = seconds, False
        if deadline is not None and (limit is None or _left(deadline) < limit):
            limit, budgeted = _left(deadline), True
        if conn.poll(limit):
            try:
                return conn.recv(), True
            except EOFError:
                return Outcome("failed", error=f"worker died (exit code {process.exitcode})"), False
        assert limit is not None  # poll(None) waits for the outcome
        if budgeted:
            error = f"stopped after {limit:.1f} s, when the time budget ran out"
            return Outcome("timed out", error=error), False
        return Outcome("timed out", error=f"stopped after {limit:g} s"), False


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
    ``fn`` and its arguments must be picklable (module-level functions, arrays). To run
    many calls in one process, use :class:`TimeLimitedWorker`.
    """
    with TimeLimitedWorker() as worker:
        return worker.run(fn, *args, seconds=seconds, warmup=warmup, deadline=deadline, **kwargs)


def _left(deadline: float) -> float:
    """Seconds to ``deadline`` (a :func:`time.monotonic` time), never below zero."""
    return max(deadline - time.monotonic(), 0.0)
