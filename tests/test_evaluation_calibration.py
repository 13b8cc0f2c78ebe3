"""Calibration measures by hand and against scikit-learn; temperature scaling and the
calibration split."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import softmax
from sklearn import metrics as skm
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.calibration import CalibratedClassifierCV, calibration_curve
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression

from shallowvision.evaluation import (
    TemperatureScaling,
    brier_decomposition,
    calibrate,
    calibration_summary,
    classwise_reliability,
    compare_calibration,
    reliability_diagram,
)
from shallowvision.exceptions import ConfigError, DataError


def test_ece_and_mce_of_a_small_set_worked_by_hand():
    # Four images, three classes; confidence and whether the top class is right:
    #   0.6 right, 0.7 wrong, 0.9 right, 0.9 right.
    # Ten uniform bins, closed on the right: (0.5, 0.6] holds 0.6 (gap |1 - 0.6| = 0.4),
    # (0.6, 0.7] holds 0.7 (gap 0.7), (0.8, 0.9] holds both 0.9 (gap |1 - 0.9| = 0.1).
    # ECE = (1 * 0.4 + 1 * 0.7 + 2 * 0.1) / 4 = 0.325, MCE = 0.7.
    proba = np.array([[0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.05, 0.05, 0.9], [0.9, 0.1, 0.0]])
    y = np.array([0, 2, 2, 0])
    d = reliability_diagram(y, proba, n_bins=10)
    assert d.ece == pytest.approx(0.325)
    assert d.mce == pytest.approx(0.7)
    np.testing.assert_array_equal(d.counts, [0, 0, 0, 0, 0, 1, 1, 0, 2, 0])
    assert d.observed[8] == 1.0 and d.mean_forecast[8] == pytest.approx(0.9)
    assert d.to_dict()["observed"][0] is None  # empty bin: no number


def test_perfect_classifier_is_perfectly_calibrated():
    y = np.array([0, 1, 2, 2, 1, 0, 1])
    proba = np.eye(3)[y]
    summary = calibration_summary(y, proba, n_bins=10)
    assert summary.ece == 0 and summary.mce == 0 and summary.classwise_ece == 0
    assert summary.brier.brier == 0 and summary.brier.reliability == 0


def test_classwise_diagrams_match_calibration_curve(digits_model):
    y, p = digits_model.y, digits_model.proba
    for strategy in ("uniform", "quantile"):
        cw = classwise_reliability(y, p, n_bins=8, strategy=strategy)
        for k, d in enumerate(cw.diagrams):
            prob_true, prob_pred = calibration_curve(y == k, p[:, k], n_bins=8, strategy=strategy)
            full = d.counts > 0
            # The model's probabilities are float32; ours are renormalised float64.
            np.testing.assert_allclose(d.observed[full], prob_true)
            np.testing.assert_allclose(d.mean_forecast[full], prob_pred, rtol=1e-6)
        assert cw.classwise_ece == pytest.approx(np.mean([d.ece for d in cw.diagrams]))


def test_quantile_bins_hold_about_equal_counts(digits_model):
    d = reliability_diagram(digits_model.y, digits_model.proba, n_bins=5, strategy="quantile")
    assert d.counts.sum() == len(digits_model.y)
    assert d.counts.max() - d.counts.min() <= 2
    assert d.strategy == "quantile"


def test_brier_decomposition_adds_up_for_binned_forecasts(digits_model):
    y, p = digits_model.y, digits_model.proba.astype(np.float64)
    p /= p.sum(axis=1, keepdims=True)
    dec = brier_decomposition(y, p, n_bins=10)
    assert dec.brier == pytest.approx(skm.brier_score_loss(y, p, scale_by_half=False))
    # reliability - resolution + uncertainty is the Brier score of the forecasts
    # replaced by their bin means: computed here independently of the module.
    edges = np.linspace(0, 1, 11)
    binned = 0.0
    for k in range(10):
        ids = np.searchsorted(edges[1:-1], p[:, k], side="left")
        means = np.bincount(ids, p[:, k], 10) / np.maximum(np.bincount(ids, minlength=10), 1)
        binned += np.mean((means[ids] - (y == k)) ** 2)
    assert dec.binned_brier == pytest.approx(binned, abs=1e-12)
    assert dec.reliability - dec.resolution + dec.uncertainty == pytest.approx(binned, abs=1e-12)
    assert dec.brier - dec.binned_brier == pytest.approx(dec.within_bin)


def test_brier_decomposition_is_exact_when_each_bin_holds_one_forecast_value():
    rng = np.random.default_rng(0)
    levels = np.array([0.05, 0.25, 0.45, 0.65, 0.95])  # one per bin of 5 uniform bins
    f = levels[rng.integers(0, 5, 500)]
    y = (rng.random(500) < f).astype(int)
    dec = brier_decomposition(y, np.column_stack([1 - f, f]), n_bins=5)
    assert dec.within_bin == pytest.approx(0, abs=1e-12)
    assert dec.reliability - dec.resolution + dec.uncertainty == pytest.approx(dec.brier, abs=1e-12)
    # Uncertainty of each one-vs-rest column is base_rate * (1 - base_rate).
    assert dec.per_class_uncertainty[1] == pytest.approx(y.mean() * (1 - y.mean()))


# -- temperature scaling -------------------------------------------------------------------
class _FixedLogits(ClassifierMixin, BaseEstimator):
    """A 'fitted model' whose decision function is its input: X holds the logits."""

    def fit(self, X, y):
        self.classes_ = np.arange(X.shape[1])
        return self

    def decision_function(self, X):
        return np.asarray(X, dtype=float)


class _FixedProba(_FixedLogits):
    def predict_proba(self, X):
        return softmax(np.asarray(X, dtype=float), axis=1)


@pytest.mark.parametrize("model", [_FixedLogits, _FixedProba])
@pytest.mark.parametrize("true_t", [0.5, 2.5])
def test_temperature_scaling_recovers_a_known_temperature(model, true_t):
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, size=(20_000, 10))
    # Labels drawn from softmax(logits / T): the calibrated model is exactly that.
    cum = softmax(logits / true_t, axis=1).cumsum(axis=1)
    y = (rng.random((20_000, 1)) > cum).sum(axis=1)
    fitted = model().fit(logits, y)
    ts = TemperatureScaling(fitted).fit(logits, y)
    assert ts.temperature_ == pytest.approx(true_t, rel=0.05)
    assert ts.response_method_ == ("predict_proba" if model is _FixedProba else "decision_function")
    np.testing.assert_array_equal(ts.predict(logits), logits.argmax(axis=1))


def test_temperature_scaling_agrees_with_scikit_learn(digits_model):
    cal, test = digits_model.calibration, digits_model.test
    ours = TemperatureScaling(digits_model.model).fit(cal.X, cal.labels)
    theirs = CalibratedClassifierCV(FrozenEstimator(digits_model.model), method="temperature")
    theirs.fit(cal.X, cal.labels)
    # scikit-learn optimises in the model's float32; the temperatures agree to about 1e-4.
    np.testing.assert_allclose(ours.predict_proba(test.X), theirs.predict_proba(test.X), atol=1e-4)


def test_temperature_scaling_follows_the_estimator_contract(digits_model):
    ts = TemperatureScaling(digits_model.model, response_method="decision_function")
    copy = clone(ts)
    assert copy.get_params()["response_method"] == "decision_function"
    assert copy.estimator is digits_model.model  # the fitted model survives cloning
    for method in (ts.predict_proba, ts.predict):
        with pytest.raises(NotFittedError):
            method(digits_model.test.X)
    assert ts.fit(digits_model.calibration.X, digits_model.calibration.labels) is ts
    assert ts.n_features_in_ == 64
    np.testing.assert_array_equal(ts.classes_, np.arange(10))
    with pytest.raises(NotFittedError, match="already-fitted"):
        TemperatureScaling(LogisticRegression()).fit(
            digits_model.calibration.X, digits_model.calibration.labels
        )
    with pytest.raises(DataError, match="label 12 is not one of the model's classes"):
        TemperatureScaling(digits_model.model).fit(digits_model.calibration.X[:2], [1, 12])


@pytest.mark.parametrize("method", ["temperature", "sigmoid", "isotonic"])
def test_compare_calibration_before_and_after(digits_model, method):
    result = compare_calibration(
        digits_model.model, digits_model.calibration, digits_model.test, method=method, n_bins=10
    )
    assert set(result.table) == {"ece", "mce", "classwise_ece", "brier", "log_loss", "accuracy"}
    before = result.table
    p = digits_model.proba
    assert before["ece"]["before"] == pytest.approx(
        reliability_diagram(digits_model.y, p, n_bins=10).ece
    )
    assert before["log_loss"]["before"] == pytest.approx(skm.log_loss(digits_model.y, p))
    after = result.calibrator.predict_proba(digits_model.test.X)
    assert before["brier"]["after"] == pytest.approx(
        skm.brier_score_loss(digits_model.y, after, scale_by_half=False)
    )
    assert result.after.ece == pytest.approx(before["ece"]["after"])
    assert (result.temperature is not None) == (method == "temperature")
    if method == "temperature":
        assert before["accuracy"]["after"] == before["accuracy"]["before"]
    assert "calibrator" not in result.to_dict()
    assert result.n_calibration == len(digits_model.calibration)


def test_the_test_split_is_never_the_calibration_split(digits_model):
    with pytest.raises(DataError, match="calibration split is the test split"):
        compare_calibration(digits_model.model, digits_model.test, digits_model.calibration)
    X, y = digits_model.calibration.X, digits_model.calibration.labels
    with pytest.raises(DataError, match="same images"):
        compare_calibration(digits_model.model, (X, y), (X.copy(), y))
    with pytest.raises(ConfigError, match="unknown calibration method 'platt'"):
        calibrate(digits_model.model, X, y, method="platt")
