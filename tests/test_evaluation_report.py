"""The one entry point, its JSON, its figures (PNG and plotly) and its invariances."""

from __future__ import annotations

import inspect
import json
import time

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from shallowvision.evaluation import (
    ConfusionDisplay,
    CurvesDisplay,
    ErrorOverlapDisplay,
    HistogramDisplay,
    ReliabilityDisplay,
    RiskCoverageDisplay,
    RobustnessDisplay,
    ThresholdDisplay,
    calibration_figure,
    compare_calibration,
    confusion_figure,
    curves_figure,
    error_overlap,
    error_overlap_figure,
    evaluate_model,
    evaluate_predictions,
    evaluate_robustness,
    gallery_figure,
    histogram_figure,
    reliability_figure,
    risk_coverage_figure,
    robustness_figure,
    save_figures,
    threshold_figure,
)
from shallowvision.exceptions import DataError
from shallowvision.features import PixelScaler


@pytest.fixture(scope="module")
def evaluation(digits_model):
    rng = np.random.default_rng(0)
    noisy = np.where(
        rng.random(len(digits_model.y)) < 0.85,
        digits_model.y,
        rng.integers(0, 10, len(digits_model.y)),
    )
    return evaluate_predictions(
        digits_model.y,
        digits_model.proba,
        class_names=digits_model.class_names,
        images=digits_model.test.images,
        model_name="lr",
        other_predictions={"noisy": noisy},
        n_resamples=300,
        n_pairs=2,
    )


def _summary(ev) -> dict:
    """Everything of an evaluation that does not name image positions."""
    d = ev.to_dict()
    for key in ("galleries", "confidently_wrong", "error_overlap", "image_shape"):
        d.pop(key)
    return d


def _assert_same(a, b, where="evaluation"):
    """Equal structure and values; floats may differ in the last bits (summation order)."""
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            _assert_same(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, float):
        assert a == pytest.approx(b, rel=1e-9, abs=1e-12), where
    else:
        assert a == b, where


def test_evaluation_holds_everything_and_is_plain_json(evaluation, digits_model):
    d = evaluation.to_dict()
    text = json.dumps(d, allow_nan=False)  # NaN would not be JSON
    assert "images" not in d
    assert d["metrics"]["accuracy"] == pytest.approx(
        np.mean(digits_model.proba.argmax(1) == digits_model.y)
    )
    assert d["image_shape"] == [8, 8]
    assert d["comparisons"][0]["model_a"] == "lr" and d["comparisons"][0]["model_b"] == "noisy"
    assert d["error_overlap"]["model_names"] == ["lr", "noisy"]
    assert len(d["galleries"]) == len(d["confused_pairs"]) > 0
    assert len(text) < 2_000_000
    headline = evaluation.headline()
    assert headline["accuracy_low"] < headline["accuracy"] < headline["accuracy_high"]


def test_shuffling_images_and_labels_together_changes_nothing(evaluation, digits_model):
    order = np.random.default_rng(1).permutation(len(digits_model.y))
    shuffled = evaluate_predictions(
        digits_model.y[order],
        digits_model.proba[order],
        class_names=digits_model.class_names,
        images=digits_model.test.images[order],
        model_name="lr",
        n_resamples=300,
        n_pairs=2,
    )
    plain = evaluate_predictions(
        digits_model.y,
        digits_model.proba,
        class_names=digits_model.class_names,
        model_name="lr",
        n_resamples=300,
        n_pairs=2,
    )
    _assert_same(_summary(shuffled), _summary(plain))
    # Galleries show the same images (same pixels, same confidences), found at new positions.
    for a, b in zip(shuffled.galleries, evaluation.galleries, strict=True):
        np.testing.assert_array_equal(shuffled.images[a.indices], evaluation.images[b.indices])
        np.testing.assert_array_equal(a.confidence, b.confidence)


def test_evaluate_model_takes_every_option_of_evaluate_predictions_with_the_same_default():
    def options(function):
        params = inspect.signature(function).parameters.values()
        return {p.name: p.default for p in params if p.kind is p.KEYWORD_ONLY}

    of_model, of_predictions = options(evaluate_model), options(evaluate_predictions)
    # evaluate_model takes these from the fitted model and the ImageSet instead
    for derived in ("class_names", "images", "other_predictions"):
        del of_predictions[derived]
    del of_model["other_models"]
    assert of_model == of_predictions


def test_a_perfect_classifier_end_to_end():
    y = np.tile(np.arange(5), 40)
    ev = evaluate_predictions(y, np.eye(5)[y], class_names=list("abcde"), n_resamples=50)
    assert ev.metrics.accuracy == 1.0 and ev.metrics.ranking.roc_auc.macro == 1.0
    assert ev.calibration.ece == 0 and ev.calibration.classwise_ece == 0
    assert ev.risk_coverage.coverage_at_target == 1.0
    assert ev.confused_pairs == () and ev.confidently_wrong.n_matching == 0
    assert (ev.bootstrap.accuracy.low, ev.bootstrap.accuracy.high) == (1.0, 1.0)


def test_operating_points_from_a_target(digits_model):
    ev = evaluate_predictions(
        digits_model.y,
        digits_model.proba,
        class_names=digits_model.class_names,
        min_precision=0.999,
        n_resamples=10,
    )
    reached = {p.label for p in ev.operating_points}
    missed = [n for n in ev.operating_point_notes]
    assert len(reached) + len(missed) == 10
    assert all(p.precision >= 0.999 for p in ev.operating_points)
    one = evaluate_predictions(
        digits_model.y,
        digits_model.proba,
        class_names=digits_model.class_names,
        positive="3",
        threshold=0.5,
        n_resamples=10,
    )
    assert [p.label for p in one.operating_points] == ["3"]
    with pytest.raises(DataError, match="images must have shape"):
        evaluate_predictions(
            digits_model.y,
            digits_model.proba,
            class_names=digits_model.class_names,
            images=digits_model.test.images[:5],
        )


def test_binary_and_47_class_tasks():
    rng = np.random.default_rng(0)
    for n_classes in (2, 47):
        y = rng.integers(0, n_classes, 3000)
        logits = rng.normal(size=(3000, n_classes))
        logits[np.arange(3000), y] += 2.5
        proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        names = [f"c{i}" for i in range(n_classes)]
        ev = evaluate_predictions(y, proba, class_names=names, n_resamples=100, threshold=0.5)
        d = ev.to_dict()
        json.dumps(d, allow_nan=False)
        expected_curves = 1 if n_classes == 2 else n_classes + 2
        assert len(ev.roc.curves) == expected_curves and len(ev.pr.curves) == expected_curves
        assert len(ev.thresholds.curves) == (1 if n_classes == 2 else n_classes)
        assert len(ev.calibration.classwise.diagrams) == n_classes
        assert len(ev.operating_points) == (1 if n_classes == 2 else n_classes)


def test_save_figures_writes_every_png_atomically(evaluation, tmp_path):
    written = save_figures(evaluation, tmp_path / "figures")
    expected = {
        "roc",
        "pr",
        "thresholds",
        "reliability",
        "reliability_quantile",
        "reliability_classwise",
        "confidence",
        "entropy",
        "risk_coverage",
        "confusion",
        "confusion_normalized",
        "error_overlap",
        "confidently_wrong",
    }
    assert expected <= set(written)
    assert sum(name.startswith("gallery_") for name in written) == len(evaluation.galleries)
    for path in written.values():
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == sorted(
        p.name for p in written.values()
    )


def test_displays_draw_on_the_given_axes_without_pyplot(evaluation, digits_model):
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    y, p = digits_model.y, digits_model.proba
    figure = Figure()
    axes = figure.subplots(3, 3).ravel()
    displays = [
        CurvesDisplay.from_predictions(y, p, kind="roc", ax=axes[0]),
        CurvesDisplay.from_predictions(y, p, kind="pr", ax=axes[1]),
        ThresholdDisplay.from_predictions(y, p, ax=axes[2]),
        ReliabilityDisplay.from_predictions(y, p, strategy="quantile", ax=axes[3]),
        HistogramDisplay.from_predictions(y, p, quantity="entropy", ax=axes[4]),
        RiskCoverageDisplay.from_predictions(y, p, ax=axes[5]),
        ConfusionDisplay.from_predictions(y, p.argmax(axis=1), normalize=True, ax=axes[6]),
        ErrorOverlapDisplay.from_predictions(y, {"a": p, "b": np.roll(p, 1, axis=1)}, ax=axes[7]),
    ]
    for display, ax in zip(displays, axes, strict=False):
        assert display.ax_ is ax and display.figure_ is figure
        assert ax.has_data()
    assert ThresholdDisplay(evaluation.thresholds).plot(label="3").ax_.get_title().startswith("3:")
    assert plt.get_fignums() == []


def test_plotly_builders_return_figures(evaluation, digits_model):
    import plotly.graph_objects as go

    robustness = evaluate_robustness(
        digits_model.model,
        digits_model.test.images,
        digits_model.test.labels,
        corruptions=["blur", "invert"],
    )
    comparison = compare_calibration(
        digits_model.model, digits_model.calibration, digits_model.test
    )
    figures = [
        curves_figure(evaluation.roc),
        curves_figure(evaluation.pr),
        threshold_figure(evaluation.thresholds),
        reliability_figure([evaluation.calibration.top_label]),
        calibration_figure(comparison),
        histogram_figure(evaluation.confidence),
        risk_coverage_figure(evaluation.risk_coverage),
        confusion_figure(evaluation.confusion, normalize=True),
        error_overlap_figure(error_overlap(digits_model.y, {"a": digits_model.proba})),
        gallery_figure(evaluation.confidently_wrong, digits_model.test.images),
        robustness_figure(robustness),
    ]
    for fig in figures:
        assert isinstance(fig, go.Figure) and len(fig.data) > 0
        json.loads(fig.to_json())
    assert len(figures[0].data) == 10 + 2 + 1  # classes, micro, macro, chance
    RobustnessDisplay(robustness).plot()


def test_charts_with_a_second_axis_give_it_ticks_and_room_of_its_own(evaluation):
    # Plotly puts an overlaying axis's ticks where the first axis has its own (on a log
    # axis: 1%, 3%, 5%, 19%, 26%, ...), and a legend on the right lay over its labels.
    histogram = histogram_figure(evaluation.confidence)
    reliability = reliability_figure([evaluation.calibration.top_label])
    assert histogram.layout.yaxis2.tickmode == "auto"
    assert reliability.layout.yaxis2.tickmode == "auto"
    assert reliability.layout.legend.orientation == "h" and reliability.layout.legend.y < 0
    # The counts' log axis is labelled at 1, 2 and 5, not at every digit.
    assert histogram.layout.yaxis.type == "log" and histogram.layout.yaxis.dtick == "D2"


@pytest.mark.fashion
@pytest.mark.slow
def test_evaluating_the_fashion_mnist_test_set_is_fast():
    from shallowvision.datasets import load

    train = load("fashion-mnist").subsample(n_per_class=100, random_state=0)
    test = load("fashion-mnist", "test")
    model = make_pipeline(PixelScaler(), PCA(40, random_state=0), LogisticRegression(max_iter=1000))
    model.fit(train.X, train.labels)
    proba = model.predict_proba(test.X)
    start = time.perf_counter()
    ev = evaluate_predictions(test.labels, proba, class_names=test.class_names, images=test.images)
    elapsed = time.perf_counter() - start
    assert elapsed < 5.0
    assert ev.n_samples == 10_000 and ev.image_shape == (28, 28)
    assert ev.metrics.accuracy == pytest.approx(model.score(test.X, test.labels))
