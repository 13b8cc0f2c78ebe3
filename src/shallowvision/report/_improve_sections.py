"""Report sections of the stages that build on the tuned models: ensembles, selection, explanations."""

from __future__ import annotations

import html

from shallowvision.report._records import EnsembleOutput, ExplainOutput, SelectOutput
from shallowvision.report._render import RunData, Section, section
from shallowvision.report._sections import COMPARE_COLUMNS


@section("ensemble")
def ensembles(run: RunData) -> Section | None:
    if not run.has("ensemble"):
        return None
    result = run.result(EnsembleOutput)
    c = result.comparison
    s = Section("ensemble", "Ensembles")
    members = ", ".join(html.escape(m) for m in c.members)
    stacking = (
        f"; stacking learns its final estimator ({html.escape(c.final)}) from {c.cv}-fold "
        "out-of-fold probabilities, refitting each member on every fold"
        if "stack" in c.methods
        else ""
    )
    s.text(
        f"The members ({members}) as they were fitted on the {c.n_train:,} training images, "
        f"combined and scored on the same {c.n_eval:,} {c.evaluated_on} images. Voting reuses "
        f"the fitted members (its fit time includes theirs){stacking}."
    )
    names = result.names
    member_rows = [r.to_dict() for r in c.member_rows]
    ensemble_rows = [r.to_dict() | {"model": names.get(r.model, r.model)} for r in c.ensemble_rows]
    columns = {k: v for k, v in COMPARE_COLUMNS.items() if k != "size_mb"}
    s.table(member_rows + ensemble_rows, columns, highlight=c.best_member)
    gains = [
        f"<b>{html.escape(names.get(label, label))}</b> {gain.accuracy:+.4f} accuracy and "
        f"{gain.f1_macro:+.4f} macro F1"
        for label, gain in c.gain.items()
        if gain.accuracy is not None and gain.f1_macro is not None
    ]
    if gains:
        s.text(
            f"Against the best member ({html.escape(c.best_member)}): "
            + "; ".join(gains)
            + f". The members agree on {100 * c.agreement:.1f}% of the images; at least one of them "
            f"is right on {100 * c.oracle_accuracy:.1f}% (the most any combination could reach)."
        )
    if result.not_offered:
        s.text(
            f"The {' and '.join(html.escape(n) for n in result.not_offered)} ensemble gives labels "
            "only, without scores to rank, calibrate or abstain with: shown here, but not a candidate."
        )
    for skipped in result.skipped:
        s.text(f"Stacking was skipped: {html.escape(skipped.reason)}.")
    s.stored_charts(run, result.charts, columns=2)
    return s


_METHODS = {
    "variance": "The variance threshold",
    "mi": "Mutual information with the class",
    "rfe": "Recursive feature elimination",
    "rfecv": "Recursive feature elimination with cross-validation",
    "model": "The model's own importance (impurity or coefficients)",
    "permutation": "Permutation importance",
    "shap": "Mean |SHAP value|",
}


@section("select")
def selection(run: RunData) -> Section | None:
    if not run.has("select"):
        return None
    result = run.result(SelectOutput)
    r = result.selection
    s = Section("select", "Pixel selection")
    h, w = r.image_shape
    s.text(
        f"<b>{_METHODS.get(r.method, html.escape(r.method))}</b> kept {r.n_kept:,} of the {r.n_features:,} pixels "
        f"({100 * r.share_kept:.1f}%, asked {r.keep:g}), chosen on the {r.n_train:,} training "
        f"images; {html.escape(r.model_name)} was retrained on them and scored on the same "
        f"{r.n_eval:,} {r.evaluated_on} images as on all pixels. The mask is drawn at the "
        f"images' {h}x{w}."
    )
    rows = [
        r.all_pixels.to_dict() | {"model": f"{r.model_name} on all {r.n_features} pixels"},
        r.kept_pixels.to_dict() | {"model": f"{r.model_name} on {r.n_kept} pixels"},
    ]
    columns = {k: v for k, v in COMPARE_COLUMNS.items() if k != "size_mb"}
    s.table(rows, columns)
    d = r.delta
    s.text(
        f"Keeping {r.n_kept} pixels changes accuracy by {d.accuracy:+.4f} and macro F1 by "
        f"{d.f1_macro:+.4f}; fitting takes {d.fit_seconds:+.2f} s and prediction "
        f"{d.predict_seconds_per_1000:+.3f} ms per image. "
        + (
            f"Scoring the pixels took {r.selection_seconds:.1f} s."
            if r.selection_seconds >= 0.05
            else "The pixel scores were read from the model already fitted on all pixels."
        )
    )
    s.stored_charts(run, result.charts, columns=2)
    return s


_EXPLAINERS = {
    "tree": "exact tree SHAP",
    "linear": "exact linear SHAP",
    "partition": "the model-agnostic partition explainer (approximate, grouping neighbouring pixels)",
}


@section("explain")
def explanations(run: RunData) -> Section | None:
    if not run.has("explain"):
        return None
    result = run.result(ExplainOutput)
    charts = result.charts
    s = Section("explain", "Explanations")
    s.text(
        f"SHAP values of <b>{html.escape(result.model)}</b> by "
        f"{_EXPLAINERS.get(result.explainer, html.escape(result.explainer))}, in "
        f"{html.escape(result.output_space)} space, on a stratified sample of {result.n_explain:,} of the "
        f"{result.n_images:,} {result.evaluated_on} images plus the most confidently "
        f"misclassified; base value plus contributions matches the model's output to "
        f"{result.additivity_error:.1e}. Every map is drawn at the images' size: bright pixels "
        "matter most."
    )
    seconds = result.seconds
    s.text(
        '<span class="note">Time: '
        + ", ".join(f"{html.escape(k)} {v:.1f} s" for k, v in seconds.items())
        + "</span>"
    )
    s.stored_charts(
        run,
        [charts[k] for k in ("shap_classes", "shap_direction", "importance") if k in charts],
    )
    for key in ("misclassified", "chosen"):
        if key in charts:
            s.stored_charts(run, [charts[key]])
    return s
