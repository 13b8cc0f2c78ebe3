"""Helpers shared by commands: loading a task's splits, checking outputs, tables and progress."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from shallowvision.exceptions import ConfigError

TASKS = ("multiclass", "binary")

#: The library's parameter names and the flags that set them. Library messages name the
#: parameter a Python caller typed (``n_per_class=``); the CLI shows its own flag instead.
PARAMETER_FLAGS: dict[str, str] = {
    "allow_version_mismatch": "--allow-version-mismatch",
    "dask": "--dask",
    "data_dir": "--data-dir",
    "expect_sha256": "--expect-sha256",
    "method": "--method",
    "mlflow_uri": "--mlflow",
    "n_explain": "--n-explain",
    "n_per_class": "--n-per-class",
    "test_n_per_class": "--test-n-per-class",
    "out": "--out",
    "out_dir": "--out",
    "random_state": "--seed",
    "resume": "--resume",
    "skip_bad": "--skip-bad",
    "color": "--color",
    "image_size": "--image-size",
    "resize": "--resize",
    "run_id": "--run-id",
    "time_budget": "--time-budget",
    "time_limit": "--time-limit",
    "validation_size": "--validation-size",
}
_PARAMETER = re.compile(r"(?<![\w.-])([a-z][a-z0-9_]*)=(True\b)?")


def as_flags(message: str) -> str:
    """``message`` with each ``parameter=`` of :data:`PARAMETER_FLAGS` written as its flag.

    ``run_id='x'`` becomes ``--run-id 'x'``, a bare ``out_dir=`` becomes ``--out`` and a
    switch's ``resume=True`` becomes ``--resume``; other text is left as it is.
    """

    def flag(match: re.Match[str]) -> str:
        name, switch = match.groups()
        if name not in PARAMETER_FLAGS:
            return match.group(0)
        option = PARAMETER_FLAGS[name]
        after = message[match.end() : match.end() + 1]
        if switch or not after or after.isspace() or after in ",;:)]":
            return option
        return f"{option} "

    return _PARAMETER.sub(flag, message)


def load_task(
    dataset: str,
    *,
    task: str = "multiclass",
    positive: str | None = None,
    n_per_class: int | None = None,
    test_n_per_class: int | None = None,
    validation_size: float | int = 0.1,
    seed: int = 0,
    data_dir: Path | None = None,
    images: dict[str, Any] | None = None,
) -> Any:
    """Train, validation and test splits for a multiclass or one-vs-rest task; ``images``
    are the image-file options of :func:`image_options`."""
    from shallowvision.datasets import load_splits

    check_task(task, positive)
    splits = load_splits(
        dataset,
        validation_size=validation_size,
        n_per_class=n_per_class,
        test_n_per_class=test_n_per_class,
        positive=positive,
        random_state=seed,
        data_dir=data_dir,
        **(images or {}),
    )
    print_skipped(splits.train, splits.test)
    return splits


def image_options(
    color: str | None = None,
    image_size: str | None = None,
    resize: str | None = None,
    skip_bad: bool | None = None,
) -> dict[str, Any]:
    """``--color``, ``--image-size``, ``--resize`` and ``--skip-bad``, validated as a run's
    ``data`` section is, as keyword arguments of :func:`~shallowvision.datasets.load`."""
    from shallowvision.cli._sections import build_section
    from shallowvision.run._config import DataConfig

    data = build_section(
        DataConfig,
        {key: flag for key, flag in PARAMETER_FLAGS.items() if key in _IMAGE_KEYS},
        color=color,
        image_size=image_size,
        resize=resize,
        skip_bad=skip_bad,
    )
    return {key: getattr(data, key) for key in _IMAGE_KEYS}


_IMAGE_KEYS = ("color", "image_size", "resize", "skip_bad")


def print_skipped(*splits: Any) -> None:
    """List, on stderr, the unreadable image files a load with ``--skip-bad`` skipped."""
    from shallowvision._console import stderr_console

    skipped = list(dict.fromkeys(f for split in splits if split is not None for f in split.skipped))
    if skipped:
        console = stderr_console()
        console.print(f"skipped {len(skipped)} unreadable image files:", markup=False)
        for line in skipped:
            console.print(f"  {line}", markup=False, soft_wrap=True)


def check_task(task: str, positive: str | None) -> None:
    """``--task`` is multiclass, or binary with a ``--positive`` class."""
    if task not in TASKS:
        raise ConfigError(f"unknown task {task!r}; choose multiclass or binary")
    if task == "binary" and positive is None:
        raise ConfigError(
            "--task binary needs --positive CLASS (an index like 8 or a name like Shirt)"
        )


def command_started() -> float:
    """When this command's process started, as a :func:`time.monotonic` time, so that a
    time budget covers the interpreter's start, the imports and the loading too."""
    import time

    import psutil

    elapsed = max(time.time() - psutil.Process().create_time(), 0.0)
    return time.monotonic() - elapsed


def split_names(text: str) -> list[str]:
    """``"lr, rf,xgb"`` -> ``["lr", "rf", "xgb"]``."""
    return [part.strip() for part in text.split(",") if part.strip()]


def parse_params(items: Sequence[str] | None) -> dict[str, dict[str, Any]]:
    """``["rf.n_estimators=50", "lr.C=0.1"]`` -> ``{"rf": {"n_estimators": 50}, "lr": {"C": 0.1}}``.

    Values are read as JSON when they parse (numbers, true/false, null, lists) and
    as strings otherwise.
    """
    out: dict[str, dict[str, Any]] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        model, dot, param = key.partition(".")
        if not sep or not dot or not model or not param:
            raise ConfigError(
                f"--param {item!r} must look like MODEL.PARAM=VALUE, e.g. rf.n_estimators=50"
            )
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = value
        out.setdefault(model.strip(), {})[param.strip()] = parsed
    return out


def check_out_path(path: Path | None) -> None:
    """Fail before any work if an output file cannot be written where asked.

    The folder is tried with a real (removed) file: permissions, a read-only file
    system or a full quota show up here rather than after the fitting.
    """
    import tempfile

    if path is None:
        return
    if path.suffix.lower() not in (".json", ".csv"):
        raise ConfigError(f"{path}: --out must end in .json or .csv")
    if path.is_dir():
        raise ConfigError(f"{path}: --out is a folder; give a file name ending in .json or .csv")
    if not path.parent.is_dir():
        raise ConfigError(f"{path.parent}: folder does not exist")
    try:
        with tempfile.TemporaryFile(dir=path.parent):
            pass
    except OSError:
        raise ConfigError(f"{path.parent}: folder is not writable") from None


@contextmanager
def model_progress(names: Sequence[str]) -> Iterator[Callable[[str, str], None]]:
    """A progress display with one bar per model; yields the ``on_progress`` callback."""
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from shallowvision._console import stderr_console

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description:<18}"),
        BarColumn(bar_width=20),
        TextColumn("{task.fields[status]:<10}"),
        TimeElapsedColumn(),
        console=stderr_console(),
        transient=False,
    ) as progress:
        tasks = {n: progress.add_task(n, total=1, start=False, status="waiting") for n in names}

        def update(name: str, stage: str) -> None:
            task = tasks.get(name)
            if task is None:
                return
            if stage == "start":
                progress.start_task(task)
                progress.update(task, status="fitting")
            else:
                progress.update(task, completed=1, status=stage)
                progress.stop_task(task)

        yield update
