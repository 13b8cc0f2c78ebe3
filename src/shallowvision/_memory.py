"""How much memory this process may still use, and sizes as people write and read them."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from shallowvision.exceptions import DataError, ShallowVisionError

__all__ = ["PeakMemory", "check_fits", "format_bytes", "free_memory", "parse_bytes", "peak_memory"]


def _cgroup_free() -> int | None:
    """Memory left under this process's cgroup (v2) limit, if it has one."""
    base = Path("/sys/fs/cgroup")
    try:
        limit = (base / "memory.max").read_text().strip()
        if limit == "max":
            return None
        return int(limit) - int((base / "memory.current").read_text().strip())
    except (OSError, ValueError):
        return None


def free_memory() -> int:
    """Bytes this process may still use: ``$SHALLOWVISION_MEMORY`` (e.g. ``8GB``) if set,
    else what the machine has available, capped by a container's limit."""
    configured = os.environ.get("SHALLOWVISION_MEMORY")
    if configured:
        return parse_bytes(configured)
    import psutil

    free = int(psutil.virtual_memory().available)
    cgroup = _cgroup_free()
    return free if cgroup is None else min(free, cgroup)


_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?)\s*([KMGT]?)(I?)B?\s*$", re.IGNORECASE)


def parse_bytes(text: str) -> int:
    """``"8GB"``, ``"512MiB"``, ``"2.5G"`` or a plain byte count, as bytes."""
    match = _SIZE.match(text)
    if not match or float(match[1]) <= 0:
        raise ShallowVisionError(
            f"memory size {text!r} is not understood; write it like 8GB, 512MiB or 2.5G"
        )
    unit = match[2].upper()
    power = "KMGT".index(unit) + 1 if unit else 0
    return int(float(match[1]) * (1024 if match[3] else 1000) ** power)


def format_bytes(n: float) -> str:
    """``13.2 GB``, ``850 MB``: decimal units, as memory is sold."""
    if n >= 10**9:
        return f"{n / 10**9:.1f} GB"
    return f"{n / 10**6:.0f} MB"


def check_fits(n_bytes: int, what: str, way_out: str) -> None:
    """Refuse to allocate ``n_bytes`` for ``what`` when that exceeds the free memory."""
    free = free_memory()
    if n_bytes > free:
        raise DataError(
            f"{what} need {format_bytes(n_bytes)} and {format_bytes(free)} of memory is free; "
            f"{way_out}"
        )


class PeakMemory:
    """The largest resident memory seen while a :func:`peak_memory` block ran, in bytes;
    ``None`` inside the block."""

    bytes: int | None = None


def _own_peak() -> int | None:
    """This process's peak resident memory so far (Linux's VmHWM)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


@contextmanager
def peak_memory(interval: float = 0.25) -> Iterator[PeakMemory]:
    """Measure the peak resident memory of this process and its children over a block.

    The sum of this process's and its workers' (joblib's, a local Dask cluster's) memory
    is sampled every ``interval`` seconds; when the block raised this process's own
    lifetime peak, that exact figure counts too. The lifetime peak is never reset, so
    ``/usr/bin/time`` and ``getrusage`` still see the process's true peak.
    """
    import psutil

    result = PeakMemory()
    me = psutil.Process()
    stop = threading.Event()
    sampled = [0]

    def sample() -> None:
        while True:
            total = 0
            try:
                total = me.memory_info().rss
                for child in me.children(recursive=True):
                    with suppress(psutil.Error):
                        total += child.memory_info().rss
            except psutil.Error:
                pass
            sampled[0] = max(sampled[0], total)
            if stop.wait(interval):
                return

    before = _own_peak() or 0
    sampler = threading.Thread(target=sample, name="peak-memory", daemon=True)
    sampler.start()
    try:
        yield result
    finally:
        stop.set()
        sampler.join()
        after = _own_peak() or 0
        result.bytes = max(after if after > before else 0, sampled[0])
