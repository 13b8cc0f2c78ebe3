"""Report section of data-rich runs: the finalists refitted on every training image, and
their learning curves."""

from __future__ import annotations

import html
import math
from typing import Any

from shallowvision.report._records import DataOutput, Finalist, FinalistsOutput
from shallowvision.report._render import RunData, Section, section

#: Gain in validation accuracy per doubling of the training images (points) from which
#: more data "still helps", and below which the curve has levelled off.
_HELPS, _LEVELLED = 0.5, 0.1


#: How the table names a finalist's outcome.
_STATUS = {"ok": "refitted", "compared on all": "compared on all images"}


def _verdict(gain: float) -> str:
    if gain >= _HELPS:
        return "more data still helps"
    if gain >= _LEVELLED:
        return "more data helps a little"
    return "the curve has levelled off, and more data adds little"


def _trend(record: Finalist) -> str | None:
    """One sentence on whether more images still help this finalist."""
    step = record.last_doubling
    if step is None:
        return None
    model, gain = html.escape(record.model), step.gain
    if step.extended:
        first = min(p.n_images for p in record.curve if p.accuracy is not None)
        return (
            f"<b>{model}</b>: {gain:+.2f} points of validation accuracy per doubling of the "
            f"training images, along its curve from {first:,} to {step.to:,} images (less "
            f"than a doubling apart): {_verdict(gain)}."
        )
    return (
        f"<b>{model}</b>: {gain:+.2f} points of validation accuracy over the last doubling of "
        f"the training images, from {step.start:,} (read off the curve) to {step.to:,}: "
        f"{_verdict(gain)}."
    )


def _noise(run: RunData, records: list[Finalist]) -> str | None:
    """How far one validation accuracy may move by chance, to weigh the gains against."""
    n_validation = run.result(DataOutput).splits["validation"].n_images
    tops = [p.accuracy for r in records for p in r.curve[-1:] if p.accuracy]
    if not tops:
        return None
    error = 100 * math.sqrt(tops[0] * (1 - tops[0]) / n_validation)
    return (
        f'<span class="note">On the {n_validation:,} validation images one accuracy near '
        f"{tops[0]:.3f} has a standard error of about {error:.2f} points: smaller gains are "
        "within chance.</span>"
    )


@section("finalists")
def finalists(run: RunData) -> Section | None:
    if not run.has("finalists"):
        return None
    result = run.result(FinalistsOutput)
    records = result.finalists
    if not records:
        return None  # the comparison used every image and no curve was asked for
    n_classes = len(run.result(DataOutput).class_names)
    n, m = result.n_train, result.n_compared
    subsampled = m < n
    sizes = ", ".join(f"{size:,}" for size in result.sizes)
    s = Section("finalists", "Finalists on all training images")
    curve = (
        f"; each is scored on validation after fits on nested seeded subsets of {sizes} images"
        if result.curve
        else ""
    )
    if subsampled:
        s.text(
            f"The models were compared on a seeded stratified subsample of {m:,} of the {n:,} "
            f"training images. {_best(records)} by the objective (one per family, ensembles "
            f"excluded) {'is' if len(records) == 1 else 'are'} refitted on all {n:,} and "
            f"offered as a candidate named <code>MODEL-all</code>{curve}."
            + (
                " The smallest of these fits is the compared model itself and the largest the "
                "refit: neither is fitted twice."
                if result.curve
                else ""
            )
        )
    else:
        s.text(
            f"The comparison used all {n:,} training images. The learning "
            f"{'curve' if len(records) == 1 else 'curves'} of {_best(records).lower()} "
            f"{'shows' if len(records) == 1 else 'show'} "
            f"what fewer would have given{curve}."
        )
    if result.budget_seconds is not None:
        s.text(
            f'<span class="note">A fit expected, from the fit times on fewer images, to end more '
            f"than {result.budget_seconds:,.0f} s after this stage began is not started "
            "(scale.budget_seconds, or less when the run's time budget left less); a fit "
            "whose estimated memory exceeds what is free is refused.</span>"
        )
    s.table(_rows(run, records, n_classes, subsampled), _columns(m, n, subsampled))
    for record in records:
        missing = [p for p in record.curve if p.status != "ok"]
        if missing:
            s.text(
                f"<b>{html.escape(record.model)}</b> was not fitted on "
                + "; ".join(
                    f"{p.n_images:,} images ({html.escape(p.status)}: {html.escape(p.reason)})"
                    for p in missing
                )
                + "."
            )
    if result.charts:
        s.stored_charts(run, result.charts)
        trends = [t for t in map(_trend, records) if t is not None]
        if trends:
            s.blocks.append("<ul>" + "".join(f"<li>{t}</li>" for t in trends) + "</ul>")
            noise = _noise(run, records)
            if noise:
                s.text(noise)
    return s


def _best(records: list[Finalist]) -> str:
    return (
        "The best single model" if len(records) == 1 else f"The {len(records)} best single models"
    )


def _columns(m: int, n: int, subsampled: bool) -> dict[str, str]:
    columns = {"model": "model", "refit": "refitted as", "images": "images"}
    if subsampled:
        columns |= {
            "accuracy_compared": f"accuracy, {m:,}",
            "f1_compared": f"macro F1, {m:,}",
        }
    columns |= {
        "accuracy_all": f"accuracy, {n:,}",
        "f1_all": f"macro F1, {n:,}",
        "fit_seconds": "fit s",
        "notes": "what it chose",
        "status": "status",
    }
    return columns


def _rows(
    run: RunData, records: list[Finalist], n_classes: int, subsampled: bool
) -> list[dict[str, Any]]:
    """Validation figures recomputed from the stored predictions of the compared model and
    of its refit."""
    rows = []
    for record in records:
        compared = run.scored(record.model, "validation", n_classes)
        refit = record.refit
        full = (
            run.scored(refit, "validation", n_classes)
            if refit
            else (None if subsampled else compared)
        )
        rows.append(
            {
                "model": record.model,
                "refit": refit,
                "images": record.n_images,
                "accuracy_compared": compared["accuracy"],
                "f1_compared": compared["f1_macro"],
                "accuracy_all": None if full is None else full["accuracy"],
                "f1_all": None if full is None else full["f1_macro"],
                "fit_seconds": record.fit_seconds,
                "notes": record.notes or None,
                "status": _STATUS.get(record.status, record.status),
            }
        )
    return rows
