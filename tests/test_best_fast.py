"""The `fast` and `best` pipelines and the kernel ridge classifier under them.

Their Fashion-MNIST figures come from benchmarks/bench_fashion.py; here they are checked
for correctness on digits and on a small seeded Fashion-MNIST subset.
"""

import numpy as np
import pytest

from shallowvision.models import NystroemRidgeClassifier, get_model, get_model_spec
from shallowvision.persistence import load_model, save_model, training_provenance

#: Fewer landmarks, so the tests fit in seconds; the structure is the registered one.
SMALL = {"clf__n_components": 200}


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
    np.testing.assert_array_equal(model.classes_[scores.argmax(axis=1)], model.predict(test.X))
    assert get_model_spec(name).proba is False


def test_fits_are_deterministic_and_survive_a_round_trip(digits, tmp_path):
    digits = digits.subsample(n_per_class=40, random_state=0)
    a = get_model("fast", random_state=3, **SMALL).fit(digits.X, digits.y)
    b = get_model("fast", random_state=3, **SMALL).fit(digits.X, digits.y)
    np.testing.assert_array_equal(a.decision_function(digits.X), b.decision_function(digits.X))
    c = get_model("fast", random_state=4, **SMALL).fit(digits.X, digits.y)
    assert not np.array_equal(a.decision_function(digits.X), c.decision_function(digits.X))
    path = save_model(
        a,
        tmp_path / "fast.skops",
        class_names=digits.class_names,
        image_shape=digits.image_shape,
        name="fast",
        training_data=training_provenance(digits),
    )
    loaded = load_model(path)
    np.testing.assert_array_equal(loaded.predict(digits.images), a.predict(digits.X))
    np.testing.assert_allclose(loaded.predict_scores(digits.X)[0], a.decision_function(digits.X))


@pytest.mark.fashion
def test_fast_and_best_on_a_fashion_mnist_subset():
    from shallowvision.datasets import load

    train = load("fashion-mnist", n_per_class=120, random_state=0)
    test = load("fashion-mnist", "test", n_per_class=50, random_state=0)
    accuracies = {}
    for name in ("fast", "best"):
        model = get_model(name, **SMALL).fit(train.X, train.y)
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
