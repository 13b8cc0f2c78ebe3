"""Result records as rich tables, and the number formats they share."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def new_table(title: str, columns: Sequence[str], *, left: Sequence[str] = ()) -> Any:
    """A rich table titled on the left; the first column and ``left`` ones left-aligned, numbers right."""
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for i, column in enumerate(columns):
        table.add_column(column, justify="left" if i == 0 or column in left else "right")
    return table


def fmt(value: Any, kind: str = "float") -> str:
    """Table formatting: None -> '-', sizes in KB/MB, floats to 4 digits."""
    if value is None:
        return "-"
    if kind == "size":
        return f"{value / 1e6:.1f} MB" if value >= 1e6 else f"{value / 1e3:.0f} KB"
    if kind == "seconds":
        return f"{value:.2f}" if value < 100 else f"{value:.0f}"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def comparison_table(rows: list[Any], title: str, highlight: str | None = None) -> Any:
    """A rich table of comparison rows (``ModelScore``), ``highlight`` in bold green."""
    from rich.table import Table

    from shallowvision.models._compare import COLUMNS

    table = Table(title=title, title_justify="left")
    for key, label in COLUMNS.items():
        table.add_column(label, justify="left" if key in ("model", "status") else "right")
    for row in rows:
        d = row.to_dict()
        cells = []
        for key in COLUMNS:
            kind = (
                "size"
                if key == "size_bytes"
                else "seconds"
                if key.endswith(("seconds", "_1000"))
                else "float"
            )
            cells.append(fmt(d[key], kind))
        style = (
            "bold green"
            if highlight and row.model == highlight
            else ("red" if row.status != "ok" else None)
        )
        table.add_row(*cells, style=style)
    return table


def num(value: float | None) -> str:
    """A measure to four decimals; '-' when there is none."""
    return "-" if value is None else f"{value:.4f}"


def evaluation_table(evaluation: Any, data: Any) -> Any:
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
        table.add_row(label, value if isinstance(value, str) else num(value))
    return table


def operating_points_table(evaluation: Any) -> Any:
    table = new_table(
        "Operating points",
        ["class", "chosen by", "threshold", "precision", "recall", "F1", "FPR", "cost"],
        left=("chosen by",),
    )
    for p in evaluation.operating_points:
        table.add_row(
            p.label,
            p.criterion,
            num(p.threshold),
            num(p.precision),
            num(p.recall),
            num(p.f1),
            num(p.false_positive_rate),
            "-" if p.cost is None else f"{p.cost:g}",
        )
    for note in evaluation.operating_point_notes:
        table.add_row(note, "", "", "", "", "", "", "", style="yellow")
    return table


def mcnemar_table(evaluation: Any) -> Any:
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


def robustness_table(result: Any) -> Any:
    severities = sorted({r.severity for r in result.rows})
    table = new_table(
        "Accuracy under corruptions", ["corruption", *(f"severity {s}" for s in severities)]
    )
    by_name: dict[str, dict[int, float]] = {}
    for r in result.rows:
        by_name.setdefault(r.corruption, {})[r.severity] = r.accuracy
    for name, values in by_name.items():
        table.add_row(name, *(num(values.get(s)) for s in severities))
    table.caption = f"clean accuracy {result.clean_accuracy:.4f}"
    return table


def calibration_table(comparison: Any, measured: Any) -> Any:
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
        table.add_row(label, num(before), num(after), change)
    return table
