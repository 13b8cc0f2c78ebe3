"""A run's time budget: the deadline set when the run starts, and what each stage may spend.

``time_budget`` (seconds; ``shallowvision run --time-budget 10m``) fixes a deadline. The
stages without which a run means nothing (data, EDA, error analysis, the final test and
the report) always run; what the deadline leaves, less a reserve for the last three, is
what the model stages share, in their order:

- The comparison and tuning can shrink. Each may take up to half of what the model
  stages have left, or its share of it by the stages' weights
  (:attr:`~shallowvision.run.Stage.weight`) when that is more; what it does not use
  goes to the stages after it. The comparison runs its models cheapest first and stops
  a fit when its time runs out (:func:`~shallowvision.models.compare_models`'s
  ``time_budget``); tuning plans each search on fewer images per round when it would
  not fit, or leaves the family out.
- The finalists get what the stages after them leave (``scale.budget_seconds`` at most).
- Ensembles, pixel selection, explanations, calibration and robustness start only when
  their expected cost, with a margin (they run in this process, where nothing stops
  them), fits in what is left; otherwise they are skipped with the reason.

Expected costs come from the measured fit and prediction times and sizes of the models
the run has made, and, before there are any, from each zoo model's reference fit time and
from priors measured on Fashion-MNIST (``benchmarks/RESULTS.md``), scaled by the data's
size. The stages ask :meth:`RunBudget.admit` ("may X start?") or one of the allowances
("how many seconds may X have?"); no other module does budget arithmetic.
"""

from __future__ import annotations

import datetime as _dt
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from shallowvision.report._records import Candidate, TimeBudget
from shallowvision.run._context import RunContext, StageSkipped

__all__ = ["OverBudget", "RunBudget", "SearchPlan", "overruns", "plan_search"]

#: Expected costs of work in this process are multiplied by this before they are checked
#: against what is left: such work cannot be stopped once it has started.
MARGIN = 1.25
#: Stages that run whatever the budget.
FIXED = ("data", "eda", "errors", "final", "report")
#: Stages that can shrink to a share of the time (see :meth:`RunBudget.allowance`).
SHRINKING = ("compare", "tune")
#: Stages started only when their expected cost fits (see :meth:`RunBudget.admit`).
ADMITTED = ("ensemble", "select", "explain", "calibrate", "robustness")
#: The stages that start when they fit, those that matter most to what is recommended
#: first: calibration and robustness (cheap, and of the best models), the finalists (the
#: best models on every image), ensembles, explanations, pixel selection. A stage starts,
#: and the finalists plan their fits, only when what is left after it still holds the
#: expected costs of the later stages that come before it here.
PRIORITY = ("calibrate", "robustness", "finalists", "ensemble", "explain", "select")

#: A search's worker processes start and receive the images: 3-5 s on two cores.
_SEARCH_START_SECONDS = 3.0
#: Writing a model (skops: 70-90 MB/s in memory at load 4), to a file with its checksum.
_SAVE_SECONDS_PER_MB = 0.02
#: Prediction cost assumed before any model of the run has been timed: 0.25 ms per image
#: (`fast` predicts 16,000 Fashion-MNIST images a second, `best` 900).
_PREDICT_SECONDS_PER_IMAGE = 2.5e-4
#: Corrupting an image once (shift, rotation, noise, blur) at 28x28.
_CORRUPT_SECONDS_PER_IMAGE = 5e-5
#: The closing stages, in seconds fixed and per 10,000 images (validation for error
#: analysis, test for the rest): on Fashion-MNIST's 6,000 validation and 10,000 test
#: images error analysis took 1-2 s, the final test 10-17 s with its predictions, the
#: report 3-8 s (benchmarks/RESULTS.md); on digits' few hundred, 0.1-0.3, 0.6-1.2 and
#: 1.4-2.9 s.
_ERRORS_SECONDS = (0.5, 2.0)
_FINAL_SECONDS = (1.0, 10.0)
_REPORT_SECONDS = (4.0, 4.0)
#: SHAP values at 784 pixels of a model whose trees are not priced (tree SHAP of
#: scikit-learn's trees is, from their leaves and depths): 3.5 s for LightGBM; whole
#: explanation stages took 15-36 s on Fashion-MNIST (benchmarks/RESULTS.md). The rest is
#: permutation importance, from the prediction time.
_SHAP_SECONDS = 15.0
#: What a stage costs beyond its predictions and fits (bootstraps, charts, records), from
#: the quick study of Fashion-MNIST (calibration 15 s, robustness 6 s): calibration per
#: method and 10,000 validation images, robustness per model and 1,000 images.
_CALIBRATION_SECONDS = 8.0
_ROBUSTNESS_SECONDS = 2.0
#: Fits of the model a pixel selection makes, by method: one on the kept pixels; RFE
#: eliminates 10% of the pixels a step (its fits shrink with them); RFECV does so on 5 folds.
_SELECT_FITS = {"rfe": 6.0, "rfecv": 30.0}
#: What a selection method computes beyond those fits, in seconds at 784 pixels.
_SELECT_EXTRA = {"mi": 60.0, "shap": 60.0, "permutation": 40.0}
#: The pixels of the priors above.
_PIXELS = 784


def overruns(expected: float, spent: float, allowance: float) -> bool:
    """Whether work in this process expected to take ``expected`` seconds, started when
    ``spent`` of ``allowance`` are gone, would overrun it: with the :data:`MARGIN`, since
    nothing stops it once it has started."""
    return spent + expected * MARGIN > allowance


class OverBudget(StageSkipped):
    """A stage the time budget leaves out; a resumed run with time to spare runs it."""


@dataclass(frozen=True)
class SearchPlan:
    """How one family's search fits the budget: ``max_resources`` (None: every image),
    or ``reason`` when it does not fit at all."""

    max_resources: int | None = None
    reason: str | None = None


@dataclass
class RunBudget:
    """The budget of one run (one invocation: a resumed run gets a fresh one).

    ``enabled`` are the names of the stages the configuration enables, in run order,
    and ``weights`` every stage's typical share of a run's time.
    """

    seconds: float
    enabled: Sequence[str]
    weights: Mapping[str, float]
    #: When the clock started (:func:`time.monotonic`).
    start: float = field(default_factory=time.monotonic)

    @property
    def started(self) -> _dt.datetime:
        """When the clock started, on the wall clock (UTC)."""
        return _dt.datetime.now(_dt.UTC) - _dt.timedelta(seconds=self.elapsed())

    # -- the clock -------------------------------------------------------------------------
    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def left(self) -> float:
        """Seconds to the deadline (negative past it)."""
        return self.seconds - self.elapsed()

    def record(self) -> TimeBudget:
        """The budget as the manifest keeps it, with the wall time so far."""
        started = self.started
        deadline = started + _dt.timedelta(seconds=self.seconds)
        return TimeBudget(
            seconds=self.seconds,
            started=started.isoformat(timespec="seconds"),
            deadline=deadline.isoformat(timespec="seconds"),
            wall_seconds=round(self.elapsed(), 3),
        )

    # -- what the model stages have ----------------------------------------------------------
    def closing(self, ctx: RunContext) -> float:
        """Seconds kept for the enabled closing stages (error analysis, final test, report)."""
        n_val, n_test = len(ctx.splits.validation), len(ctx.splits.test)
        reserve = 0.0
        if "errors" in self.enabled:
            reserve += _ERRORS_SECONDS[0] + _ERRORS_SECONDS[1] * n_val / 10_000
        if "final" in self.enabled:
            # The recommended model and two others predict the test images twice (labels, scores).
            chosen = _best(ctx, 3)
            per_image = max(
                (_per_image(c) for c in chosen), default=_PREDICT_SECONDS_PER_IMAGE * _scale(ctx)
            )
            reserve += _FINAL_SECONDS[0] + _FINAL_SECONDS[1] * n_test / 10_000
            reserve += 3 * 2 * per_image * n_test
        if "report" in self.enabled:
            reserve += _REPORT_SECONDS[0] + _REPORT_SECONDS[1] * n_test / 10_000
        return reserve

    def available(self, ctx: RunContext) -> float:
        """Seconds the model stages have left: to the deadline, less the closing reserve."""
        return max(self.left() - self.closing(ctx), 0.0)

    def allowance(self, ctx: RunContext, stage: str) -> float:
        """How many seconds ``stage`` (the comparison, tuning) may have: half of what the
        model stages have left, or its weight's share of that when more."""
        available = self.available(ctx)
        shares = [s for s in self.enabled if s in SHRINKING + ADMITTED + ("finalists",)]
        later = shares[shares.index(stage) :] if stage in shares else [stage]
        share = available * self.weights.get(stage, 1.0) / sum(self.weights[s] for s in later)
        return max(share, available / 2)

    # -- the questions stages ask ----------------------------------------------------------
    def comparison_seconds(self, ctx: RunContext) -> float:
        """Seconds the comparison may take (its :meth:`allowance`)."""
        return self.allowance(ctx, "compare")

    def finalists_seconds(self, ctx: RunContext, configured: float | None) -> float:
        """Seconds the finalists may take: what is left less what the later stages that
        matter more need (:data:`PRIORITY`), and no more than ``configured``
        (``scale.budget_seconds``)."""
        held, _ = self._held_back(ctx, "finalists")
        left = max(self.available(ctx) - held, 0.0)
        return left if configured is None else min(configured, left)

    def admit(self, ctx: RunContext, stage: str) -> None:
        """Let ``stage`` start, or raise :class:`OverBudget` when its expected cost (with the
        margin) exceeds what the model stages have left, less what the later stages that
        matter more need (:data:`PRIORITY`). Other stages always start."""
        if stage not in ADMITTED:
            return
        expected = _EXPECTED[stage](ctx)
        if expected is None:
            cut = _cut(ctx)
            if cut:  # the stage lacks models because the budget left them out
                raise OverBudget(
                    f"the time budget left too few models for it (not compared: {', '.join(cut)})"
                )
            return  # nothing to judge by: the stage itself finds out what it can do
        seconds, how = expected
        available = self.available(ctx)
        held, kept_for = self._held_back(ctx, stage)
        if overruns(seconds, held, available):
            kept = f", {_secs(held)} of it kept for {' and '.join(kept_for)}" if kept_for else ""
            raise OverBudget(
                f"over the time budget: expected to take {_secs(seconds)} ({how}), and "
                f"{_secs(available)} of the {_secs(self.seconds)} budget is left before "
                f"the closing stages{kept}"
            )

    def _held_back(self, ctx: RunContext, stage: str) -> tuple[float, list[str]]:
        """Seconds kept for the enabled stages after ``stage`` that matter more, and which:
        each, most important first, whose expected cost fits in what is left (one that
        cannot start anyway keeps nothing)."""
        available = self.available(ctx)
        later = list(self.enabled)[list(self.enabled).index(stage) + 1 :]
        rank = PRIORITY.index(stage)
        seconds, kept = 0.0, []
        for name in sorted((s for s in later if s in PRIORITY), key=PRIORITY.index):
            if PRIORITY.index(name) >= rank:
                break
            cost = (_EXPECTED[name](ctx) or (0.0, ""))[0] * MARGIN
            if seconds + cost <= available:
                seconds += cost
                kept.append(_TITLES[name])
        return seconds, kept


# -- tuning's plan -----------------------------------------------------------------------------
def plan_search(
    ctx: RunContext, families: Sequence[str], cv: int, allowance: float, what: str
) -> SearchPlan:
    """How the search of ``families[0]`` fits ``allowance`` seconds, the others in
    ``families`` still to be tuned after it (``what`` names the limit in a reason).

    The families share the allowance in proportion to their expected costs; a search that
    does not fit its part is planned on fewer images per round
    (:func:`~shallowvision.models._tune.halving_rounds`), down to the fewest successive
    halving allows, or left out with the reason.
    """
    costs = [_search_cost(ctx, name, cv) for name in families]
    full = [cost(None) for cost in costs]
    part = allowance * full[0] / sum(full) if sum(full) > 0 else allowance
    cost = costs[0]
    if full[0] * MARGIN <= part:
        return SearchPlan()
    n_images = len(ctx.splits.compared)
    least = 2 * cv * ctx.splits.compared.n_classes
    # The largest number of images per round whose search fits (fewer rounds may cost
    # more, so the sizes are tried from the top).
    size = n_images
    while size > least:
        size = max(int(size * 0.9), least)
        if cost(size) * MARGIN <= part:
            return SearchPlan(max_resources=size)
    return SearchPlan(
        reason=f"tuning {families[0]} is expected to take {_secs(cost(least))} even with "
        f"{least:,} images per round, and {what} leaves {_secs(part)} for it"
    )


def _search_cost(ctx: RunContext, name: str, cv: int) -> Callable[[int | None], float]:
    """The expected seconds of tuning ``name`` with at most so many images per round."""
    from shallowvision.models._tune import halving_rounds, search_size

    config = ctx.config.tune
    compared = ctx.splits.compared
    n_images = len(compared)
    fit = _fit_seconds(ctx, name)
    size = search_size(
        name,
        search=config.search,
        grid=config.grids.get(name),
        n_candidates=config.n_candidates,
    )

    def cost(max_resources: int | None) -> float:
        rounds = halving_rounds(
            size,
            n_images,
            factor=config.factor,
            cv=cv,
            n_classes=compared.n_classes,
            max_resources=max_resources,
        )
        # Each candidate costs cv fits of a round's images (trained on all but a fold,
        # scored on that fold: about a fit on all of them for the feature pipelines);
        # then the default and the best parameters are fitted on all the images.
        fits = sum(n * cv * images / n_images for n, images in rounds)
        return fit * (fits + 2) + _SEARCH_START_SECONDS

    return cost


# -- expected costs of the stages that are admitted ---------------------------------------------
def _scale(ctx: RunContext) -> float:
    """The images' pixels against the 784 of the priors."""
    return math.prod(ctx.splits.train.image_shape) / _PIXELS


def _best(ctx: RunContext, n: int) -> list[Candidate]:
    from shallowvision.run._candidates import best_candidates

    return best_candidates(ctx, n)


def _per_image(candidate: Candidate) -> float:
    """A candidate's measured prediction seconds per image."""
    return float(candidate.metrics.get("predict_seconds_per_1000") or 0.0) / 1000


def _saving(candidate: Candidate) -> float:
    return float(candidate.metrics.get("size_bytes") or 0) / 1e6 * _SAVE_SECONDS_PER_MB


def _fit_seconds(ctx: RunContext, name: str) -> float:
    """A zoo model's fit seconds on the compared images: as the comparison measured them,
    else from its reference time."""
    from shallowvision.models import get_model_spec

    for candidate in ctx.candidates():
        if candidate.name == name and candidate.metrics.get("fit_seconds"):
            return float(candidate.metrics["fit_seconds"])
    compared = ctx.splits.compared
    expected = get_model_spec(name).expected_fit_seconds(len(compared), compared.image_shape)
    return expected or 0.0


def _cut(ctx: RunContext) -> list[str]:
    """The models the comparison left out for the budget."""
    from shallowvision.report._records import CompareOutput

    if not ctx.has_result("compare"):
        return []
    rows = ctx.result(CompareOutput).comparison.rows
    return [r.model for r in rows if "time budget" in r.error]


def _finalists(ctx: RunContext) -> tuple[float, str] | None:
    from shallowvision.models._curve import expected_fit_seconds
    from shallowvision.run._candidates import best_single
    from shallowvision.run._scale import _curve_sizes

    config = ctx.config.scale
    n_train, n_compared = len(ctx.splits.train), len(ctx.splits.compared)
    curve = config.curve == "always" or (config.curve == "auto" and n_compared < n_train)
    if n_compared >= n_train and not curve:
        return 0.0, "nothing to refit"
    sizes = _curve_sizes(ctx, n_train, n_compared, config.curve_points if curve else 2)
    finalists = best_single(ctx, config.finalists)
    n_val = len(ctx.splits.validation)
    seconds = 0.0
    for finalist in finalists:
        fit = float(finalist.metrics.get("fit_seconds") or 0.0)
        for size in sizes:
            if size != n_compared:
                seconds += expected_fit_seconds([(n_compared, fit)], size) or 0.0
                seconds += _per_image(finalist) * n_val
        seconds += _saving(finalist)
    return seconds, f"{_count(len(finalists), 'model')} refitted at {_count(len(sizes), 'size')}"


def _ensemble(ctx: RunContext) -> tuple[float, str] | None:
    from shallowvision.run._candidates import best_single

    config = ctx.config.ensemble
    if config.members is not None:
        members = [c for c in ctx.candidates() if c.name in config.members]
    else:
        members = best_single(ctx, config.size, proba="soft" in config.methods)
    if len(members) < 2:
        return None
    n_val = len(ctx.splits.validation)
    # Every member and ensemble is scored on validation (labels and scores), and each
    # ensemble saved, members included; stacking fits every member on each fold and on all.
    scoring = sum(2 * _per_image(m) * n_val + _saving(m) for m in members)
    seconds = (1 + 2 * len(config.methods)) * scoring
    how = f"{len(members)} members scored"
    if "stack" in config.methods:
        fits = sum(float(m.metrics.get("fit_seconds") or 0.0) for m in members)
        seconds += (config.cv + 1) * fits
        how += f", stacking's {config.cv + 1} fits of each"
    return seconds, how


def _select(ctx: RunContext) -> tuple[float, str] | None:
    from shallowvision.exceptions import ConfigError
    from shallowvision.run._improve import selection_model

    config = ctx.config.select
    try:
        model = selection_model(ctx)
    except ConfigError:
        return None  # the stage says why
    if isinstance(model, str):  # a zoo model fitted afresh
        name, fit, per_image, saving = model, _fit_seconds(ctx, model), 0.0, 0.0
    else:
        candidate = next(c for c in ctx.candidates() if c.name == model[0])
        name, fit = candidate.name, float(candidate.metrics.get("fit_seconds") or 0.0)
        per_image, saving = _per_image(candidate), _saving(candidate)
    fits = _SELECT_FITS.get(config.method, 1.0)
    extra = _SELECT_EXTRA.get(config.method, 0.0) * _scale(ctx)
    n_val = len(ctx.splits.validation)
    seconds = fits * fit + extra + 2 * per_image * n_val + saving
    what = f"{fits:g} fit" + ("" if fits == 1 else "s")
    return seconds, f"{what} of {name} at {_secs(fit)}, {config.method} ranking"


def _explain(ctx: RunContext) -> tuple[float, str] | None:
    from shallowvision.exceptions import ConfigError
    from shallowvision.explain._explain import N_MISCLASSIFIED
    from shallowvision.features._shap import auto_n_explain, expected_tree_shap_seconds
    from shallowvision.run._improve import explained_model

    config = ctx.config.explain
    try:
        name = explained_model(ctx)
    except ConfigError:
        return None
    candidate = next(c for c in ctx.candidates() if c.name == name)
    pixels = math.prod(ctx.splits.train.image_shape)
    # Permutation importance shuffles every pixel over n_permutation images.
    permutation = pixels * config.n_permutation * _per_image(candidate)
    # Tree SHAP is priced from the trees: 200 extra trees took 88 s where the prior says 15.
    model = ctx.model(name)
    images = (config.n_explain or auto_n_explain(model)) + N_MISCLASSIFIED
    shap = expected_tree_shap_seconds(model, images)
    seconds = permutation + (_SHAP_SECONDS * _scale(ctx) if shap is None else shap)
    return seconds, f"SHAP values and permutation importance of {name}"


def _calibrate(ctx: RunContext) -> tuple[float, str] | None:
    from shallowvision.run._candidates import best_candidates

    config = ctx.config.calibrate
    stages = ("compare", "tune", "ensemble", "select", "finalists")
    bases = best_candidates(ctx, config.top, stages=stages)
    if not bases:
        return None
    n_cal, n_val = len(ctx.splits.calibration), len(ctx.splits.validation)
    # Per method: predictions on the calibration split, three passes over validation
    # (comparison, scoring, stored predictions) and two copies of the model written.
    fixed = _CALIBRATION_SECONDS * n_val / 10_000
    each = sum(_per_image(b) * (n_cal + 3 * n_val) + 2 * _saving(b) + fixed for b in bases)
    methods = len(config.methods)
    return methods * each, f"{_count(methods, 'method')} on {_count(len(bases), 'model')}"


def _robustness(ctx: RunContext) -> tuple[float, str] | None:
    from shallowvision.evaluation import get_corruption_names

    config = ctx.config.robustness
    models = _best(ctx, config.top)
    if not models:
        return None
    n_val = len(ctx.splits.validation)
    n_images = n_val if config.n_images is None else min(config.n_images, n_val)
    colour = "rgb" if len(ctx.splits.train.image_shape) == 3 else "gray"
    corruptions = len(config.corruptions or get_corruption_names(colour))
    corrupted = n_images * corruptions * len(config.severities)
    fixed = _ROBUSTNESS_SECONDS * n_images / 1000
    seconds = sum(_per_image(m) * (n_images + corrupted) + fixed for m in models)
    seconds += len(models) * corrupted * _CORRUPT_SECONDS_PER_IMAGE * _scale(ctx)
    return seconds, f"{_count(len(models), 'model')} on {corrupted:,} corrupted images each"


#: The expected seconds of each admitted stage and how they were estimated (None: unknown).
_EXPECTED: dict[str, Callable[[RunContext], tuple[float, str] | None]] = {
    "finalists": _finalists,
    "ensemble": _ensemble,
    "select": _select,
    "explain": _explain,
    "calibrate": _calibrate,
    "robustness": _robustness,
}


#: How the reasons name the stages.
_TITLES = {
    "calibrate": "calibration",
    "robustness": "robustness",
    "finalists": "the finalists",
    "ensemble": "ensembles",
    "explain": "explanations",
    "select": "pixel selection",
}


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def _secs(value: float) -> str:
    """Seconds as a reader takes them in: 0.4 s, 12 s, 1,234 s."""
    value = max(value, 0.0)
    return f"{value:.1f} s" if value < 10 else f"{value:,.0f} s"
