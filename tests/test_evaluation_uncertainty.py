"""Confidence and entropy histograms, and the risk-coverage curve, by hand."""

from __future__ import annotations

import numpy as np
import pytest

from shallowvision.evaluation import confidence_histogram, entropy_histogram, risk_coverage


def _binary(confidence, correct):
    """Binary probabilities whose top class has ``confidence`` and is right when ``correct``."""
    c = np.asarray(confidence, dtype=float)
    right = np.asarray(correct, dtype=bool)
    proba = np.column_stack([1 - c, c])
    return np.where(right, 1, 0), proba


def test_risk_coverage_worked_by_hand():
    # Confidences 0.9, 0.8, 0.8, 0.6, 0.55 with right, right, wrong, right, wrong.
    # Thresholds keep 1 (acc 1), 3 (2/3: the tied 0.8s go together), 4 (3/4), 5 (3/5).
    y, p = _binary([0.9, 0.8, 0.8, 0.6, 0.55], [1, 1, 0, 1, 0])
    r = risk_coverage(y, p, target_accuracy=0.99)
    np.testing.assert_allclose(r.coverage, [0.2, 0.6, 0.8, 1.0])
    np.testing.assert_allclose(r.accuracy, [1, 2 / 3, 3 / 4, 3 / 5])
    np.testing.assert_allclose(r.thresholds, [0.9, 0.8, 0.6, 0.55])
    assert r.coverage_at_target == pytest.approx(0.2)
    assert r.threshold_at_target == pytest.approx(0.9)
    # AURC = sum of risk * coverage step = 0 * 0.2 + 1/3 * 0.4 + 1/4 * 0.2 + 2/5 * 0.2.
    assert r.aurc == pytest.approx(0.4 / 3 + 0.05 + 0.08)
    assert risk_coverage(y, p, target_accuracy=0.7).coverage_at_target == pytest.approx(0.8)


def test_perfect_classifier_covers_everything_and_a_hopeless_one_nothing():
    y = np.array([0, 1, 2, 1, 0])
    perfect = risk_coverage(y, np.eye(3)[y], target_accuracy=0.99)
    assert perfect.coverage_at_target == 1.0 and perfect.aurc == 0
    wrong = risk_coverage(y, np.eye(3)[(y + 1) % 3], target_accuracy=0.99)
    assert wrong.coverage_at_target is None and wrong.threshold_at_target is None
    assert wrong.to_dict()["coverage_at_target"] is None


def test_risk_coverage_is_thinned_but_keeps_the_target_point(digits_model):
    r = risk_coverage(digits_model.y, digits_model.proba, target_accuracy=0.99, max_points=30)
    assert len(r.coverage) <= 31 and r.coverage[-1] == 1.0
    assert r.coverage_at_target in r.coverage
    full = risk_coverage(digits_model.y, digits_model.proba, target_accuracy=0.99, max_points=10**6)
    assert full.aurc == r.aurc and full.coverage_at_target == r.coverage_at_target
    assert full.accuracy[-1] == pytest.approx(
        np.mean(digits_model.proba.argmax(axis=1) == digits_model.y)
    )


def test_confidence_histogram_counts_and_error_rate():
    y, p = _binary([0.55, 0.58, 0.95, 0.97, 0.99], [1, 0, 1, 1, 0])
    h = confidence_histogram(y, p, n_bins=5)  # bins of width 0.1 over [0.5, 1]
    np.testing.assert_allclose(h.bin_edges, [0.5, 0.6, 0.7, 0.8, 0.9, 1.0])
    np.testing.assert_array_equal(h.correct, [1, 0, 0, 0, 2])
    np.testing.assert_array_equal(h.wrong, [1, 0, 0, 0, 1])
    assert h.error_rate[0] == 0.5 and h.error_rate[4] == pytest.approx(1 / 3)
    assert np.isnan(h.error_rate[1])
    assert h.mean_wrong == pytest.approx((0.58 + 0.99) / 2)


def test_entropy_histogram_spans_certain_to_uniform():
    y = np.array([0, 1, 2, 0])
    p = np.array([[1.0, 0, 0], [0, 1.0, 0], [1 / 3, 1 / 3, 1 / 3], [0.2, 0.5, 0.3]])
    h = entropy_histogram(y, p, n_bins=4)
    assert h.bin_edges[-1] == pytest.approx(np.log(3))
    assert h.correct[0] == 2  # the two certain, right predictions have entropy 0
    # The uniform row (argmax 0, true 2: wrong) sits at log 3 and the last row (argmax 1,
    # true 0: wrong) at 1.03 nats, both in the last bin [0.75, 1] * log 3.
    assert h.wrong[-1] == 2 and h.wrong.sum() == 2
    assert h.mean_wrong == pytest.approx(
        (np.log(3) - (0.2 * np.log(0.2) + 0.5 * np.log(0.5) + 0.3 * np.log(0.3))) / 2
    )
    assert h.quantity == "entropy"
