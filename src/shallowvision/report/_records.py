"""What each stage of a run stores in ``stages/<stage>.json``, as typed records.

The stages write these records and the report reads them: both sides share one
definition of every field, so a section reads ``result.comparison.rows``, not a chain of
string keys, and a field that a stage stops writing is caught where the file is read.
They live in the report package, which owns what it renders from; ``run`` sits above it
and imports them, while the report never imports ``run``.

Each is a :class:`~shallowvision._records.StoredRecord`: its fields hold JSON values
(lists, not arrays), so reading a file gives back exactly what was written. Parts of a
result that nothing reads back (the EDA record, reliability diagrams, galleries) are kept
as the plain JSON their own records wrote.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from shallowvision._io import read_stage_file
from shallowvision._records import OMIT_NONE, RecordError, StoredRecord
from shallowvision.exceptions import ConfigError
from shallowvision.models import ModelScore

__all__ = [
    "OUTPUTS",
    "STAGE_FORMAT",
    "CalibrateOutput",
    "Calibration",
    "Candidate",
    "CompareOutput",
    "DataOutput",
    "Difference",
    "EdaOutput",
    "EnsembleOutput",
    "ErrorsOutput",
    "ExplainOutput",
    "FinalOutput",
    "FinalistsOutput",
    "Recommendation",
    "ReportOutput",
    "RobustnessOutput",
    "RunManifest",
    "SelectOutput",
    "StageOutput",
    "StageTiming",
    "StoredStage",
    "Subsample",
    "TimeBudget",
    "TuneOutput",
    "read_stage",
]


# -- parts shared by several stages -------------------------------------------------------------
@dataclass(frozen=True)
class Candidate(StoredRecord):
    """A fitted model that may be chosen: where it is stored and how it did on validation.

    ``metrics`` are its :class:`~shallowvision.models.ModelScore` figures on the
    validation split, by name (the objective picks one by name), plus the
    ``fitting_sample`` of a chunked pipeline that took one.
    """

    name: str
    stage: str
    model_file: str
    metrics: dict[str, Any]
    gives_proba: bool


@dataclass(frozen=True, kw_only=True)
class Subsample(StoredRecord):
    """A subsample the run took: of which split, how many images of how many, and why.

    ``n_images`` is a list for nested sets (a learning curve's); ``fingerprint`` names
    the images of the compared subsample.
    """

    name: str
    split: str
    n_images: int | list[int]
    of: int
    seed: int
    fingerprint: str | None = field(default=None, metadata=OMIT_NONE)
    used_for: str


@dataclass(frozen=True, kw_only=True)
class Skipped(StoredRecord):
    """A model or method a stage left out, and why (``model`` and ``method`` as it applies)."""

    model: str | None = field(default=None, metadata=OMIT_NONE)
    method: str | None = field(default=None, metadata=OMIT_NONE)
    reason: str


@dataclass(frozen=True, kw_only=True)
class StageOutput(StoredRecord):
    """What one stage stores as the ``result`` of its file; ``stage`` names it."""

    stage: ClassVar[str]

    def offered(self) -> list[Candidate]:
        """The models the stage offered for the final choice."""
        candidates = getattr(self, "candidates", [])
        return list(candidates)


# -- data and exploration -------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class SplitSummary(StoredRecord):
    """One split as :meth:`~shallowvision.datasets.ImageSet.describe` gives it, with its
    pixels' fingerprint."""

    name: str
    split: str
    n_images: int
    image_shape: list[int]
    n_classes: int
    class_counts: dict[str, int]
    source: str | None
    sha256: str | None
    fingerprint: str


@dataclass(frozen=True, kw_only=True)
class DataOutput(StageOutput):
    stage: ClassVar[str] = "data"

    dataset: str
    class_names: list[str]
    image_shape: list[int]
    task: str
    positive: str | None
    splits: dict[str, SplitSummary]
    # Runs of the first format written before subsamples were recorded have none.
    subsamples: list[Subsample] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class EdaOutput(StageOutput):
    """The findings and charts of the EDA; ``eda`` is :class:`~shallowvision.eda.EdaResult`'s dict."""

    stage: ClassVar[str] = "eda"

    findings: list[str]
    eda: dict[str, Any]
    charts: list[str]


# -- comparison and tuning ------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class ComparisonTable(StoredRecord):
    """The rows of :func:`~shallowvision.models.compare_models` and what they were measured on."""

    dataset: str
    evaluated_on: str
    n_train: int
    n_eval: int
    class_names: list[str]
    random_state: int
    rows: list[ModelScore]


@dataclass(frozen=True, kw_only=True)
class CompareOutput(StageOutput):
    stage: ClassVar[str] = "compare"

    comparison: ComparisonTable
    candidates: list[Candidate]
    #: The subsample of train the models were fitted on; None: all of train.
    subsample: Subsample | None = None


@dataclass(frozen=True, kw_only=True)
class SearchPoint(StoredRecord):
    """One parameter setting a halving search tried, in one of its rounds."""

    iteration: int
    n_resources: int
    mean_test_score: float | None
    std_test_score: float | None
    params: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class Search(StoredRecord):
    """What tuning one family found, as :class:`~shallowvision.models.TuneResult` stores it."""

    model: str
    search: str
    grid: str
    scoring: str
    cv: int
    best_params: dict[str, Any]
    best_cv_score: float | None
    n_candidates: list[int]
    n_resources: list[int]
    n_fits: int
    search_seconds: float
    baseline: ModelScore
    tuned: ModelScore
    candidates: list[SearchPoint] = field(default_factory=list)
    #: The most images a round used, when a time budget capped them.
    max_resources: int | None = field(default=None, metadata=OMIT_NONE)


@dataclass(frozen=True, kw_only=True)
class TuneOutput(StageOutput):
    stage: ClassVar[str] = "tune"

    searches: list[Search]
    candidates: list[Candidate]
    #: Families with too few images to search (``model`` and ``reason``).
    skipped: list[Skipped] = field(default_factory=list)


# -- ensembles, pixel selection, explanations -----------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class Gain(StoredRecord):
    """An ensemble's accuracy and macro F1 minus the best member's."""

    accuracy: float | None
    f1_macro: float | None


@dataclass(frozen=True, kw_only=True)
class EnsembleTable(StoredRecord):
    """Members and ensembles scored on the same images
    (:class:`~shallowvision.ensemble.EnsembleComparison`)."""

    dataset: str
    evaluated_on: str
    n_train: int
    n_eval: int
    class_names: list[str]
    members: list[str]
    methods: list[str]
    weights: list[float] | None
    final: str
    cv: int
    random_state: int
    member_rows: list[ModelScore]
    ensemble_rows: list[ModelScore]
    best_member: str
    gain: dict[str, Gain]
    agreement: float
    oracle_accuracy: float


@dataclass(frozen=True, kw_only=True)
class EnsembleOutput(StageOutput):
    stage: ClassVar[str] = "ensemble"

    comparison: EnsembleTable
    #: Candidate name of each ensemble, by its row name.
    names: dict[str, str]
    charts: list[str]
    candidates: list[Candidate]
    #: Ensembles shown but not offered (they give labels only).
    not_offered: list[str] = field(default_factory=list)
    #: Methods the data could not support (``method`` and ``reason``).
    skipped: list[Skipped] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class SelectionDelta(StoredRecord):
    """Kept pixels minus all pixels."""

    accuracy: float | None
    f1_macro: float | None
    fit_seconds: float | None
    predict_seconds_per_1000: float | None


@dataclass(frozen=True, kw_only=True)
class Selection(StoredRecord):
    """A selection method's pixels and their effect (:class:`~shallowvision.models.SelectionResult`)."""

    method: str
    model_name: str
    scorer: str | None
    keep: float
    n_features: int
    n_kept: int
    share_kept: float
    image_shape: list[int]
    mask: list[list[bool]]
    scores: list[list[float | None]]
    all_pixels: ModelScore
    kept_pixels: ModelScore
    delta: SelectionDelta
    selection_seconds: float
    dataset: str
    evaluated_on: str
    n_train: int
    n_eval: int
    random_state: int


@dataclass(frozen=True, kw_only=True)
class SelectOutput(StageOutput):
    stage: ClassVar[str] = "select"

    selection: Selection
    candidate_name: str
    charts: list[str]
    candidates: list[Candidate]


@dataclass(frozen=True, kw_only=True)
class ExplainOutput(StageOutput):
    """An explanation's summary; the whole of it is in ``file`` (``explanation.json``)."""

    stage: ClassVar[str] = "explain"

    model: str
    file: str
    explainer: str
    output_space: str
    evaluated_on: str
    n_explain: int
    n_images: int
    n_background: int
    additivity_error: float | None
    seconds: dict[str, float]
    charts: dict[str, str]


# -- finalists ------------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class CurvePoint(StoredRecord):
    """A finalist fitted on ``n_images`` training images, scored on validation; ``status``
    says whether it was fitted (``ok``), and ``reason`` why not."""

    n_images: int
    status: str
    reason: str
    accuracy: float | None = field(default=None, metadata=OMIT_NONE)
    f1_macro: float | None = field(default=None, metadata=OMIT_NONE)
    fit_seconds: float | None = field(default=None, metadata=OMIT_NONE)
    #: The candidate fitted at this size, where it is one.
    model: str | None = field(default=None, metadata=OMIT_NONE)


@dataclass(frozen=True, kw_only=True)
class Doubling(StoredRecord):
    """What the last doubling of the training images gained, in points of accuracy."""

    start: int = field(metadata={"key": "from"})
    to: int
    gain: float
    #: The curve spans less than a doubling: its slope, extended.
    extended: bool


@dataclass(frozen=True, kw_only=True)
class Finalist(StoredRecord):
    """One of the best single models, refitted on every training image, with its curve."""

    model: str
    stage: str
    family: str
    refit: str | None
    status: str
    reason: str
    n_images: int
    fit_seconds: float | None
    notes: str
    curve: list[CurvePoint]
    last_doubling: Doubling | None = None


@dataclass(frozen=True, kw_only=True)
class FinalistsOutput(StageOutput):
    stage: ClassVar[str] = "finalists"

    n_train: int
    n_compared: int
    seed: int
    curve: bool
    budget_seconds: float | None = None
    sizes: list[int]
    finalists: list[Finalist]
    candidates: list[Candidate]
    charts: list[str]


# -- calibration, robustness, errors --------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class BeforeAfter(StoredRecord):
    before: float | None
    after: float | None


@dataclass(frozen=True, kw_only=True)
class Calibration(StoredRecord):
    """One calibration method on one model (:class:`~shallowvision.evaluation.CalibrationComparison`).

    ``table`` maps each measure (``ece``, ``mce``, ``classwise_ece``, ``brier``,
    ``log_loss``, ``accuracy``) to its values before and after; ``before`` and
    ``after`` are the reliability diagrams' dicts.
    """

    model: str
    method: str
    temperature: float | None
    n_calibration: int
    n_evaluation: int
    table: dict[str, BeforeAfter]
    before: dict[str, Any] | None
    after: dict[str, Any]
    chart: str


@dataclass(frozen=True, kw_only=True)
class Histogram(StoredRecord):
    """A per-image quantity's histogram for correct and wrong predictions
    (:class:`~shallowvision.evaluation.CorrectWrongHistogram`)."""

    quantity: str
    bin_edges: list[float]
    correct: list[int]
    wrong: list[int]
    error_rate: list[float | None]
    #: None where no prediction is correct (or wrong).
    mean_correct: float | None
    mean_wrong: float | None


@dataclass(frozen=True, kw_only=True)
class RiskCoverage(StoredRecord):
    """Accuracy of a model that abstains on its least confident images
    (:class:`~shallowvision.evaluation.RiskCoverage`)."""

    coverage: list[float]
    accuracy: list[float]
    thresholds: list[float]
    aurc: float
    target_accuracy: float
    coverage_at_target: float | None
    threshold_at_target: float | None


@dataclass(frozen=True, kw_only=True)
class Uncertainty(StoredRecord):
    model: str
    confidence: Histogram
    entropy: Histogram
    risk_coverage: RiskCoverage
    charts: list[str]


@dataclass(frozen=True, kw_only=True)
class CalibrateOutput(StageOutput):
    stage: ClassVar[str] = "calibrate"

    calibration_split: int
    evaluated_on: str
    n_evaluated: int
    comparisons: list[Calibration]
    uncertainty: list[Uncertainty]
    candidates: list[Candidate]
    #: Calibrations the data could not support (``model``, ``method`` and ``reason``).
    skipped: list[Skipped] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class RobustnessRow(StoredRecord):
    """Accuracy under one corruption at one severity; ``drop`` is clean minus corrupted."""

    corruption: str
    severity: int
    parameter: float
    unit: str
    accuracy: float
    drop: float


@dataclass(frozen=True, kw_only=True)
class Robustness(StoredRecord):
    """One model under every corruption (:class:`~shallowvision.evaluation.RobustnessResult`)."""

    model: str
    n_images: int
    random_state: int
    clean_accuracy: float
    rows: list[RobustnessRow]
    chart: str


@dataclass(frozen=True, kw_only=True)
class RobustnessOutput(StageOutput):
    stage: ClassVar[str] = "robustness"

    evaluated_on: str
    n_images: int
    models: list[Robustness]


@dataclass(frozen=True, kw_only=True)
class Confusion(StoredRecord):
    """The confusion matrix (:class:`~shallowvision.evaluation.ConfusionResult`); rates are
    None for a class without images."""

    class_names: list[str]
    counts: list[list[int]]
    normalized: list[list[float | None]]
    support: list[int]
    error_rate: list[float | None]


@dataclass(frozen=True, kw_only=True)
class ConfusedPair(StoredRecord):
    true: str
    predicted: str
    true_index: int
    predicted_index: int
    count: int
    rate: float


@dataclass(frozen=True, kw_only=True)
class ErrorOverlap(StoredRecord):
    """Which images several models get wrong (:class:`~shallowvision.evaluation.ErrorOverlap`)."""

    model_names: list[str]
    n_images: int
    both_wrong: list[list[int]]
    jaccard: list[list[float | None]]
    n_wrong_counts: list[int]
    all_wrong: list[int]


@dataclass(frozen=True, kw_only=True)
class ErrorsOutput(StageOutput):
    """The error analysis of the best model on validation: the parts of its
    :class:`~shallowvision.evaluation.Evaluation` that are not curves. ``metrics``,
    ``galleries``, ``confidently_wrong`` and ``comparisons`` are those records' dicts."""

    stage: ClassVar[str] = "errors"

    model: str
    evaluated_on: str
    model_name: str
    class_names: list[str]
    n_samples: int
    metrics: dict[str, Any]
    confusion: Confusion
    confused_pairs: list[ConfusedPair]
    galleries: list[dict[str, Any]]
    confidently_wrong: dict[str, Any]
    error_overlap: ErrorOverlap | None
    comparisons: list[dict[str, Any]]
    charts: dict[str, str]


# -- the final test-set evaluation ----------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class Objective(StoredRecord):
    """What 'best' meant: the run's ``objective`` section (runs written before the
    recommendation respected noise have no ``significance``)."""

    metric: str
    max_predict_ms_per_image: float | None
    max_size_mb: float | None
    significance: float | None = field(default=None, metadata=OMIT_NONE)


@dataclass(frozen=True, kw_only=True)
class Ranked(StoredRecord):
    """A candidate's place in the final ranking: its objective value and the limits it breaks."""

    name: str
    stage: str
    value: float | None
    breaks: list[str]


@dataclass(frozen=True, kw_only=True)
class Scores(StoredRecord):
    """The summary metrics of one model's predictions (None where they cannot be had)."""

    accuracy: float | None
    balanced_accuracy: float | None
    precision_macro: float | None
    recall_macro: float | None
    f1_macro: float | None
    roc_auc: float | None
    log_loss: float | None
    brier: float | None


@dataclass(frozen=True, kw_only=True)
class PerClass(StoredRecord):
    """One metric per class and its averages (:class:`~shallowvision.evaluation.PerClass`)."""

    per_class: list[float | None]
    macro: float | None
    weighted: float | None
    micro: float | None = None


@dataclass(frozen=True, kw_only=True)
class Evaluated(StoredRecord):
    """A chosen model scored on the test split; ``validation`` is its candidate's metrics."""

    name: str
    stage: str
    test: Scores
    validation: dict[str, Any]
    roc_auc_per_class: PerClass
    average_precision_per_class: PerClass


@dataclass(frozen=True, kw_only=True)
class Headline(StoredRecord):
    """The few numbers of :meth:`~shallowvision.evaluation.Evaluation.headline`."""

    accuracy: float | None
    accuracy_low: float | None
    accuracy_high: float | None
    macro_f1: float | None
    roc_auc_macro: float | None
    log_loss: float | None
    brier: float | None
    ece: float | None
    coverage_at_target: float | None


@dataclass(frozen=True, kw_only=True)
class FinalEvaluation(StoredRecord):
    """The recommended model's full evaluation on test, stored whole in ``file``."""

    file: str
    headline: Headline
    charts: dict[str, str]


@dataclass(frozen=True, kw_only=True)
class Difference(StoredRecord):
    """A candidate's validation metric against the leader's: the paired bootstrap
    estimate of candidate minus leader, its interval, and whether the candidate is
    significantly worse (the interval lies wholly on the worse side of 0)."""

    model: str
    value: float
    difference: float
    low: float
    high: float
    worse: bool


@dataclass(frozen=True, kw_only=True)
class Recommendation(StoredRecord):
    """How the recommended model was chosen on validation.

    The ``leader`` has the best value of ``metric`` among the models that meet the
    objective's constraints. Among it and the models not significantly worse at
    ``level`` (``within_noise``), the tie-breakers decide in order: faster, smaller,
    better calibrated, fewer steps, then the metric. ``rule`` names what decided
    (``only candidate``, ``significantly best``, ``leader``, ``faster``, ``smaller``,
    ``better calibrated`` or ``fewer steps``) and ``reason`` says it in a sentence;
    ``difference`` is the recommended model's own difference to the leader (0 for the
    leader) and ``compared`` every compared model's, best first.
    """

    model: str
    leader: str
    metric: str
    level: float
    n_images: int
    n_resamples: int
    difference: Difference
    rule: str
    reason: str
    within_noise: list[str]
    compared: list[Difference]


@dataclass(frozen=True, kw_only=True)
class FinalOutput(StageOutput):
    stage: ClassVar[str] = "final"

    objective: Objective
    recommended: str
    recommended_breaks: list[str]
    ranking: list[Ranked]
    evaluated: list[Evaluated]
    #: None when the recommended model gives decision scores, not probabilities.
    evaluation: FinalEvaluation | None
    n_test: int
    #: How ``recommended`` was chosen; runs written before the choice respected noise
    #: (which took the leader) have none.
    recommendation: Recommendation | None = field(default=None, metadata=OMIT_NONE)


@dataclass(frozen=True, kw_only=True)
class ReportOutput(StageOutput):
    stage: ClassVar[str] = "report"

    report: str
    bytes: int


# -- the run's manifest ---------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class SplitChecksum(StoredRecord):
    """What identifies one split's images."""

    n_images: int
    sha256: str | None
    fingerprint: str
    source: str | None


@dataclass(frozen=True, kw_only=True)
class StageTiming(StoredRecord):
    """How a stage went: ``done``, ``skipped`` (``reason`` says why) or ``disabled``, and
    when it ran, for how many seconds, at what peak memory."""

    status: str
    seconds: float | None = field(default=None, metadata=OMIT_NONE)
    started: str | None = field(default=None, metadata=OMIT_NONE)
    finished: str | None = field(default=None, metadata=OMIT_NONE)
    reason: str | None = field(default=None, metadata=OMIT_NONE)
    #: Bytes: the largest resident memory of the run's process and its workers during
    #: the stage (runs written before it was measured have none).
    peak_memory: int | None = field(default=None, metadata=OMIT_NONE)


@dataclass(frozen=True, kw_only=True)
class TimeBudget(StoredRecord):
    """A run's time budget: its seconds, when the run started and was planned to end (ISO
    8601, UTC), and the wall time it took (when the manifest was last written)."""

    seconds: float
    started: str
    deadline: str
    wall_seconds: float | None = field(default=None, metadata=OMIT_NONE)


@dataclass(frozen=True, kw_only=True)
class RunManifest(StoredRecord):
    """``manifest.json``: the run's seed, configuration, library versions, data checksums,
    subsamples and stage timings (times are ISO 8601 in UTC)."""

    run_id: str
    created: str
    updated: str
    seed: int
    preset: str
    #: The effective configuration, as ``config.json`` holds it.
    config: dict[str, Any]
    libraries: dict[str, str]
    data: dict[str, SplitChecksum]
    # Runs written before subsamples were recorded have none.
    subsamples: list[Subsample] = field(default_factory=list)
    stages: dict[str, StageTiming]
    #: The time budget of the run's last invocation, if it had one.
    time_budget: TimeBudget | None = field(default=None, metadata=OMIT_NONE)

    @property
    def dataset(self) -> str:
        """The dataset the configuration names (a registry name or a path)."""
        return str(self.config.get("data", {}).get("dataset", ""))

    @property
    def objective_metric(self) -> str:
        """The metric the run's objective ranks models by."""
        return str(self.config.get("objective", {}).get("metric", "f1_macro"))


#: The record of each stage's result, by stage name.
OUTPUTS: dict[str, type[StageOutput]] = {
    kind.stage: kind
    for kind in (
        DataOutput,
        EdaOutput,
        CompareOutput,
        TuneOutput,
        EnsembleOutput,
        SelectOutput,
        ExplainOutput,
        FinalistsOutput,
        CalibrateOutput,
        RobustnessOutput,
        ErrorsOutput,
        FinalOutput,
        ReportOutput,
    )
}

OutputT = TypeVar("OutputT", bound=StageOutput)


# -- stage files ----------------------------------------------------------------------------------
#: The format of the stage files this version writes. Format 1 (files without a
#: ``format``) stored the same results; format 2 adds the number, so that a later change
#: of layout can be told apart, and converted or refused, when an older run is read.
STAGE_FORMAT = 2


def _from_format_1(stage: str, result: dict[str, Any]) -> dict[str, Any]:
    """A format-1 result as format 2 stores it: the same. Keys that format-1 runs written
    before they were added lack (a stage's ``skipped``, the compared ``subsample``) take
    their records' defaults."""
    return result


#: How a result of each earlier format becomes one of the next.
_UPGRADES = {1: _from_format_1}


@dataclass(frozen=True, kw_only=True)
class StoredStage:
    """A stage file: which stage, the settings key it ran with, how long it took, and its
    output, or why it was skipped (then ``output`` is None)."""

    stage: str
    key: str
    seconds: float
    output: StageOutput | None
    skipped: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {
            "format": STAGE_FORMAT,
            "stage": self.stage,
            "key": self.key,
            "seconds": self.seconds,
            "result": {} if self.output is None else self.output.to_dict(),
        }
        return out | ({"skipped": self.skipped} if self.skipped else {})

    def result(self, kind: type[OutputT]) -> OutputT:
        """The output, which must be a ``kind``; a skipped stage has none."""
        if not isinstance(self.output, kind):
            why = f" (skipped: {self.skipped})" if self.skipped else ""
            raise ConfigError(f"stage {self.stage!r} stored no {kind.__name__}{why}")
        return self.output


def read_stage(path: Path) -> StoredStage | None:
    """The stage file at ``path`` (named after its stage) as a record; None if absent.

    A file of an earlier format is converted. One of a later format, or one that is
    damaged or does not fit its record, is named in a one-line
    :class:`~shallowvision.exceptions.ConfigError` that says what to do: a resumed run
    redoes the stage.
    """
    stored = read_stage_file(path)
    if stored is None:
        return None
    redo = "`shallowvision run --resume` redoes the stage"
    number = stored.get("format", 1)
    if not isinstance(number, int) or isinstance(number, bool) or number < 1:
        raise ConfigError(f"{path}: damaged stage file (format {number!r}); {redo}")
    if number > STAGE_FORMAT:
        raise ConfigError(
            f"{path}: stage file of format {number}, newer than this shallowvision reads "
            f"(format {STAGE_FORMAT}); render the run with the shallowvision that wrote it, "
            f"or {redo}"
        )
    stage, key, skipped = path.stem, stored.get("key"), stored.get("skipped")
    try:
        if stage not in OUTPUTS:
            raise RecordError(f"no stage is called {stage!r}")
        if stored.get("stage") != stage:
            raise RecordError(f"it holds the stage {stored.get('stage')!r}")
        if not isinstance(key, str) or not isinstance(skipped, str | None):
            raise RecordError("no settings key" if not isinstance(key, str) else "bad 'skipped'")
        result = stored["result"]
        for earlier in range(number, STAGE_FORMAT):
            result = _UPGRADES[earlier](stage, result)
        output = None if skipped else OUTPUTS[stage].from_dict(result, stage)
        return StoredStage(
            stage=stage,
            key=key,
            seconds=float(stored.get("seconds", 0.0)),
            output=output,
            skipped=skipped,
        )
    except (RecordError, TypeError, ValueError) as exc:
        what = (
            "damaged stage file"
            if number == STAGE_FORMAT
            else f"stage file of format {number} that this shallowvision cannot convert"
        )
        raise ConfigError(f"{path}: {what} ({exc}); {redo}") from None
