"""Scale-out on a Dask LocalCluster: same results as local, and a killed worker loses nothing."""

import os
import signal
import threading
import time

import numpy as np
import pytest

from shallowvision import ConfigError
from shallowvision._dask import dask_backend, dask_client, parse_dask
from shallowvision.benchmark import read_benchmark_rows, run_benchmark
from shallowvision.datasets import load_splits
from shallowvision.models import compare_models, tune_model


def test_parse_dask():
    assert parse_dask("local") == ("local", 2) and parse_dask("local:3") == ("local", 3)
    assert parse_dask("tcp://10.0.0.1:8786") == ("remote", "tcp://10.0.0.1:8786")
    with pytest.raises(
        ConfigError,
        match=r"expected local, local:N, local:N:MEMORY \(e.g. local:2:3GB\), or tcp://host:port",
    ):
        parse_dask("yarn")


def test_unreachable_scheduler_is_a_clear_error():
    # A port nobody listens on is refused at once: Dask's client alone retried for 15 s.
    start = time.perf_counter()
    with (
        pytest.raises(ConfigError, match=r"cannot reach the scheduler \(.*refused"),
        dask_backend("tcp://127.0.0.1:1"),
    ):
        pass
    assert time.perf_counter() - start < 5


@pytest.fixture(scope="module")
def splits():
    return load_splits("digits", validation_size=0.2, random_state=0)


@pytest.fixture(scope="module")
def local_results(splits):
    """The comparison and the search run here, which the clusters' must equal: seeded,
    so run once for the module (the search alone takes seconds)."""
    from types import SimpleNamespace

    from shallowvision._dask import on_dask

    assert not on_dask()
    return SimpleNamespace(
        compared=compare_models(
            ["lr", "nb", "knn"], splits.train, splits.validation, random_state=0
        ),
        tuned=tune_model(
            "knn", splits.train, splits.validation, search="halving-grid", random_state=0
        ),
    )


@pytest.fixture(scope="module")
def local_cluster():
    # The client only: each test turns joblib's Dask backend on where it wants it, so
    # the reference runs in the same test stay local.
    with dask_client("local:2") as client:
        yield client


@pytest.fixture
def cluster(local_cluster):
    # Both workers, also after a test that killed some (their nannies restart them).
    local_cluster.wait_for_workers(2, timeout=60)
    return local_cluster


def test_local_cluster_gives_the_local_results(splits, local_results, cluster):
    from distributed import get_task_stream

    local, tuned_local = local_results.compared, local_results.tuned

    with dask_backend_reuse(cluster), get_task_stream(cluster) as stream:
        remote = compare_models(
            ["lr", "nb", "knn"], splits.train, splits.validation, random_state=0
        )
        tuned_remote = tune_model(
            "knn", splits.train, splits.validation, search="halving-grid", random_state=0
        )
    # The work really ran on both workers of the cluster.
    assert len(stream.data) >= 3 + 10 and len({t["worker"] for t in stream.data}) == 2
    # Predicted labels are identical; probabilities may differ in the last bits, as
    # distance computations on arrays moved between processes take other BLAS paths.
    labels = ("accuracy", "balanced_accuracy", "f1_macro")
    assert [[getattr(r, q) for q in labels] for r in remote.rows] == [
        [getattr(r, q) for q in labels] for r in local.rows
    ]
    for q in ("roc_auc", "log_loss", "brier"):
        assert [getattr(r, q) for r in remote.rows] == pytest.approx(
            [getattr(r, q) for r in local.rows], rel=1e-7
        )
    assert tuned_remote.best_params == tuned_local.best_params
    assert tuned_remote.best_cv_score == tuned_local.best_cv_score


def test_a_killed_worker_does_not_lose_the_search(splits, local_results, cluster):
    killed_at = []

    def kill_one_worker_mid_search():
        # Wait until the search has fits running on the cluster, then kill a worker.
        deadline = time.monotonic() + 60
        while not any(cluster.processing().values()) and time.monotonic() < deadline:
            time.sleep(0.01)
        pid = next(iter(cluster.run(os.getpid).values()))
        os.kill(pid, signal.SIGKILL)
        killed_at.append(time.monotonic())

    killer = threading.Thread(target=kill_one_worker_mid_search)
    killer.start()
    with dask_backend_reuse(cluster):
        result = tune_model(
            "knn", splits.train, splits.validation, search="halving-grid", random_state=0
        )
    finished_at = time.monotonic()
    killer.join()
    reference = local_results.tuned
    assert killed_at and killed_at[0] < finished_at, "the worker died after the search"
    assert result.best_params == reference.best_params
    assert result.best_cv_score == reference.best_cv_score
    assert result.candidates == reference.candidates


def test_shared_data_outlives_every_worker_that_held_it(splits, cluster):
    import joblib
    from distributed import wait

    from shallowvision._dask import shared_on_cluster

    X, y = splits.train.X, splits.train.y
    with dask_backend_reuse(cluster), shared_on_cluster(X, y):
        futures = list(joblib.parallel.get_active_backend()[0].data_futures.values())
        wait(futures)
        holders = {w for ws in cluster.who_has(futures).values() for w in ws}
        for pid in cluster.run(os.getpid, workers=list(holders)).values():
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while holders & set(cluster.scheduler_info()["workers"]) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not holders & set(cluster.scheduler_info()["workers"])
        # Scattered data would be gone for good (its futures cancelled); these are rebuilt.
        X_back, y_back = cluster.gather(futures)
        np.testing.assert_array_equal(X_back, X)
        np.testing.assert_array_equal(y_back, y)
        sums = joblib.Parallel(n_jobs=-1)(joblib.delayed(_weighted_sum)(X, y, k) for k in range(4))
    assert sums == [_weighted_sum(X, y, k) for k in range(4)]


def _weighted_sum(X, y, k):
    return int(X.astype(np.int64).sum(axis=1) @ (y == k))


def test_benchmark_on_the_cluster_streams_the_local_rows(splits, cluster, tmp_path):
    from distributed import get_task_stream

    only = ["Perceptron", "GaussianNB"]
    local = run_benchmark(splits.train, splits.test, only=only, repeats=2)
    out = tmp_path / "bench.jsonl"
    with dask_backend_reuse(cluster), get_task_stream(cluster) as stream:
        remote = run_benchmark(splits.train, splits.test, only=only, repeats=2, out=out)
    assert len({t["worker"] for t in stream.data}) == 2
    # Rows come back in grid order whatever order they finished in on the cluster.
    assert [(r.key, r.scores) for r in remote.rows] == [(r.key, r.scores) for r in local.rows]
    assert sorted(r.key for r in read_benchmark_rows(out)) == sorted(r.key for r in local.rows)
    with (
        dask_backend_reuse(cluster),
        pytest.raises(
            ConfigError,
            match="time_limit= stops fits in local worker processes; it cannot run on a Dask cluster",
        ),
    ):
        run_benchmark(splits.train, splits.test, only=["SVC"], time_limit=5)


def test_time_limit_and_dask_do_not_mix(splits, cluster):
    with (
        dask_backend_reuse(cluster),
        pytest.raises(
            ConfigError,
            match="time_limit= stops fits in local worker processes; it cannot run on a Dask cluster",
        ),
    ):
        compare_models(["nb"], splits.train, splits.validation, time_limit=5)


def dask_backend_reuse(client):
    """joblib's Dask backend on an existing client (the module's cluster)."""
    import joblib

    return joblib.parallel_config(backend="dask")


# -- an existing scheduler (tcp://host:port) -------------------------------------------------
def _free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def scheduler():
    """A distributed scheduler and a worker with two processes, started as separate
    programs on 127.0.0.1, as an existing cluster would be (about 10 s to start)."""
    import subprocess
    import sys

    from distributed import Client

    address = f"tcp://127.0.0.1:{_free_port()}"
    common = ["--no-dashboard"]
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "distributed.cli.dask_scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                address.rsplit(":", 1)[1],
                *common,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    processes.append(
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "distributed.cli.dask_worker",
                address,
                "--host",
                "127.0.0.1",
                "--nworkers",
                "2",
                "--nthreads",
                "1",
                *common,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with Client(address, timeout="2s") as probe:
                    probe.wait_for_workers(2, timeout=120)
                break
            except OSError:
                assert time.monotonic() < deadline, "the scheduler did not start"
                time.sleep(0.5)
        yield address
    finally:
        # Shutting the cluster down through its scheduler is quicker than signals to
        # each program, whose nannies wait for their workers to drain.
        try:
            with Client(address, timeout="5s") as last:
                last.shutdown()
        except OSError:
            pass
        for process in reversed(processes):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.terminate()
                process.wait(timeout=30)


@pytest.mark.slow
def test_an_existing_scheduler_gives_the_local_results(splits, local_results, scheduler, tmp_path):
    import json
    import subprocess

    from distributed import get_task_stream

    from test_cli import EXE

    local = local_results.compared
    with dask_backend(scheduler) as client, get_task_stream(client) as stream:
        assert len(client.scheduler_info()["workers"]) == 2
        remote = compare_models(
            ["lr", "nb", "knn"], splits.train, splits.validation, random_state=0
        )
    assert len({t["worker"] for t in stream.data}) == 2
    labels = ("accuracy", "balanced_accuracy", "f1_macro")
    assert [[getattr(r, q) for q in labels] for r in remote.rows] == [
        [getattr(r, q) for q in labels] for r in local.rows
    ]
    # The cluster is someone else's: it is still there after the work, with its workers.
    from distributed import Client

    with Client(scheduler, timeout="5s") as again:
        assert len(again.scheduler_info()["workers"]) == 2
    # The command line reaches the same scheduler.
    out = subprocess.run(
        [
            EXE,
            "compare",
            "digits",
            "-m",
            "lr,nb,knn",
            "--validation-size",
            "0.2",
            "--dask",
            scheduler,
            "--out",
            str(tmp_path / "c.json"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    rows = {r["model"]: r for r in json.loads((tmp_path / "c.json").read_text())["rows"]}
    assert [rows[r.model]["accuracy"] for r in local.rows] == [r.accuracy for r in local.rows]
