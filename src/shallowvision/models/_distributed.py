"""Data-parallel training on a Dask cluster: the training images stay partitioned on the
workers and a zoo model is fitted by its library's own distributed estimator.

``lgbm`` is fitted by ``lightgbm.DaskLGBMClassifier`` and ``xgb`` by
``xgboost.dask.DaskXGBClassifier`` (which bins the data partition by partition through
``DaskQuantileDMatrix``); each worker trains on the rows it holds and the workers
exchange histograms, never rows. The result is the zoo's ordinary local pipeline, which
saves as a normal model file and predicts like the model fitted on one machine.
"""

from __future__ import annotations

import gc
import math
import re
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from typing import TYPE_CHECKING, Any

import numpy as np

from shallowvision._metrics import summary_metrics
from shallowvision._optional import import_optional
from shallowvision.exceptions import ConfigError, DataError, ShallowVisionError
from shallowvision.models._registry import get_model_spec

if TYPE_CHECKING:
    from shallowvision.models._compare import ModelScore

__all__ = [
    "WorkerLostError",
    "data_parallel_model_names",
    "fit_data_parallel",
    "score_data_parallel",
]


class WorkerLostError(ShallowVisionError):
    """A data-parallel fit failed because workers left the cluster (or the links between
    them failed), also when fitted again."""


def _fit_lgbm(client: Any, X: Any, y: Any, clf: Any) -> Any:
    lightgbm = import_optional("lightgbm")
    params = clf.get_params()
    # Each worker trains with its own thread count: LightGBM's Dask interface sets it
    # (and says that n_jobs is ignored).
    params.pop("n_jobs", None)
    model = lightgbm.DaskLGBMClassifier(client=client, **params)
    model.fit(X, y)
    local = model.to_local()
    # What the workers were told about their threads and network is not the model's:
    # drop it, as LightGBM's Dask interface does for the ports, so the local model has
    # the zoo's parameters.
    for key in ("num_threads", "time_out", "tree_learner"):
        local._other_params.pop(key, None)
    return local.set_params(n_jobs=clf.n_jobs)


def _fit_xgb(client: Any, X: Any, y: Any, clf: Any) -> Any:
    xgboost = import_optional("xgboost")
    try:
        from xgboost import dask as xgb_dask
    except ImportError as exc:  # xgboost.dask needs dask's dataframe extra (pyarrow)
        raise ShallowVisionError(
            f"xgboost's Dask interface cannot be imported ({exc}): pip install 'shallowvision[dask]'"
        ) from None
    params = clf.get_params()
    params.pop("n_jobs", None)  # each worker uses its own threads
    model = xgb_dask.DaskXGBClassifier(**params)
    model.client = client
    model.fit(X, y)
    # The same booster in the estimator the zoo uses, with no reference to the cluster.
    local = xgboost.XGBClassifier(**clf.get_params())
    local.load_model(bytearray(model.get_booster().save_raw("ubj")))
    return local


#: Zoo models with a data-parallel implementation: name -> fit(client, X, y, classifier).
_FITTERS: dict[str, Callable[[Any, Any, Any, Any], Any]] = {"lgbm": _fit_lgbm, "xgb": _fit_xgb}


def data_parallel_model_names() -> list[str]:
    """The zoo models that :func:`fit_data_parallel` can fit."""
    return list(_FITTERS)


def _check_model(name: str) -> None:
    get_model_spec(name)  # an unknown name lists the zoo
    if name not in _FITTERS:
        raise ConfigError(
            f"model {name!r} has no data-parallel implementation; the models that have one "
            f"are: {', '.join(_FITTERS)}"
        )


def _client(client: Any) -> Any:
    if client is not None:
        return client
    distributed = import_optional("distributed")
    try:
        return distributed.default_client()
    except ValueError:
        raise ConfigError(
            "data-parallel fitting needs a Dask cluster: create a distributed.Client first, or "
            "pass client="
        ) from None


#: Seconds any single request to the scheduler or the workers may take.
_RPC_TIMEOUT = 30.0


def _workers(client: Any) -> list[str]:
    # Asked of the scheduler each time: ``scheduler_info()`` returns a copy that the
    # client's own periodic update can replace by one without the workers.
    return sorted(client.nthreads(callback_timeout=_RPC_TIMEOUT))


def _lost_workers(client: Any, members: set[str], grace: float = 5.0) -> list[str]:
    """The members gone from the cluster after a fit failed.

    A fit can fail on a dead worker's closed connection a moment before the scheduler
    has removed that worker, so an error with every member present is looked at again
    for ``grace`` seconds; and a peer can follow a lost worker a moment later (LightGBM
    aborts some), so a loss is looked at once more a second later.
    """
    deadline = time.monotonic() + grace
    while True:
        lost = members - set(_workers(client))
        if lost:
            time.sleep(1.0)
            return sorted(lost | (members - set(_workers(client))))
        if time.monotonic() >= deadline:
            return []
        time.sleep(0.2)


def _unrunnable(client: Any, keys: list[Any]) -> set[Any]:
    """The keys the scheduler will not compute again: their task, or one they wait for,
    is in its ``no-worker`` state, or the scheduler has forgotten them.

    A task bound loosely to a worker runs elsewhere once that worker is gone, but only
    if some worker is running when the scheduler decides; if none is (every worker died
    at once, as LightGBM's workers can when a peer dies: they abort), the task waits for
    its own worker, and the replacements that join are not offered it.
    """

    # Defined here, so that it travels by value: the scheduler need not import this module.
    def stuck(keys: list[Any], dask_scheduler: Any) -> list[Any]:
        out = []
        for key in keys:
            todo, seen = [key], set()
            while todo:
                ts = dask_scheduler.tasks.get(todo.pop())
                if ts is None or ts.state == "no-worker":
                    out.append(key)
                    break
                if ts.state != "memory" and ts.key not in seen:
                    seen.add(ts.key)
                    todo.extend(dts.key for dts in ts.dependencies)
        return out

    return set(client.run_on_scheduler(stuck, keys, callback_timeout=_RPC_TIMEOUT))


def _pending(futures: list[Any], timeout: float) -> list[Any]:
    """The futures still pending after waiting up to ``timeout`` seconds for them all."""
    from distributed import wait

    with suppress(TimeoutError):
        wait(futures, timeout=timeout)
    return [f for f in futures if f.status == "pending"]


class _Placement:
    """The training chunks read and held on the workers, a contiguous run of them on each.

    Each worker then holds about 1/N of the rows, whatever order the reads finish in,
    and the same cluster gets the same split of rows. When a worker dies, the scheduler
    reads its chunks again at once on the workers left (their tasks have lineage); once
    its replacement has joined, :meth:`spread` moves those chunks to the workers holding
    the fewest rows. The chunks of the other workers stay where they are: a lost worker
    costs the reads of its own chunks. A chunk the scheduler will not read again (every
    worker was lost at once) is read afresh, under new keys, on a worker there is.
    """

    def __init__(self, client: Any, X: Any, y: Any, timeout: float) -> None:
        self.client = client
        self.timeout = timeout  # for a loss: see fit_data_parallel's worker_timeout
        workers = _workers(client)
        if not workers:
            raise ConfigError("the Dask cluster has no workers")
        if X.numblocks[0] < len(workers):
            rows = max(1, math.ceil(X.shape[0] / len(workers)))
            X, y = X.rechunk({0: rows}), y.rechunk({0: rows})
        self.rows = X.chunks[0]
        self.n_workers = len(workers)
        n = X.numblocks[0]
        self.sources = [(X.blocks[i], y.blocks[i]) for i in range(n)]
        self.assigned = [workers[i * len(workers) // n] for i in range(n)]
        self.blocks = [self._persist(list(self.sources[i]), w) for i, w in enumerate(self.assigned)]
        self.moves = 0

    def __enter__(self) -> _Placement:
        return self

    def __exit__(self, *exc: object) -> None:
        # The chunks held on the workers go with the fit, also when it fails: an error's
        # traceback keeps the fit's frames, and with them the chunks, for as long as the
        # error is kept (pytest's report, an interactive session's last traceback).
        futures = self.futures()
        self.blocks = []
        with suppress(Exception):  # a closed client holds nothing
            self.client.cancel(futures)

    def _persist(self, arrays: list[Any], worker: str) -> list[Any]:
        # A loose binding: a chunk whose worker died is read again on another one.
        return list(self.client.persist(arrays, workers=[worker], allow_other_workers=True))

    def _chunk_futures(self, i: int) -> list[Any]:
        from distributed import futures_of

        return [f for a in self.blocks[i] for f in futures_of(a)]

    def futures(self) -> list[Any]:
        return [f for i in range(len(self.blocks)) for f in self._chunk_futures(i)]

    def arrays(self) -> tuple[Any, Any]:
        import dask.array as da

        return (
            da.concatenate([x for x, _ in self.blocks]),
            da.concatenate([y for _, y in self.blocks]),
        )

    def settle(self, deadline: float | None = None) -> None:
        """Wait until every chunk is read; a reading error (a bad file) is raised here.

        A chunk the scheduler will not read again is read afresh on a live worker, so
        that the wait ends; past ``deadline`` (a ``time.monotonic()``), the wait is a
        :class:`WorkerLostError`.
        """
        while True:
            futures = self.futures()
            pending = _pending(futures, 2.0)
            if not pending:
                break
            if deadline is not None and time.monotonic() > deadline:
                raise WorkerLostError(
                    f"{len(pending)} training chunk(s) were not read again on the workers "
                    "left in the time allowed"
                )
            stuck = _unrunnable(self.client, [f.key for f in pending])
            for i in range(len(self.blocks)):
                if any(f.key in stuck for f in self._chunk_futures(i)):
                    self._read_again(i, deadline)
        for future in futures:
            if future.status == "error":
                future.result()  # the task's own exception, e.g. a DataError

    def _read_again(self, i: int, deadline: float | None) -> None:
        """Read chunk ``i`` afresh, under new keys, on its worker or the least loaded one."""
        import dask.array as da
        from dask.graph_manipulation import clone

        limit = time.monotonic() + self.timeout if deadline is None else deadline
        live = _workers(self.client)
        while not live:
            if time.monotonic() > limit:
                raise WorkerLostError("the Dask cluster has no workers left")
            time.sleep(0.2)
            live = _workers(self.client)
        if self.assigned[i] not in live:
            rows = dict.fromkeys(live, 0)
            for j, worker in enumerate(self.assigned):
                if worker in rows and j != i:
                    rows[worker] += self.rows[j]
            self.assigned[i] = min(rows, key=lambda w: (rows[w], w))
        self.moves += 1
        fresh = clone(*self.sources[i])
        # Named after the chunk, so that its reads can be told apart from other work.
        named = [
            da.map_blocks(_same, c, name=f"read-again-{self.moves}-{a.name}", dtype=a.dtype)
            for c, a in zip(fresh, self.sources[i], strict=True)
        ]
        self.blocks[i] = self._persist(named, self.assigned[i])

    def holders(self) -> list[set[str]]:
        """The workers holding each chunk (its pixels and its labels)."""
        who = self.client.who_has(self.futures())
        return [
            {w for f in self._chunk_futures(i) for w in who.get(f.key, ())}
            for i in range(len(self.blocks))
        ]

    def spread(self) -> None:
        """After workers were lost: wait up to ``self.timeout`` seconds for replacements (a
        nanny restarts a killed worker within seconds) and for the lost chunks to be read
        again, then move each chunk that is not on its own worker to the worker holding
        the fewest rows."""
        import dask.array as da

        deadline = time.monotonic() + self.timeout
        while len(_workers(self.client)) < self.n_workers and time.monotonic() < deadline:
            time.sleep(0.2)
        self.settle(deadline)
        live = set(_workers(self.client))
        if not live:
            raise WorkerLostError("the Dask cluster has no workers left")
        holders = self.holders()
        rows = dict.fromkeys(sorted(live), 0)
        stray = []
        for i, (worker, held) in enumerate(zip(self.assigned, holders, strict=True)):
            if worker in live and held == {worker}:
                rows[worker] += self.rows[i]
            else:
                stray.append(i)
        for i in stray:
            target = min(rows, key=lambda w: (rows[w], w))
            rows[target] += self.rows[i]
            self.moves += 1
            # A task under a new name that takes the chunk as it is: run on the target,
            # it copies the chunk there, and the old copy goes with its last reference.
            moved = [
                da.map_blocks(_same, a, name=f"placed-{self.moves}-{a.name}", dtype=a.dtype)
                for a in self.blocks[i]
            ]
            self.blocks[i] = self._persist(moved, target)
            self.assigned[i] = target
        self.settle(deadline)

    def check_classes(self) -> np.ndarray:
        """The classes present, checked to be on every worker that holds rows.

        LightGBM's workers each encode the labels they hold, so a worker without some
        class would number the classes differently from the others.
        """
        import dask.array as da

        futures = self.client.compute([da.bincount(y) for _, y in self.blocks])
        if _pending(futures, self.timeout):
            raise WorkerLostError(
                f"the training labels could not be counted on the workers in {self.timeout:g} s"
            )
        counts = self.client.gather(futures)
        width = max(len(c) for c in counts)
        by_worker: dict[str, np.ndarray] = {}
        for worker, c in zip(self.assigned, counts, strict=True):
            padded = np.pad(c, (0, width - len(c)))
            by_worker[worker] = by_worker.get(worker, 0) + padded
        present = np.flatnonzero(sum(by_worker.values()))
        if len(present) < 2:
            raise DataError(
                "the training images hold a single class; a classifier needs at least two"
            )
        for worker, seen in sorted(by_worker.items()):
            missing = [str(k) for k in present if seen[k] == 0]
            if missing:
                raise DataError(
                    f"worker {worker} holds no training image of class(es) "
                    f"{', '.join(missing[:5])}; shuffle the rows, or use fewer, larger chunks"
                )
        return present


def fit_data_parallel(
    model: str,
    X: Any,
    y: Any,
    *,
    random_state: int = 0,
    params: dict[str, Any] | None = None,
    client: Any = None,
    retries: int = 1,
    worker_timeout: float = 60.0,
    on_retry: Callable[[str], None] | None = None,
) -> Any:
    """Fit a zoo model data-parallel on a Dask cluster, the images staying on the workers.

    Parameters
    ----------
    model : str
        A zoo name with a data-parallel implementation (:func:`data_parallel_model_names`):
        ``"lgbm"`` (``lightgbm.DaskLGBMClassifier``) or ``"xgb"``
        (``xgboost.dask.DaskXGBClassifier``).
    X, y : dask.array.Array
        Flattened uint8 images ``(n, height * width)`` and int labels, chunked by rows,
        e.g. from :func:`shallowvision.datasets.read_partitioned`.
    random_state : int
        The zoo's seed (bagging and column sampling draw with it on every worker).
    params : dict, optional
        Parameters of the zoo model, as for :func:`get_model` (``n_estimators=50``).
    client : distributed.Client, optional
        The cluster; by default the current client.
    retries : int
        Whole fits to run again after workers were lost during a fit. LightGBM's and
        XGBoost's collectives cannot lose a member mid-fit: the fit fails, the chunks the
        lost worker held are read again by their tasks, and the fit starts over on the
        workers there are (after waiting for replacements, and spreading the chunks over
        them). A loss can take peers along, whose chunks are then read again too:
        LightGBM's workers can abort when a peer dies, and one still linking up with the
        dead peer would wait for ever, so it is restarted. A fit that LightGBM's sockets
        between the workers fail with no worker lost starts over the same way.
    worker_timeout : float
        Seconds to wait, after a loss, for the replacements and for the lost chunks to
        be read again, and for a worker to restart; past them, a :class:`WorkerLostError`.
    on_retry : callable, optional
        Called with a one-line reason before each retry.

    Returns
    -------
    sklearn.pipeline.Pipeline
        The zoo's pipeline with the fitted classifier: a local model that saves as a
        normal model file and takes flattened uint8 images.

    Raises
    ------
    ConfigError
        For a model without a data-parallel implementation, or no cluster.
    WorkerLostError
        When every attempt lost workers (or their links), or the cluster did not recover
        from a loss in ``worker_timeout`` seconds.
    """
    from sklearn.pipeline import Pipeline

    _check_model(model)
    client = _client(client)
    pipeline = get_model_spec(model).make(random_state=random_state, **(params or {}))
    *before, (last, clf) = pipeline.steps
    extra = [step for step, est in before if est not in (None, "passthrough")]
    if last != "clf" or extra:
        raise ConfigError(
            f"{model}: a data-parallel fit trains the classifier alone; the step(s) "
            f"{', '.join(extra)} would need all the images at once"
        )
    X, y = _check_arrays(X, y)
    fit = _FITTERS[model]
    with _Placement(client, X, y, worker_timeout) as placement:
        for attempt in range(retries + 1):
            placement.settle()
            placement.check_classes()
            members = set(placement.assigned)
            watch = _FitWatch(client, members)
            try:
                with watch:
                    fitted = fit(client, *placement.arrays(), clf)
                break
            except Exception as exc:
                # What the failed fit left on the cluster goes: were it computed again,
                # its copies of the chunks would crowd the workers and its sockets, which
                # cannot be spilled, would fail the tasks that made Dask spill.
                fit_keys = watch.cancel()
                lost = _lost_workers(client, members)
                broken = None if lost else _broken_link(exc)
                if not lost and broken is None:
                    raise
                stuck = _restart_stuck(client, fit_keys, timeout=worker_timeout)
                if attempt == retries:
                    what = (
                        f"lost worker(s) {', '.join(lost)} on each of {retries + 1} "
                        "attempt(s); if they ran out of memory, give the workers more "
                        "(dask='local:N:MEMORY') or add workers"
                        if lost
                        else f"failed on the links between its workers ({broken}) on each "
                        f"of {retries + 1} attempt(s)"
                    )
                    raise WorkerLostError(f"the data-parallel fit of {model} {what}") from None
            # Out of the handler, the failed fit's frames are gone; collecting them
            # releases the futures they held.
            gc.collect()
            if on_retry is not None:
                on_retry(_retry_note(model, lost, broken, stuck))
            placement.spread()
    steps = [*before, ("clf", fitted)]
    return Pipeline(steps, memory=pipeline.memory, verbose=pipeline.verbose)


#: LightGBM's own errors on the sockets between its workers. They can fail a fit with
#: every worker still there (a peer's connection reset while linking up or training,
#: lightgbm#4074); the fit then starts over, as after a lost worker.
_LINK_ERRORS = re.compile(r"Socket (?:send|recv) error|Connecting to rank|Binding port")


def _broken_link(exc: BaseException) -> str | None:
    """The message of a failure of the links between the workers, or None for any other."""
    message = str(exc).strip()
    if type(exc).__name__ == "LightGBMError" and _LINK_ERRORS.search(message):
        return message.splitlines()[0] if message else type(exc).__name__
    return None


def _retry_note(model: str, lost: list[str], broken: str | None, stuck: list[str]) -> str:
    """The one line :func:`fit_data_parallel` passes to ``on_retry`` before a retry."""
    if lost:
        restarted = (
            f"; worker(s) {', '.join(stuck)}, still waiting for them inside the fit, were "
            "restarted, and theirs are read again too"
            if stuck
            else ""
        )
        return (
            f"{model}: worker(s) {', '.join(lost)} left during the fit, which cannot go on "
            f"without them; their chunks are read again{restarted}, and the fit starts over"
        )
    restarted = (
        f"; worker(s) {', '.join(stuck)}, still waiting inside the fit, were restarted, and "
        "their chunks are read again"
        if stuck
        else ""
    )
    return (
        f"{model}: the links between the workers failed during the fit ({broken}) with no "
        f"worker lost{restarted}; the fit starts over"
    )


class _FitWatch:
    """Within it, the fit's tasks are cancelled as soon as a worker holding training rows
    leaves; :meth:`cancel` cancels what the fit left.

    LightGBM binds each worker's training task to that worker: when a peer dies, the
    survivors' tasks fail on the broken sockets (or their process aborts), and a task
    bound to a worker that is gone would wait for it for ever. Cancelling makes the
    fit fail at once, so that it can start over.
    """

    def __init__(self, client: Any, members: set[str]) -> None:
        self.client = client
        self.members = members
        self.before = set(client.futures)
        self.cancelled: list[Any] = []
        self.stop = threading.Event()
        self.watcher = threading.Thread(target=self._watch, name="shallowvision-fit-watch")
        self.watcher.daemon = True

    def __enter__(self) -> _FitWatch:
        self.watcher.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.watcher.join()

    def _watch(self) -> None:
        while not self.stop.wait(0.5):
            try:
                if self.members <= set(_workers(self.client)):
                    continue
                self.cancel()
            except Exception:  # the client is closing: nothing left to cancel
                pass
            return

    def cancel(self) -> list[Any]:
        """Cancel the tasks the fit submitted; returns the keys of all it cancelled (a
        cancelled future leaves the client's futures, and its task can still be running)."""
        from distributed import Future

        keys = [k for k in list(self.client.futures) if k not in self.before]
        self.client.cancel([Future(k, client=self.client) for k in keys])
        self.cancelled.extend(keys)
        return list(self.cancelled)


def _restart_stuck(client: Any, keys: list[Any], timeout: float, grace: float = 10.0) -> list[str]:
    """Restart the workers still running one of the failed fit's tasks after ``grace``
    seconds; returns them.

    A LightGBM worker links up with its peers before it trains, and one waiting for a
    peer that died before linking waits for ever, holding the worker's thread, which
    cancelling does not free (the others fail on their broken sockets at once). Its
    nanny restarts it; its chunks are read again like those of a lost worker.
    """

    def running(keys: set[Any], dask_worker: Any) -> bool:
        return any(ts.key in keys for ts in dask_worker.state.executing)

    wanted, deadline = set(keys), time.monotonic() + grace
    while True:
        answers = client.run(running, wanted, on_error="return", callback_timeout=_RPC_TIMEOUT)
        busy = sorted(w for w, answer in answers.items() if answer is True)
        if not busy or time.monotonic() >= deadline:
            break
        time.sleep(0.5)
    if busy:
        status = client.restart_workers(busy, timeout=timeout, raise_for_error=False)
        failed = [w for w in busy if status.get(w) != "OK"]
        if failed:
            raise WorkerLostError(
                f"worker(s) {', '.join(failed)} still run a task of the failed fit and "
                "could not be restarted"
            )
    return busy


def _same(block: np.ndarray) -> np.ndarray:
    return block


def _check_arrays(X: Any, y: Any) -> tuple[Any, Any]:
    da = import_optional("dask.array")
    if not isinstance(X, da.Array) or not isinstance(y, da.Array):
        raise ConfigError(
            "fit_data_parallel takes dask arrays (X, y), e.g. from "
            f"shallowvision.datasets.read_partitioned; got {type(X).__name__}, {type(y).__name__}"
        )
    if X.ndim != 2 or y.ndim != 1:
        raise DataError(
            f"expected X of shape (n, features) and y of shape (n,); got {X.shape}, {y.shape}"
        )
    if any(math.isnan(c) for c in X.chunks[0]) or any(math.isnan(c) for c in y.chunks[0]):
        raise DataError("X and y need known chunk sizes (call compute_chunk_sizes() first)")
    if X.shape[0] != y.shape[0]:
        raise DataError(
            f"X has {X.shape[0]} rows but y has {y.shape[0]} labels; the counts must match"
        )
    if X.numblocks[1] != 1:
        X = X.rechunk({1: -1})
    if y.chunks[0] != X.chunks[0]:
        y = y.rechunk({0: X.chunks[0]})
    return X, y


def score_data_parallel(
    name: str,
    estimator: Any,
    X: Any,
    y: Any,
    n_classes: int,
    *,
    fit_seconds: float | None = None,
    params: dict[str, Any] | None = None,
) -> ModelScore:
    """:func:`score_fitted` for images on a cluster: the model predicts on the workers.

    Only the predictions and the labels come back, never the images; the prediction
    time is that of reading and predicting every chunk on the cluster.
    """
    import dask
    import dask.array

    from shallowvision._io import skops_size
    from shallowvision.models._compare import ModelScore
    from shallowvision.models._scores import has_proba

    if not has_proba(estimator):
        raise ConfigError(f"{name}: data-parallel scoring needs a model with probabilities")
    # The model travels once, as one task's result, not once per chunk.
    model = dask.delayed(estimator, pure=True, traverse=False)
    width = max(n_classes, 2)
    blocks = [
        dask.array.from_delayed(
            dask.delayed(_predict_proba, pure=True)(block, model),
            shape=(rows, width),
            dtype=np.float64,
        )
        for block, rows in zip(X.to_delayed().ravel(), X.chunks[0], strict=True)
    ]
    start = time.perf_counter()
    scores, y_true = dask.compute(dask.array.concatenate(blocks), y)
    predict_seconds = time.perf_counter() - start
    classes = np.asarray(estimator.classes_)
    labels = classes[np.argmax(scores, axis=1)]
    return ModelScore(
        model=name,
        fit_seconds=fit_seconds,
        predict_seconds_per_1000=predict_seconds / max(len(y_true), 1) * 1000,
        size_bytes=skops_size(estimator),
        scores_kind="proba",
        params=dict(params or {}),
        **summary_metrics(np.asarray(y_true), labels, scores, "proba", n_classes),  # type: ignore[arg-type]
    )


def _predict_proba(block: np.ndarray, model: Any) -> np.ndarray:
    return np.asarray(model.predict_proba(block), dtype=np.float64)


def compare_data_parallel(
    models: Sequence[str],
    train: Any,
    evaluate_on: Any,
    *,
    random_state: int = 0,
    params: dict[str, dict[str, Any]] | None = None,
    keep_models: bool = False,
    client: Any = None,
    on_progress: Callable[[str, str], None] | None = None,
    on_retry: Callable[[str], None] | None = None,
) -> Any:
    """:func:`compare_models` for partitioned images: each model fitted data-parallel.

    ``train`` and ``evaluate_on`` are :class:`~shallowvision.datasets.PartitionedImages`.
    """
    from shallowvision.models._compare import Comparison

    for name in models:
        _check_model(name)
    if train.class_names != evaluate_on.class_names or train.image_shape != evaluate_on.image_shape:
        raise ConfigError(
            f"train and {evaluate_on.split} differ in classes or image shape; read them from one source"
        )
    rows, fitted = [], {}
    for name in models:
        if on_progress:
            on_progress(name, "start")
        start = time.perf_counter()
        estimator = fit_data_parallel(
            name,
            train.images,
            train.labels,
            random_state=random_state,
            params=(params or {}).get(name),
            client=client,
            on_retry=on_retry,
        )
        fit_seconds = time.perf_counter() - start
        row = score_data_parallel(
            name,
            estimator,
            evaluate_on.images,
            evaluate_on.labels,
            train.n_classes,
            fit_seconds=fit_seconds,
            params=(params or {}).get(name),
        )
        rows.append(row)
        if keep_models:
            fitted[name] = estimator
        if on_progress:
            on_progress(name, row.status)
    return Comparison(
        rows=rows,
        dataset=train.name,
        evaluated_on=evaluate_on.split,
        n_train=len(train),
        n_eval=len(evaluate_on),
        class_names=list(train.class_names),
        random_state=random_state,
        models=fitted,
    )
