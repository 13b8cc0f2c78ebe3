"""ROC / PR curves against scikit-learn, threshold curves and operating points by hand."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from shallowvision.evaluation import choose_operating_point, pr_curves, roc_curves, threshold_curves
from shallowvision.exceptions import DataError


def test_roc_curves_per_class_and_averages_match_scikit_learn(digits_model):
    y, p = digits_model.y, digits_model.proba
    roc = roc_curves(y, p, class_names=digits_model.class_names, max_points=None)
    assert [c.label for c in roc.curves] == [*digits_model.class_names, "micro", "macro"]
    for k, curve in enumerate(roc.class_curves):
        fpr, tpr, thresholds = skm.roc_curve(y == k, p[:, k])
        np.testing.assert_array_equal(curve.x, fpr)
        np.testing.assert_array_equal(curve.y, tpr)
        np.testing.assert_array_equal(curve.thresholds, thresholds)
        assert curve.area == pytest.approx(skm.roc_auc_score(y == k, p[:, k]))
    onehot = np.eye(10)[y]
    assert roc["micro"].area == pytest.approx(skm.roc_auc_score(onehot, p, average="micro"))
    # The vertical average on every breakpoint has exactly the macro AUC as its area.
    assert roc["macro"].area == pytest.approx(skm.roc_auc_score(y, p, multi_class="ovr"), abs=1e-12)


def test_pr_curves_areas_are_average_precisions(digits_model):
    y, p = digits_model.y, digits_model.proba
    pr = pr_curves(y, p)
    onehot = np.eye(10)[y]
    per_class = skm.average_precision_score(onehot, p, average=None)
    np.testing.assert_allclose([c.area for c in pr.class_curves], per_class)
    assert pr["micro"].area == pytest.approx(
        skm.average_precision_score(onehot, p, average="micro")
    )
    assert pr["macro"].area == pytest.approx(per_class.mean())
    macro = pr["macro"]
    assert np.all(np.diff(macro.y) <= 1e-12)  # interpolated precision never rises with recall
    assert pr.class_curves[3].prevalence == pytest.approx(np.mean(y == 3))


def test_stored_curves_are_thinned_but_keep_their_exact_areas():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 6000)
    s = rng.dirichlet([1, 1, 1], 6000) + np.eye(3)[y] * 0.2
    p = s / s.sum(axis=1, keepdims=True)
    full, thin = roc_curves(y, p, max_points=None), roc_curves(y, p, max_points=100)
    pr_full, pr_thin = pr_curves(y, p, max_points=None), pr_curves(y, p, max_points=100)
    for a, b in [
        *zip(full.curves, thin.curves, strict=True),
        *zip(pr_full.curves, pr_thin.curves, strict=True),
    ]:
        assert len(a.x) > 100 >= len(b.x) - 1
        assert a.area == b.area
        assert (b.x[0], b.x[-1]) == (a.x[0], a.x[-1])
    for c in pr_thin.class_curves:
        assert len(c.thresholds) == len(c.x) - 1  # scikit-learn's convention for PR curves


def test_binary_task_has_one_curve_of_the_positive_class():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    s = np.clip(y * 0.3 + rng.random(200) * 0.7, 0, 1)
    p = np.column_stack([1 - s, s])
    for curves in (roc_curves(y, p), pr_curves(y, p), threshold_curves(y, p)):
        assert len(curves.curves) == 1
        assert curves.curves[0].label == "1"
    assert roc_curves(y, p).curves[0].area == pytest.approx(skm.roc_auc_score(y, s))


def test_threshold_curves_match_precision_recall_curve(digits_model):
    y, p = digits_model.y, digits_model.proba
    curves = threshold_curves(y, p, max_points=10_000)
    for k, curve in enumerate(curves.curves):
        prec, rec, thr = skm.precision_recall_curve(y == k, p[:, k], drop_intermediate=False)
        at = {t: (pp, rr) for t, pp, rr in zip(thr, prec[:-1], rec[:-1], strict=True)}
        for t, pp, rr in zip(curve.thresholds, curve.precision, curve.recall, strict=True):
            assert (pp, rr) == pytest.approx(at[t])
        f1 = 2 * prec * rec / np.where(prec + rec > 0, prec + rec, 1)
        assert curve.best.f1 == pytest.approx(f1.max())
        assert curve.best.criterion == "max_f1"


def test_threshold_curves_are_thinned_but_keep_the_best_threshold(digits_model):
    curves = threshold_curves(digits_model.y, digits_model.proba, max_points=20)
    for curve in curves.curves:
        assert len(curve.thresholds) <= 21
        assert curve.best.threshold in curve.thresholds
        assert np.all(np.diff(curve.thresholds) < 0)


# A small example worked by hand: positives are images 2, 3, 4.
Y = np.array([0, 0, 1, 1, 1, 0])
S = np.array([0.1, 0.4, 0.35, 0.8, 0.9, 0.7])
P = np.column_stack([1 - S, S])


def test_operating_point_at_a_fixed_threshold():
    # score >= 0.5 -> images 3, 4, 5 predicted positive: tp 2, fp 1, fn 1, tn 2.
    point = choose_operating_point(Y, P, threshold=0.5)
    assert (point.tp, point.fp, point.fn, point.tn) == (2, 1, 1, 2)
    assert point.threshold == 0.5
    assert point.precision == pytest.approx(2 / 3)
    assert point.recall == pytest.approx(2 / 3)
    assert point.false_positive_rate == pytest.approx(1 / 3)


def test_operating_point_from_a_minimum_precision():
    # Thresholds (precision, recall): 0.9 (1, 1/3), 0.8 (1, 2/3), 0.7 (2/3, 2/3),
    # 0.4 (1/2, 2/3), 0.35 (3/5, 1), 0.1 (1/2, 1).
    point = choose_operating_point(Y, P, min_precision=0.95)
    assert point.threshold == 0.8 and point.recall == pytest.approx(2 / 3)
    point = choose_operating_point(Y, P, min_precision=0.6)
    assert point.threshold == 0.35 and point.recall == 1.0 and point.precision == pytest.approx(0.6)
    with pytest.raises(DataError, match="no threshold reaches precision"):
        choose_operating_point(Y, P, min_precision=1.01)


def test_operating_point_from_costs():
    # A false negative costing 10 false positives: take every positive, at 0.35
    # (fp 2, fn 0, cost 2) rather than 0.8 (fn 1, cost 10) or 0.1 (fp 3, cost 3).
    point = choose_operating_point(Y, P, fp_cost=1, fn_cost=10)
    assert point.threshold == 0.35 and point.cost == 2.0
    # Costly false positives: stop at 0.8 (fn 1, cost 0.1), before the first negative.
    point = choose_operating_point(Y, P, fp_cost=10, fn_cost=0.1)
    assert point.threshold == 0.8 and point.cost == pytest.approx(0.1)
    with pytest.raises(DataError, match="both fp_cost and fn_cost"):
        choose_operating_point(Y, P, fp_cost=1)


def test_operating_point_defaults_to_max_f1_and_takes_one_target():
    point = choose_operating_point(Y, P)
    assert point.criterion == "max_f1"
    # F1 = 2tp / (2tp + fp + fn): 0.5 at 0.9, 0.8 at 0.8, 2/3 at 0.7, 0.75 at 0.35.
    assert point.threshold == 0.8 and point.f1 == pytest.approx(0.8)
    with pytest.raises(DataError, match="give one target"):
        choose_operating_point(Y, P, threshold=0.5, min_precision=0.9)


def test_operating_point_for_a_named_class(digits_model):
    point = choose_operating_point(
        digits_model.y,
        digits_model.proba,
        positive="8",
        class_names=digits_model.class_names,
        threshold=0.5,
    )
    pred8 = digits_model.proba[:, 8] >= 0.5
    assert point.label == "8"
    assert point.tp == np.sum(pred8 & (digits_model.y == 8))
    with pytest.raises(DataError, match="unknown class 'eleven'"):
        choose_operating_point(digits_model.y, digits_model.proba, positive="eleven")
