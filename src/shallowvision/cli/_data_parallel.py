"""``shallowvision compare --data-parallel``: images partitioned on a Dask cluster."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from shallowvision.cli._common import check_task, model_progress
from shallowvision.exceptions import ConfigError


def check_data_parallel(
    names: list[str],
    dask: str | None,
    task: str,
    positive: str | None,
    n_per_class: int | None,
    test_n_per_class: int | None,
    n_jobs: int | None,
    time_limit: float | None,
) -> None:
    """Refuse, before any work, what --data-parallel cannot do."""
    from shallowvision.models import data_parallel_model_names

    able = data_parallel_model_names()
    unable = [n for n in names if n not in able]
    if unable:
        raise ConfigError(
            f"--data-parallel: {', '.join(unable)} cannot be fitted data-parallel; the models "
            f"that can are: {', '.join(able)}"
        )
    if dask is None:
        raise ConfigError(
            "--data-parallel fits on a Dask cluster: add --dask local:N[:MEMORY] or --dask tcp://host:port"
        )
    for flag, value in (
        ("--n-per-class", n_per_class),
        ("--test-n-per-class", test_n_per_class),
        ("--n-jobs", n_jobs),
        ("--time-limit", time_limit),
    ):
        if value is not None:
            raise ConfigError(
                f"--data-parallel cannot be combined with {flag}: it trains on every training "
                "image, each worker with its own threads, until the fit ends"
            )
    check_task(task, positive)


@contextmanager
def compared_data_parallel(
    dataset: str,
    names: list[str],
    dask: str,
    *,
    test: bool,
    validation_size: float,
    positive: str | None,
    seed: int,
    params: dict[str, dict[str, Any]],
    keep_models: bool,
    data_dir: Path | None,
) -> Iterator[tuple[Any, Any]]:
    """Compare on the cluster; yield the comparison and the training images, with the
    cluster still up (saving a model fingerprints its training images there)."""
    from shallowvision._console import stderr_console
    from shallowvision._dask import dask_client
    from shallowvision.datasets import read_partitioned
    from shallowvision.models import compare_data_parallel

    options: dict[str, Any] = {
        "validation_size": validation_size,
        "positive": positive,
        "random_state": seed,
        "data_dir": data_dir,
    }
    with dask_client(dask) as client:
        train = read_partitioned(dataset, "train", **options)
        target = read_partitioned(dataset, "test" if test else "validation", **options)
        with model_progress(names) as on_progress:
            comparison = compare_data_parallel(
                names,
                train,
                target,
                random_state=seed,
                params=params,
                keep_models=keep_models,
                client=client,
                on_progress=on_progress,
                on_retry=lambda note: stderr_console().print(f"[yellow]{note}[/yellow]"),
            )
        yield comparison, train
