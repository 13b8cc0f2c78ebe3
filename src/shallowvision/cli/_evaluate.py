"""``shallowvision evaluate``: a saved model on a dataset split, as evaluation.json and figures."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shallowvision.cli._app import app
from shallowvision.cli._examples import example
from shallowvision.cli._options import (
    SEED,
    VALIDATION_SIZE,
    AllowVersionMismatchOpt,
    DataDirOpt,
    DatasetArg,
    ExpectSha256Opt,
    ModelFileArg,
    ModelSeedOpt,
    ModelValidationOpt,
    NPerClassOpt,
)
from shallowvision.cli._sections import build_section, default
from shallowvision.cli._tables import (
    evaluation_table,
    mcnemar_table,
    operating_points_table,
    robustness_table,
)
from shallowvision.exceptions import ConfigError
from shallowvision.run._config import CalibrateConfig


def _costs(text: str | None) -> tuple[float | None, float | None]:
    """``"1,5"`` -> ``(1.0, 5.0)``: the cost of a false positive and of a false negative."""
    if text is None:
        return None, None
    parts = text.split(",")
    try:
        fp, fn = (float(p) for p in parts)
    except ValueError:
        raise ConfigError(
            f"--costs {text!r} must be two numbers FP,FN (cost of a false positive, of a false negative), e.g. 1,5"
        ) from None
    if fp < 0 or fn < 0 or fp + fn == 0:
        raise ConfigError(f"--costs {text!r}: costs must be non-negative and not both zero")
    return fp, fn


@app.command("evaluate", epilog=example("evaluate"))
def evaluate_cli(
    model: ModelFileArg,
    dataset: DatasetArg,
    out: Annotated[
        Path, typer.Option("--out", help="Folder for evaluation.json and the figures (PNG).")
    ],
    split: Annotated[
        str, typer.Option("--split", help="test, or validation / train (carved as in compare).")
    ] = "test",
    threshold: Annotated[
        float | None,
        typer.Option("--threshold", help="Operating point at this decision threshold."),
    ] = None,
    min_precision: Annotated[
        float | None,
        typer.Option(
            "--min-precision",
            min=0.0,
            max=1.0,
            help="Operating point with the highest recall at least this precise.",
        ),
    ] = None,
    costs: Annotated[
        str | None,
        typer.Option(
            "--costs", help="FP,FN: operating point with the lowest total cost, e.g. 1,5."
        ),
    ] = None,
    operating_class: Annotated[
        str | None,
        typer.Option(
            "--class",
            help="Class of the operating point (index or name); default the positive class "
            "of a binary model, every class of a multiclass one.",
        ),
    ] = None,
    compare_with: Annotated[
        list[Path] | None,
        typer.Option(
            "--compare",
            help="Another model file on the same images (repeatable): McNemar's test and error overlap.",
        ),
    ] = None,
    robustness: Annotated[
        bool,
        typer.Option("--robustness", help="Also measure accuracy under corrupted images."),
    ] = False,
    figures: Annotated[
        bool, typer.Option("--figures/--no-figures", help="Write the PNG figures.")
    ] = True,
    bins: Annotated[
        int, typer.Option("--bins", help="Bins of the reliability diagrams and ECE.")
    ] = default(CalibrateConfig, "n_bins"),
    target_accuracy: Annotated[
        float,
        typer.Option(
            "--target-accuracy",
            help="Accuracy whose coverage the risk-coverage curve reports.",
        ),
    ] = default(CalibrateConfig, "target_accuracy"),
    n_per_class: NPerClassOpt = None,
    validation_size: ModelValidationOpt = None,
    seed: ModelSeedOpt = None,
    data_dir: DataDirOpt = None,
    allow_version_mismatch: AllowVersionMismatchOpt = False,
    expect_sha256: ExpectSha256Opt = None,
) -> None:
    """Evaluate a saved model on a dataset split.

    Metrics with confidence intervals, curves, operating points, calibration,
    uncertainty and error analysis, as evaluation.json and figures."""
    fp_cost, fn_cost = _costs(costs)
    if sum(v is not None for v in (threshold, min_precision, fp_cost)) > 1:
        raise ConfigError("give at most one of --threshold, --min-precision and --costs")
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out}: --out must be a folder")

    from shallowvision._console import stdout_console
    from shallowvision.evaluation import evaluate_model, evaluate_robustness, save_evaluation
    from shallowvision.inference import load_for_model
    from shallowvision.persistence import load_model

    # Out-of-range values are refused by the run's section, before the model is read.
    calibration = build_section(
        CalibrateConfig,
        {"n_bins": "--bins", "target_accuracy": "--target-accuracy"},
        n_bins=bins,
        target_accuracy=target_accuracy,
    )

    saved = load_model(
        model, allow_version_mismatch=allow_version_mismatch, expect_sha256=expect_sha256
    )
    others = {
        Path(p).stem: load_model(p, allow_version_mismatch=allow_version_mismatch)
        for p in compare_with or []
    }
    data = load_for_model(
        saved,
        dataset,
        split,
        # The whole training split is --split train's only when asked for.
        validation_size=VALIDATION_SIZE
        if split == "train" and validation_size is None
        else validation_size,
        n_per_class=n_per_class,
        random_state=seed,
        data_dir=data_dir,
    )
    for name, other in others.items():
        if other.class_names != saved.class_names:
            raise ConfigError(f"--compare {name}: predicts other classes than {model}")
    name = model.stem
    if name in others:
        raise ConfigError(f"--compare {name}: the same name as the evaluated model")
    positive: int | str | None = operating_class
    if operating_class is not None and operating_class not in saved.class_names:
        # Not a class name: an index, as --positive reads it.
        positive = int(operating_class) if operating_class.isdigit() else operating_class
    evaluation = evaluate_model(
        saved.estimator,
        data,
        model_name=name,
        other_models={n: o.estimator for n, o in others.items()},
        n_bins=calibration.n_bins,
        target_accuracy=calibration.target_accuracy,
        random_state=SEED if seed is None else seed,
        positive=positive,
        threshold=threshold,
        min_precision=min_precision,
        fp_cost=fp_cost,
        fn_cost=fn_cost,
    )
    corrupted = (
        evaluate_robustness(
            saved.estimator, data.images, data.labels, random_state=SEED if seed is None else seed
        )
        if robustness
        else None
    )
    written = save_evaluation(
        evaluation,
        out,
        model_file=model,
        dataset=data.name,
        split=data.split,
        robustness=corrupted,
        figures=figures,
    )
    console = stdout_console()
    console.print(evaluation_table(evaluation, data))
    trained = (saved.manifest.get("training_data") or {}).get("n_images")
    fitted = f"trained on {trained:,} images, " if trained else ""
    console.print(f"{name}: {fitted}scored on {len(data):,} {data.split} images")
    if evaluation.operating_points or evaluation.operating_point_notes:
        console.print(operating_points_table(evaluation))
    if evaluation.comparisons:
        console.print(mcnemar_table(evaluation))
    if corrupted is not None:
        console.print(robustness_table(corrupted))
    pairs = ", ".join(
        f"{p.true} as {p.predicted} ({p.count})" for p in evaluation.confused_pairs[:3]
    )
    if pairs:
        console.print(f"most confused: {pairs}")
    console.print(f"wrote {written['evaluation']} and {len(written) - 1} figures")
