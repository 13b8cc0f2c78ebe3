"""Scale-out through an existing engine: a Dask cluster behind joblib's Dask backend."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from functools import cache
from typing import Any

from shallowvision._optional import import_optional
from shallowvision.exceptions import ConfigError

__all__ = [
    "dask_backend",
    "dask_client",
    "local_memory_limit",
    "on_dask",
    "parse_dask",
    "shared_on_cluster",
]

_LOCAL = re.compile(r"^local(?::(\d+))?(?::(\d+(?:\.\d+)?\s*[kKmMgGtT]i?[bB]))?$")


def parse_dask(spec: str) -> tuple[str, int | str]:
    """``"local"`` -> ("local", 2); ``"local:4"`` -> ("local", 4); ``"tcp://h:8786"`` -> ("remote", address).

    ``"local:4:2GB"`` is four workers of 2 GB each (see :func:`local_memory_limit`).
    """
    text = spec.strip()
    match = _LOCAL.match(text)
    if match:
        n = int(match.group(1) or 2)
        if n < 1:
            raise ConfigError(f"dask={spec!r}: a local cluster needs at least one worker")
        return "local", n
    if text.startswith(("tcp://", "tls://")) and ":" in text[6:]:
        return "remote", text
    raise ConfigError(
        f"dask={spec!r}: expected local, local:N, local:N:MEMORY (e.g. local:2:3GB), "
        "or tcp://host:port"
    )


def local_memory_limit(spec: str) -> int | None:
    """The memory limit of each worker of a ``local:N:MEMORY`` cluster, in bytes.

    Dask spills a worker's data to disk above 60% of it, pauses the worker at 80% and
    restarts it at 95%. None when the spec gives none (Dask then shares the machine's
    memory among the workers).
    """
    match = _LOCAL.match(spec.strip())
    if match is None or match.group(2) is None:
        return None
    from dask.utils import parse_bytes

    limit = int(parse_bytes(match.group(2).replace(" ", "")))
    if limit < 1:
        raise ConfigError(f"dask={spec!r}: a worker's memory limit must be positive")
    return limit


@contextmanager
def dask_client(spec: str) -> Iterator[Any]:
    """A ``distributed.Client`` for ``spec``, closed (with its local cluster) on exit.

    ``spec`` is ``"local"`` / ``"local:N"`` (start a LocalCluster of N worker processes
    on 127.0.0.1; ``"local:N:3GB"`` gives each a memory limit) or ``"tcp://host:port"``
    (an existing scheduler). Workers that die are restarted by their nannies and their
    tasks rescheduled.
    """
    kind, value = parse_dask(spec)
    memory = local_memory_limit(spec) if kind == "local" else None
    distributed = import_optional("distributed")
    cluster = None
    try:
        if kind == "local":
            cluster = distributed.LocalCluster(
                n_workers=int(value),
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                # The scheduler serves HTTP even without a dashboard, on 8787 unless told
                # otherwise; another cluster may hold that port, so take a free one.
                dashboard_address="127.0.0.1:0",
                silence_logs=logging.ERROR,
                memory_limit="auto" if memory is None else memory,
            )
            client = distributed.Client(cluster)
        else:
            try:
                _knock(str(value))
                client = distributed.Client(str(value), timeout="15s")
            except OSError as exc:
                raise ConfigError(f"dask={value!r}: cannot reach the scheduler ({exc})") from None
        with client:
            yield client
    finally:
        if cluster is not None:
            cluster.close()


def _knock(address: str) -> None:
    """Open and close a TCP connection to the scheduler's ``host:port``: a port nobody
    listens on is refused at once, where Dask's client would retry until its timeout."""
    import socket
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(address)
        host, port = parts.hostname, parts.port
    except ValueError:  # not a port number: Dask's client says what is wrong
        return
    if host is None or port is None:
        return
    with socket.create_connection((host, port), timeout=15):
        pass


@contextmanager
def dask_backend(spec: str | None) -> Iterator[Any]:
    """Run the enclosed joblib work (searches, comparisons) on a Dask cluster.

    ``spec`` is as for :func:`dask_client`; ``None`` runs locally and yields None.
    Yields the ``distributed.Client``.
    """
    if spec is None:
        yield None
        return
    import joblib

    with dask_client(spec) as client, joblib.parallel_config(backend="dask"):
        yield client


def on_dask() -> bool:
    """Whether joblib's active backend is Dask's (inside :func:`dask_backend`)."""
    from joblib.parallel import get_active_backend

    backend, _ = get_active_backend()
    return "dask" in type(backend).__name__.lower()


#: Arrays up to this size may travel inside a task without dask's large-graph warning:
#: :func:`shared_on_cluster` sends each of its arrays that way, once.
_LARGE_GRAPH = "4GiB"


def shared_on_cluster(*arrays: Any) -> Any:
    """On a Dask cluster, share ``arrays`` with the enclosed joblib work, safe from lost workers.

    joblib scatters every argument over 1 kB (the data, and each CV split's index
    arrays) to a worker. Scattered data has no lineage, and the scheduler's memory
    manager trims even broadcast copies back to one, so killing the worker that held
    the last copy cancelled every task that needed it. Here each array is instead the
    result of a task that carries it, which the scheduler reruns wherever that result
    is lost, and the other arguments travel inside their tasks: a worker's death
    costs only its running tasks, rerun elsewhere. Locally, does nothing.
    """
    if not on_dask():
        return nullcontext()
    import dask
    import joblib
    from distributed import get_client

    client = get_client()
    with dask.config.set({"distributed.admin.large-graph-warning-threshold": _LARGE_GRAPH}):
        futures = [client.submit(_same, array) for array in arrays]
    return joblib.parallel_config(backend=_shared_data_backend()(client, arrays, futures))


def _same(array: Any) -> Any:
    return array


@cache
def _shared_data_backend() -> type:
    """joblib's Dask backend given futures for its shared arrays, and scattering nothing."""
    from joblib._dask import DaskDistributedBackend

    class SharedDataBackend(DaskDistributedBackend):
        def __init__(self, client: Any, arrays: tuple[Any, ...], futures: list[Any]) -> None:
            super().__init__(client=client)
            # joblib finds an argument's future by the argument's id: keep the arrays alive.
            self._scatter = list(arrays)
            self.data_futures = {id(a): f for a, f in zip(arrays, futures, strict=True)}

        # joblib scatters other large arguments only while this per-call cache exists.
        def start_call(self) -> None:
            super().start_call()
            self.call_data_futures: dict[Any, Any] | None = None

        def stop_call(self) -> None:
            self.call_data_futures = {}
            super().stop_call()

    return SharedDataBackend
