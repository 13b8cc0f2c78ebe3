"""Report sections of the analysis stages: calibration and uncertainty, robustness, errors."""

from __future__ import annotations

import html
from typing import Any

from shallowvision.report._records import CalibrateOutput, ErrorsOutput, RobustnessOutput
from shallowvision.report._render import RunData, Section, section

_CALIBRATION_MEASURES = {
    "ece": "ECE",
    "mce": "MCE",
    "classwise_ece": "class-wise ECE",
    "brier": "Brier",
    "log_loss": "log loss",
    "accuracy": "accuracy",
}


def _pct(value: float | None) -> str:
    return "&ndash;" if value is None else f"{100 * value:.1f}%"


@section("calibrate")
def calibration(run: RunData) -> Section | None:
    if not run.has("calibrate"):
        return None
    result = run.result(CalibrateOutput)
    s = Section("calibrate", "Calibration and uncertainty")
    s.text(
        f"Each calibrator was fitted on the calibration split ({result.calibration_split:,} images held "
        f"out from training) and measured on the {result.n_evaluated:,} validation images. A model is "
        "calibrated when, among the images it gives 80% confidence, 80% are right: the expected "
        "calibration error (ECE) is the average gap, the MCE the largest one."
    )
    rows: list[dict[str, Any]] = []
    for c in result.comparisons:
        row: dict[str, Any] = {"model": c.model, "method": c.method}
        for key, label in _CALIBRATION_MEASURES.items():
            row[f"{label} before"] = c.table[key].before
            row[f"{label} after"] = c.table[key].after
        row["temperature"] = c.temperature
        rows.append(row)
    columns = {"model": "model", "method": "method"}
    for label in ("ECE", "MCE", "Brier", "log loss", "accuracy"):
        columns[f"{label} before"] = f"{label} before"
        columns[f"{label} after"] = f"{label} after"
    columns["temperature"] = "T"
    s.table(rows, columns)
    for skipped in result.skipped:
        s.text(
            f"{html.escape(str(skipped.method))} calibration of {html.escape(str(skipped.model))} "
            f"was skipped: {html.escape(skipped.reason)}."
        )
    s.stored_charts(run, [c.chart for c in result.comparisons], columns=2)
    s.blocks.append("<h3>Uncertainty</h3>")
    for u in result.uncertainty:
        rc = u.risk_coverage
        reach = (
            f"reaches {_pct(rc.target_accuracy)} accuracy on the {_pct(rc.coverage_at_target)} "
            f"of images it is most confident about (confidence at least {rc.threshold_at_target:.3f})"
            if rc.coverage_at_target is not None
            else f"does not reach {_pct(rc.target_accuracy)} accuracy at any coverage"
        )
        conf = u.confidence
        # Small validation splits can have no wrong (or no right) prediction at all.
        correct, wrong = (
            "-" if mean is None else f"{mean:.3f}" for mean in (conf.mean_correct, conf.mean_wrong)
        )
        s.text(
            f"<b>{html.escape(u.model)}</b> {reach}. Its mean confidence is {correct} "
            f"on correct and {wrong} on wrong predictions; area under the "
            f"risk-coverage curve {rc.aurc:.4f} (lower is better)."
        )
        s.stored_charts(run, u.charts, columns=3)
    return s


@section("robustness")
def robustness(run: RunData) -> Section | None:
    if not run.has("robustness"):
        return None
    result = run.result(RobustnessOutput)
    s = Section("robustness", "Robustness to corrupted images")
    s.text(
        f"Accuracy on {result.n_images:,} validation images after seeded corruptions of "
        "increasing severity (shifts and rotations of the digit or garment, Gaussian noise, blur, "
        "lower contrast and inverted intensities"
        + (
            "; for colour images also turned hues, lower saturation, colour jitter and "
            "grey conversion"
            if any(r.corruption == "grayscale" for m in result.models for r in m.rows)
            else ""
        )
        + ")."
    )
    models = result.models
    keys: list[tuple[str, int]] = []
    for m in models:
        for r in m.rows:
            if (r.corruption, r.severity) not in keys:
                keys.append((r.corruption, r.severity))
    rows = [{"corruption": "none (clean)", **{m.model: m.clean_accuracy for m in models}}]
    for corruption, severity in keys:
        row: dict[str, Any] = {"corruption": f"{corruption}, severity {severity}"}
        for m in models:
            match = [r for r in m.rows if r.corruption == corruption and r.severity == severity]
            row[m.model] = match[0].accuracy if match else None
            if match:
                row["parameter"] = f"{match[0].parameter:g} {match[0].unit}"
        rows.append(row)
    s.table(
        rows,
        {
            "corruption": "corruption",
            "parameter": "amount",
            **{m.model: m.model for m in models},
        },
        key="corruption",
    )
    worst = [(m.model, min(m.rows, key=lambda r: r.accuracy)) for m in models if m.rows]
    for name, r in worst:
        s.text(
            f"{html.escape(name)} suffers most from <b>{html.escape(r.corruption)}</b> at severity "
            f"{r.severity}: accuracy {r.accuracy:.4f}, {r.drop:.4f} below clean images."
        )
    s.stored_charts(run, [m.chart for m in models], columns=min(len(models), 2))
    return s


@section("errors")
def errors(run: RunData) -> Section | None:
    if not run.has("errors"):
        return None
    result = run.result(ErrorsOutput)
    charts = result.charts
    s = Section("errors", "Error analysis")
    s.text(
        f"Where <b>{html.escape(result.model)}</b>, the best model so far, goes wrong on the "
        f"{result.n_samples:,} validation images."
    )
    pairs = result.confused_pairs
    if pairs:
        s.table(
            [
                {
                    "true class": p.true,
                    "predicted as": p.predicted,
                    "images": p.count,
                    "share of the class": p.rate,
                }
                for p in pairs
            ],
            {k: k for k in ("true class", "predicted as", "images", "share of the class")},
            key="true class",
        )
    confusion = result.confusion
    per_class = sorted(
        zip(confusion.class_names, confusion.error_rate, confusion.support, strict=True),
        key=lambda t: -(t[1] or 0),
    )
    s.table(
        [{"class": c, "error rate": e, "images": n} for c, e, n in per_class],
        {"class": "class", "error rate": "error rate", "images": "images"},
        key="class",
    )
    s.stored_charts(run, [charts["confusion"], charts["confusion-normalized"]], columns=2)
    galleries = [charts[k] for k in sorted(charts) if k.startswith("gallery-")]
    if galleries:
        s.blocks.append("<h3>Misclassified images of the most confused pairs</h3>")
        # One per row: a row of eight tiles in half the width leaves each tile too narrow
        # for its caption.
        s.stored_charts(run, galleries)
    if "confidently-wrong" in charts:
        s.blocks.append("<h3>Most confidently wrong: label-noise suspects</h3>")
        s.text(
            "Images the model is surest about and still gets wrong: either hard cases or images "
            "whose label is itself wrong."
        )
        s.stored_charts(run, [charts["confidently-wrong"]])
    overlap = result.error_overlap
    if overlap is not None:
        n_all = len(overlap.all_wrong)
        s.blocks.append("<h3>Errors shared between models</h3>")
        s.text(
            f"Of {overlap.n_images:,} validation images, {n_all:,} are misclassified by all "
            f"{len(overlap.model_names)} models ({', '.join(html.escape(m) for m in overlap.model_names)}); "
            "the matrix counts the images each pair of models both get wrong."
        )
        s.stored_charts(run, [charts["error-overlap"]])
    return s
