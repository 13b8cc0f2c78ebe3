"""Scale-out through an existing engine: a Dask cluster behind joblib's Dask backend."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

from shallowvision._optional import import_optional
from shallowvision.exceptions import ConfigError

__all__ = ["dask_backend", "dask_client", "on_dask", "parse_dask", "replicated"]

_LOCAL = re.compile(r"^local(?::(\d+))?$")


def parse_dask(spec: str) -> tuple[str, int | str]:
    """``"local"`` -> ("local", 2); ``"local:4"`` -> ("local", 4); ``"tcp://h:8786"`` -> ("remote", address)."""
    text = spec.strip()
    match = _LOCAL.match(text)
    if match:
        n = int(match.group(1) or 2)
        if n < 1:
            raise ConfigError(f"--dask {spec}: a local cluster needs at least one worker")
        return "local", n
    if text.startswith(("tcp://", "tls://")) and ":" in text[6:]:
        return "remote", text
    raise ConfigError(f"--dask {spec!r}: expected local, local:N, or tcp://host:port")


@contextmanager
def dask_client(spec: str) -> Iterator[Any]:
    """A ``distributed.Client`` for ``spec``, closed (with its local cluster) on exit.

    ``spec`` is ``"local"`` / ``"local:N"`` (start a LocalCluster of N worker processes
    on 127.0.0.1) or ``"tcp://host:port"`` (an existing scheduler). Workers that die
    are restarted by their nannies and their tasks rescheduled.
    """
    kind, value = parse_dask(spec)
    distributed = import_optional("distributed")
    cluster = None
    try:
        if kind == "local":
            cluster = distributed.LocalCluster(
                n_workers=int(value),
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
                silence_logs=logging.ERROR,
            )
            client = distributed.Client(cluster)
        else:
            try:
                client = distributed.Client(str(value), timeout="15s")
            except OSError as exc:
                raise ConfigError(f"--dask {value}: cannot reach the scheduler ({exc})") from None
        with client:
            yield client
    finally:
        if cluster is not None:
            cluster.close()


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


#: Attempts at copying the data to every worker when one dies during the copy.
_SCATTER_ATTEMPTS = 5


def replicated(*arrays: Any) -> Any:
    """On a Dask cluster, copy ``arrays`` to every worker before the enclosed work.

    joblib otherwise scatters large arguments to a single worker; data scattered
    by the client has no lineage to rebuild it from, so losing that worker would
    lose every task depending on it. Replicated, a worker's death costs only its
    running tasks, which the scheduler reruns elsewhere. A worker that dies during
    the copy itself is waited for (its nanny restarts it) and the copy retried.
    Locally, does nothing.
    """
    if not on_dask():
        return nullcontext()
    import joblib
    from distributed import get_client
    from distributed.comm import CommClosedError
    from joblib._dask import DaskDistributedBackend

    client = get_client()
    for attempt in range(_SCATTER_ATTEMPTS):
        try:
            backend = DaskDistributedBackend(client=client, scatter=list(arrays))
            break
        except (CommClosedError, OSError):
            if attempt == _SCATTER_ATTEMPTS - 1:
                raise
            client.wait_for_workers(1, timeout=60)
            time.sleep(0.5 * (attempt + 1))
    return joblib.parallel_config(backend=backend)
