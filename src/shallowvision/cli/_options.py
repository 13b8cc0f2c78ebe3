"""Options shared by several commands, declared once."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer

from shallowvision.cli._sections import default
from shallowvision.exceptions import ConfigError
from shallowvision.run._config import MAX_SEED, DataConfig, RunConfig

#: The defaults of the data options most commands share: a run's own.
SEED = default(RunConfig, "seed")
TASK = default(DataConfig, "task")
VALIDATION_SIZE = default(DataConfig, "validation_size")
COLOR = default(DataConfig, "color")
IMAGE_SIZE = default(DataConfig, "image_size")
RESIZE = default(DataConfig, "resize")

DatasetArg = Annotated[
    str,
    typer.Argument(
        help="A dataset name (see `shallowvision datasets`) or a path: IDX file, CSV, NPZ, "
        "or a folder of class sub-folders."
    ),
]
DataDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        envvar="SHALLOWVISION_DATA",
        help="Folder searched first for dataset files (before the cache, system copies and download).",
    ),
]
SeedOpt = Annotated[
    int,
    typer.Option(
        "--seed", min=0, max=MAX_SEED, help="Random seed for every split, sample and model."
    ),
]
NPerClassOpt = Annotated[
    int | None,
    typer.Option(
        "--n-per-class",
        min=1,
        help="Seeded stratified subsample: at most this many training images per class "
        "(validation shrinks with them; the test split stays whole).",
    ),
]
TestNPerClassOpt = Annotated[
    int | None,
    typer.Option(
        "--test-n-per-class",
        min=1,
        help="Seeded stratified subsample of the test split: at most this many per class.",
    ),
]
FractionOpt = Annotated[
    float | None,
    typer.Option(
        "--fraction",
        min=0.0,
        max=1.0,
        help="Seeded stratified subsample: this share of each class.",
    ),
]
PositiveOpt = Annotated[
    str | None,
    typer.Option(
        "--positive",
        help="One-vs-rest task: the positive class, by index (8) or name (Shirt).",
    ),
]
ColorOpt = Annotated[
    str,
    typer.Option(
        "--color",
        help="Colour mode of image files: auto (colour when any image has colour), gray, or "
        "rgb. Datasets of grey arrays stay grey under auto.",
    ),
]
ImageSizeOpt = Annotated[
    str,
    typer.Option(
        "--image-size",
        help="Size image files are brought to: 32, 48x64 (height x width), auto (their median "
        "size, at most 64 a side) or native (their own).",
    ),
]
ResizeOpt = Annotated[
    str,
    typer.Option(
        "--resize",
        help="How image files reach --image-size: stretch, pad (aspect kept, padded with the "
        "border colour) or crop (aspect kept, the centre).",
    ),
]
SkipBadOpt = Annotated[
    bool,
    typer.Option(
        "--skip-bad",
        help="Skip image files that cannot be decoded (and list them) instead of stopping.",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
DaskOpt = Annotated[
    str | None,
    typer.Option(
        "--dask",
        help="Run the fits on a Dask cluster: local, local:N (N worker processes on 127.0.0.1), local:N:MEMORY (each limited to MEMORY, e.g. local:2:3GB) or tcp://host:port.",
    ),
]
ValidationOpt = Annotated[
    float,
    typer.Option(
        "--validation-size",
        min=0.01,
        max=0.9,
        help="Share of train held out for validation (for a saved model: the value it was trained with).",
    ),
]

#: For a command given a saved model: unset, a model saved by ``run`` finds its own splits.
ModelValidationOpt = Annotated[
    float | None,
    typer.Option(
        "--validation-size",
        min=0.01,
        max=0.9,
        help="Share of train the model was validated on; default: a model from `run` "
        f"remembers its splits, any other was held out {VALIDATION_SIZE}.",
    ),
]
ModelSeedOpt = Annotated[
    int | None,
    typer.Option(
        "--seed",
        min=0,
        max=MAX_SEED,
        help=f"Seed of the model's splits and of sampling; default: a model from `run` "
        f"remembers its splits, else {SEED}.",
    ),
]


def check_n_jobs(value: int | None) -> int | None:
    """``--n-jobs``: a count of workers, or -1 (every core), -2 (all but one) ...; never 0."""
    if value == 0:
        raise typer.BadParameter(
            "0 workers cannot fit anything; give 1 or more, or -1 for every core"
        )
    return value


NJobsOpt = Annotated[
    int | None,
    typer.Option(
        "--n-jobs",
        callback=check_n_jobs,
        help="Threads/processes per model, -1 for every core (default: library default).",
    ),
]
ModelFileArg = Annotated[
    Path, typer.Argument(help="A model file (.skops) saved by shallowvision (compare, tune).")
]
AllowVersionMismatchOpt = Annotated[
    bool,
    typer.Option(
        "--allow-version-mismatch", help="Load a model saved with other library versions."
    ),
]
ExpectSha256Opt = Annotated[
    str | None,
    typer.Option(
        "--expect-sha256",
        help="Load the model file only if its SHA-256 (as sha256sum prints it) is this one.",
    ),
]
TimeLimitOpt = Annotated[
    float | None,
    typer.Option(
        "--time-limit",
        min=0.1,
        help="Seconds per model (benchmark: per configuration); a fit that overruns is "
        "stopped in its worker process and its row marked 'timed out'.",
    ),
]
TimeBudgetOpt = Annotated[
    str | None,
    typer.Option(
        "--time-budget",
        metavar="DURATION",
        help="Wall time for the command: 90s, 10m, 1.5h or seconds. The cheapest models go "
        "first; one expected to need more than is left is not started (row 'over "
        "budget'), one still fitting when the budget ends is stopped ('timed out').",
    ),
]

#: Seconds per unit of a duration.
_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*([smh]?)")


def parse_duration(text: str, flag: str = "--time-budget") -> float:
    """Seconds of a duration given as ``90s``, ``10m``, ``1.5h`` or plain seconds (``600``)."""
    match = _DURATION.fullmatch(text.strip().lower())
    if match is None:
        raise ConfigError(
            f"{flag} {text!r}: give a duration such as 90s, 10m, 1.5h or plain seconds (600)"
        )
    seconds = float(match[1]) * _UNITS[match[2]]
    if seconds <= 0:
        raise ConfigError(f"{flag} {text!r}: give a duration longer than zero")
    return seconds


TaskOpt = Annotated[
    str, typer.Option("--task", help="multiclass, or binary (one-vs-rest, needs --positive).")
]
OutOpt = Annotated[
    Path | None, typer.Option("--out", help="Also write the results to FILE (.json or .csv).")
]
