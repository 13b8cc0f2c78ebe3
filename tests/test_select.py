"""Pixel selectors: exact counts, scores checked against scikit-learn, selection judged on held-out images."""

import json

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.feature_selection import mutual_info_classif
from sklearn.inspection import permutation_importance
from sklearn.pipeline import make_pipeline

from conftest import FAST_PARAMS
from shallowvision.exceptions import ConfigError
from shallowvision.features import (
    ModelSelector,
    MutualInfoSelector,
    RFESelector,
    ShapSelector,
    VarianceSelector,
    get_selection_method_names,
    make_selector,
    n_to_keep,
)
from shallowvision.features._pixels import pixel_permutation_importance
from shallowvision.models import evaluate_selection, get_model, save_selection, selection_figures
from shallowvision.persistence import load_model, save_model, training_provenance


@pytest.fixture(scope="module")
def split(digits):
    return digits.split_off(0.25, random_state=0, name="validation")


def forest(seed=0):
    return RandomForestClassifier(n_estimators=10, random_state=seed)


@pytest.mark.parametrize(
    ("keep", "n_features", "expected"),
    [
        (0.3, 64, 19),
        (0.3, 784, 235),
        (0.5, 3, 2),
        (0.001, 64, 1),
        (1, 64, 1),
        (64, 64, 64),
        (10.0, 64, 10),
    ],
)
def test_keep_is_a_share_or_a_count(keep, n_features, expected):
    assert n_to_keep(keep, n_features) == expected


@pytest.mark.parametrize(
    ("keep", "message"),
    [
        (0, "share in"),
        (-3, "share in"),
        (2.5, "whole count"),
        (65, "only 64"),
        (True, "share in"),
        ("10", "share in"),
    ],
)
def test_bad_keep_is_a_clear_error(keep, message):
    with pytest.raises(ConfigError, match=message):
        n_to_keep(keep, 64)


@pytest.mark.parametrize("method", ["variance", "mi", "rfe", "model", "permutation", "shap"])
@pytest.mark.parametrize("keep", [0.3, 10])
def test_every_method_keeps_exactly_the_count_asked_for(split, method, keep):
    train, validation = split
    estimator = None if method in ("variance", "mi") else forest()
    options = {"n_explain": 50} if method == "shap" else {}
    selector = make_selector(method, keep=keep, estimator=estimator, image_shape=(8, 8), **options)
    selector.fit(train.X, train.y)
    k = 19 if keep == 0.3 else 10
    assert selector.get_support().sum() == k == selector.n_features_kept_
    assert selector.transform(validation.X).shape == (len(validation), k)
    mask = selector.mask_as_image()
    assert mask.shape == (8, 8) and mask.dtype == bool and mask.sum() == k
    scores = selector.scores_as_image()
    # The kept pixels are the best-scored ones.
    assert scores[mask].min() >= scores[~mask].max()


def test_rfecv_chooses_its_own_count_of_at_least_keep(split):
    train, _ = split
    selector = RFESelector(forest(), keep=16, step=8, cv=3, random_state=0).fit(train.X, train.y)
    assert 16 <= selector.n_features_kept_ <= 64
    assert selector.get_support().sum() == selector.n_features_kept_ == selector.rfe_.n_features_


def test_variance_keeps_the_most_varying_pixels(split):
    train, _ = split
    selector = VarianceSelector(keep=12).fit(train.X)
    variances = train.X.astype(float).var(axis=0)
    np.testing.assert_allclose(selector.scores_, variances)
    assert set(np.flatnonzero(selector.get_support())) == set(
        np.argsort(-variances, kind="stable")[:12]
    )
    assert selector.threshold_ == pytest.approx(np.sort(variances)[-12])


def test_mutual_information_scores_are_scikit_learns(split):
    train, _ = split
    selector = MutualInfoSelector(keep=0.3, random_state=3).fit(train.X, train.y)
    expected = mutual_info_classif(train.X.astype(float), train.y, random_state=3)
    np.testing.assert_allclose(selector.scores_, expected)


def test_impurity_importance_reaches_through_a_pipeline(split):
    train, _ = split
    selector = ModelSelector(get_model("rf", n_estimators=10), keep=0.3).fit(train.X, train.y)
    forest_ = selector.estimator_[-1]
    np.testing.assert_allclose(selector.scores_, forest_.feature_importances_)
    lr = ModelSelector(get_model("lr"), keep=0.3).fit(train.X, train.y)
    # float32 coefficients (PixelScaler), summed in float64.
    np.testing.assert_allclose(lr.scores_, np.abs(lr.estimator_[-1].coef_).sum(axis=0), rtol=1e-6)


def test_prefit_models_are_read_not_refitted(split):
    train, _ = split
    model = get_model("rf", n_estimators=10).fit(train.X, train.y)
    trees = list(model[-1].estimators_)
    selector = ModelSelector(model, keep=12, prefit=True).fit(train.X, train.y)
    assert selector.estimator_ is model and model[-1].estimators_ == trees
    np.testing.assert_allclose(selector.scores_, model[-1].feature_importances_)
    shap_selector = ShapSelector(model, keep=12, n_explain=30, prefit=True).fit(train.X, train.y)
    assert shap_selector.estimator_ is model
    with pytest.raises(ConfigError, match="use prefit=False"):
        ModelSelector(model, importance="permutation", prefit=True).fit(train.X, train.y)
    with pytest.raises(ValueError, match="needs a fitted estimator"):
        ShapSelector(prefit=True).fit(train.X, train.y)
    with pytest.raises(
        ValueError, match="X has 10 features, but the prefit estimator was fitted with 64"
    ):
        ModelSelector(model, keep=2, prefit=True).fit(train.X[:, :10], train.y)


def test_batched_permutation_importance_equals_scikit_learns(split):
    train, validation = split
    model = forest().fit(train.X, train.y)
    for repeats in (1, 3):
        ours = pixel_permutation_importance(
            model, validation.X, validation.y, n_repeats=repeats, random_state=11, max_rows=1000
        )
        theirs = permutation_importance(
            model,
            validation.X,
            validation.y,
            scoring="accuracy",
            n_repeats=repeats,
            random_state=11,
        )
        np.testing.assert_allclose(ours[0], theirs.importances_mean)
        np.testing.assert_allclose(ours[1], theirs.importances_std)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: make_selector("lasso"), "unknown selection method 'lasso'"),
        (lambda: make_selector("variance", estimator=forest()), "without a model"),
        (lambda: make_selector("mi", n_explain=5), "has no parameter n_explain"),
        (
            lambda: ModelSelector(get_model("knn"), keep=5).fit(np.eye(10) * 9, np.arange(10) % 2),
            "no per-pixel importances",
        ),
        (
            lambda: RFESelector(get_model("knn"), keep=5).fit(np.eye(10) * 9, np.arange(10) % 2),
            "mixed pixels",
        ),
        (
            lambda: ModelSelector(importance="gain").fit(np.eye(4), [0, 1, 0, 1]),
            "importance must be",
        ),
    ],
)
def test_selection_errors_name_the_fix(call, message):
    with pytest.raises(ConfigError, match=message):
        call()


def test_method_names():
    assert get_selection_method_names() == [
        "variance",
        "mi",
        "rfe",
        "rfecv",
        "model",
        "permutation",
        "shap",
    ]


def test_shap_selection_ranks_by_mean_absolute_shap(split):
    from shallowvision.explain import shap_values
    from shallowvision.explain._shap import stratified_sample

    train, _ = split
    selector = ShapSelector(forest(), keep=8, n_explain=40, random_state=0).fit(train.X, train.y)
    rows = stratified_sample(train.y, 40, random_state=0)
    values = shap_values(selector.estimator_, train.X[rows]).values
    np.testing.assert_allclose(selector.scores_, np.abs(values).mean(axis=(0, 2)), rtol=1e-5)


def test_fitted_selector_pipelines_round_trip_through_model_files(split, tmp_path):
    train, validation = split
    for method in ("variance", "rfecv", "shap"):
        estimator = None if method == "variance" else forest()
        options = {"n_explain": 20} if method == "shap" else {}
        selector = make_selector(method, keep=0.3, estimator=estimator, **options)
        model = make_pipeline(selector, get_model("nb")).fit(train.X, train.y)
        path = save_model(
            model,
            tmp_path / f"{method}.skops",
            class_names=train.class_names,
            image_shape=train.image_shape,
            training_data=training_provenance(train),
        )
        loaded = load_model(path)
        np.testing.assert_array_equal(loaded.predict(validation.X), model.predict(validation.X))
        np.testing.assert_array_equal(loaded.estimator[0].mask_as_image(), selector.mask_as_image())


def test_evaluate_selection_retrains_on_the_kept_pixels(split):
    train, validation = split
    result = evaluate_selection("model", 0.3, "rf", train, validation, params=FAST_PARAMS["rf"])
    assert (result.n_features, result.n_kept) == (64, 19)
    assert result.share_kept == pytest.approx(19 / 64)
    assert result.mask.shape == (8, 8) and result.mask.sum() == 19
    kept = result.selector.transform(validation.X)
    assert kept.shape == (len(validation), 19)
    accuracy = np.mean(result.model.predict(kept) == validation.y)
    assert result.kept_pixels.accuracy == pytest.approx(accuracy)
    # The same model on all pixels, seeded the same: its score is reproducible by hand.
    full = get_model("rf", **FAST_PARAMS["rf"]).fit(train.X, train.y)
    assert result.all_pixels.accuracy == pytest.approx(
        np.mean(full.predict(validation.X) == validation.y)
    )
    assert result.delta["accuracy"] == pytest.approx(
        result.kept_pixels.accuracy - result.all_pixels.accuracy
    )
    # The pixels are scored by that same model, not by a second fit.
    np.testing.assert_allclose(result.selector.scores_, full[-1].feature_importances_)
    assert result.kept_pixels.fit_seconds > 0 and result.all_pixels.predict_seconds_per_1000 > 0
    assert result.scorer == "RandomForestClassifier"
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert data["n_kept"] == 19 and len(data["mask"]) == 8 and "selector" not in data


def test_evaluate_selection_one_vs_rest_and_47_classes(split, classes_47):
    train, validation = split
    binary = evaluate_selection(
        "variance", 16, "nb", train.one_vs_rest(8), validation.one_vs_rest(8)
    )
    assert binary.n_kept == 16 and binary.kept_pixels.roc_auc > 0.8
    many = evaluate_selection("mi", 0.5, "lr", *classes_47)
    assert many.n_kept == 32 and many.kept_pixels.accuracy > 0.8


def test_selection_figures_and_files(split, tmp_path):
    train, validation = split
    result = evaluate_selection("variance", 20, "nb", train, validation)
    figures = selection_figures(result)
    assert set(figures) == {"mask", "scores"}
    heatmap = np.array(figures["mask"].data[0].z, dtype=float)
    # Mask and scores side by side at 8x8, an empty gap between them.
    assert heatmap.shape[0] == 8 and heatmap.shape[1] > 16 and np.isnan(heatmap[:, 8:-8]).all()
    np.testing.assert_array_equal(heatmap[:, :8], result.mask.astype(float))
    written = save_selection(result, tmp_path / "out")
    assert json.loads(written["selection"].read_text())["n_kept"] == 20
    assert written["mask"].read_bytes()[:4] == b"\x89PNG"


@pytest.mark.fashion
def test_fashion_selection_keeps_an_exact_share():
    from shallowvision.datasets import load

    train = load("fashion-mnist").subsample(n_per_class=30, random_state=0)
    validation = load("fashion-mnist", "test").subsample(n_per_class=20, random_state=0)
    result = evaluate_selection(
        "shap", 0.3, "rf", train, validation, params=FAST_PARAMS["rf"], options={"n_explain": 60}
    )
    assert (result.n_features, result.n_kept, result.mask.shape) == (784, 235, (28, 28))
    # Garments fill the middle of the frame: SHAP keeps fewer border pixels than the middle.
    assert result.mask[:, :3].mean() < result.mask[:, 10:18].mean()
    assert result.kept_pixels.accuracy > 0.6
