import numpy as np
import pytest
from sklearn.base import clone

from conftest import FAST_PARAMS
from shallowvision import ConfigError
from shallowvision.models import (
    get_model,
    get_model_names,
    get_model_spec,
    get_search_space,
    list_models,
    predict_scores,
)

REQUIRED = {
    "lr",
    "sgd",
    "svm-linear",
    "svm-rbf",
    "svm-rbf-approx",
    "knn",
    "nb",
    "dt",
    "rf",
    "et",
    "ada",
    "hgb",
    "xgb",
    "lgbm",
}


def test_registry_has_the_zoo():
    assert set(get_model_names()) >= REQUIRED
    for spec in list_models():
        assert spec.cost in ("low", "medium", "high") and spec.description


def test_the_registry_says_which_models_are_installed(monkeypatch):
    import importlib
    import importlib.util

    from shallowvision import MissingDependencyError

    assert all(spec.installed() for spec in list_models())  # the test environment has all
    real_import, real_find = importlib.import_module, importlib.util.find_spec

    def without_xgboost(name, *args):
        if name == "xgboost":
            raise ImportError("No module named 'xgboost'")
        return real_import(name, *args)

    # A missing library is neither found (installed) nor imported (the factory).
    monkeypatch.setattr("shallowvision._optional.import_module", without_xgboost)
    monkeypatch.setattr(
        "shallowvision._optional.find_spec",
        lambda name: None if name == "xgboost" else real_find(name),
    )
    assert not get_model_spec("xgb").installed() and get_model_spec("xgb").extra == "boost"
    assert get_model_spec("lgbm").installed() and get_model_spec("lr").installed()
    with pytest.raises(MissingDependencyError, match=r"pip install 'shallowvision\[boost\]'"):
        get_model("xgb")


def test_each_model_requires_the_optional_libraries_its_factory_imports(monkeypatch):
    # installed() looks the ``requires`` libraries up without building a pipeline, so a
    # factory that imports an optional library must name it there, and the extra with it.
    import importlib

    from shallowvision._optional import _OPTIONAL

    imported: list[str] = []

    def recording(name, *args):
        imported.append(name)
        return importlib.import_module(name, *args)

    monkeypatch.setattr("shallowvision._optional.import_module", recording)
    for spec in list_models():
        imported.clear()
        spec.factory(0, None, None)
        extra = _OPTIONAL[spec.requires[0]][1] if spec.requires else None
        assert (spec.name, imported, spec.extra) == (spec.name, list(spec.requires), extra)
    assert get_model_spec("xgb").requires == ("xgboost",)


def test_unknown_model_lists_valid_names():
    with pytest.raises(
        ConfigError, match=r"unknown model 'xgboost': did you mean 'xgb'.*models are dummy, lr"
    ):
        get_model("xgboost")


def test_fresh_pipelines_and_parameter_shorthand():
    a, b = get_model("rf", random_state=3), get_model("rf", random_state=3)
    assert a is not b and a.named_steps["clf"] is not b.named_steps["clf"]
    assert a.get_params()["clf__random_state"] == 3
    lr = get_model("lr", pca=144, C=2.0)
    assert lr.named_steps["pca"].n_components == 144 and lr.named_steps["clf"].C == 2.0
    assert get_model("knn", pca=None).named_steps["pca"] == "passthrough"
    assert clone(lr).get_params()["clf__C"] == 2.0


@pytest.mark.parametrize("name", sorted(REQUIRED | {"dummy", "lda", "fast", "best"}))
def test_search_spaces_name_real_parameters(name):
    pipeline = get_model(name)
    valid = set(pipeline.get_params())
    spec = get_model_spec(name)
    for kind in ("grid", "random"):
        assert set(spec.search_space(kind)) <= valid | {"pca"}
    for grid in spec.named_grids:
        assert set(spec.search_space("grid", grid)) <= valid | {"pca"}


def test_emnist_grids_are_the_studys():
    rf = get_search_space("rf", grid="emnist")
    assert rf == {
        "clf__n_estimators": [50, 100],
        "clf__max_depth": [6, 9, 12],
        "clf__min_samples_split": [6, 8, 10],
        "clf__min_samples_leaf": [4, 6, 8],
        "clf__max_features": ["sqrt"],
    }
    xgb = get_search_space("xgb", grid="emnist")
    assert np.prod([len(v) for v in xgb.values()]) == 2 * 2 * 3 * 1 * 2 * 2
    assert get_search_space("ada", grid="emnist")["clf__estimator__max_depth"] == [6]
    with pytest.raises(
        ConfigError, match="model 'knn' has no grid 'emnist'; its grids are: default"
    ):
        get_search_space("knn", grid="emnist")


@pytest.fixture(scope="module")
def tiny(digits):
    return digits.subsample(n_per_class=15, random_state=0)


@pytest.mark.parametrize("name", sorted(REQUIRED | {"dummy", "lda", "fast", "best"}))
def test_every_model_fits_digits_and_scores(name, tiny, digits):
    model = get_model(name, random_state=0, **FAST_PARAMS.get(name, {})).fit(tiny.X, tiny.y)
    test = digits.subsample(n_per_class=5, random_state=1)
    scores, kind = predict_scores(model, test.X)
    assert scores.shape == (50, 10)
    assert kind == ("proba" if get_model_spec(name).proba else "decision")
    if kind == "proba":
        np.testing.assert_allclose(scores.sum(axis=1), 1.0, rtol=1e-5)  # float32 models
    accuracy = (model.predict(test.X) == test.y).mean()
    assert accuracy >= (0.05 if name == "dummy" else 0.6), accuracy


def test_predict_scores_is_one_function_with_one_return_type(digits):
    from sklearn.svm import LinearSVC

    from shallowvision import evaluation, models
    from shallowvision.datasets import load
    from shallowvision.evaluation import Scores
    from shallowvision.exceptions import DataError

    assert models.predict_scores is evaluation.predict_scores
    lr = get_model("lr").fit(digits.X, digits.y)
    proba = evaluation.predict_scores(lr, digits.X[:7])
    assert isinstance(proba, Scores) and proba.kind == "proba"
    assert proba.values.dtype == np.float64 and proba.values.shape == (7, 10)
    decision = predict_scores(lr, digits.X[:7], response_method="decision_function")
    assert decision.kind == "decision"
    np.testing.assert_array_equal(decision.values, lr.decision_function(digits.X[:7]))
    # A binary decision function becomes one column per class.
    eights = load("digits", positive=8)
    svm = LinearSVC().fit(eights.X, eights.y)
    values, kind = predict_scores(svm, eights.X[:5])
    d = svm.decision_function(eights.X[:5])
    assert kind == "decision" and np.array_equal(values, np.column_stack([-d, d]))
    with pytest.raises(DataError, match="LinearSVC has no predict_proba"):
        predict_scores(svm, eights.X[:5], response_method="predict_proba")
