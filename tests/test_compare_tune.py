import time

import numpy as np
import pytest
from sklearn import metrics

from estimators_for_tests import SlowClassifier
from shallowvision import ConfigError
from shallowvision.datasets import load_splits
from shallowvision.models import compare_models, get_model, tune_model


@pytest.fixture(scope="module")
def splits():
    return load_splits("digits", validation_size=0.2, random_state=0)


def test_compare_metrics_match_sklearn(splits):
    result = compare_models(["lr", "svm-linear"], splits.train, splits.validation, random_state=0)
    assert [r.model for r in result.rows] == [
        "lr",
        "svm-linear",
    ] and result.evaluated_on == "validation"
    lr = get_model("lr").fit(splits.train.X, splits.train.y)
    proba = lr.predict_proba(splits.validation.X)
    y = splits.validation.y
    row = result.rows[0]
    assert row.accuracy == pytest.approx(metrics.accuracy_score(y, lr.predict(splits.validation.X)))
    assert row.f1_macro == pytest.approx(
        metrics.f1_score(y, lr.predict(splits.validation.X), average="macro")
    )
    assert row.roc_auc == pytest.approx(metrics.roc_auc_score(y, proba, multi_class="ovr"))
    assert row.log_loss == pytest.approx(metrics.log_loss(y, proba), rel=1e-4)
    assert row.brier == pytest.approx(
        np.mean(np.sum((proba - np.eye(10)[y]) ** 2, axis=1)), rel=1e-4
    )
    svm = result.rows[1]
    # Decision scores rank images too: an AUC, but no log loss or Brier score.
    assert (
        svm.scores_kind == "decision"
        and 0.9 < svm.roc_auc <= 1
        and svm.log_loss is None
        and svm.brier is None
    )
    assert row.size_bytes > 1000 and row.fit_seconds > 0 and row.predict_seconds_per_1000 > 0
    assert result.best("accuracy").model in ("lr", "svm-linear")


def test_compare_binary_task_auc_from_scores():
    s = load_splits("digits", validation_size=0.2, positive=8)
    result = compare_models(["nb"], s.train, s.validation)
    row = result.rows[0]
    nb = get_model("nb").fit(s.train.X, s.train.y)
    assert row.roc_auc == pytest.approx(
        metrics.roc_auc_score(s.validation.y, nb.predict_proba(s.validation.X)[:, 1])
    )
    # An AUC from hard labels would be lower than the one from scores.
    assert row.roc_auc > metrics.roc_auc_score(s.validation.y, nb.predict(s.validation.X))


def test_time_limit_stops_a_runaway_fit(splits):
    import time

    start = time.perf_counter()
    result = compare_models(
        [("slow", SlowClassifier(seconds=120)), "nb"],
        splits.train,
        splits.validation,
        time_limit=10,
    )
    assert time.perf_counter() - start < 90
    slow, nb = result.rows
    assert (
        slow.status == "timed out" and slow.accuracy is None and slow.error == "stopped after 10 s"
    )
    assert nb.status == "ok" and nb.accuracy > 0.7


def test_compare_rejects_mismatched_splits(splits):
    binary = load_splits("digits", validation_size=0.2, positive=8)
    with pytest.raises(ConfigError, match="differ in classes"):
        compare_models(["nb"], splits.train, binary.validation)
    with pytest.raises(ConfigError, match="unknown model"):
        compare_models(["nope"], splits.train, splits.validation)


def test_halving_grid_search_is_seeded_and_uses_train_only(splits):
    a = tune_model("lr", splits.train, splits.validation, search="halving-grid", random_state=0)
    b = tune_model("lr", splits.train, splits.validation, search="halving-grid", random_state=0)
    assert a.best_params == b.best_params and a.best_cv_score == b.best_cv_score
    assert a.best_params["clf__C"] in (0.01, 0.1, 1.0, 10.0)
    assert a.n_candidates == [4, 2] and a.n_resources[-1] <= len(splits.train)
    assert a.n_fits == sum(a.n_candidates) * 3
    assert a.tuned.accuracy >= a.baseline.accuracy - 0.02
    assert a.to_dict()["tuned"]["params"] == a.best_params


def test_a_tuned_refit_expected_to_end_after_its_deadline_is_not_started(splits):
    from shallowvision.models._tune import RefitOverBudget

    with pytest.raises(RefitOverBudget) as caught:
        tune_model("lr", splits.train, splits.validation, refit_deadline=time.monotonic() - 1)
    over = caught.value
    assert over.model == "lr" and over.images == len(splits.train) and over.left == 0
    assert over.expected > 0
    assert str(over).startswith("the tuned lr is expected to take ")
    assert str(over).endswith(
        f" s to fit on {len(splits.train):,} images (its fits in the search, extrapolated), 0 s are left"
    )
    # With the time it needs, the same search refits as it would without a deadline.
    result = tune_model(
        "lr", splits.train, splits.validation, refit_deadline=time.monotonic() + 600
    )
    assert result.tuned.accuracy > 0.9


def test_a_tuned_refit_is_priced_from_the_best_candidates_own_fits():
    from types import SimpleNamespace

    from shallowvision.models._tune import _expected_refit_seconds

    searcher = SimpleNamespace(
        best_params_={"C": 1},
        cv_results_={
            "params": [{"C": 1}, {"C": 10}, {"C": 1}],
            "n_resources": [300, 300, 900],
            "mean_fit_time": [1.0, 50.0, 3.0],  # C=10 costs more: not the one refitted
        },
    )
    # 3 folds: fits on 200 and 600 images took 1 and 3 s, linear, so 1,800 images take 9 s.
    assert _expected_refit_seconds(searcher, 3, 1800) == pytest.approx(9.0)


def test_halving_random_search_with_named_grid(splits):
    result = tune_model(
        "rf",
        splits.train,
        splits.validation,
        search="halving-random",
        grid="emnist",
        n_candidates=9,
    )
    assert result.grid == "emnist" and result.n_candidates[0] == 9
    assert result.best_params["clf__max_features"] == "sqrt"
    assert result.best_params["clf__max_depth"] in (6, 9, 12)
    with pytest.raises(ConfigError, match="unknown search"):
        tune_model("rf", splits.train, splits.validation, search="bayes")


def test_n_jobs_caps_blas_and_openmp_threads(splits):
    from threadpoolctl import threadpool_info

    from estimators_for_tests import ThreadRecorder
    from shallowvision.models import fit_and_score

    args = (splits.train.X, splits.train.y, splits.validation.X, splits.validation.y, 10)
    _, capped = fit_and_score(("t", ThreadRecorder()), *args, n_jobs=1, keep_model=True)
    assert capped.threads_ and set(capped.threads_.values()) == {1}
    _, free = fit_and_score(("t", ThreadRecorder()), *args, keep_model=True)
    assert free.threads_ == {i["filepath"]: i["num_threads"] for i in threadpool_info()}


@pytest.mark.slow  # a worker process starting on a busy machine (10-20 s)
def test_time_limit_counts_the_work_not_the_worker_start(splits):
    # Starting a worker imports scikit-learn, skops and the model's library: seconds
    # on a busy machine, which must not count against a limit meant for the fit.
    result = compare_models(["nb"], splits.train, splits.validation, time_limit=1)
    assert result.rows[0].status == "ok" and result.rows[0].accuracy > 0.7


@pytest.mark.parametrize("model", ["rf", "et"])
def test_forest_feature_shares_follow_the_image_size(model):
    """max_features stays the same multiple of sqrt(pixels) at every size: as a share of a
    64x64x3 image's 12,288 values, the 28x28 shares made tuning 24 times dearer per split."""
    from shallowvision.models import get_model_spec

    spec = get_model_spec(model)

    def features_over_sqrt(kind: str, shape: tuple[int, ...]) -> np.ndarray:
        shares = spec.search_space(kind, image_shape=shape)["clf__max_features"]
        if kind == "random":
            shares = list(shares.support())
        pixels = np.prod(shape)
        return np.array([s * pixels / np.sqrt(pixels) for s in shares if s != "sqrt"])

    for kind in ("grid", "random"):
        grey = features_over_sqrt(kind, (28, 28))
        np.testing.assert_allclose(features_over_sqrt(kind, (64, 64, 3)), grey)
        np.testing.assert_allclose(features_over_sqrt(kind, (32, 32, 3)), grey)
    assert spec.search_space("random", image_shape=(8, 8))["clf__max_features"].support()[1] <= 1
    assert spec.search_space("grid") == spec.search_space("grid", image_shape=(28, 28))
