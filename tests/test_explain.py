"""Explanations: SHAP additivity in each model's own output space, per-pixel mapping, images and files."""

import json

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from conftest import FAST_PARAMS
from shallowvision.exceptions import ConfigError, DataError
from shallowvision.explain import (
    OverlayDisplay,
    PixelMapDisplay,
    choose_explainer,
    explain_model,
    explanation_figures,
    save_explanation,
    shap_values,
)
from shallowvision.explain._shap import stratified_sample
from shallowvision.features import VarianceSelector
from shallowvision.models import get_model


@pytest.fixture(scope="module")
def data(digits):
    from shallowvision.datasets import load

    return digits, load("digits", "test")


def fit(name, train, **params):
    return get_model(name, **{**FAST_PARAMS.get(name, {}), **params}).fit(train.X, train.y)


def model_output(model, X, space):
    """The model's own output in the space its SHAP values add up to, one column per class."""
    if space == "probability":
        return model.predict_proba(X)
    final = model[-1]
    Xt = model[:-1].transform(X) if len(model) > 1 else X
    if type(final).__name__ == "LGBMClassifier":
        out = final.predict(Xt, raw_score=True)
    else:
        out = final.decision_function(Xt)
    return np.column_stack([-out, out]) if out.ndim == 1 else out


@pytest.mark.parametrize(
    ("name", "explainer", "space"),
    [
        ("rf", "tree", "probability"),
        ("lgbm", "tree", "margin"),
        ("hgb", "tree", "margin"),
        ("lr", "linear", "margin"),
        ("nb", "partition", "probability"),
    ],
)
@pytest.mark.parametrize("binary", [False, True])
def test_base_value_plus_contributions_is_the_model_output(data, name, explainer, space, binary):
    train, test = data
    if binary:
        train, test = train.one_vs_rest(8), test.one_vs_rest(8)
    model = fit(name, train)
    X = test.X[:12]
    result = shap_values(model, X, background=train.X[:30], max_evals=150)
    assert (result.explainer, result.output_space) == (explainer, space)
    k = train.n_classes
    assert result.values.shape == (12, 64, k) and result.base_values.shape == (12, k)
    total = result.base_values + result.values.astype(np.float64).sum(axis=1)
    np.testing.assert_allclose(total, model_output(model, X, space), atol=1e-4)
    assert result.additivity_error < 1e-4
    assert result.as_images().shape == (12, k, 8, 8)


def test_values_land_on_the_pixels_the_preprocessing_keeps(data):
    train, test = data
    model = make_pipeline(
        VarianceSelector(keep=30), StandardScaler(), RandomForestClassifier(10, random_state=0)
    ).fit(train.X, train.y)
    result = shap_values(model, test.X[:10])
    assert result.explainer == "tree"
    kept = model[0].get_support()
    assert np.all(result.values[:, ~kept, :] == 0)
    assert np.abs(result.values[:, kept, :]).sum() > 0
    np.testing.assert_allclose(
        result.base_values + result.values.sum(axis=1), model.predict_proba(test.X[:10]), atol=1e-5
    )
    linear = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(
        train.X, train.y
    )
    lin = shap_values(linear, test.X[:10], background=train.X[:50])
    assert lin.explainer == "linear" and lin.additivity_error < 1e-8


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        (get_model("rf"), "tree"),
        (get_model("xgb"), "tree"),
        (get_model("lr"), "linear"),
        (get_model("svm-linear"), "linear"),
        (get_model("knn"), "partition"),
        (get_model("ada"), "partition"),
        (make_pipeline(PCA(5), RandomForestClassifier(3)), "partition"),
    ],
)
def test_the_explainer_follows_the_model(data, model, expected):
    train, _ = data
    small = train.subsample(n_per_class=10)
    model.fit(small.X, small.y)
    assert choose_explainer(model) == expected


def test_explainer_errors(data):
    train, test = data
    knn = fit("knn", train)
    with pytest.raises(
        ConfigError, match="the tree explainer does not apply to KNeighborsClassifier"
    ):
        shap_values(knn, test.X[:2], explainer="tree")
    with pytest.raises(ConfigError, match="needs background images"):
        shap_values(fit("lr", train), test.X[:2])
    with pytest.raises(DataError, match="X has 16 pixels, but the model was fitted on 64"):
        shap_values(knn, np.zeros((2, 16)))


@pytest.fixture(scope="module")
def forest_explanation(data):
    train, test = data
    model = fit("rf", train)
    return model, explain_model(
        model,
        test,
        name="rf",
        n_explain=60,
        indices=[5, 0, 5],
        n_misclassified=4,
        n_permutation=120,
    )


def test_explain_model_draws_per_class_and_per_image(data, forest_explanation):
    _, test = data
    model, e = forest_explanation
    assert (e.explainer, e.output_space, e.n_explain) == ("tree", "probability", 60)
    assert e.class_mean_abs.shape == (10, 8, 8) and e.mean_abs.shape == (8, 8)
    assert e.additivity_error < 1e-6
    # The chosen images first (each once), then the most confidently misclassified.
    chosen, wrong = e.chosen(), e.misclassified()
    assert [i.index for i in chosen] == [5, 0]
    proba = model.predict_proba(test.X)
    predicted = proba.argmax(axis=1)
    errors = np.flatnonzero(predicted != test.y)
    expected = errors[np.argsort(-proba[errors].max(axis=1), kind="stable")][:4]
    assert [i.index for i in wrong] == list(expected)
    for image in wrong:
        assert image.true != image.predicted and not image.correct
        assert image.score == pytest.approx(proba[image.index].max())
        np.testing.assert_array_equal(image.pixels, test.images[image.index])
    # Per-class images: mean |SHAP| of each class's output over the stratified sample
    # (the images drawn for being chosen or wrong do not weigh on it).
    sample = stratified_sample(test.y, 60, random_state=0)
    in_sample = np.isin(e.explained_indices, sample)
    maps = e.shap.as_images()
    np.testing.assert_allclose(e.class_mean_abs, np.abs(maps[in_sample]).mean(axis=0), rtol=1e-6)
    labels = test.y[e.explained_indices]
    own = in_sample & (labels == 3)
    np.testing.assert_allclose(e.class_mean[3], maps[own, 3].mean(axis=0), rtol=1e-6)
    # The overlay of an image is its row of SHAP values, for the predicted class.
    image = chosen[0]
    row = list(e.explained_indices).index(image.index)
    column = test.class_names.index(image.predicted)
    np.testing.assert_allclose(image.predicted_values, maps[row, column])
    # Importances: the forest's own, and permutation importance from the sampled images.
    np.testing.assert_allclose(e.impurity.values.ravel(), model[-1].feature_importances_)
    assert e.permutation.n_images == 120 and e.permutation.values.shape == (8, 8)
    assert e.permutation.values.max() > 0
    data_ = json.loads(json.dumps(e.to_dict(), allow_nan=False))
    assert data_["images"][0]["reason"] == "chosen" and "shap" not in data_


def test_explain_model_binary_and_linear(data):
    train, test = data
    train, test = train.one_vs_rest(8), test.one_vs_rest(8)
    e = explain_model(fit("lr", train), test, n_explain=40, n_background=30, n_permutation=60)
    assert (e.explainer, e.class_names, e.class_mean_abs.shape) == (
        "linear",
        ("not 8", "8"),
        (2, 8, 8),
    )
    # A binary model's one output becomes two columns, the first the negation of the second.
    np.testing.assert_array_equal(e.shap.values[..., 0], -e.shap.values[..., 1])
    np.testing.assert_allclose(e.class_mean_abs[0], e.class_mean_abs[1])
    assert e.impurity is None and e.additivity_error < 1e-8


def test_explain_model_47_classes(classes_47):
    train, validation = classes_47
    model = get_model("lgbm", n_estimators=10, min_child_samples=2).fit(train.X, train.y)
    e = explain_model(model, validation, n_explain=94, n_misclassified=3, permutation=False)
    assert e.class_mean_abs.shape == (47, 8, 8) and e.permutation is None
    assert e.n_explain == 94 and np.isfinite(e.class_mean).all()  # 2 images of every class
    figures = explanation_figures(e)
    assert figures["shap_classes"].data[0].z is not None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"indices": [359]}, "image index 359 is out of range 0..358"),
        ({"n_explain": 0}, "n_explain must be at least 1"),
        ({"n_misclassified": -1}, "n_misclassified must be 0 or more"),
    ],
)
def test_explain_model_errors(data, kwargs, message):
    train, test = data
    with pytest.raises(DataError, match=message):
        explain_model(fit("nb", train), test, **kwargs)


def test_displays_and_figures(forest_explanation, tmp_path):
    _, e = forest_explanation
    display = PixelMapDisplay.from_explanation(e, "class_mean_abs")
    image = display.ax_.images[0].get_array()
    # 10 maps of 8x8 in rows of 4, gaps of 3 pixels.
    assert image.shape == (3 * 8 + 2 * 3, 4 * 8 + 3 * 3)
    np.testing.assert_allclose(image[:8, :8], e.class_mean_abs[0])
    assert [t.get_text() for t in display.ax_.texts][:2] == ["0", "1"]
    signed = PixelMapDisplay.from_explanation(e, "class_mean")
    assert signed.ax_.images[0].norm.vmin == -signed.ax_.images[0].norm.vmax
    importance = PixelMapDisplay.from_explanation(e, "importance")
    assert [t.get_text() for t in importance.ax_.texts] == [
        "mean |SHAP|",
        "permutation (120 images)",
        "impurity",
    ]
    overlay = OverlayDisplay.from_explanation(e, "misclassified")
    gray, heat = overlay.ax_.images
    assert gray.get_array().shape == heat.get_array().shape == (4 * 8 + 3 * 5, 3 * 8 + 2 * 5)
    # The first tile of each row is the bare image: no SHAP colour over it.
    assert np.ma.getmaskarray(heat.get_array())[:8, :8].all()
    with pytest.raises(DataError, match="which must be"):
        OverlayDisplay.from_explanation(e, "all")
    figures = explanation_figures(e)
    assert set(figures) == {
        "shap_classes",
        "shap_direction",
        "importance",
        "misclassified",
        "chosen",
    }
    written = save_explanation(e, tmp_path / "out")
    assert set(written) == {"explanation", *figures}
    saved = json.loads((tmp_path / "out" / "explanation.json").read_text())
    assert saved["explainer"] == "tree" and len(saved["class_mean_abs"]) == 10
    assert all(p.read_bytes()[:4] == b"\x89PNG" for k, p in written.items() if k != "explanation")


@pytest.mark.fashion
def test_fashion_explanation_is_drawn_at_28_by_28():
    from shallowvision.datasets import load

    train = load("fashion-mnist").subsample(n_per_class=40, random_state=0)
    test = load("fashion-mnist", "test").subsample(n_per_class=20, random_state=0)
    model = fit("rf", train)
    e = explain_model(model, test, n_explain=50, n_misclassified=3, n_permutation=100)
    assert e.class_mean_abs.shape == (10, 28, 28)
    assert e.images[0].pixels.shape == e.images[0].predicted_values.shape == (28, 28)
    # The border of the frame is mostly empty: SHAP puts little weight there.
    assert e.mean_abs[:2].mean() < e.mean_abs[10:18, 10:18].mean()
    assert e.additivity_error < 1e-6
