"""``shallowvision calibrate``: a saved model's probabilities calibrated on images it never saw."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shallowvision.cli._app import app
from shallowvision.cli._examples import example
from shallowvision.cli._options import (
    AllowVersionMismatchOpt,
    DataDirOpt,
    DatasetArg,
    ModelFileArg,
    ModelSeedOpt,
    ModelValidationOpt,
    NPerClassOpt,
)
from shallowvision.cli._sections import build_section, default
from shallowvision.cli._tables import calibration_table
from shallowvision.exceptions import ConfigError
from shallowvision.run._config import CalibrateConfig


@app.command("calibrate", epilog=example("calibrate"))
def calibrate_cli(
    model: ModelFileArg,
    dataset: DatasetArg,
    out: Annotated[
        Path, typer.Option("--out", help="The calibrated model file to write (.skops).")
    ],
    method: Annotated[
        str, typer.Option("--method", help="temperature, isotonic or sigmoid.")
    ] = "temperature",
    test: Annotated[
        bool,
        typer.Option(
            "--test",
            help="Measure before/after on the test split (the whole held-out split then "
            "fits the calibrator); default: on a seeded half of the held-out split.",
        ),
    ] = False,
    figure: Annotated[
        Path | None,
        typer.Option("--figure", help="Also draw the before/after reliability diagrams (PNG)."),
    ] = None,
    bins: Annotated[int, typer.Option("--bins", min=2, help="Bins of the ECE and MCE.")] = default(
        CalibrateConfig, "n_bins"
    ),
    n_per_class: NPerClassOpt = None,
    validation_size: ModelValidationOpt = None,
    seed: ModelSeedOpt = None,
    assume_held_out: Annotated[
        bool,
        typer.Option(
            "--assume-held-out",
            help="Skip the check that the model never saw the calibration images "
            "(for models saved without a record of their training images).",
        ),
    ] = False,
    data_dir: DataDirOpt = None,
    allow_version_mismatch: AllowVersionMismatchOpt = False,
) -> None:
    """Calibrate a saved model's probabilities on images it was not trained on.

    The calibrator is fitted on images held out from the model's training (never the
    test split); ECE, MCE, Brier score, log loss and accuracy are printed before and
    after, and the calibrated model is saved."""
    if out.suffix.lower() != ".skops":
        raise ConfigError(f"{out}: --out must end in .skops")
    if not out.parent.is_dir():
        raise ConfigError(f"{out.parent}: folder does not exist")
    if figure is not None and figure.suffix.lower() != ".png":
        raise ConfigError(f"{figure}: --figure must end in .png")
    config = build_section(
        CalibrateConfig, {"methods": "--method", "n_bins": "--bins"}, methods=[method], n_bins=bins
    )

    from shallowvision._console import stdout_console
    from shallowvision.evaluation import (
        compare_calibration,
        save_calibrated_model,
        save_calibration_figure,
    )
    from shallowvision.inference import calibration_splits
    from shallowvision.persistence import load_model

    saved = load_model(model, allow_version_mismatch=allow_version_mismatch)
    calibration, measured = calibration_splits(
        saved,
        dataset,
        test=test,
        validation_size=validation_size,
        n_per_class=n_per_class,
        random_state=seed,
        data_dir=data_dir,
        check=not assume_held_out,
    )
    comparison = compare_calibration(
        saved.estimator,
        calibration,
        measured,
        method=config.methods[0],
        class_names=saved.class_names,
        n_bins=config.n_bins,
    )
    save_calibrated_model(
        comparison, out, model=saved, calibrated_on=calibration, measured_on=measured
    )
    if figure is not None:
        save_calibration_figure(comparison, figure)
    console = stdout_console()
    console.print(calibration_table(comparison, measured))
    if comparison.temperature is not None:
        console.print(f"temperature {comparison.temperature:.4f}")
    console.print(
        f"calibrated on {comparison.n_calibration:,} held-out images; saved {out}"
        + (f" and {figure}" if figure is not None else "")
    )
