"""Run a function in a separate process that is killed when it overruns its time limit."""

from __future__ import annotations

import multiprocessing as mp
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Outcome", "run_with_time_limit"]


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
) -> None:
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
    seconds: float,
    warmup: Callable[[], Any] | None = None,
    **kwargs: Any,
) -> Outcome:
    """Call ``fn(*args, **kwargs)`` in a fresh ``spawn`` process; kill it after ``seconds``.

    The clock starts when the worker is ready: arguments received and ``warmup()``
    (e.g. importing the libraries the work needs) done.

    A fit that hangs or runs away cannot be interrupted from inside Python, so it
    runs in its own process, which is terminated (then killed) at the deadline.
    ``fn`` and its arguments must be picklable (module-level functions, arrays).
    """
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_child, args=(child, fn, args, kwargs, warmup), daemon=True)
    process.start()
    child.close()
    try:
        if not parent.poll(_STARTUP_SECONDS) or parent.recv() != _STARTED:
            return Outcome("failed", error=f"worker did not start (exit code {process.exitcode})")
        if parent.poll(seconds):
            try:
                return parent.recv()
            except EOFError:
                return Outcome("failed", error=f"worker died (exit code {process.exitcode})")
        return Outcome("timed out", error=f"stopped after {seconds:g} s")
    finally:
        if process.is_alive():
            process.terminate()
            process.join(2)
            if process.is_alive():
                process.kill()
        process.join()
        parent.close()
