"""``shallowvision evaluate`` and ``shallowvision calibrate``: a saved model on a dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from shallowvision.cli._app import app
from shallowvision.cli._common import new_table
from shallowvision.cli._options import (
    AllowVersionMismatchOpt,
    DataDirOpt,
    DatasetArg,
    ExpectSha256Opt,
    ModelFileArg,
    NPerClassOpt,
    SeedOpt,
    ValidationOpt,
)
from shallowvision.exceptions import ConfigError


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


@app.command("evaluate")
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
        int, typer.Option("--bins", min=2, help="Bins of the reliability diagrams and ECE.")
    ] = 15,
    target_accuracy: Annotated[
        float,
        typer.Option(
            "--target-accuracy",
            min=0.0,
            max=1.0,
            help="Accuracy whose coverage the risk-coverage curve reports.",
        ),
    ] = 0.99,
    n_per_class: NPerClassOpt = None,
    validation_size: ValidationOpt = 0.1,
    seed: SeedOpt = 0,
    data_dir: DataDirOpt = None,
    allow_version_mismatch: AllowVersionMismatchOpt = False,
    expect_sha256: ExpectSha256Opt = None,
) -> None:
    """Evaluate a saved model on a dataset split: metrics with confidence intervals, curves,
    operating points, calibration, uncertainty and error analysis, as evaluation.json and figures."""
    fp_cost, fn_cost = _costs(costs)
    if sum(v is not None for v in (threshold, min_precision, fp_cost)) > 1:
        raise ConfigError("give at most one of --threshold, --min-precision and --costs")
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out}: --out must be a folder")

    from shallowvision._console import stdout_console
    from shallowvision._io import write_json
    from shallowvision.evaluation import evaluate_model, evaluate_robustness, save_figures
    from shallowvision.inference import load_for_model
    from shallowvision.persistence import load_model

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
        validation_size=validation_size,
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
        n_bins=bins,
        target_accuracy=target_accuracy,
        random_state=seed,
        positive=positive,
        threshold=threshold,
        min_precision=min_precision,
        fp_cost=fp_cost,
        fn_cost=fn_cost,
    )
    corrupted = (
        evaluate_robustness(saved.estimator, data.images, data.labels, random_state=seed)
        if robustness
        else None
    )
    out.mkdir(parents=True, exist_ok=True)
    document: dict[str, Any] = {
        "model_file": str(model),
        "dataset": data.name,
        "split": data.split,
        **evaluation.to_dict(),
    }
    if corrupted is not None:
        document["robustness"] = corrupted.to_dict()
    write_json(out / "evaluation.json", document)
    written = save_figures(evaluation, out) if figures else {}
    if corrupted is not None and figures:
        written["robustness"] = _save_robustness(corrupted, out)
    console = stdout_console()
    console.print(_headline_table(evaluation, data))
    if evaluation.operating_points or evaluation.operating_point_notes:
        console.print(_operating_table(evaluation))
    if evaluation.comparisons:
        console.print(_mcnemar_table(evaluation))
    if corrupted is not None:
        console.print(_robustness_table(corrupted))
    pairs = ", ".join(
        f"{p.true} as {p.predicted} ({p.count})" for p in evaluation.confused_pairs[:3]
    )
    if pairs:
        console.print(f"most confused: {pairs}")
    console.print(f"wrote {out / 'evaluation.json'} and {len(written)} figures")


def _save_robustness(result: Any, out: Path) -> Path:
    from shallowvision.evaluation import RobustnessDisplay, save_png

    display = RobustnessDisplay(result).plot()
    return save_png(display.figure_, out / "robustness.png")


def _headline_table(evaluation: Any, data: Any) -> Any:

    h = evaluation.headline()
    table = new_table(
        f"{evaluation.model_name} on {data.name} ({data.split}, {len(data):,} images, "
        f"{len(data.class_names)} classes)",
        ["measure", "value"],
    )
    accuracy = f"{h['accuracy']:.4f} [{h['accuracy_low']:.4f}, {h['accuracy_high']:.4f}]"
    rows = [
        ("accuracy [95% CI]", accuracy),
        ("balanced accuracy", evaluation.metrics.balanced_accuracy),
        ("macro F1", h["macro_f1"]),
        ("ROC AUC (macro, one-vs-rest)", h["roc_auc_macro"]),
        ("log loss", h["log_loss"]),
        ("Brier score", h["brier"]),
        ("ECE (top-label)", h["ece"]),
        (
            f"coverage at {evaluation.risk_coverage.target_accuracy:.0%} accuracy",
            h["coverage_at_target"],
        ),
    ]
    for label, value in rows:
        table.add_row(label, value if isinstance(value, str) else _num(value))
    return table


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _operating_table(evaluation: Any) -> Any:
    table = new_table(
        "Operating points",
        ["class", "chosen by", "threshold", "precision", "recall", "F1", "FPR", "cost"],
        left=("chosen by",),
    )
    for p in evaluation.operating_points:
        table.add_row(
            p.label,
            p.criterion,
            _num(p.threshold),
            _num(p.precision),
            _num(p.recall),
            _num(p.f1),
            _num(p.false_positive_rate),
            "-" if p.cost is None else f"{p.cost:g}",
        )
    for note in evaluation.operating_point_notes:
        table.add_row(note, "", "", "", "", "", "", "", style="yellow")
    return table


def _mcnemar_table(evaluation: Any) -> Any:
    table = new_table(
        "McNemar's test on the same images",
        ["models", "both right", "only first right", "only second right", "p-value"],
    )
    for c in evaluation.comparisons:
        table.add_row(
            f"{c.model_a} vs {c.model_b}",
            str(c.both_correct),
            str(c.only_a_correct),
            str(c.only_b_correct),
            f"{c.p_value:.3g}" if c.p_value > 0 else "< 1e-300",
        )
    return table


def _robustness_table(result: Any) -> Any:
    severities = sorted({r.severity for r in result.rows})
    table = new_table(
        "Accuracy under corruptions", ["corruption", *(f"severity {s}" for s in severities)]
    )
    by_name: dict[str, dict[int, float]] = {}
    for r in result.rows:
        by_name.setdefault(r.corruption, {})[r.severity] = r.accuracy
    for name, values in by_name.items():
        table.add_row(name, *(_num(values.get(s)) for s in severities))
    table.caption = f"clean accuracy {result.clean_accuracy:.4f}"
    return table


@app.command("calibrate")
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
    bins: Annotated[int, typer.Option("--bins", min=2, help="Bins of the ECE and MCE.")] = 15,
    n_per_class: NPerClassOpt = None,
    validation_size: ValidationOpt = 0.1,
    seed: SeedOpt = 0,
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
    """Calibrate a saved model's probabilities on images held out from its training (never the
    test split), print ECE, MCE, Brier score, log loss and accuracy before and after, and save
    the calibrated model."""
    if out.suffix.lower() != ".skops":
        raise ConfigError(f"{out}: --out must end in .skops")
    if not out.parent.is_dir():
        raise ConfigError(f"{out.parent}: folder does not exist")
    if figure is not None and figure.suffix.lower() != ".png":
        raise ConfigError(f"{figure}: --figure must end in .png")

    from shallowvision._console import stdout_console
    from shallowvision.evaluation import compare_calibration, get_calibration_method_names
    from shallowvision.inference import held_out_for_model, load_for_model
    from shallowvision.persistence import load_model, save_model

    methods = get_calibration_method_names()
    if method not in methods:
        raise ConfigError(f"unknown --method {method!r}; choose one of {', '.join(methods)}")
    saved = load_model(model, allow_version_mismatch=allow_version_mismatch)
    held_out = held_out_for_model(
        saved,
        dataset,
        validation_size=validation_size,
        n_per_class=n_per_class,
        random_state=seed,
        data_dir=data_dir,
        check=not assume_held_out,
    )
    if test:
        calibration = held_out
        measured = load_for_model(saved, dataset, "test", data_dir=data_dir)
    else:
        calibration, measured = held_out.split_off(0.5, random_state=seed, name="held-out")
    comparison = compare_calibration(
        saved.estimator,
        calibration,
        measured,
        method=method,
        class_names=saved.class_names,
        n_bins=bins,
    )
    after = {m: v["after"] for m, v in comparison.table.items()}
    save_model(
        comparison.calibrator,
        out,
        trained_on=saved,
        name=f"{saved.name} ({method})",
        evaluated_on=measured.split,
        metrics={"n_images": len(measured), **after},
        calibration={
            "method": method,
            "temperature": comparison.temperature,
            "model_file": str(model),
            "table": comparison.table,
        },
        calibrated_on=calibration,
    )
    if figure is not None:
        _save_calibration_figure(comparison, figure)
    console = stdout_console()
    console.print(_calibration_table(comparison, measured))
    if comparison.temperature is not None:
        console.print(f"temperature {comparison.temperature:.4f}")
    console.print(
        f"calibrated on {comparison.n_calibration:,} held-out images; saved {out}"
        + (f" and {figure}" if figure is not None else "")
    )


def _calibration_table(comparison: Any, measured: Any) -> Any:
    table = new_table(
        f"Calibration by {comparison.method}", ["measure", "before", "after", "change"]
    )
    table.caption = f"measured on {comparison.n_evaluation:,} {measured.split} images"
    labels = {
        "ece": "ECE",
        "mce": "MCE",
        "classwise_ece": "class-wise ECE",
        "brier": "Brier score",
        "log_loss": "log loss",
        "accuracy": "accuracy",
    }
    for key, label in labels.items():
        before, after = comparison.table[key]["before"], comparison.table[key]["after"]
        change = "-" if before is None else f"{after - before:+.4f}"
        table.add_row(label, _num(before), _num(after), change)
    return table


def _save_calibration_figure(comparison: Any, path: Path) -> None:
    from matplotlib.figure import Figure

    from shallowvision.evaluation import ReliabilityDisplay, save_png

    shown = [(d, t) for d, t in ((comparison.before, "before"), (comparison.after, "after")) if d]
    figure = Figure(figsize=(6.0 * len(shown), 5.0), layout="constrained")
    for ax, (diagram, when) in zip(
        figure.subplots(1, len(shown), squeeze=False)[0], shown, strict=True
    ):
        ReliabilityDisplay(diagram).plot(ax=ax)
        ax.set_title(f"{when} {comparison.method}: ECE {diagram.ece:.3f}, MCE {diagram.mce:.3f}")
    save_png(figure, path)
