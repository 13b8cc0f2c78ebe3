"""Scale-out on a Dask LocalCluster: same results as local, and a killed worker loses nothing."""

import os
import signal
import threading
import time

import pytest

from shallowvision import ConfigError
from shallowvision._dask import dask_backend, parse_dask
from shallowvision.datasets import load_splits
from shallowvision.models import compare_models, tune_model


def test_parse_dask():
    assert parse_dask("local") == ("local", 2) and parse_dask("local:3") == ("local", 3)
    assert parse_dask("tcp://10.0.0.1:8786") == ("remote", "tcp://10.0.0.1:8786")
    with pytest.raises(ConfigError, match="expected local, local:N, or tcp://host:port"):
        parse_dask("yarn")


def test_unreachable_scheduler_is_a_clear_error():
    with (
        pytest.raises(ConfigError, match="cannot reach the scheduler"),
        dask_backend("tcp://127.0.0.1:1"),
    ):
        pass


@pytest.fixture(scope="module")
def splits():
    return load_splits("digits", validation_size=0.2, random_state=0)


@pytest.fixture(scope="module")
def cluster():
    with dask_backend("local:2") as client:
        yield client


def test_local_cluster_gives_the_local_results(splits, cluster):
    # Outside the fixture's with-block the local backend is restored for the reference run.
    local = compare_models(["lr", "nb", "knn"], splits.train, splits.validation, random_state=0)
    from distributed import get_task_stream

    with dask_backend_reuse(cluster), get_task_stream(cluster) as stream:
        remote = compare_models(
            ["lr", "nb", "knn"], splits.train, splits.validation, random_state=0
        )
        tuned_remote = tune_model(
            "knn", splits.train, splits.validation, search="halving-grid", random_state=0
        )
    # The work really ran on both workers of the cluster.
    assert len(stream.data) >= 3 + 10 and len({t["worker"] for t in stream.data}) == 2
    tuned_local = tune_model(
        "knn", splits.train, splits.validation, search="halving-grid", random_state=0
    )
    quality = ("accuracy", "f1_macro", "roc_auc", "log_loss")
    assert [[getattr(r, q) for q in quality] for r in remote.rows] == [
        [getattr(r, q) for q in quality] for r in local.rows
    ]
    assert tuned_remote.best_params == tuned_local.best_params
    assert tuned_remote.best_cv_score == tuned_local.best_cv_score


def test_a_killed_worker_does_not_lose_the_search(splits, cluster):
    victims = []

    def kill_one_worker():
        time.sleep(2)
        pid = next(iter(cluster.run(os.getpid).values()))
        victims.append(pid)
        os.kill(pid, signal.SIGKILL)

    killer = threading.Thread(target=kill_one_worker)
    killer.start()
    with dask_backend_reuse(cluster):
        result = tune_model(
            "knn", splits.train, splits.validation, search="halving-grid", random_state=0
        )
    killer.join()
    reference = tune_model(
        "knn", splits.train, splits.validation, search="halving-grid", random_state=0
    )
    assert victims and result.best_params == reference.best_params
    assert result.best_cv_score == reference.best_cv_score


def test_time_limit_and_dask_do_not_mix(splits, cluster):
    with (
        dask_backend_reuse(cluster),
        pytest.raises(ConfigError, match="cannot be combined with --dask"),
    ):
        compare_models(["nb"], splits.train, splits.validation, time_limit=5)


def dask_backend_reuse(client):
    """joblib's Dask backend on an existing client (the module's cluster)."""
    import joblib

    return joblib.parallel_config(backend="dask")
