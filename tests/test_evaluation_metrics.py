"""Metrics against scikit-learn and hand-worked examples; no AUC from hard labels."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn import metrics as skm

from shallowvision.evaluation import (
    bootstrap_ci,
    calibration_summary,
    choose_operating_point,
    classification_metrics,
    evaluate_predictions,
    mcnemar_test,
    paired_bootstrap,
    pr_curves,
    ranking_metrics,
    reliability_diagram,
    roc_curves,
    threshold_curves,
)
from shallowvision.exceptions import DataError


def test_multiclass_metrics_match_scikit_learn(digits_model):
    y, p = digits_model.y, digits_model.proba
    pred = p.argmax(axis=1)
    m = classification_metrics(y, p, class_names=digits_model.class_names)
    assert m.accuracy == pytest.approx(skm.accuracy_score(y, pred))
    assert m.balanced_accuracy == pytest.approx(skm.balanced_accuracy_score(y, pred))
    assert m.mcc == pytest.approx(skm.matthews_corrcoef(y, pred))
    assert m.cohen_kappa == pytest.approx(skm.cohen_kappa_score(y, pred))
    assert m.log_loss == pytest.approx(skm.log_loss(y, p))
    for name, fn in (
        ("precision", skm.precision_score),
        ("recall", skm.recall_score),
        ("f1", skm.f1_score),
    ):
        record = getattr(m, name)
        np.testing.assert_allclose(record.per_class, fn(y, pred, average=None))
        assert record.macro == pytest.approx(fn(y, pred, average="macro"))
        assert record.weighted == pytest.approx(fn(y, pred, average="weighted"))
    r = m.ranking
    assert r.roc_auc.macro == pytest.approx(
        skm.roc_auc_score(y, p, multi_class="ovr", average="macro")
    )
    assert r.roc_auc.weighted == pytest.approx(
        skm.roc_auc_score(y, p, multi_class="ovr", average="weighted")
    )
    onehot = np.eye(10)[y]
    assert r.roc_auc.micro == pytest.approx(skm.roc_auc_score(onehot, p, average="micro"))
    np.testing.assert_allclose(
        r.average_precision.per_class, skm.average_precision_score(onehot, p, average=None)
    )
    assert r.average_precision.micro == pytest.approx(
        skm.average_precision_score(onehot, p, average="micro")
    )
    for k in (3, 5):
        assert r.top_k_accuracy[k] == pytest.approx(skm.top_k_accuracy_score(y, p, k=k))
    assert m.brier == pytest.approx(skm.brier_score_loss(y, p, scale_by_half=False))
    for k in range(10):
        assert m.brier_per_class[k] == pytest.approx(skm.brier_score_loss(y == k, p[:, k]))
    assert m.positive_class is None


def test_binary_metrics_are_those_of_the_positive_class(digits_model):
    y = (digits_model.y == 8).astype(int)
    p8 = digits_model.proba[:, 8]
    p = np.column_stack([1 - p8, p8])
    pred = (p8 > 0.5).astype(int)
    m = classification_metrics(y, p, class_names=["rest", "8"])
    assert m.positive_class == "8"
    assert m.positive_f1 == pytest.approx(skm.f1_score(y, pred))
    assert m.positive_precision == pytest.approx(skm.precision_score(y, pred))
    assert m.positive_recall == pytest.approx(skm.recall_score(y, pred))
    assert m.ranking.positive_roc_auc == pytest.approx(skm.roc_auc_score(y, p8))
    assert m.ranking.positive_average_precision == pytest.approx(skm.average_precision_score(y, p8))
    assert m.ranking.top_k_accuracy == {}
    # The multiclass Brier score counts both columns: twice the binary one.
    assert m.brier == pytest.approx(2 * skm.brier_score_loss(y, p8))
    assert m.ranking.roc_auc.micro is None


def test_ranking_metrics_accept_decision_scores(digits_model):
    scores = digits_model.model.decision_function(digits_model.test.X)
    r = ranking_metrics(digits_model.y, scores)
    assert r.roc_auc.macro == pytest.approx(skm.roc_auc_score(np.eye(10)[digits_model.y], scores))


def test_a_class_absent_from_y_true_is_left_out_of_the_averages():
    y = np.array([0, 0, 1, 1, 0, 1])
    p = np.array(
        [
            [0.7, 0.2, 0.1],
            [0.6, 0.3, 0.1],
            [0.2, 0.7, 0.1],
            [0.3, 0.4, 0.3],
            [0.5, 0.1, 0.4],
            [0.2, 0.2, 0.6],
        ]
    )
    r = ranking_metrics(y, p)
    assert np.isnan(r.roc_auc.per_class[2])
    assert r.roc_auc.macro == pytest.approx(np.mean(r.roc_auc.per_class[:2]))
    assert r.to_dict()["roc_auc"]["per_class"][2] is None


# -- no AUC from hard labels ---------------------------------------------------------------
SCORE_FUNCTIONS = [
    lambda y, s: ranking_metrics(y, s),
    lambda y, s: classification_metrics(y, s),
    lambda y, s: roc_curves(y, s),
    lambda y, s: pr_curves(y, s),
    lambda y, s: threshold_curves(y, s),
    lambda y, s: choose_operating_point(y, s),
    lambda y, s: reliability_diagram(y, s),
    lambda y, s: calibration_summary(y, s),
    lambda y, s: evaluate_predictions(y, s, class_names=["a", "b", "c"]),
]


@pytest.mark.parametrize("function", SCORE_FUNCTIONS)
@pytest.mark.parametrize("kind", ["labels", "float labels", "one-hot ints", "booleans"])
def test_no_score_based_result_from_hard_labels(function, kind):
    y = np.array([0, 1, 2, 1, 0, 2, 2, 1])
    hard = {
        "labels": y,
        "float labels": y.astype(float),
        "one-hot ints": np.eye(3, dtype=int)[y],
        "booleans": np.eye(3, dtype=bool)[y],
    }[kind]
    with pytest.raises(DataError, match="hard labels"):
        function(y, hard)


def test_validation_errors_name_what_is_wrong():
    y = np.array([0, 1, 2])
    p = np.full((3, 9), 1 / 9)
    with pytest.raises(DataError, match="proba has 9 columns but class_names has 10"):
        classification_metrics(y, p, class_names=[str(i) for i in range(10)])
    with pytest.raises(DataError, match="y_true has 2 labels but proba has 3 rows"):
        classification_metrics(y[:2], p)
    with pytest.raises(DataError, match="row 1 sums to 1.5"):
        classification_metrics(y, np.array([[1.0, 0.0], [0.5, 1.0], [0.0, 1.0]]))
    with pytest.raises(DataError, match="y_true holds class 9 but proba has 9 columns"):
        classification_metrics(np.array([0, 9, 1]), p)
    with pytest.raises(DataError, match="NaN"):
        ranking_metrics(y, np.array([[np.nan, 1.0], [0, 1], [1, 0]]))
    with pytest.raises(DataError, match="empty"):
        classification_metrics(np.array([], dtype=int), np.empty((0, 3)))


# -- bootstrap -----------------------------------------------------------------------------
def test_bootstrap_estimates_equal_the_metrics_and_are_seeded(digits_model):
    y, pred = digits_model.y, digits_model.proba.argmax(axis=1)
    result = bootstrap_ci(y, pred, n_resamples=500, random_state=3)
    assert result.accuracy.estimate == pytest.approx(skm.accuracy_score(y, pred))
    assert result.macro_f1.estimate == pytest.approx(skm.f1_score(y, pred, average="macro"))
    for interval in (result.accuracy, result.macro_f1):
        assert interval.low < interval.estimate < interval.high
    again = bootstrap_ci(y, pred, n_resamples=500, random_state=3)
    assert again.to_dict() == result.to_dict()
    other = bootstrap_ci(y, pred, n_resamples=500, random_state=4)
    assert other.accuracy.low != result.accuracy.low or other.macro_f1.high != result.macro_f1.high


def test_bootstrap_matches_resampling_the_images():
    # Drawing confusion matrices from a multinomial is the image bootstrap: its
    # interval must agree with explicit resampling of image indices.
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 400)
    pred = np.where(rng.random(400) < 0.8, y, rng.integers(0, 4, 400))
    fast = bootstrap_ci(y, pred, n_resamples=4000, random_state=1)
    idx = rng.integers(0, 400, size=(4000, 400))
    yt, yp = y[idx], pred[idx]
    acc = (yt == yp).mean(axis=1)
    # Per-class F1 = 2tp / (2tp + fp + fn) of every resample (all four classes occur in each).
    f1 = np.mean(
        [
            2 * ((yt == c) & (yp == c)).sum(1) / ((yt == c).sum(1) + (yp == c).sum(1))
            for c in range(4)
        ],
        axis=0,
    )
    assert fast.accuracy.low == pytest.approx(np.quantile(acc, 0.025), abs=0.006)
    assert fast.accuracy.high == pytest.approx(np.quantile(acc, 0.975), abs=0.006)
    assert fast.macro_f1.low == pytest.approx(np.quantile(f1, 0.025), abs=0.008)
    assert fast.macro_f1.high == pytest.approx(np.quantile(f1, 0.975), abs=0.008)


# -- paired bootstrap ------------------------------------------------------------------------
def _two_models(digits_model):
    """The fitted model's test probabilities and a blurrier, worse copy of them (rounded to
    create tied scores). float64, as paired_bootstrap computes: scikit-learn's log loss of
    float32 probabilities is float32 arithmetic, off in the 8th digit."""
    p = digits_model.proba.astype(np.float64)
    rng = np.random.default_rng(0)
    q = np.round(0.2 * p + 0.8 * rng.dirichlet(np.ones(p.shape[1]), len(p)), 2) + 1e-3
    return p, q / q.sum(axis=1, keepdims=True)


def test_paired_bootstrap_matches_resampling_with_the_summary_metrics(digits_model):
    from shallowvision._metrics import summary_metrics
    from shallowvision.evaluation._metrics import _resample_counts

    y = digits_model.y
    p, q = _two_models(digits_model)
    n, k, n_resamples = len(y), p.shape[1], 60
    counts = np.concatenate(list(_resample_counts(n, n_resamples, 7)))
    assert counts.shape == (n_resamples, n) and (counts.sum(axis=1) == n).all()
    # The slow way: each resample's images, scored by the code every table uses.
    slow = []
    for row in counts:
        idx = np.repeat(np.arange(n), row.astype(int))
        a = summary_metrics(y[idx], p[idx].argmax(1), p[idx], "proba", k)
        b = summary_metrics(y[idx], q[idx].argmax(1), q[idx], "proba", k)
        slow.append({m: a[m] - b[m] for m in a if a[m] is not None})
    full_a = summary_metrics(y, p.argmax(1), p, "proba", k)
    full_b = summary_metrics(y, q.argmax(1), q, "proba", k)
    for metric in ("accuracy", "balanced_accuracy", "f1_macro", "roc_auc", "log_loss", "brier"):
        pa, pb = (
            (p.argmax(1), q.argmax(1))
            if metric in ("accuracy", "balanced_accuracy", "f1_macro")
            else (p, q)
        )
        fast = paired_bootstrap(
            y, pa, pb, metric=metric, n_resamples=n_resamples, confidence=0.9, random_state=7
        )
        low, high = np.quantile([d[metric] for d in slow], [0.05, 0.95])
        assert fast.value_a == pytest.approx(full_a[metric], abs=1e-12), metric
        assert fast.value_b == pytest.approx(full_b[metric], abs=1e-12), metric
        assert fast.estimate == pytest.approx(full_a[metric] - full_b[metric], abs=1e-12)
        assert (fast.low, fast.high) == pytest.approx((low, high), abs=1e-12), metric
        # The better model's interval lies wholly on the better side of 0.
        assert (fast.high < 0) if metric in ("log_loss", "brier") else (fast.low > 0), metric


def test_paired_bootstrap_is_seeded_and_a_model_against_itself_is_exactly_0(digits_model):
    y, (p, q) = digits_model.y, _two_models(digits_model)
    same = paired_bootstrap(y, p, p, metric="roc_auc", n_resamples=200)
    assert (same.estimate, same.low, same.high) == (0.0, 0.0, 0.0)
    first = paired_bootstrap(y, p.argmax(1), q.argmax(1), random_state=3)
    assert (
        first.to_dict() == paired_bootstrap(y, p.argmax(1), q.argmax(1), random_state=3).to_dict()
    )
    assert first.n_resamples == 1000 and first.metric == "f1_macro"
    assert first.low != paired_bootstrap(y, p.argmax(1), q.argmax(1), random_state=4).low
    with pytest.raises(DataError, match="unknown metric 'speed'"):
        paired_bootstrap(y, p, q, metric="speed")
    with pytest.raises(DataError, match="hard labels carry no ranking"):
        paired_bootstrap(y, p.argmax(1), q.argmax(1), metric="roc_auc")


# -- McNemar -------------------------------------------------------------------------------
def _pair(both_right: int, only_a: int, only_b: int, both_wrong: int):
    y = np.zeros(both_right + only_a + only_b + both_wrong, dtype=int)
    a = np.r_[np.zeros(both_right + only_a), np.ones(only_b + both_wrong)].astype(int)
    b = np.r_[np.zeros(both_right), np.ones(only_a), np.zeros(only_b), np.ones(both_wrong)].astype(
        int
    )
    return y, a, b


def test_mcnemar_exact_on_a_hand_worked_table():
    # b = 10, c = 2: two-sided exact p = 2 * P(X <= 2), X ~ Binomial(12, 1/2)
    #              = 2 * (1 + 12 + 66) / 4096 = 158 / 4096.
    result = mcnemar_test(*_pair(50, 10, 2, 5))
    assert (
        result.only_a_correct,
        result.only_b_correct,
        result.both_correct,
        result.both_wrong,
    ) == (10, 2, 50, 5)
    assert result.method == "exact"
    assert result.statistic == 2
    assert result.p_value == pytest.approx(158 / 4096)


def test_mcnemar_chi_square_with_continuity_correction():
    # b = 30, c = 12: (|30 - 12| - 1)^2 / 42 = 289 / 42; one degree of freedom.
    result = mcnemar_test(*_pair(100, 30, 12, 8))
    assert result.method == "chi2"
    assert result.statistic == pytest.approx(289 / 42)
    assert result.p_value == pytest.approx(math.erfc(math.sqrt(289 / 42 / 2)))


def test_mcnemar_without_discordant_images():
    result = mcnemar_test(*_pair(10, 0, 0, 3))
    assert result.p_value == 1.0
    with pytest.raises(DataError, match="same images"):
        mcnemar_test(np.zeros(3, int), np.zeros(3, int), np.zeros(2, int))
