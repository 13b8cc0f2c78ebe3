"""Shared benchmark plumbing: machine description, timing, peak memory of a child process.

Each measurement that reports peak memory runs in its own Python process, so the
figure is that step's own peak resident set size above the interpreter's baseline;
:func:`measure` runs one command of the command line that way, its worker processes
counted in its peak.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def machine() -> str:
    """A one-line description of the machine and library versions."""
    import numpy
    import sklearn

    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(
                line.split(":", 1)[1].strip() for line in info if line.startswith("model name")
            )
    except (OSError, StopIteration):
        pass
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{cpu}, {os.cpu_count()} cores, {mem_gib:.0f} GiB, Python {platform.python_version()}, "
        f"numpy {numpy.__version__}, scikit-learn {sklearn.__version__}"
    )


def best_of(fn: Callable[[], Any], repeats: int = 3) -> tuple[float, Any]:
    """The fastest wall time of ``repeats`` calls, and the last result."""
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


_CHILD = """
import json, resource, sys, time
{setup}
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
{body}
elapsed = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({{"seconds": elapsed, "peak_mib": (peak - base) / 1024, "extra": locals().get("extra")}}))
"""


def in_child(body: str, setup: str = "", env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``body`` in a fresh interpreter after ``setup``; return its seconds and peak MiB.

    The body may set ``extra`` to any JSON value to pass results back.
    """
    code = _CHILD.format(setup=textwrap.dedent(setup), body=textwrap.dedent(body))
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"benchmark child failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """A Markdown table of ``rows`` (floats with 3 significant digits)."""

    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"
        return str(v)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(fmt(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


# -- one command, measured in a fresh process ---------------------------------------------------
#: Runs shallowvision's command line in a fresh interpreter, whichever package is on its path.
_MAIN = "import sys; from shallowvision.cli import main; sys.argv[0] = 'shallowvision'; main()"


def _tree_rss(proc) -> int:
    """Resident bytes of a process and all its descendants."""
    import psutil

    total = 0
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0
    for p in procs:
        with contextlib.suppress(psutil.Error):
            total += p.memory_info().rss
    return total


def measure(
    argv: list[str], src: Path, env: dict[str, str], cap: float, program: list[str] | None = None
) -> dict:
    """Run the command line ``argv`` with the package at ``src``; its costs and exit status.

    ``program`` runs instead of shallowvision's command line (e.g. ``[python, script]``),
    for a baseline measured the same way.
    """
    import psutil

    child_env = {**os.environ, **env, "PYTHONPATH": str(src)}
    start = time.perf_counter()
    popen = subprocess.Popen(
        [*(program or [sys.executable, "-c", _MAIN]), *argv],
        env=child_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    proc = psutil.Process(popen.pid)
    peak = {"tree": 0, "stopped": False}
    done = threading.Event()

    def watch() -> None:
        # Not popen.poll(): it would reap the process before wait4 below reads its usage.
        while not done.wait(0.1):
            rss = _tree_rss(proc)
            peak["tree"] = max(peak["tree"], rss)
            if rss > cap:
                peak["stopped"] = True
                for p in [*proc.children(recursive=True), proc]:
                    with contextlib.suppress(psutil.Error):
                        p.kill()
                return

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    output = popen.stdout.read() if popen.stdout else ""
    _, status, usage = os.wait4(popen.pid, 0)
    popen.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    done.set()
    watcher.join()
    code = popen.returncode
    return {
        "status": "stopped at cap" if peak["stopped"] else ("ok" if code == 0 else f"exit {code}"),
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_gib": max(usage.ru_maxrss * 1024, peak["tree"]) / 2**30,
        "output": output[-2000:],
    }
