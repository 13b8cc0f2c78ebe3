"""Runs side by side: one offline page that compares stored runs with the first of them.

Everything is read from the runs' folders (manifests, stage files, stored predictions);
nothing is refitted or predicted again. A difference between two runs' models comes with
an interval only where it can be had honestly: a paired bootstrap when both runs scored
the very same images with the same labels, and each run's own interval otherwise.
"""

from __future__ import annotations

import datetime as _dt
import html
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from shallowvision import __version__
from shallowvision._io import write_text
from shallowvision._memory import format_bytes
from shallowvision.exceptions import ConfigError
from shallowvision.report._records import Candidate, DataOutput, FinalOutput
from shallowvision.report._render import METRIC_LABELS, RunData, Section

__all__ = ["compare_runs"]

#: Metrics every comparison shows; the reference run's objective metric is added.
_SHOWN = ("accuracy", "f1_macro")
#: Metrics computed from predicted labels; the others need scores (or probabilities).
_LABEL_METRICS = ("accuracy", "balanced_accuracy", "f1_macro")
_PROBA_METRICS = ("log_loss", "brier")
#: The stages whose models may be chosen, in the order a run makes them.
_OFFERING = ("compare", "tune", "ensemble", "select", "finalists", "calibrate")
#: Configuration keys always shown, equal or not: what a reader looks for first.
_ALWAYS = ("preset", "seed", "data.dataset")


def compare_runs(
    run_dirs: Sequence[str | Path],
    out: str | Path | None = None,
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
) -> Path:
    """Write one offline HTML page that compares stored runs with the first of them.

    The page shows the configuration keys whose effective values differ (and always the
    preset, seed, dataset and library versions), the images of each split, the stage
    timings and peak memory with their ratios to the first run, each run's recommended
    model with its validation and test metrics recomputed from the stored predictions,
    its difference to the first run's recommended model, and the validation metric of
    the models two runs have in common.

    A difference is paired when both runs scored the same images (equal pixel
    fingerprints and labels): :func:`~shallowvision.evaluation.paired_bootstrap` on the
    stored predictions then gives its interval, resampled with the first run's seed.
    When the images differ, the page says so and gives each run's own interval
    (:func:`~shallowvision.evaluation.bootstrap_ci`) instead.

    Parameters
    ----------
    run_dirs : sequence of path
        Two or more run folders written by ``shallowvision run``; the first is the
        reference.
    out : path, optional
        The page to write; a folder receives ``comparison.html``. By default
        ``comparison.html`` in the folder that holds the first run (next to it).
    n_resamples : int
        Bootstrap resamples of each interval.
    confidence : float
        Coverage of each interval, e.g. 0.95.

    Returns
    -------
    Path
        The page written.

    Raises
    ------
    ConfigError
        Fewer than two runs, a folder that is not a run, or a stage file this version
        cannot read.
    """
    import jinja2

    if len(run_dirs) < 2:
        raise ConfigError(f"comparing needs at least two run folders, got {len(run_dirs)}")
    if not 0 < confidence < 1:
        raise ConfigError(f"confidence must be in (0, 1), got {confidence}")
    runs = [_Run.read(Path(d)) for d in run_dirs]
    ids = _labels(runs)
    settings = _Settings(
        n_resamples=n_resamples, confidence=confidence, seed=runs[0].data.manifest.seed
    )
    sections = [
        _runs_section(runs, ids),
        _config_section(runs, ids),
        _data_section(runs, ids),
        _timings_section(runs, ids),
        _metrics_section(runs, ids),
        _differences_section(runs, ids, settings),
        _common_section(runs, ids, settings),
    ]
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("shallowvision.report", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
    )
    page = env.get_template("report.html.j2").render(
        title=f"shallowvision comparison: {' vs '.join(ids)}",
        run_id=" vs ".join(ids),
        generated=_dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        version=__version__,
        plotly_js="",
        footer=(
            f"from the stored results of runs {', '.join(ids)}; every number is computed "
            "from stored predictions and measurements."
        ),
        sections=sections,
    )
    target = _target(Path(run_dirs[0]), out)
    write_text(target, page)
    return target


def _target(first: Path, out: str | Path | None) -> Path:
    if out is None:
        return first.resolve().parent / "comparison.html"
    path = Path(out)
    return path / "comparison.html" if path.is_dir() else path


@dataclass(frozen=True)
class _Settings:
    n_resamples: int
    confidence: float
    seed: int


@dataclass
class _Run:
    """One run's stored results, as the comparison reads them."""

    data: RunData
    n_classes: int | None
    final: FinalOutput | None
    candidates: dict[str, Candidate]

    @classmethod
    def read(cls, run_dir: Path) -> _Run:
        data = RunData(run_dir)
        n_classes = len(data.result(DataOutput).class_names) if data.has("data") else None
        final = data.result(FinalOutput) if data.has("final") else None
        candidates: dict[str, Candidate] = {}
        for stage in _OFFERING:
            for c in data.offered(stage):
                candidates.setdefault(c.name, c)
        return cls(data, n_classes, final, candidates)

    @property
    def recommended(self) -> str | None:
        return None if self.final is None else self.final.recommended

    def predictions(self, name: str, split: str) -> dict[str, Any] | None:
        try:
            return self.data.predictions(name, split)
        except FileNotFoundError:
            return None

    def scored(self, name: str | None, split: str) -> dict[str, float | None]:
        if name is None or self.n_classes is None or self.predictions(name, split) is None:
            return {}
        return self.data.scored(name, split, self.n_classes)


def _labels(runs: list[_Run]) -> list[str]:
    """Each run's id, made unique (two folders may carry the same id)."""
    out: list[str] = []
    for run in runs:
        name = run.data.manifest.run_id or run.data.run_dir.name
        label, n = name, 2
        while label in out:
            label, n = f"{name} ({n})", n + 1
        out.append(label)
    return out


def _label(metric: str) -> str:
    return METRIC_LABELS.get(metric, metric)


def _metrics(reference: _Run) -> list[str]:
    objective = reference.data.manifest.objective_metric
    return [*_SHOWN, *([objective] if objective not in _SHOWN else [])]


def _signed(value: float | None) -> str | None:
    return None if value is None or np.isnan(value) else f"{value:+.4f}"


def _interval(low: float, high: float) -> str:
    return f"[{low:+.4f}, {high:+.4f}]"


def _seconds(value: float | None) -> str | None:
    return None if value is None else f"{value:,.2f}"


def _ratio(value: float | None, reference: float | None) -> str | None:
    if value is None or not reference:
        return None
    return f"×{value / reference:.2f}"


# -- sections -------------------------------------------------------------------------------------
def _runs_section(runs: list[_Run], ids: list[str]) -> Section:
    s = Section("runs", "Runs")
    s.text(
        f"<b>{html.escape(ids[0])}</b> is the reference: every other run's differences are "
        "to it. Every number below is read or recomputed from the runs' stored results."
    )
    rows = [
        {
            "run": run_id,
            "folder": str(run.data.run_dir),
            "dataset": run.data.manifest.dataset,
            "preset": run.data.manifest.preset,
            "seed": run.data.manifest.seed,
            "created": run.data.manifest.created,
            "recommended": run.recommended,
        }
        for run, run_id in zip(runs, ids, strict=True)
    ]
    s.table(rows, {k: k for k in rows[0]}, key="run")
    return s


def flatten(config: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """A nested configuration as dotted keys and JSON values (``compare.models``)."""
    out: dict[str, str] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value and key not in ("params", "grids"):
            out |= flatten(value, f"{name}.")
        else:
            out[name] = json.dumps(value, sort_keys=True)
    return out


def _config_section(runs: list[_Run], ids: list[str]) -> Section:
    s = Section("config", "Configuration")
    flat = [
        flatten(
            run.data.manifest.config
            | {"preset": run.data.manifest.preset, "seed": run.data.manifest.seed}
        )
        for run in runs
    ]
    keys = sorted(set().union(*flat))
    differing = [k for k in keys if len({f.get(k) for f in flat}) > 1]
    shown = [*_ALWAYS, *(k for k in differing if k not in _ALWAYS)]
    count = len(differing)
    s.text(
        "The effective configurations (as each run's <code>config.json</code> holds them) "
        + (
            f"differ in {count} key{'s' if count != 1 else ''}; only those are listed, after "
            "the preset, the seed and the dataset."
            if count
            else "are identical."
        )
    )
    s.table(
        [
            {
                "key": k,
                "differs": k in differing,
                **{i: f.get(k) for i, f in zip(ids, flat, strict=True)},
            }
            for k in shown
        ],
        {"key": "key", **{i: i for i in ids}, "differs": "differs"},
        key="key",
    )
    libraries = [run.data.manifest.libraries for run in runs]
    names = sorted(set().union(*libraries))
    s.blocks.append("<h3>Library versions</h3>")
    s.table(
        [
            {
                "library": name,
                **{i: lib.get(name) for i, lib in zip(ids, libraries, strict=True)},
                "differs": len({lib.get(name) for lib in libraries}) > 1,
            }
            for name in names
        ],
        {"library": "library", **{i: i for i in ids}, "differs": "differs"},
        key="library",
    )
    return s


def _data_section(runs: list[_Run], ids: list[str]) -> Section:
    s = Section("data", "Images")
    s.text(
        "Each split's images, identified by the SHA-256 of their pixels: a difference "
        "between two runs is paired only on a split whose images are the same."
    )
    splits = list(dict.fromkeys(name for run in runs for name in run.data.manifest.data))
    reference = runs[0].data.manifest.data
    rows = []
    for split in splits:
        row: dict[str, Any] = {"split": split}
        for run, run_id in zip(runs, ids, strict=True):
            checksum = run.data.manifest.data.get(split)
            row[run_id] = (
                None
                if checksum is None
                else f"{checksum.n_images:,} images, {checksum.fingerprint[:12]}…"
            )
        row["same"] = all(
            split in run.data.manifest.data
            and split in reference
            and run.data.manifest.data[split].fingerprint == reference[split].fingerprint
            for run in runs[1:]
        )
        rows.append(row)
    s.table(
        rows, {"split": "split", **{i: i for i in ids}, "same": "same as reference"}, key="split"
    )
    return s


def _timings_section(runs: list[_Run], ids: list[str]) -> Section:
    s = Section("timings", "Stage timings and peak memory")
    s.text(
        "Wall-clock seconds and the largest resident memory of each stage, as each run's "
        "manifest recorded them; a ratio of ×2.00 is twice the reference's (the total's "
        "peak is the largest stage's). A stage that did not run shows its status."
    )
    stages = list(dict.fromkeys(name for run in runs for name in run.data.manifest.stages))
    columns: dict[str, str] = {"stage": "stage"}
    for n, run_id in enumerate(ids):
        columns[f"{n}.s"] = f"{run_id} s"
        if n:
            columns[f"{n}.sr"] = "ratio"
        columns[f"{n}.m"] = f"{run_id} peak"
        if n:
            columns[f"{n}.mr"] = "ratio"
    rows = []
    totals = [0.0] * len(runs)
    peaks = [0] * len(runs)
    for stage in stages:
        row: dict[str, Any] = {"stage": stage}
        ref = runs[0].data.manifest.stages.get(stage)
        for n, run in enumerate(runs):
            timing = run.data.manifest.stages.get(stage)
            if timing is None or timing.status != "done":
                row[f"{n}.s"] = "not run" if timing is None else timing.status
                continue
            totals[n] += timing.seconds or 0.0
            peaks[n] = max(peaks[n], timing.peak_memory or 0)
            row[f"{n}.s"] = _seconds(timing.seconds)
            row[f"{n}.m"] = None if timing.peak_memory is None else format_bytes(timing.peak_memory)
            if n and ref is not None and ref.status == "done":
                row[f"{n}.sr"] = _ratio(timing.seconds, ref.seconds)
                row[f"{n}.mr"] = _ratio(timing.peak_memory, ref.peak_memory)
        rows.append(row)
    total: dict[str, Any] = {"stage": "total"}
    for n, (seconds, peak) in enumerate(zip(totals, peaks, strict=True)):
        total[f"{n}.s"] = _seconds(seconds)
        total[f"{n}.m"] = format_bytes(peak) if peak else None
        if n:
            total[f"{n}.sr"] = _ratio(seconds, totals[0])
            total[f"{n}.mr"] = _ratio(peak or None, peaks[0])  # older runs measured none
    rows.append(total)
    s.table(rows, columns, key="stage", highlight="total")
    return s


def _metrics_section(runs: list[_Run], ids: list[str]) -> Section:
    s = Section("metrics", "Recommended models")
    metrics = _metrics(runs[0])
    s.text(
        "Each run's recommended model, scored from its stored predictions on that run's "
        "validation and test images."
    )
    columns = {"run": "run", "model": "recommended"}
    for split in ("validation", "test"):
        columns |= {f"{split}.{m}": f"{split} {_label(m)}" for m in metrics}
    rows = []
    for run, run_id in zip(runs, ids, strict=True):
        row: dict[str, Any] = {"run": run_id, "model": run.recommended}
        for split in ("validation", "test"):
            scored = run.scored(run.recommended, split)
            row |= {f"{split}.{m}": scored.get(m) for m in metrics}
        rows.append(row)
    s.table(rows, columns, key="run")
    missing = [i for run, i in zip(runs, ids, strict=True) if run.final is None]
    if missing:
        s.text(
            f'<span class="warn">{html.escape(", ".join(missing))}: no final evaluation '
            "stored (the run stopped before it), so no recommended model to compare.</span>"
        )
    return s


def same_images(a: _Run, b: _Run, split: str) -> str | None:
    """Why ``a`` and ``b`` did not score the same ``split`` images; None if they did."""
    ca, cb = a.data.manifest.data.get(split), b.data.manifest.data.get(split)
    if ca is None or cb is None:
        return f"a run records no {split} images"
    if ca.fingerprint != cb.fingerprint:
        return f"the runs scored different {split} images"
    return None


def _pair(
    reference: _Run, run: _Run, split: str, names: tuple[str, str]
) -> tuple[dict[str, Any], dict[str, Any]] | str:
    """The two models' predictions on ``split``, or why they cannot be paired."""
    why = same_images(reference, run, split)
    if why is not None:
        return why
    ref, other = reference.predictions(names[0], split), run.predictions(names[1], split)
    if ref is None or other is None:
        return f"no stored {split} predictions"
    if not np.array_equal(ref["y_true"], other["y_true"]):
        return f"the runs gave the same {split} images different labels"
    return ref, other


def _field(metric: str, *predictions: dict[str, Any]) -> str | None:
    """The prediction array ``metric`` is computed from; None if one model lacks it."""
    if metric in _LABEL_METRICS:
        return "labels"
    if any(p.get("scores") is None or p["scores"].ndim != 2 for p in predictions):
        return None
    if metric in _PROBA_METRICS and any(p["kind"] != "proba" for p in predictions):
        return None
    return "scores"


def paired_differences(
    reference: dict[str, Any],
    other: dict[str, Any],
    metrics: list[str],
    n_classes: int | None,
    settings: _Settings,
) -> dict[str, Any]:
    """Each metric's paired bootstrap difference, ``other`` minus ``reference``."""
    from shallowvision.evaluation import paired_bootstrap

    out = {}
    for metric in metrics:
        field = _field(metric, reference, other)
        if field is None:
            continue
        out[metric] = paired_bootstrap(
            reference["y_true"],
            other[field],
            reference[field],
            metric=metric,
            n_classes=n_classes,
            n_resamples=settings.n_resamples,
            confidence=settings.confidence,
            random_state=settings.seed,
        )
    return out


def _differences_section(runs: list[_Run], ids: list[str], settings: _Settings) -> Section:
    from shallowvision.evaluation import bootstrap_ci

    s = Section("differences", "Differences to the reference")
    level = f"{settings.confidence:.0%}"
    s.text(
        f"Each run's recommended model minus the reference's, with a {level} interval. "
        "Where both runs scored the same images, the interval is a paired bootstrap "
        f"({settings.n_resamples:,} resamples of the images, both models scored on each): "
        "an interval that excludes 0 is a difference larger than the choice of images "
        "explains. Where the images differ the difference is not paired: each run's own "
        "interval is given instead."
    )
    reference, metrics = runs[0], _metrics(runs[0])
    for run, run_id in zip(runs[1:], ids[1:], strict=True):
        s.blocks.append(f"<h3>{html.escape(run_id)} against {html.escape(ids[0])}</h3>")
        if reference.recommended is None or run.recommended is None:
            s.text("No difference: a run has no recommended model.")
            continue
        names = (reference.recommended, run.recommended)
        for split in ("validation", "test"):
            pair = _pair(reference, run, split, names)
            if isinstance(pair, tuple):
                paired = paired_differences(*pair, metrics, run.n_classes, settings)
                s.text(
                    f"<b>{split}</b>: paired on the same {len(pair[0]['y_true']):,} images "
                    f"({html.escape(names[1])} minus {html.escape(names[0])})."
                )
                s.table(
                    [
                        {
                            "metric": _label(m),
                            "reference": d.value_b,
                            "run": d.value_a,
                            "difference": _signed(d.estimate),
                            "interval": _interval(d.low, d.high),
                            "significant": not d.low <= 0 <= d.high,
                        }
                        for m, d in paired.items()
                    ],
                    {
                        "metric": "metric",
                        "reference": ids[0],
                        "run": run_id,
                        "difference": "difference",
                        "interval": f"{level} interval (paired)",
                        "significant": "excludes 0",
                    },
                    key="metric",
                )
                continue
            s.text(
                f"<b>{split}</b>: not paired, {html.escape(pair)}; each run's own {level} "
                "interval is shown, and the difference has none."
            )
            rows = []
            for_run = [reference, run]
            scores = [r.scored(n, split) for r, n in zip(for_run, names, strict=True)]
            own = []
            for r, n in zip(for_run, names, strict=True):
                p = r.predictions(n, split)
                own.append(
                    None
                    if p is None
                    else bootstrap_ci(
                        p["y_true"],
                        p["labels"],
                        n_classes=r.n_classes,
                        n_resamples=settings.n_resamples,
                        confidence=settings.confidence,
                        random_state=settings.seed,
                    )
                )
            for m in metrics:
                row: dict[str, Any] = {"metric": _label(m)}
                for key, scored, ci in zip(("reference", "run"), scores, own, strict=True):
                    row[key] = scored.get(m)
                    interval = None
                    if ci is not None and m in ("accuracy", "f1_macro"):
                        interval = ci.accuracy if m == "accuracy" else ci.macro_f1
                    row[f"{key}.ci"] = (
                        None if interval is None else f"[{interval.low:.4f}, {interval.high:.4f}]"
                    )
                a, b = scores[1].get(m), scores[0].get(m)
                row["difference"] = None if a is None or b is None else _signed(a - b)
                rows.append(row)
            s.table(
                rows,
                {
                    "metric": "metric",
                    "reference": ids[0],
                    "reference.ci": f"{level} interval",
                    "run": run_id,
                    "run.ci": f"{level} interval",
                    "difference": "difference (not paired)",
                },
                key="metric",
            )
    return s


def _common_section(runs: list[_Run], ids: list[str], settings: _Settings) -> Section:
    s = Section("common", "Models in common")
    reference = runs[0]
    metric = reference.data.manifest.objective_metric
    label = _label(metric)
    s.text(
        f"The models two runs both offered for the final choice, by name, with their "
        f"validation {label} side by side; where the runs' validation images are the same, "
        f"the difference has a paired {settings.confidence:.0%} interval."
    )
    for run, run_id in zip(runs[1:], ids[1:], strict=True):
        s.blocks.append(f"<h3>{html.escape(run_id)} against {html.escape(ids[0])}</h3>")
        common = [name for name in reference.candidates if name in run.candidates]
        if not common:
            s.text("The runs have no model in common.")
            continue
        why = same_images(reference, run, "validation")
        if why is not None:
            s.text(f"Not paired: {html.escape(why)}.")
        rows = []
        for name in common:
            a, b = reference.scored(name, "validation"), run.scored(name, "validation")
            row: dict[str, Any] = {"model": name, "reference": a.get(metric), "run": b.get(metric)}
            va, vb = a.get(metric), b.get(metric)
            row["difference"] = None if va is None or vb is None else _signed(vb - va)
            pair = _pair(reference, run, "validation", (name, name)) if why is None else why
            if isinstance(pair, tuple):
                paired = paired_differences(*pair, [metric], run.n_classes, settings)
                if metric in paired:
                    row["interval"] = _interval(paired[metric].low, paired[metric].high)
            rows.append(row)
        s.table(
            rows,
            {
                "model": "model",
                "reference": f"{ids[0]} {label}",
                "run": f"{run_id} {label}",
                "difference": "difference",
                "interval": "interval (paired)",
            },
        )
    return s
