"""The report's sections, in order. Each reads stored results; none refits or re-predicts."""

from __future__ import annotations

import html
import json
from typing import Any

from shallowvision._memory import format_bytes
from shallowvision.report._figures import cost_chart, metric_bars
from shallowvision.report._records import (
    CompareOutput,
    DataOutput,
    EdaOutput,
    FinalOutput,
    Recommendation,
    TuneOutput,
)
from shallowvision.report._render import (
    _SKIPPED_TITLES,
    METRIC_LABELS,
    RunData,
    Section,
    section,
)

COMPARE_COLUMNS = {
    "model": "model",
    "accuracy": "accuracy",
    "balanced_accuracy": "balanced acc.",
    "f1_macro": "macro F1",
    "roc_auc": "ROC AUC",
    "log_loss": "log loss",
    "brier": "Brier",
    "fit_seconds": "fit s",
    "predict_seconds_per_1000": "predict ms/image",
    "size_mb": "size MB",
}


def _n_classes(run: RunData) -> int:
    return len(run.result(DataOutput).class_names)


def candidate_rows(run: RunData, stage: str) -> list[dict[str, Any]]:
    """A stage's candidates with quality recomputed from stored predictions and measured costs."""
    n_classes = _n_classes(run)
    rows = []
    for c in run.offered(stage):
        measured = c.metrics
        row: dict[str, Any] = {"model": c.name, **run.scored(c.name, "validation", n_classes)}
        row["fit_seconds"] = measured.get("fit_seconds")
        row["predict_seconds_per_1000"] = measured.get("predict_seconds_per_1000")
        row["size_bytes"] = measured.get("size_bytes")
        row["size_mb"] = None if row["size_bytes"] is None else row["size_bytes"] / 1e6
        rows.append(row)
    return rows


@section("summary")
def summary(run: RunData) -> Section | None:
    if not run.has("final"):
        return None
    final = run.result(FinalOutput)
    objective = final.objective
    metric = objective.metric
    label = METRIC_LABELS.get(metric, metric)
    chosen = final.recommended
    entry = next(e for e in final.evaluated if e.name == chosen)
    val, test = entry.validation, entry.test
    limits = []
    if objective.max_predict_ms_per_image is not None:
        limits.append(f"prediction under {objective.max_predict_ms_per_image:g} ms per image")
    if objective.max_size_mb is not None:
        limits.append(f"a model under {objective.max_size_mb:g} MB")
    best = "lowest" if metric in ("log_loss", "brier") else "highest"
    why = f"{best} validation {label}" + (f" with {' and '.join(limits)}" if limits else "")
    s = Section("summary", "Summary")
    s.blocks.append(
        '<div class="cards">'
        + _card("recommended model", html.escape(chosen))
        + _card("test accuracy", f"{test.accuracy:.4f}")
        + _card("test macro F1", f"{test.f1_macro:.4f}")
        + _card("predict", f"{val.get('predict_seconds_per_1000', float('nan')):.3f} ms/image")
        + _card("model size", f"{(val.get('size_bytes') or 0) / 1e6:.2f} MB")
        + "</div>"
    )
    runner_up = [r for r in final.ranking if r.name != chosen][:2]
    others = ", ".join(
        f"{html.escape(r.name)} ({label} {r.value:.4f}{'; ' + '; '.join(r.breaks) if r.breaks else ''})"
        for r in runner_up
        if r.value is not None
    )
    choice = final.recommendation
    if choice is None:  # a run written before the choice respected noise
        s.text(
            f"<b>{html.escape(chosen)}</b> is recommended: the {why} among {len(final.ranking)} candidate models "
            f"({label} {val.get(metric, float('nan')):.4f} on validation). Next best: {others or 'none'}."
        )
    else:
        s.text(
            f"<b>{html.escape(chosen)}</b> is recommended among {len(final.ranking)} candidate models: "
            f"{html.escape(choice.reason)}."
        )
        if len(choice.compared) > 1:
            s.text(_noise_note(choice, label, why))
    passed_over = [
        r
        for r in final.ranking
        if r.breaks and r.value is not None and r.value > (val.get(metric) or 0)
    ]
    if passed_over and metric not in ("log_loss", "brier"):
        top = max(passed_over, key=lambda r: r.value or 0.0)
        s.text(
            f"{html.escape(top.name)} scored higher ({label} {top.value:.4f}) but {html.escape('; '.join(top.breaks))}, "
            "so it does not meet the objective."
        )
    if final.recommended_breaks:
        s.text(
            f'<span class="warn">No candidate met every constraint; {html.escape(chosen)} {"; ".join(final.recommended_breaks)}.</span>'
        )
    s.text(
        f"Every choice was made on the validation split. The test split ({final.n_test:,} images) was used once, "
        "at the end, for the chosen models only."
    )
    budget = run.manifest.time_budget
    if budget is not None:
        left_out = _left_out(run)
        s.text(
            f"The run was planned to end within its time budget of {_duration(budget.seconds)}"
            + (
                f"; to meet it, it left out: {html.escape('; '.join(left_out))}."
                if left_out
                else ", and it left nothing out."
            )
        )
    return s


def _duration(seconds: float) -> str:
    """``300`` -> ``5 min (300 s)``; ``45`` -> ``45 s``."""
    if seconds < 120:
        return f"{seconds:,.0f} s"
    minutes = seconds / 60
    return f"{minutes:,.{0 if minutes == int(minutes) else 1}f} min ({seconds:,.0f} s)"


def _left_out(run: RunData) -> list[str]:
    """The models and stages the time budget left out, in the order the run met them."""
    out = []
    for name, timing in run.manifest.stages.items():
        if timing.status == "skipped" and "time budget" in (timing.reason or ""):
            out.append(_SKIPPED_TITLES.get(name, name).lower())
        elif name == "compare" and run.has("compare"):
            rows = run.result(CompareOutput).comparison.rows
            out += [f"{r.model} ({r.status})" for r in rows if "time budget" in r.error]
        elif name == "tune" and run.has("tune"):
            skipped = run.result(TuneOutput).skipped
            out += [f"tuning {s.model}" for s in skipped if "time budget" in s.reason]
    return out


def _noise_note(choice: Recommendation, label: str, why: str) -> str:
    """How the leader was found and what counted as noise, in a sentence or two."""
    leader = next(d for d in choice.compared if d.model == choice.leader)
    tied = [html.escape(name) for name in choice.within_noise if name != choice.leader]
    within = (
        f"{', '.join(tied)} {'is' if len(tied) == 1 else 'are'} not significantly worse"
        if tied
        else "every other model is significantly worse"
    )
    return (
        f'<span class="note">The leader, {html.escape(choice.leader)}, has the {why} '
        f"({label} {leader.value:.4f}). Each other model was compared with it on the same "
        f"{choice.n_images:,} validation images ({choice.n_resamples:,} paired bootstrap "
        f"resamples, {1 - choice.level:.0%} intervals of the difference): {within}; among "
        "those the faster model wins, then the smaller, the better calibrated and the one "
        "made in fewer steps.</span>"
    )


def _card(label: str, value: str) -> str:
    return (
        f'<div class="card"><div class="label">{label}</div><div class="value">{value}</div></div>'
    )


@section("data")
def data(run: RunData) -> Section | None:
    if not run.has("data"):
        return None
    result = run.result(DataOutput)
    splits = result.splits
    s = Section("data", "Data")
    h, w = result.image_shape[:2]
    kind = "colour" if len(result.image_shape) == 3 else "grayscale"
    task = (
        "multiclass"
        if result.task == "multiclass"
        else f"binary: {html.escape(str(result.positive))} against the rest"
    )
    s.text(
        f"<b>{html.escape(result.dataset)}</b>: {len(result.class_names)} classes, {h}x{w} {kind} images; task {task}."
    )
    rows = [
        {
            "split": name,
            "images": info.n_images,
            "source": info.source,
            "fingerprint": info.fingerprint[:16] + "…",
        }
        for name, info in splits.items()
    ]
    s.table(
        rows,
        {"split": "split", "images": "images", "source": "source", "fingerprint": "pixel SHA-256"},
        key="split",
    )
    class_rows = [
        {"class": c, **{name: info.class_counts.get(c, 0) for name, info in splits.items()}}
        for c in result.class_names
    ]
    s.table(class_rows, {"class": "class", **{n: n for n in splits}}, key="class")
    s.text(
        "<span class=\"note\">Validation and calibration images are carved from the training split with the run's seed; the test split is the dataset's own.</span>"
    )
    taken = run.manifest.subsamples
    if taken:
        s.blocks.append("<h3>Data and subsamples</h3>")
        s.text(
            "Every subsample the run took, each drawn with the run's seed, so the same "
            "configuration takes the same images; all are stratified by class except the "
            "fitting samples of chunked pipelines, drawn uniformly. The manifest lists them too."
        )
        s.table(
            [
                {
                    "subsample": t.name,
                    "split": t.split,
                    "images": _images(t.n_images),
                    "of": t.of,
                    "seed": t.seed,
                    "used for": t.used_for,
                }
                for t in taken
            ],
            {k: k for k in ("subsample", "split", "images", "of", "seed", "used for")},
            key="subsample",
        )
    return s


def _images(n: int | list[int] | None) -> int | str | None:
    """An image count, or nested sizes as ``20,000 / 60,000 / 180,000``."""
    return " / ".join(f"{size:,}" for size in n) if isinstance(n, list) else n


@section("eda")
def eda(run: RunData) -> Section | None:
    if not run.has("eda"):
        return None
    result = run.result(EdaOutput)
    s = Section("eda", "Exploratory data analysis")
    s.text(
        "What the training images look like before any model sees them (the test split is "
        "only counted and searched for duplicates of training images)."
    )
    s.blocks.append(
        "<ul>" + "".join(f"<li>{html.escape(line)}</li>" for line in result.findings) + "</ul>"
    )
    s.stored_charts(run, result.charts, columns=2)
    return s


@section("compare")
def comparison(run: RunData) -> Section | None:
    if not run.has("compare"):
        return None
    stored = run.result(CompareOutput)
    result = stored.comparison
    rows = candidate_rows(run, "compare")
    s = Section("compare", "Baseline comparison")
    subsample = stored.subsample
    of = (
        f" (a seeded stratified subsample of the {subsample.of:,}; the finalists are refitted "
        "on all of them)"
        if subsample
        else ""
    )
    s.text(
        f"Each model was fitted on {result.n_train:,} training images{of} and scored on {result.n_eval:,} "
        f"{result.evaluated_on} images. ROC AUC is the macro average of one-vs-rest AUCs computed from "
        "probabilities or decision scores; log loss and Brier score need probabilities."
    )
    configured = [r for r in result.rows if r.params]
    if configured:
        s.text(
            "Parameters set by the configuration (<code>compare.params</code>; the others are "
            "the zoo's defaults): "
            + "; ".join(
                f"{html.escape(r.model)}: "
                + ", ".join(
                    f"{html.escape(k)} = {html.escape(str(v))}" for k, v in r.params.items()
                )
                for r in configured
            )
            + "."
        )
    failed = [r for r in result.rows if r.status != "ok"]
    if failed:
        s.text(
            "Not finished: "
            + "; ".join(
                f"{html.escape(r.model)} ({html.escape(r.status)}: {html.escape(r.error)})"
                for r in failed
            )
        )
    metric = run.manifest.objective_metric
    best = max(rows, key=lambda r: r.get(metric) or -1)["model"] if rows else None
    s.table(rows, COMPARE_COLUMNS, highlight=best)
    s.chart(
        metric_bars(
            rows,
            ["accuracy", "balanced_accuracy", "f1_macro", "roc_auc"],
            labels=METRIC_LABELS,
            title="Validation metrics by model",
        ),
        "compare-metrics",
    )
    # Every model of the run, whichever stage made it.
    all_rows = rows + [
        row
        for stage in ("tune", "ensemble", "select", "finalists", "calibrate")
        if run.has(stage)
        for row in candidate_rows(run, stage)
    ]
    s.chart(
        cost_chart(all_rows, metric=metric, metric_label=METRIC_LABELS.get(metric, metric)), "cost"
    )
    s.text(
        '<span class="note">The menu switches the x axis between prediction time, fit time and size; click a model in the legend to hide it.</span>'
    )
    return s


@section("tune")
def tuning(run: RunData) -> Section | None:
    if not run.has("tune"):
        return None
    import plotly.graph_objects as go

    stored = run.result(TuneOutput)
    searches = stored.searches
    s = Section("tune", "Tuning of the best families")
    for skipped in stored.skipped:
        s.text(f"{html.escape(skipped.model or '')} was not tuned: {html.escape(skipped.reason)}.")
    if not searches:
        return s.text("No model was tuned.")
    rows = []
    for search in searches:
        for kind, r in (("default", search.baseline), ("tuned", search.tuned)):
            rows.append({**r.to_dict(), "model": f"{search.model} ({kind})"})
    s.table(rows, {k: v for k, v in COMPARE_COLUMNS.items() if k != "size_mb"})
    for search in searches:
        params = ", ".join(
            f"{html.escape(k)} = {html.escape(str(v))}" for k, v in search.best_params.items()
        )
        capped = (
            f" (at most {search.max_resources:,} images a round, to fit the time budget)"
            if search.max_resources is not None
            else ""
        )
        s.text(
            f"<b>{html.escape(search.model)}</b>: {search.search} over its {search.grid} space, {search.cv}-fold "
            f"stratified CV on train only; {search.n_fits} fits in {search.search_seconds:.1f} s{capped}. Best ({search.scoring} "
            f"{search.best_cv_score:.4f}): {params}."
        )
        fig = go.Figure()
        by_iter: dict[int, list[float | None]] = {}
        for c in search.candidates:
            by_iter.setdefault(c.iteration, []).append(c.mean_test_score)
        for it, scores in sorted(by_iter.items()):
            fig.add_box(
                y=scores,
                name=f"round {it} ({search.n_resources[it]:,} images)",
                boxpoints="all",
                jitter=0.4,
            )
        fig.update_layout(
            title=f"{search.model}: CV score of the candidates in each halving round",
            showlegend=False,
            yaxis_title=search.scoring,
        )
        s.chart(fig, f"tune-{search.model}")
    return s


@section("test")
def final_test(run: RunData) -> Section | None:
    if not run.has("final"):
        return None
    final = run.result(FinalOutput)
    n_classes = _n_classes(run)
    s = Section("test", "Final test-set evaluation")
    s.text(
        f"The chosen models, scored once on the {final.n_test:,} test images. Nothing was fitted or chosen on these images."
    )
    rows = []
    for e in final.evaluated:
        rows.append(
            {
                "model": e.name,
                "chosen in": e.stage,
                **run.scored(e.name, "test", n_classes),
            }
        )
    s.table(
        rows,
        {
            "model": "model",
            "chosen in": "stage",
            **{k: v for k, v in COMPARE_COLUMNS.items() if k in METRIC_LABELS},
        },
        highlight=final.recommended,
    )
    class_names = run.result(DataOutput).class_names
    auc_rows = [
        {
            "class": name,
            **{e.name: e.roc_auc_per_class.per_class[k] for e in final.evaluated},
        }
        for k, name in enumerate(class_names)
    ]
    auc_rows.append(
        {
            "class": "macro average",
            **{e.name: e.roc_auc_per_class.macro for e in final.evaluated},
        }
    )
    s.blocks.append("<h3>ROC AUC per class (one-vs-rest, from scores)</h3>")
    s.table(
        auc_rows,
        {"class": "class", **{e.name: e.name for e in final.evaluated}},
        key="class",
        highlight="macro average",
    )
    evaluation = final.evaluation
    if evaluation:
        h = evaluation.headline
        s.text(
            f"<b>{html.escape(final.recommended)}</b> on test: accuracy {h.accuracy:.4f} "
            f"(bootstrap 95% interval {h.accuracy_low:.4f} to {h.accuracy_high:.4f}), macro F1 "
            f"{h.macro_f1:.4f}, ECE {h.ece:.4f}. Everything measured is in "
            f"<code>{html.escape(evaluation.file)}</code>."
        )
        charts = evaluation.charts
        s.stored_charts(run, [charts["roc"], charts["pr"]], columns=2)
        s.stored_charts(run, [charts["reliability"], charts["confusion-normalized"]], columns=2)
    return s


@section("reproduce")
def reproducibility(run: RunData) -> Section | None:
    manifest = run.manifest
    s = Section("reproduce", "Reproducibility")
    stages = [
        {
            "stage": k,
            "status": v.status,
            "seconds": v.seconds,
            "memory": None if v.peak_memory is None else format_bytes(v.peak_memory),
        }
        for k, v in manifest.stages.items()
        # The report cannot hold the time it takes to write itself.
        if k != "report"
    ]
    columns = {"stage": "stage", "status": "status", "seconds": "seconds"}
    if any(row["memory"] for row in stages):
        columns["memory"] = "peak memory"
    s.table(stages, columns, key="stage")
    libs = ", ".join(f"{k} {v}" for k, v in manifest.libraries.items())
    s.text(
        f"Seed {manifest.seed}; preset {html.escape(str(manifest.preset))}; libraries: {html.escape(libs)}."
    )
    budget = manifest.time_budget
    if budget is not None:
        wall = (
            ""
            if budget.wall_seconds is None
            else f"; the stages before this report took {_duration(budget.wall_seconds)} of wall time"
        )
        s.text(
            f"Time budget {_duration(budget.seconds)}: started {html.escape(budget.started)}, "
            f"planned to end by {html.escape(budget.deadline)}{wall} (manifest.json records "
            "the wall time of the whole run)."
        )
    s.text(
        f"Re-run with <code>shallowvision run --config {html.escape(str(run.run_dir / 'config.toml'))}</code>; re-render this page with <code>shallowvision report {html.escape(str(run.run_dir))}</code>."
    )
    s.blocks.append(
        f"<details><summary>Effective configuration</summary><pre>{html.escape(json.dumps(manifest.config, indent=2))}</pre></details>"
    )
    return s
