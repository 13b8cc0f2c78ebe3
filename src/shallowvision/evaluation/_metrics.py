"""Scalar metrics: label metrics, ranking metrics from scores, probability metrics,
bootstrap confidence intervals, the paired bootstrap of two models' difference and
McNemar's test.

scikit-learn computes every metric it has (ROC AUC and average precision as the areas
under its ``roc_curve`` and ``precision_recall_curve``, which the curve sets share); this
module validates the inputs, picks the averages and gathers the numbers into records.
The scores a comparison row also reports (accuracy, precision, recall, F1, log loss,
Brier score, the macro average) come from :mod:`shallowvision._metrics`, which the
comparison rows use too, so both give the same numbers.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats
from sklearn import metrics as skm

from shallowvision import _metrics as core
from shallowvision.evaluation._curves import OneVsRest
from shallowvision.evaluation._records import Record
from shallowvision.evaluation._validation import (
    check_labels,
    check_predicted_labels,
    check_predictions,
    check_proba,
    check_scores,
)
from shallowvision.exceptions import DataError

__all__ = [
    "BootstrapResult",
    "ClassificationMetrics",
    "Interval",
    "McNemarResult",
    "PairedDifference",
    "PerClass",
    "RankingMetrics",
    "bootstrap_ci",
    "classification_metrics",
    "mcnemar_test",
    "paired_bootstrap",
    "ranking_metrics",
]


@dataclass(frozen=True, eq=False, kw_only=True)
class PerClass(Record):
    """One metric per class and its averages.

    ``macro`` is the unweighted mean over classes, ``weighted`` the mean weighted by
    each class's number of true images, ``micro`` (where defined) pools every
    one-vs-rest decision. Undefined per-class values (a class absent from ``y_true``)
    are NaN and left out of the averages.
    """

    per_class: np.ndarray
    macro: float
    weighted: float
    micro: float | None = None

    @classmethod
    def from_values(
        cls, values: np.ndarray, support: np.ndarray, micro: float | None = None
    ) -> PerClass:
        values = np.asarray(values, dtype=np.float64)
        ok = np.isfinite(values) & (support > 0)
        weights = support[ok]
        return cls(
            per_class=values,
            macro=core.macro(values, support),
            weighted=float(np.average(values[ok], weights=weights)) if weights.sum() else np.nan,
            micro=micro,
        )


@dataclass(frozen=True, eq=False, kw_only=True)
class RankingMetrics(Record):
    """Metrics of how scores rank the images, one-vs-rest per class.

    For a binary task ``roc_auc.per_class[1]`` (equally ``positive_roc_auc``) is the
    usual ROC AUC of the positive class.
    """

    class_names: tuple[str, ...]
    roc_auc: PerClass
    average_precision: PerClass
    top_k_accuracy: dict[int, float]
    positive_roc_auc: float | None = None
    positive_average_precision: float | None = None


@dataclass(frozen=True, eq=False, kw_only=True)
class ClassificationMetrics(Record):
    """Every scalar metric of one model's probabilities on one split.

    Precision, recall and F1 count a class that is never predicted as 0 (scikit-learn's
    ``zero_division=0``). ``brier`` is the multiclass Brier score, the mean over images
    of the squared distance between the probability vector and the one-hot truth
    (range 0..2); ``brier_per_class`` holds each class's one-vs-rest Brier score, and
    they sum to ``brier`` (up to rounding).
    """

    class_names: tuple[str, ...]
    n_samples: int
    support: np.ndarray
    accuracy: float
    balanced_accuracy: float
    precision: PerClass
    recall: PerClass
    f1: PerClass
    mcc: float
    cohen_kappa: float
    log_loss: float
    brier: float
    brier_per_class: np.ndarray
    ranking: RankingMetrics
    positive_class: str | None = None
    positive_precision: float | None = None
    positive_recall: float | None = None
    positive_f1: float | None = None


def ranking_metrics(
    y_true: ArrayLike,
    scores: ArrayLike,
    *,
    class_names: Sequence[Any] | None = None,
    top_k: Sequence[int] = (3, 5),
) -> RankingMetrics:
    """ROC AUC, average precision (PR AUC) and top-k accuracy from scores.

    Each AUC is the area under scikit-learn's one-vs-rest ROC curve of its class, as
    ``roc_auc_score`` computes it; the micro averages pool every (image, class) pair.

    Parameters
    ----------
    y_true : array-like of int, shape (n_samples,)
        True class indices.
    scores : array-like of float, shape (n_samples, n_classes)
        Probabilities or decision scores, one column per class. Hard labels are refused.
    class_names : sequence of str, optional
    top_k : sequence of int
        The k of the top-k accuracies; values >= n_classes are skipped (always 1).

    Returns
    -------
    RankingMetrics
    """
    ovr = OneVsRest(*check_predictions(y_true, scores, class_names, kind="scores"))
    return _ranking(ovr, top_k)


def _ranking(ovr: OneVsRest, top_k: Sequence[int]) -> RankingMetrics:
    """Ranking metrics read off curves that are already computed."""
    (roc, roc_micro), (pr, pr_micro) = ovr.roc, ovr.pr

    def areas(curves: list[Any]) -> np.ndarray:
        return np.array([np.nan if c is None else c.area for c in curves])

    auc, ap = areas(roc), areas(pr)
    labels = np.arange(ovr.n_classes)
    topk = {
        int(k): float(skm.top_k_accuracy_score(ovr.y, ovr.scores, k=int(k), labels=labels))
        for k in sorted(set(top_k))
        if 1 < k < ovr.n_classes
    }
    binary = ovr.n_classes == 2
    return RankingMetrics(
        class_names=ovr.class_names,
        roc_auc=PerClass.from_values(auc, ovr.support, roc_micro.area if roc_micro else None),
        average_precision=PerClass.from_values(
            ap, ovr.support, pr_micro.area if pr_micro else None
        ),
        top_k_accuracy=topk,
        positive_roc_auc=float(auc[1]) if binary else None,
        positive_average_precision=float(ap[1]) if binary else None,
    )


def classification_metrics(
    y_true: ArrayLike,
    proba: ArrayLike,
    *,
    class_names: Sequence[Any] | None = None,
    top_k: Sequence[int] = (3, 5),
) -> ClassificationMetrics:
    """Every scalar metric of predicted probabilities: label, ranking and probability metrics.

    The predicted class of an image is the column with the highest probability.

    Parameters
    ----------
    y_true : array-like of int, shape (n_samples,)
        True class indices into ``class_names``.
    proba : array-like of float, shape (n_samples, n_classes)
        Predicted probabilities (rows sum to 1).
    class_names : sequence of str, optional
    top_k : sequence of int
        The k of the top-k accuracies.

    Returns
    -------
    ClassificationMetrics
    """
    y, p, names = check_predictions(y_true, proba, class_names)
    return metrics_from_curves(OneVsRest(y, p, names), top_k)


def metrics_from_curves(ovr: OneVsRest, top_k: Sequence[int]) -> ClassificationMetrics:
    """All metrics of validated probabilities whose one-vs-rest curves are at hand (or computed on use)."""
    y, p, names = ovr.y, ovr.scores, ovr.class_names
    n_classes = p.shape[1]
    pred = p.argmax(axis=1)
    prec, rec, f1, support = core.label_metrics(y, pred, n_classes)
    binary = n_classes == 2
    return ClassificationMetrics(
        class_names=names,
        n_samples=len(y),
        support=support,
        accuracy=core.accuracy(y, pred),
        balanced_accuracy=core.macro(rec, support),
        precision=PerClass.from_values(prec, support),
        recall=PerClass.from_values(rec, support),
        f1=PerClass.from_values(f1, support),
        mcc=float(skm.matthews_corrcoef(y, pred)),
        cohen_kappa=_cohen_kappa(y, pred, n_classes),
        log_loss=core.log_loss(y, p),
        brier=core.multiclass_brier(y, p),
        brier_per_class=core.brier_per_class(y, p),
        ranking=_ranking(ovr, top_k),
        positive_class=names[1] if binary else None,
        positive_precision=float(prec[1]) if binary else None,
        positive_recall=float(rec[1]) if binary else None,
        positive_f1=float(f1[1]) if binary else None,
    )


def _cohen_kappa(y: np.ndarray, pred: np.ndarray, n_classes: int) -> float:
    # cohen_kappa_score warns and returns NaN when both raters use a single class; a
    # degenerate agreement is reported as NaN without the warning.
    if len(np.union1d(y, pred)) < 2:
        return float("nan")
    return float(skm.cohen_kappa_score(y, pred, labels=np.arange(n_classes)))


# -- bootstrap -----------------------------------------------------------------------------
@dataclass(frozen=True, eq=False, kw_only=True)
class Interval(Record):
    """A point estimate and its percentile bootstrap confidence interval."""

    estimate: float
    low: float
    high: float
    confidence: float


@dataclass(frozen=True, eq=False, kw_only=True)
class BootstrapResult(Record):
    """Bootstrap confidence intervals of accuracy and macro F1."""

    accuracy: Interval
    macro_f1: Interval
    n_resamples: int
    random_state: int | None


def bootstrap_ci(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    *,
    n_classes: int | None = None,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    random_state: int | None = 0,
) -> BootstrapResult:
    """Percentile bootstrap confidence intervals of accuracy and macro F1.

    Resampling ``n`` images with replacement only changes how many land in each cell
    of the confusion matrix, and those counts follow a multinomial distribution with
    the observed cell frequencies. Drawing the ``n_resamples`` confusion matrices
    directly from it is therefore the ordinary image bootstrap, in
    ``O(n_resamples * n_classes**2)`` instead of ``O(n_resamples * n)``.

    Macro F1 of a resample averages over the classes it contains (true or predicted),
    as ``sklearn.metrics.f1_score(average="macro")`` does.

    Parameters
    ----------
    y_true, y_pred : array-like of int, shape (n_samples,)
        True and predicted class indices.
    n_classes : int, optional
        Number of classes; by default one more than the largest index seen.
    n_resamples : int
        Number of bootstrap resamples.
    confidence : float
        Coverage of the interval, e.g. 0.95.
    random_state : int or None
        Seed of the resampling.

    Returns
    -------
    BootstrapResult
    """
    y = check_labels(y_true)
    pred = check_labels(y_pred, name="y_pred")
    if len(y) != len(pred):
        raise DataError(f"y_true has {len(y)} labels but y_pred has {len(pred)}")
    if not 0 < confidence < 1:
        raise DataError(f"confidence must be in (0, 1), got {confidence}")
    if n_resamples < 1:
        raise DataError(f"n_resamples must be at least 1, got {n_resamples}")
    k = n_classes or int(max(y.max(), pred.max())) + 1
    cells = np.bincount(y * k + pred, minlength=k * k)
    rng = np.random.default_rng(random_state)
    # Empty cells stay empty in every resample; drawing only the others saves most of
    # the work when there are many classes (47 classes: 2,209 cells, most of them 0).
    used = np.flatnonzero(cells)
    flat = np.zeros((n_resamples, k * k), dtype=np.int64)
    flat[:, used] = rng.multinomial(len(y), cells[used] / len(y), size=n_resamples)
    draws = flat.reshape(-1, k, k)
    observed = cells.reshape(1, k, k)
    acc, f1 = _accuracy_macro_f1(draws)
    acc0, f10 = _accuracy_macro_f1(observed)
    tail = (1 - confidence) / 2
    acc_lo, acc_hi = np.quantile(acc, [tail, 1 - tail])
    f1_lo, f1_hi = np.quantile(f1, [tail, 1 - tail])
    return BootstrapResult(
        accuracy=Interval(
            estimate=float(acc0[0]), low=float(acc_lo), high=float(acc_hi), confidence=confidence
        ),
        macro_f1=Interval(
            estimate=float(f10[0]), low=float(f1_lo), high=float(f1_hi), confidence=confidence
        ),
        n_resamples=n_resamples,
        random_state=random_state,
    )


def _accuracy_macro_f1(confusions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Accuracy and macro F1 of a stack of confusion matrices ``(b, k, k)`` (rows = truth)."""
    n = confusions.sum(axis=(1, 2))
    tp = np.diagonal(confusions, axis1=1, axis2=2).astype(np.float64)
    denom = confusions.sum(axis=1) + confusions.sum(axis=2)  # 2tp + fp + fn
    present = denom > 0
    f1 = np.divide(2 * tp, denom, out=np.zeros_like(tp), where=present)
    macro = f1.sum(axis=1) / np.maximum(present.sum(axis=1), 1)
    return tp.sum(axis=1) / n, macro


# -- paired bootstrap of a difference --------------------------------------------------------
#: Metrics :func:`paired_bootstrap` compares; the first three from predicted labels, the
#: others from scores (``roc_auc``) or probabilities (``log_loss``, ``brier``).
PAIRED_METRICS = ("accuracy", "balanced_accuracy", "f1_macro", "roc_auc", "log_loss", "brier")

# Resample weights are drawn and used a block at a time, so memory stays near this many
# bytes of float64 weights whatever the number of images and resamples.
_BLOCK_BYTES = 16_000_000


@dataclass(frozen=True, eq=False, kw_only=True)
class PairedDifference(Record):
    """Two models' metric on the same images, and how sure their difference is.

    ``estimate`` is ``value_a - value_b`` on the images as given, in the metric's own
    units (for log loss and Brier score a negative difference means ``a`` is better);
    ``low`` and ``high`` bound the percentile bootstrap interval of that difference, with
    both models scored on the same resampled images.
    """

    metric: str
    value_a: float
    value_b: float
    estimate: float
    low: float
    high: float
    confidence: float
    n_samples: int
    n_resamples: int
    random_state: int | None


def paired_bootstrap(
    y_true: ArrayLike,
    pred_a: ArrayLike,
    pred_b: ArrayLike,
    *,
    metric: str = "f1_macro",
    n_classes: int | None = None,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    random_state: int | None = 0,
) -> PairedDifference:
    """Percentile bootstrap interval of the difference of one metric between two models.

    Each resample draws ``n`` images with replacement and scores both models on the same
    draw, so what the two models share (the easy and the hard images) cancels out of the
    difference. An interval that excludes 0 says the two models differ by more than
    the choice of images explains, at level ``1 - confidence``.

    A resample is a row of counts (how often each image was drawn), and the metrics
    are computed from those counts as weights, for a block of resamples at once:
    accuracy, log loss and Brier score are weighted sums of per-image values; balanced
    accuracy and macro F1 come from weighted per-class counts of true, predicted and
    correctly predicted images; ROC AUC is the weighted Mann-Whitney statistic of each
    class's scores, sorted once, with ties counted half (the area under scikit-learn's
    ROC curve). The cost is ``O(n_resamples * n_samples * n_classes)``, with ROC AUC a
    few times the others. Each value is the one :func:`summary_metrics` gives for the
    resampled images: macro averages over the classes present in the resample's
    ``y_true``, a binary task's ROC AUC that of class 1.

    Parameters
    ----------
    y_true : array-like of int, shape (n_samples,)
        True class indices.
    pred_a, pred_b : array-like
        Each model's predictions for the same images, in the same order: predicted class
        indices, shape (n_samples,), for ``accuracy``, ``balanced_accuracy`` and
        ``f1_macro`` (the highest column of a 2-D array otherwise); scores, shape
        (n_samples, n_classes), for ``roc_auc``; probabilities for ``log_loss`` and
        ``brier`` (clipped to [0, 1] and divided by their row sums, as
        :func:`summary_metrics` does).
    metric : {"accuracy", "balanced_accuracy", "f1_macro", "roc_auc", "log_loss", "brier"}
    n_classes : int, optional
        Number of classes; by default the number of score columns, or one more than the
        largest class index seen.
    n_resamples : int
        Number of bootstrap resamples.
    confidence : float
        Coverage of the interval, e.g. 0.95.
    random_state : int or None
        Seed of the resampling; the same seed draws the same resamples for any pair of
        models on the same number of images.

    Returns
    -------
    PairedDifference
    """
    if metric not in PAIRED_METRICS:
        raise DataError(f"unknown metric {metric!r}; choose from {', '.join(PAIRED_METRICS)}")
    if not 0 < confidence < 1:
        raise DataError(f"confidence must be in (0, 1), got {confidence}")
    if n_resamples < 1:
        raise DataError(f"n_resamples must be at least 1, got {n_resamples}")
    y = check_labels(y_true)
    a = _PerImage(y, pred_a, metric, n_classes, name="pred_a")
    b = _PerImage(y, pred_b, metric, n_classes, name="pred_b")
    n = len(y)
    observed = np.ones((1, n))
    value_a, value_b = float(a.values(observed)[0]), float(b.values(observed)[0])
    differences = np.concatenate(
        [a.values(w) - b.values(w) for w in _resample_counts(n, n_resamples, random_state)]
    )
    tail = (1 - confidence) / 2
    # A resample where the metric is undefined for a model (no negative image of a
    # class for ROC AUC) is left out, as a NaN.
    low, high = np.nanquantile(differences, [tail, 1 - tail])
    return PairedDifference(
        metric=metric,
        value_a=value_a,
        value_b=value_b,
        estimate=value_a - value_b,
        low=float(low),
        high=float(high),
        confidence=confidence,
        n_samples=n,
        n_resamples=n_resamples,
        random_state=random_state,
    )


def _resample_counts(n: int, n_resamples: int, random_state: int | None) -> Iterator[np.ndarray]:
    """Bootstrap resamples as counts, ``(block, n)`` float64 blocks: row ``r`` says how
    many times resample ``r`` drew each image (each row sums to ``n``)."""
    rng = np.random.default_rng(random_state)
    block = max(1, min(n_resamples, _BLOCK_BYTES // (8 * n)))
    for start in range(0, n_resamples, block):
        rows = min(block, n_resamples - start)
        drawn = rng.integers(0, n, size=(rows, n)) + n * np.arange(rows)[:, None]
        yield np.bincount(drawn.ravel(), minlength=rows * n).reshape(rows, n).astype(np.float64)


class _PerImage:
    """One model's predictions reduced to per-image quantities that weights sum up."""

    def __init__(
        self, y: np.ndarray, pred: ArrayLike, metric: str, n_classes: int | None, *, name: str
    ) -> None:
        self.metric = metric
        n = len(y)
        if metric in ("accuracy", "balanced_accuracy", "f1_macro"):
            labels = check_predicted_labels(pred, n, name=name)
            k = n_classes or int(max(y.max(), labels.max())) + 1
            if metric == "accuracy":
                self.per_image = (labels == y).astype(np.float64)
                return
            self.truth = np.eye(k)[y]
            self.predicted = np.eye(k)[labels]
            self.hits = self.truth * self.predicted
            return
        scores = check_scores(pred, name=name)
        if len(scores) != n:
            raise DataError(f"{name} has {len(scores)} rows for {n} images")
        if y.max() >= scores.shape[1]:
            raise DataError(
                f"y_true holds class {y.max()} but {name} has {scores.shape[1]} columns"
            )
        if metric == "roc_auc":
            self._ranks(y, scores)
            return
        proba = check_proba(np.clip(scores, 0.0, 1.0), name=name)
        if metric == "log_loss":
            # scikit-learn's log_loss clips at the float64 epsilon in the same way.
            eps = np.finfo(np.float64).eps
            self.per_image = -np.log(np.clip(proba[np.arange(n), y], eps, 1 - eps))
        else:
            self.per_image = ((proba - np.eye(proba.shape[1])[y]) ** 2).sum(axis=1)

    def _ranks(self, y: np.ndarray, scores: np.ndarray) -> None:
        k = scores.shape[1]
        # A binary task's ROC AUC is class 1's; a multiclass one's the macro average.
        self.classes = [1] if k == 2 else list(range(k))
        self.truth = np.eye(k)[y]
        self.sorted = []
        for j in self.classes:
            order = np.argsort(scores[:, j], kind="stable")
            s = scores[order, j]
            group = np.concatenate([[0], np.cumsum(np.diff(s) != 0)])  # tied scores share one
            positive = y[order] == j
            neg_group = group[~positive]
            starts = np.flatnonzero(np.diff(neg_group, prepend=-1))  # first of each group
            neg_group = neg_group[starts]
            # For each positive: how many groups of negatives score lower, and whether
            # one ties with it.
            below = np.searchsorted(neg_group, group[positive], side="left")
            tied = below < len(neg_group)
            tied[tied] = neg_group[below[tied]] == group[positive][tied]
            ties = None if len(starts) == np.count_nonzero(~positive) else starts
            self.sorted.append(
                (order[~positive], order[positive], ties, below, tied if tied.any() else None)
            )

    def values(self, weights: np.ndarray) -> np.ndarray:
        """The metric on each resample, one per row of ``weights`` (counts per image)."""
        n = weights.sum(axis=1)
        if self.metric in ("accuracy", "log_loss", "brier"):
            return weights @ self.per_image / n
        if self.metric == "roc_auc":
            return self._auc(weights)
        support = weights @ self.truth
        hits = weights @ self.hits
        present = support > 0
        if self.metric == "balanced_accuracy":
            per_class = np.divide(hits, support, out=np.zeros_like(hits), where=present)
        else:
            denom = support + weights @ self.predicted  # 2tp + fp + fn
            per_class = np.divide(2 * hits, denom, out=np.zeros_like(hits), where=denom > 0)
        return (per_class * present).sum(axis=1) / present.sum(axis=1)

    def _auc(self, weights: np.ndarray) -> np.ndarray:
        # Images as rows: the gathers below then copy whole rows.
        by_image = np.ascontiguousarray(weights.T)
        aucs = []
        for negatives, positives, ties, below, tied in self.sorted:
            if len(negatives) == 0 or len(positives) == 0:
                aucs.append(np.full(len(weights), np.nan))
                continue
            # The negatives' weight per distinct score, ascending.
            neg = by_image[negatives]
            if ties is not None:
                neg = np.add.reduceat(neg, ties, axis=0)
            lower = np.concatenate([np.zeros((1, len(weights))), np.cumsum(neg, axis=0)])
            # Each positive beats the negatives of lower scores and ties half of its own.
            beaten = lower[below]
            if tied is not None:
                beaten[tied] += 0.5 * neg[below[tied]]
            pos = by_image[positives]
            wins = np.einsum("ij,ij->j", pos, beaten)
            pairs = pos.sum(axis=0) * neg.sum(axis=0)
            with np.errstate(invalid="ignore", divide="ignore"):
                aucs.append(np.where(pairs > 0, wins / pairs, np.nan))
        auc = np.column_stack(aucs)
        if len(self.classes) == 1:
            return auc[:, 0]
        # Macro over the classes the resample holds (with positives and negatives), as
        # summary_metrics averages; NaN when fewer than two classes are present.
        support = weights @ self.truth
        defined = np.isfinite(auc) & (support > 0)
        total = np.where(defined, auc, 0.0).sum(axis=1)
        count = defined.sum(axis=1)
        enough = (support > 0).sum(axis=1) > 1
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(enough & (count > 0), total / count, np.nan)


# -- McNemar -------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False, kw_only=True)
class McNemarResult(Record):
    """McNemar's test of two models on the same images.

    ``only_a_correct`` (b) and ``only_b_correct`` (c) are the discordant counts; the
    test asks whether b and c differ more than chance allows.
    """

    model_a: str
    model_b: str
    both_correct: int
    only_a_correct: int
    only_b_correct: int
    both_wrong: int
    statistic: float
    p_value: float
    method: str


def mcnemar_test(
    y_true: ArrayLike,
    pred_a: ArrayLike,
    pred_b: ArrayLike,
    *,
    names: tuple[str, str] = ("a", "b"),
    exact_below: int = 25,
) -> McNemarResult:
    """McNemar's test between two models' predictions on the same images.

    With fewer than ``exact_below`` discordant images the exact two-sided binomial
    test is used (statistic = min(b, c)); otherwise the chi-square statistic with
    Edwards' continuity correction, ``(|b - c| - 1)**2 / (b + c)``, on one degree of
    freedom.

    Parameters
    ----------
    y_true, pred_a, pred_b : array-like of int, shape (n_samples,)
        True labels and each model's predicted labels for the same images, in the same order.
    names : (str, str)
        Names of the two models, kept in the record.
    exact_below : int
        Discordant count below which the exact test is used.

    Returns
    -------
    McNemarResult
    """
    y = check_labels(y_true)
    a = check_labels(pred_a, name="pred_a")
    b = check_labels(pred_b, name="pred_b")
    if not len(y) == len(a) == len(b):
        raise DataError(
            f"y_true, pred_a and pred_b must cover the same images, got {len(y)}, {len(a)} "
            f"and {len(b)} labels"
        )
    ok_a, ok_b = a == y, b == y
    n01 = int(np.sum(ok_a & ~ok_b))
    n10 = int(np.sum(~ok_a & ok_b))
    n_disc = n01 + n10
    if n_disc == 0:
        statistic, p_value, method = 0.0, 1.0, "exact"
    elif n_disc < exact_below:
        statistic = float(min(n01, n10))
        p_value = float(stats.binomtest(n01, n_disc, 0.5).pvalue)
        method = "exact"
    else:
        statistic = (abs(n01 - n10) - 1) ** 2 / n_disc
        p_value = float(stats.chi2.sf(statistic, df=1))
        method = "chi2"
    return McNemarResult(
        model_a=names[0],
        model_b=names[1],
        both_correct=int(np.sum(ok_a & ok_b)),
        only_a_correct=n01,
        only_b_correct=n10,
        both_wrong=int(np.sum(~ok_a & ~ok_b)),
        statistic=float(statistic),
        p_value=p_value,
        method=method,
    )
