"""The `fast` and `best` pipelines and the kernel machines under them.

Their Fashion-MNIST figures come from benchmarks/bench_fashion.py; here they are checked
for correctness on digits and on a small seeded Fashion-MNIST subset.
"""

import numpy as np
import pytest

from shallowvision.models import BlockRBFSVC, NystroemRidgeClassifier, get_model, get_model_spec
from shallowvision.persistence import load_model, save_model, training_provenance

#: Fewer landmarks, so the tests fit in seconds; the structure is the registered one.
SMALL = {"fast": {"clf__n_components": 200}, "best": {}}


@pytest.mark.parametrize("name", ["fast", "best"])
def test_pipelines_on_8x8_digits(name, digits):
    from shallowvision.datasets import load

    test = load("digits", "test")
    model = get_model(name).fit(digits.X, digits.y)
    assert [step for step, _ in model.steps] == ["scale", "deskew", "features", "pca", "clf"]
    assert model.named_steps["features"].transformer_list[0][1].image_shape_ == (8, 8)
    accuracy = (model.predict(test.X) == test.y).mean()
    assert accuracy >= 0.97, accuracy
    scores = model.decision_function(test.X)
    assert scores.shape == (len(test), 10)
    # An SVM's one-vs-rest scores break ties between equal votes by confidence, its
    # predictions (as libsvm's) by class order: they may differ on a rare tie.
    agree = (model.classes_[scores.argmax(axis=1)] == model.predict(test.X)).mean()
    assert agree >= (1.0 if name == "fast" else 0.99), agree
    assert get_model_spec(name).proba is False


def test_fits_are_deterministic_and_survive_a_round_trip(digits, tmp_path):
    digits = digits.subsample(n_per_class=40, random_state=0)
    a = get_model("fast", random_state=3, **SMALL["fast"]).fit(digits.X, digits.y)
    b = get_model("fast", random_state=3, **SMALL["fast"]).fit(digits.X, digits.y)
    np.testing.assert_array_equal(a.decision_function(digits.X), b.decision_function(digits.X))
    c = get_model("fast", random_state=4, **SMALL["fast"]).fit(digits.X, digits.y)
    assert not np.array_equal(a.decision_function(digits.X), c.decision_function(digits.X))
    _check_round_trip(a, "fast", digits, tmp_path)


def test_best_survives_a_round_trip_with_its_threads(digits, tmp_path):
    model = get_model("best", n_jobs=2).fit(digits.X, digits.y)
    threaded = {
        n: getattr(t, "n_jobs", None) for n, t in model.named_steps["features"].transformer_list
    }
    assert threaded == {"hog3": 2, "hog4": 2, "hog5": 2, "hog7": 2, "patches": 2, "pixels": None}
    assert model.named_steps["clf"].n_jobs == 2
    _check_round_trip(model, "best", digits, tmp_path)


def _check_round_trip(model, name, digits, tmp_path) -> None:
    """Saved and loaded, ``model`` gives the same predictions and scores."""
    path = save_model(
        model,
        tmp_path / f"{name}.skops",
        class_names=digits.class_names,
        image_shape=digits.image_shape,
        name=name,
        training_data=training_provenance(digits),
    )
    loaded = load_model(path)
    np.testing.assert_array_equal(loaded.predict(digits.images), model.predict(digits.X))
    np.testing.assert_allclose(
        loaded.predict_scores(digits.X)[0], model.decision_function(digits.X), rtol=0, atol=1e-12
    )


@pytest.mark.fashion
def test_fast_and_best_on_a_fashion_mnist_subset():
    from shallowvision.datasets import load

    train = load("fashion-mnist", n_per_class=120, random_state=0)
    test = load("fashion-mnist", "test", n_per_class=50, random_state=0)
    accuracies = {}
    for name in ("fast", "best"):
        model = get_model(name, **SMALL[name]).fit(train.X, train.y)
        accuracies[name] = (model.predict(test.X) == test.y).mean()
    # The zoo's logistic regression on the pixels of the same 1,200 images scores 0.81.
    assert min(accuracies.values()) >= 0.82, accuracies


def test_kernel_ridge_equals_ridge_on_nystroem_features():
    from sklearn.datasets import make_classification
    from sklearn.kernel_approximation import Nystroem
    from sklearn.linear_model import RidgeClassifier

    X, y = make_classification(
        n_samples=400, n_features=12, n_informative=8, n_classes=3, random_state=0
    )
    ours = NystroemRidgeClassifier(n_components=60, gamma=0.05, alpha=0.1, random_state=0)
    ours.fit(X, y)
    # The same landmarks through scikit-learn's Nystroem map and RidgeClassifier.
    nystroem = Nystroem(gamma=0.05, n_components=60).fit(ours.landmarks_)
    ridge = RidgeClassifier(alpha=0.1).fit(nystroem.transform(X), y)
    np.testing.assert_allclose(
        ours.decision_function(X), ridge.decision_function(nystroem.transform(X)), atol=1e-6
    )
    binary = NystroemRidgeClassifier(n_components=50, random_state=0).fit(X, y == 1)
    assert binary.decision_function(X).shape == (400,)
    assert (binary.predict(X) == (y == 1)).mean() > 0.8


def test_kernel_ridge_rejects_bad_parameters():
    X, y = np.random.default_rng(0).normal(size=(20, 4)), np.repeat([0, 1], 10)
    with pytest.raises(ValueError, match="alpha must be positive"):
        NystroemRidgeClassifier(alpha=0).fit(X, y)
    with pytest.raises(ValueError, match="gamma must be 'scale' or a positive number"):
        NystroemRidgeClassifier(gamma="auto").fit(X, y)
    with pytest.raises(ValueError, match="at least 2 classes"):
        NystroemRidgeClassifier().fit(X, np.zeros(20))
    for bad in (0, True, 2.5):
        with pytest.raises(ValueError, match="n_components must be a positive int"):
            NystroemRidgeClassifier(n_components=bad).fit(X, y)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", ["ovr", "ovo"])
@pytest.mark.parametrize("labels", ["ten", "two", "four"])
def test_block_svc_equals_libsvm_on_digits(digits, dtype, shape, labels):
    from sklearn.datasets import load_digits
    from sklearn.svm import SVC

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    y = {"ten": y, "two": y == 3, "four": np.where(y < 3, y, 9)}[labels]
    train, test = slice(0, 1200), slice(1200, None)
    ours = BlockRBFSVC(C=10, decision_function_shape=shape, solver="libsvm")
    ours.fit(X[train].astype(dtype), y[train])
    assert ours.support_vectors_.dtype == dtype
    svc = SVC(C=10, gamma=ours.gamma_, decision_function_shape=shape).fit(X[train], y[train])
    assert ours.gamma_ == pytest.approx(1.0 / (64 * X[train].var()), rel=1e-5)
    np.testing.assert_array_equal(ours.n_support_, svc.n_support_)
    expected = svc.decision_function(X[test])
    scores = ours.decision_function(X[test].astype(dtype))
    assert scores.shape == expected.shape
    # float32: sums over about a thousand support vectors keep about five digits.
    np.testing.assert_allclose(scores, expected, atol=1e-12 if dtype == np.float64 else 3e-5)
    np.testing.assert_array_equal(ours.predict(X[test].astype(dtype)), svc.predict(X[test]))


@pytest.mark.parametrize("labels", ["ten", "two", "four"])
def test_block_svc_fitted_by_scikit_learn_intelex(digits, labels):
    svm = pytest.importorskip("sklearnex.svm")
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    y = {"ten": y, "two": y == 3, "four": np.where(y < 3, y, 9)}[labels]
    train, test = slice(0, 1200), slice(1200, None)
    ours = BlockRBFSVC(C=10, decision_function_shape="ovo").fit(X[train], y[train])
    assert ours.solver_ == "sklearnex"
    theirs = svm.SVC(C=10, gamma=ours.gamma_, decision_function_shape="ovo").fit(X[train], y[train])
    np.testing.assert_allclose(
        ours.decision_function(X[test]), theirs.decision_function(X[test]), atol=1e-10
    )
    # The same problem as libsvm's, solved to the same tolerance: the same labels here.
    libsvm = BlockRBFSVC(C=10, decision_function_shape="ovo", solver="libsvm").fit(
        X[train], y[train]
    )
    np.testing.assert_allclose(
        ours.decision_function(X[test]), libsvm.decision_function(X[test]), atol=5e-3
    )
    np.testing.assert_array_equal(ours.predict(X[test]), libsvm.predict(X[test]))


def test_block_svc_predicts_by_blocks_and_rejects_bad_parameters(digits, monkeypatch):
    from shallowvision.models import _svc

    model = BlockRBFSVC(C=5, gamma_scale=1.5).fit(digits.X, digits.y)
    whole = model.decision_function(digits.X)
    # Blocks of 3 images: the same scores, computed in a few hundred pieces.
    monkeypatch.setattr(_svc, "_BLOCK_ENTRIES", 3 * len(model.support_vectors_))
    np.testing.assert_allclose(model.decision_function(digits.X), whole, rtol=0, atol=1e-12)
    assert (model.predict(digits.X) == digits.y).mean() == 1.0
    # The same pieces shared by two threads.
    model.set_params(n_jobs=2)
    np.testing.assert_allclose(model.decision_function(digits.X), whole, rtol=0, atol=1e-12)
    X, y = np.random.default_rng(0).normal(size=(20, 4)), np.repeat([0, 1], 10)
    with pytest.raises(ValueError, match="decision_function_shape must be 'ovr' or 'ovo'"):
        BlockRBFSVC(decision_function_shape="ova").fit(X, y)
    with pytest.raises(ValueError, match="gamma must be 'scale' or a positive number"):
        BlockRBFSVC(gamma=-1.0).fit(X, y)
    with pytest.raises(ValueError, match="solver must be one of auto, libsvm, sklearnex"):
        BlockRBFSVC(solver="thunder").fit(X, y)
