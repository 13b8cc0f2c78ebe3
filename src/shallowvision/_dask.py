"""Scale-out through an existing engine: a Dask cluster behind joblib's Dask backend."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

from shallowvision._optional import import_optional
from shallowvision.exceptions import ConfigError

__all__ = ["dask_backend", "on_dask", "parse_dask", "replicated"]

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
def dask_backend(spec: str | None) -> Iterator[Any]:
    """Run the enclosed joblib work (searches, comparisons) on a Dask cluster.

    ``spec`` is ``"local"`` / ``"local:N"`` (start a LocalCluster of N worker
    processes on 127.0.0.1) or ``"tcp://host:port"`` (an existing scheduler);
    ``None`` runs locally and yields None. Yields the ``distributed.Client``.
    Workers that die are restarted by their nannies and their tasks rescheduled.
    """
    if spec is None:
        yield None
        return
    kind, value = parse_dask(spec)
    distributed = import_optional("distributed")
    import joblib

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
        with client, joblib.parallel_config(backend="dask"):
            yield client
    finally:
        if cluster is not None:
            cluster.close()


def on_dask() -> bool:
    """Whether joblib's active backend is Dask's (inside :func:`dask_backend`)."""
    from joblib.parallel import get_active_backend

    backend, _ = get_active_backend()
    return "dask" in type(backend).__name__.lower()


def replicated(*arrays: Any) -> Any:
    """On a Dask cluster, copy ``arrays`` to every worker before the enclosed work.

    joblib otherwise scatters large arguments to a single worker; data scattered
    by the client has no lineage to rebuild it from, so losing that worker would
    lose every task depending on it. Replicated, a worker's death costs only its
    running tasks, which the scheduler reruns elsewhere. Locally, does nothing.
    """
    if not on_dask():
        return nullcontext()
    import joblib

    return joblib.parallel_config(backend="dask", scatter=list(arrays))
