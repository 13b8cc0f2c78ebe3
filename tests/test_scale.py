"""Bounded memory and capacity that grows with the data: the chunked pipeline, the scaler's
single float copy, and kernel ridge by conjugate gradients on many landmarks."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from shallowvision.exceptions import ConfigError
from shallowvision.features import ChunkedPipeline, HOGTransformer, ImagePCA, PixelScaler
from shallowvision.models import NystroemRidgeClassifier, get_model
from shallowvision.models._compare import capacity_notes
from shallowvision.models._kernel_ridge import auto_cells, auto_landmarks, largest_system


def _peak_bytes(fn) -> tuple[int, object]:
    """Peak memory numpy allocates while ``fn`` runs (numpy reports to tracemalloc)."""
    tracemalloc.start()
    try:
        result = fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, result


def _tiled_digits(digits, times: int) -> tuple[np.ndarray, np.ndarray]:
    return np.tile(digits.X, (times, 1)), np.tile(digits.y, times)


def _hog_steps(**pca):
    return [
        ("scale", PixelScaler()),
        ("hog", HOGTransformer(pixels_per_cell=2, backend="numpy")),
        ("pca", ImagePCA(n_components=10, random_state=0, **pca)),
        ("clf", LogisticRegression(max_iter=200)),
    ]


# -- the chunked pipeline ---------------------------------------------------------------------
def test_chunked_pipeline_equals_a_pipeline_when_every_row_fits_the_sample(digits):
    plain = Pipeline(_hog_steps()).fit(digits.X, digits.y)
    chunked = ChunkedPipeline(_hog_steps(), chunk_bytes=1).fit(digits.X, digits.y)
    assert chunked.n_fit_sample_ == len(digits) and chunked.chunk_rows_ == 256
    # Many chunks of 256 rows give the one-pass answers, to float32 rounding: some BLAS
    # kernels (OpenBLAS's on AMD processors) round a row's product by the rows around it.
    np.testing.assert_allclose(
        chunked.predict_proba(digits.X), plain.predict_proba(digits.X), rtol=1e-5, atol=1e-7
    )
    np.testing.assert_allclose(
        chunked.decision_function(digits.X), plain.decision_function(digits.X), rtol=1e-5, atol=1e-5
    )
    np.testing.assert_array_equal(chunked.predict(digits.X), plain.predict(digits.X))


def test_chunked_pipeline_fits_its_transforms_on_a_seeded_sample(digits):
    model = ChunkedPipeline(_hog_steps(), fit_sample=300, random_state=5).fit(digits.X, digits.y)
    assert model.n_fit_sample_ == 300
    rows = np.sort(np.random.RandomState(5).choice(len(digits), size=300, replace=False))
    sample = Pipeline(_hog_steps()[:3]).fit(digits.X[rows])
    np.testing.assert_allclose(
        model.named_steps["pca"].pca_.components_, sample.named_steps["pca"].pca_.components_
    )
    # The final estimator still learns from every row.
    assert model.named_steps["clf"].n_features_in_ == 10
    everything = Pipeline(_hog_steps()).fit(digits.X, digits.y).score(digits.X, digits.y)
    assert model.score(digits.X, digits.y) > everything - 0.03
    again = ChunkedPipeline(_hog_steps(), fit_sample=300, random_state=5).fit(digits.X, digits.y)
    np.testing.assert_array_equal(
        model.decision_function(digits.X), again.decision_function(digits.X)
    )


def test_chunked_pipeline_offers_only_what_its_final_step_has(digits):
    from sklearn.svm import LinearSVC

    model = ChunkedPipeline([("scale", PixelScaler()), ("clf", LinearSVC())])
    assert not hasattr(model, "predict_proba") and hasattr(model, "decision_function")
    with pytest.raises(ValueError, match="fit_sample must be a positive int"):
        ChunkedPipeline(_hog_steps(), fit_sample=0).fit(digits.X, digits.y)


class _CountingScaler(PixelScaler):
    """A pixel scaler that counts the rows it transforms."""

    rows = 0

    def transform(self, X):
        type(self).rows += len(X)
        return super().transform(X)


def _counted(digits):
    _CountingScaler.rows = 0
    steps = [("scale", _CountingScaler()), *_hog_steps()[1:]]
    return ChunkedPipeline(steps).fit(digits.X, digits.y)


def test_predictions_within_remembered_inputs_transform_the_same_images_once(digits):
    from shallowvision.features import remembered_inputs

    model = _counted(digits)
    X = digits.X[:100]
    expected = model.predict_proba(X)
    _CountingScaler.rows = 0
    with remembered_inputs():
        np.testing.assert_array_equal(model.predict_proba(X), expected)
        model.predict(X)
        model.decision_function(X.copy())  # equal images, another array
        assert _CountingScaler.rows == 100
        other = X.copy()
        other[0, 0] += 1  # one byte differs: transformed anew
        model.predict(other)
        assert _CountingScaler.rows == 200
        with remembered_inputs("fresh"):  # computed anew, and remembered
            model.predict(other)
        model.predict(other)
        assert _CountingScaler.rows == 300
    model.predict(other)  # outside the block, every prediction computes its features
    assert _CountingScaler.rows == 400
    with remembered_inputs():
        model.predict(other)
        model.fit(digits.X, digits.y)  # a fitted model forgets, its transforms changed
        _CountingScaler.rows = 0
        model.predict(other)
        assert _CountingScaler.rows == 100


def test_a_final_step_that_writes_into_its_input_cannot_change_what_is_remembered(digits):
    from sklearn.linear_model import LogisticRegression

    from shallowvision.features import remembered_inputs

    class Scribbler(LogisticRegression):
        def predict(self, X):
            labels = super().predict(X)
            X[:] = 0.0
            return labels

    model = ChunkedPipeline([("scale", PixelScaler()), ("clf", Scribbler(max_iter=200))])
    model.fit(digits.X, digits.y)
    with remembered_inputs():
        first = model.predict(digits.X)
        np.testing.assert_array_equal(model.predict(digits.X), first)


def test_scoring_a_fitted_model_computes_its_features_once(digits):
    from shallowvision.models import score_fitted

    model = _counted(digits)
    _CountingScaler.rows = 0
    row = score_fitted("counted", model, digits.X[:100], digits.y[:100], 10)
    # The scores are timed with their features; the labels reuse them.
    assert _CountingScaler.rows == 100 and row.accuracy > 0.8


def test_chunked_transforms_hold_one_chunk_of_wide_features_not_all_of_them(digits):
    X, y = _tiled_digits(digits, 12)  # 17,000 images; their HOG rows are 6x wider than the pixels
    budget = 4 * 2**20
    chunked = ChunkedPipeline(_hog_steps(), fit_sample=2000, chunk_bytes=budget, random_state=0)
    plain = Pipeline(_hog_steps())
    wide = len(X) * HOGTransformer(pixels_per_cell=2).fit(X[:1]).n_output_features_ * 4
    chunked_peak, _ = _peak_bytes(lambda: chunked.fit(X, y))
    plain_peak, _ = _peak_bytes(lambda: plain.fit(X, y))
    assert plain_peak > wide  # the whole float32 feature matrix at once
    assert chunked_peak < wide / 2, (chunked_peak, wide)
    predict_peak, _ = _peak_bytes(lambda: chunked.decision_function(X))
    assert predict_peak < wide / 2


def test_pixel_scaler_makes_one_float32_copy_of_uint8_pixels(digits):
    X, _ = _tiled_digits(digits, 20)
    scaler = PixelScaler().fit(X)
    peak, out = _peak_bytes(lambda: scaler.transform(X))
    assert out.dtype == np.float32 and peak < 1.2 * out.nbytes, (peak, out.nbytes)
    np.testing.assert_array_equal(out, X.astype(np.float32) / 255.0)


def test_zoo_pipelines_are_chunked(digits):
    for name in ("lr", "fast", "best", "knn"):
        assert isinstance(get_model(name), ChunkedPipeline), name
    assert not isinstance(get_model("rf"), ChunkedPipeline)  # trees take the uint8 pixels


def test_pca_takes_exact_components_from_the_covariance_when_the_rows_outnumber_the_features(
    digits,
):
    from sklearn.decomposition import PCA

    X = digits.X.astype(np.float32) / 255.0  # 1,438 x 64: ten rows a feature and more
    pca = ImagePCA(n_components=10, random_state=0).fit(X)
    assert pca.pca_.svd_solver == "covariance_eigh"
    exact = PCA(n_components=10, svd_solver="full").fit(X.astype(np.float64))
    # The same components up to sign, to float32 rounding.
    cosines = np.abs((pca.pca_.components_ * exact.components_).sum(axis=1))
    np.testing.assert_allclose(cosines, 1.0, atol=1e-4)
    # Few rows, or many features: randomized SVD, as before.
    assert ImagePCA(n_components=10, random_state=0).fit(X[:300]).pca_.svd_solver == "randomized"
    wide = np.tile(X, (4, 60))[:, :3840]  # 5,752 x 3,840
    assert ImagePCA(n_components=10, random_state=0).fit(wide).pca_.svd_solver == "randomized"


# -- kernel ridge: landmarks from the data, conjugate gradients ------------------------------
def test_auto_landmarks_grow_with_the_rows():
    assert auto_landmarks(1000) == 1000  # never more than the rows
    assert auto_landmarks(20_000) == auto_landmarks(60_000) == 3000
    assert auto_landmarks(252_000) == 6100
    assert auto_landmarks(756_000) == 10_600
    assert auto_landmarks(10**8) == 12_000


def test_auto_cells_split_the_rows_above_250000():
    assert auto_cells(249_999) == 1 and auto_cells(60_000) == 1
    assert auto_cells(250_000) == 2 and auto_cells(756_000) == 8
    # The largest system: one below 250,000 rows; a cell's at most 6,000 landmarks above.
    assert largest_system(60_000) == auto_landmarks(60_000) == 3000
    assert largest_system(756_000) == 6000
    ridge = get_model("fast")[-1]
    assert ridge.n_cells == ridge.n_components == "auto"
    assert get_model("best")[-1].blend_with.n_cells == 1  # one system, as measured


def test_kernel_ridge_in_cells_scores_each_image_by_its_nearest_cell(digits):
    X, y = _pca_digits(digits), digits.y
    fit, held = slice(0, 1200), slice(1200, None)
    cells = NystroemRidgeClassifier(n_components=450, n_cells=3, random_state=0).fit(X[fit], y[fit])
    assert cells.n_cells_ == 3 and len(cells.centres_) == 3 and not hasattr(cells, "landmarks_")
    assert cells.n_components_ == sum(c.n_components_ for c in cells.cells_) in range(447, 454)
    # Each image goes to its nearest centre, and gets that cell's ridge's scores.
    nearest = ((X[held, None, :] - cells.centres_[None]) ** 2).sum(-1).argmin(1)
    scores = cells.decision_function(X[held])
    for c, ridge in enumerate(cells.cells_):
        rows = np.flatnonzero(nearest == c)
        assert len(rows) and len(ridge.classes_) >= 2
        own = np.searchsorted(cells.classes_, ridge.classes_)
        np.testing.assert_allclose(scores[rows][:, own], ridge.decision_function(X[held][rows]))
        # A class the cell never saw scores below every class it did.
        others = np.setdiff1d(np.arange(10), own)
        if len(others):
            assert (scores[rows][:, others].max(1) < scores[rows][:, own].min(1)).all()
    assert (cells.predict(X[held]) == y[held]).mean() > 0.9
    # Fitted again with one cell, it is the one-system ridge again.
    single = NystroemRidgeClassifier(n_components=450, random_state=0).fit(X[fit], y[fit])
    cells.set_params(n_cells=1).fit(X[fit], y[fit])
    assert cells.cells_ is None and cells.n_cells_ == 1
    np.testing.assert_array_equal(
        cells.decision_function(X[held]), single.decision_function(X[held])
    )


def test_a_kernel_ridge_cell_holding_one_class_predicts_it(digits):
    X, y = _pca_digits(digits), digits.y
    two = np.isin(y, [0, 1])
    X2, y2 = X[two], np.where(y[two] == 0, "zero", "one")
    ridge = NystroemRidgeClassifier(n_components=60, n_cells=4, random_state=0).fit(X2, y2)
    lone = [c for c, r in enumerate(ridge.cells_) if r is None]
    assert lone, "digits 0 and 1 fall into separate cells"
    scores = ridge.decision_function(X2)
    assert scores.shape == (len(X2),)
    nearest = ((X2[:, None, :] - ridge.centres_[None]) ** 2).sum(-1).argmin(1)
    for c in lone:
        rows = nearest == c
        sign = 1.0 if ridge.classes_[ridge.cell_classes_[c]] == ridge.classes_[1] else -1.0
        np.testing.assert_array_equal(scores[rows], sign)
    assert (ridge.predict(X2) == y2).mean() > 0.99


def test_kernel_ridge_rejects_bad_cells(digits):
    X, y = _pca_digits(digits)[:100], digits.y[:100]
    for bad in (0, -1, 1.5, "many"):
        with pytest.raises(ConfigError, match="n_cells"):
            NystroemRidgeClassifier(n_components=20, n_cells=bad).fit(X, y)


def _pca_digits(digits):
    pca = ImagePCA(n_components=30, random_state=0).fit(digits.X / 255.0)
    return pca.transform(digits.X / 255.0).astype(np.float32)


def test_conjugate_gradients_reach_the_direct_solution(digits):
    X, y = _pca_digits(digits), digits.y
    # 200 landmarks: the preconditioner's sample (800 rows) is not every row.
    params = dict(n_components=200, alpha=0.01, random_state=0)
    direct = NystroemRidgeClassifier(solver="direct", **params).fit(X, y)
    cg = NystroemRidgeClassifier(solver="cg", tol=1e-5, max_iter=60, n_jobs=2, **params).fit(X, y)
    assert (direct.solver_, direct.n_iter_) == ("direct", 1)
    assert cg.solver_ == "cg" and 1 < cg.n_iter_ < 60
    np.testing.assert_array_equal(cg.landmarks_, direct.landmarks_)
    scores_direct, scores_cg = direct.decision_function(X), cg.decision_function(X)
    assert np.abs(scores_cg - scores_direct).max() < 0.02 * np.abs(scores_direct).max()
    assert (cg.predict(X) == direct.predict(X)).mean() >= 0.995


def _breaking_preconditioners(monkeypatch, times: int) -> None:
    """The first ``times`` preconditioners blow every step up, standing in for a loss of
    definiteness (on 20,000 of 840,000 shifted Fashion-MNIST copies, conjugate gradients
    overflowed and fast scored NaN)."""
    from shallowvision.models import _kernel_ridge

    real = _kernel_ridge._cholesky_with_jitter
    calls = []

    def factor(matrix):
        calls.append(1)
        return np.diag(np.full(len(matrix), 1e-200)) if len(calls) <= times else real(matrix)

    monkeypatch.setattr(_kernel_ridge, "_cholesky_with_jitter", factor)


def test_conjugate_gradients_that_break_down_retry_in_float64(digits, monkeypatch):
    # The direct fallback costs n m^2: at 756,000 rows and 10,600 landmarks an hour.
    X, y = _pca_digits(digits), digits.y
    params = dict(n_components=200, alpha=0.01, random_state=0)
    direct = NystroemRidgeClassifier(solver="direct", **params).fit(X, y)
    _breaking_preconditioners(monkeypatch, times=1)
    retried = NystroemRidgeClassifier(solver="cg", tol=1e-5, max_iter=60, **params).fit(X, y)
    assert retried.solver_ == "cg-float64" and 1 < retried.n_iter_ < 60
    assert "in float64" in capacity_notes(retried)
    # Predictions stay in the features' dtype.
    assert retried.dual_coef_.dtype == retried._weights.dtype == np.float32
    scores, expected = retried.decision_function(X), direct.decision_function(X)
    assert scores.dtype == np.float32
    assert np.abs(scores - expected).max() < 0.02 * np.abs(expected).max()


def test_conjugate_gradients_that_break_down_twice_are_solved_directly(digits, monkeypatch):
    X, y = _pca_digits(digits), digits.y
    params = dict(n_components=600, alpha=0.01, random_state=0)
    direct = NystroemRidgeClassifier(solver="direct", **params).fit(X, y)
    _breaking_preconditioners(monkeypatch, times=2)
    broken = NystroemRidgeClassifier(solver="cg", **params).fit(X, y)
    assert (broken.solver_, broken.n_iter_) == ("direct", 1)
    np.testing.assert_allclose(broken.decision_function(X), direct.decision_function(X))


def _shifted_digits(digits):
    """The digits and five copies shifted by up to a pixel: 10,782 rows."""
    images = digits.X.reshape(-1, *digits.image_shape).astype(np.float32) / 255.0
    rng = np.random.default_rng(0)
    copies = [images] + [np.roll(images, tuple(rng.integers(-1, 2, 2)), (1, 2)) for _ in range(5)]
    return np.concatenate(copies).reshape(6 * len(images), -1), np.tile(digits.y, 6)


def test_conjugate_gradients_converge_on_shifted_copies_of_the_same_images(digits):
    # Landmarks nearly alike left the float32 system singular below its resolution; the
    # preconditioner inverted that noise and the iterations overflowed (on 672,000 shifted
    # Fashion-MNIST copies the direct fallback then ran for an hour).
    X, y = _shifted_digits(digits)
    params = dict(n_components=800, alpha=0.01, random_state=0)
    cg = NystroemRidgeClassifier(solver="cg", **params).fit(X, y)
    direct = NystroemRidgeClassifier(solver="direct", **params).fit(X, y)
    assert cg.solver_ == "cg" and cg.n_iter_ <= 12, (cg.solver_, cg.n_iter_)
    assert (cg.predict(X) == direct.predict(X)).mean() >= 0.995


def test_conjugate_gradients_start_from_the_preconditioners_own_solution(digits):
    # Started from zero, these 10,782 shifted copies took 8 iterations (a pass over the
    # rows each); from the solution on the preconditioner's 3,200 rows, 6.
    X, y = _shifted_digits(digits)
    cg = NystroemRidgeClassifier(n_components=800, solver="cg", random_state=0).fit(X, y)
    assert cg.n_iter_ <= 7, cg.n_iter_


def test_conjugate_gradients_converge_in_few_iterations_at_the_default_tolerance(digits):
    X, y = _pca_digits(digits), digits.y
    cg = NystroemRidgeClassifier(n_components=900, solver="cg", random_state=0).fit(X, y)
    assert cg.n_iter_ <= 12, cg.n_iter_
    assert NystroemRidgeClassifier(n_components=900).fit(X, y).solver_ == "direct"
    auto = NystroemRidgeClassifier(n_components="auto", random_state=0).fit(X, y)
    assert auto.n_components_ == len(X)  # 1,438 rows: all of them are landmarks


def test_conjugate_gradients_on_the_kept_kernel_match_the_recomputed_one(digits, monkeypatch):
    X, y = _pca_digits(digits), digits.y
    # Converged tightly: the two preconditioners (4 and 6 rows a landmark) start apart.
    params = dict(n_components=200, solver="cg", tol=1e-6, max_iter=100, random_state=0, n_jobs=2)
    rows = []
    kernel = NystroemRidgeClassifier._kernel
    monkeypatch.setattr(
        NystroemRidgeClassifier,
        "_kernel",
        lambda self, X, **kw: rows.append(len(X)) or kernel(self, X, **kw),
    )
    kept = NystroemRidgeClassifier(**params).fit(X, y)  # 1,438 x 200 floats: 1.1 MB
    kept_rows, rows[:] = sum(rows), []
    recomputed = NystroemRidgeClassifier(cache_size=1, **params).fit(X, y)
    assert kept.n_iter_ > 1 and recomputed.n_iter_ > 1
    # Kept: every row once, and the landmarks. Recomputed: the landmarks, the
    # preconditioner's sample (six rows a landmark, where an iteration costs a pass), and
    # every row in the first pass and each iteration.
    assert kept_rows == len(X) + 200
    assert sum(rows) == 200 + 6 * 200 + (1 + recomputed.n_iter_) * len(X)
    np.testing.assert_allclose(
        kept.decision_function(X), recomputed.decision_function(X), rtol=1e-3, atol=1e-4
    )
    # The kernel is a fitting aid: nothing of it stays on the model (nor in its file).
    assert not hasattr(kept, "_cache") and not hasattr(recomputed, "_cache")


def test_kernel_ridge_rejects_bad_solver_settings(digits):
    X, y = _pca_digits(digits), digits.y
    for params, message in [
        ({"solver": "lsqr"}, "solver must be one of"),
        ({"tol": 0}, "tol must be positive"),
        ({"max_iter": 0}, "max_iter must be a positive int"),
        ({"cache_size": -1}, "cache_size must be a non-negative number"),
        ({"cache_size": True}, "cache_size must be a non-negative number"),
        ({"cache_size": float("nan")}, "cache_size must be a non-negative number"),
        ({"n_components": "many"}, "n_components must be a positive int"),
    ]:
        with pytest.raises(ValueError, match=message):
            NystroemRidgeClassifier(**params).fit(X, y)


# -- an exact SVM on a working set ------------------------------------------------------------
def test_svm_on_a_working_set_refined_by_margin_violators_matches_the_full_svm(digits):
    from shallowvision.datasets import load
    from shallowvision.models import BlockRBFSVC

    test = load("digits", "test")
    pca = ImagePCA(n_components=30, random_state=0).fit(digits.X / 255.0)
    X, Xt = (pca.transform(s.X / 255.0).astype(np.float32) for s in (digits, test))
    full = BlockRBFSVC(C=5).fit(X, digits.y)
    sampled = BlockRBFSVC(C=5, max_train=400, refine=0, random_state=0).fit(X, digits.y)
    refined = BlockRBFSVC(C=5, max_train=400, refine=2, random_state=0).fit(X, digits.y)
    assert (full.n_train_, full.n_refined_) == (len(X), 0)
    assert sampled.n_train_ <= 400 and refined.n_train_ <= 400 and refined.n_refined_ == 2
    # Every class is in the first sample, in proportion.
    assert np.array_equal(sampled.classes_, full.classes_)
    accuracy = {
        k: (m.predict(Xt) == test.y).mean()
        for k, m in [("full", full), ("sampled", sampled), ("refined", refined)]
    }
    assert accuracy["refined"] >= accuracy["full"] - 0.003, accuracy
    assert accuracy["refined"] > accuracy["sampled"], accuracy
    # A row's margin is its class's worst pairwise decision: negative when it is misclassified.
    margins = refined._margins(X, digits.y)
    wrong = refined.predict(X) != digits.y
    assert np.all(margins[wrong] < 0)


def _digits_pca(digits):
    from shallowvision.datasets import load

    test = load("digits", "test")
    pca = ImagePCA(n_components=30, random_state=0).fit(digits.X / 255.0)
    return test, *(pca.transform(s.X / 255.0).astype(np.float32) for s in (digits, test))


def test_svm_on_a_sample_blends_kernel_ridge_fitted_on_every_row(digits):
    from shallowvision.models import BlockRBFSVC
    from shallowvision.models._svc import _score_differences, _votes

    test, X, Xt = _digits_pca(digits)
    ridge = NystroemRidgeClassifier(n_components=400, random_state=0)
    params = dict(C=5, max_train=300, refine=0, random_state=0)
    alone = BlockRBFSVC(**params).fit(X, digits.y)
    blend = BlockRBFSVC(**params, blend_with=ridge, blend_weight=0.5).fit(X, digits.y)
    # The same SVM, plus the ridge fitted on every row (the same as fitted alone).
    np.testing.assert_array_equal(blend.support_vectors_, alone.support_vectors_)
    assert alone.blended_ is None and ridge.get_params()["n_components"] == 400
    alone_ridge = NystroemRidgeClassifier(n_components=400, random_state=0).fit(X, digits.y)
    np.testing.assert_allclose(blend.blended_.dual_coef_, alone_ridge.dual_coef_)
    pairwise = blend._svm_pairwise(Xt) + 0.5 * _score_differences(blend.blended_, Xt)
    np.testing.assert_array_equal(blend.predict(Xt), blend.classes_[_votes(pairwise, 10)])
    accuracy = {
        k: (m.predict(Xt) == test.y).mean() for k, m in [("alone", alone), ("blend", blend)]
    }
    assert accuracy["blend"] >= accuracy["alone"] + 0.01, accuracy
    assert (
        capacity_notes(blend) == "blended with kernel ridge on 400 landmarks (solved directly) "
        "fitted on every image, weight 0.5"
    )
    # Every row the SVM's: nothing is blended.
    whole = BlockRBFSVC(C=5, blend_with=ridge).fit(X, digits.y)
    assert whole.blended_ is None and whole.n_train_ == len(X)
    with pytest.raises(ValueError, match="blend_weight must be a number >= 0"):
        BlockRBFSVC(blend_weight=-1.0).fit(X, digits.y)


def test_a_blended_svm_on_two_classes(digits):
    from shallowvision.models import BlockRBFSVC

    X, y = digits.X[digits.y < 2] / 255.0, digits.y[digits.y < 2]
    ridge = NystroemRidgeClassifier(n_components=100, random_state=0)
    model = BlockRBFSVC(max_train=100, refine=0, random_state=0, blend_with=ridge).fit(X, y)
    assert model.blended_ is not None and model.n_train_ < len(X)
    assert (model.predict(X) == y).mean() >= 0.99
    assert model.decision_function(X).shape == (len(X),)


def test_compare_notes_say_when_the_svm_saw_a_sample(digits):
    from shallowvision.models import BlockRBFSVC

    model = ChunkedPipeline(
        [("scale", PixelScaler()), ("clf", BlockRBFSVC(max_train=400, refine=0, random_state=0))]
    ).fit(digits.X, digits.y)
    # 400 drawn in proportion to the classes, rounded down in each of the ten.
    assert 390 <= model[-1].n_train_ <= 400
    expected = f"SVM fitted on a sample of {model[-1].n_train_} of {len(digits):,} images"
    assert capacity_notes(model) == expected


def test_best_blends_kernel_ridge_only_when_its_svm_sees_a_sample(digits):
    # Every row the SVM's: the SVM alone, as on Fashion-MNIST's 60,000 images.
    whole = get_model("best", clf__max_train=len(digits)).fit(digits.X, digits.y)
    assert whole[-1].blended_ is None and whole[-1].n_train_ == len(digits)
    # Above its sample (450,000 images by default), kernel ridge on every image joins it.
    sampled = get_model("best", clf__max_train=300).fit(digits.X, digits.y)
    ridge = sampled[-1].blended_
    assert isinstance(ridge, NystroemRidgeClassifier) and sampled[-1].n_train_ <= 300
    assert ridge.n_components_ == auto_landmarks(len(digits)) == len(digits)
    assert capacity_notes(sampled) == (
        f"SVM fitted on a sample of {sampled[-1].n_train_} of {len(digits):,} images; "
        f"blended with kernel ridge on {len(digits):,} landmarks (solved directly) "
        "fitted on every image, weight 0.5"
    )
    assert ridge.alpha == 0.01 and ridge.tol == 3e-3  # fast's classifier


def test_svm_working_set_rejects_bad_settings(digits):
    from shallowvision.models import BlockRBFSVC

    X = digits.X[:200] / 255.0
    with pytest.raises(ValueError, match="max_train must be a positive int"):
        BlockRBFSVC(max_train=0).fit(X, digits.y[:200])
    with pytest.raises(ValueError, match="refine must be an int of at least 0"):
        BlockRBFSVC(max_train=100, refine=-1).fit(X, digits.y[:200])


# -- memory estimated before a fit, refused when it would not fit -----------------------------
def test_every_zoo_model_estimates_its_memory_from_images_pixels_and_classes():
    from shallowvision.models import list_models

    for spec in list_models():
        small, large = (spec.memory.estimate(n, 784, 10) for n in (10_000, 840_000))
        assert 0 < small <= large, spec.name
        assert spec.memory.estimate(10_000, 784, 62) >= small, spec.name
    lr = {
        n: spec.memory.estimate(n, 784, 10)
        for spec in list_models()
        if spec.name == "lr"
        for n in (10**5, 2 * 10**5)
    }
    # lr holds one float32 copy of the pixels: 4 bytes a pixel, and a little per class.
    assert 4 * 784 <= (lr[2 * 10**5] - lr[10**5]) / 10**5 < 5 * 784


def test_compare_refuses_a_model_that_would_not_fit_and_says_how_to_fit_it(digits, monkeypatch):
    from shallowvision.datasets import load
    from shallowvision.models import compare_models, get_model_spec

    test = load("digits", "test")
    rf = get_model_spec("rf").memory
    budget = rf.estimate(500, 64, 10)  # enough for 50 images per class
    assert get_model_spec("nb").memory.estimate(len(digits), 64, 10) < budget
    monkeypatch.setenv("SHALLOWVISION_MEMORY", str(budget))
    result = compare_models(["nb", "rf"], digits, test)
    rows = {r.model: r for r in result.rows}
    assert rows["nb"].status == "ok" and rows["rf"].status == "refused"
    # The estimate a fitted row was allowed on is kept with it, for the benchmark to check.
    expected = get_model_spec("nb").memory.estimate(len(digits), 64, 10)
    assert rows["nb"].memory_estimate_bytes == expected
    message = rows["rf"].error
    assert "\n" not in message and message.startswith("rf would need about ")
    assert "1,438 images of 8x8 in 10 classes" in message and "is free" in message
    # The way out is the largest subsample whose estimate fits.
    assert "subsample to 50 images per class (n_per_class=50" in message, message
    assert rf.estimate(510, 64, 10) > budget


def test_compare_on_the_command_line_refuses_in_one_line_and_exits_2(monkeypatch, tmp_path):
    import subprocess
    import sys

    env = {**__import__("os").environ, "SHALLOWVISION_MEMORY": "1MB"}
    out = subprocess.run(
        [sys.executable, "-m", "shallowvision", "compare", "digits", "-m", "lr"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert out.returncode == 2
    lines = (out.stdout + out.stderr).splitlines()
    refusal = [line for line in lines if line.startswith("lr refused: lr would need about")]
    assert len(refusal) == 1 and "1 MB is free" in refusal[0], lines


def test_memory_sizes_are_read_as_people_write_them():
    from shallowvision import ShallowVisionError
    from shallowvision._memory import format_bytes, parse_bytes

    assert parse_bytes("8GB") == 8 * 10**9 and parse_bytes("512MiB") == 512 * 2**20
    assert parse_bytes("2.5g") == 2_500_000_000 and parse_bytes("1000") == 1000
    assert format_bytes(13.24e9) == "13.2 GB" and format_bytes(850e6) == "850 MB"
    for bad in ("", "lots", "-1GB", "0"):
        with pytest.raises(ShallowVisionError, match="memory size"):
            parse_bytes(bad)


# -- data larger than memory, and decodes killed half-way --------------------------------------
def _idx_pair(folder, n: int, seed: int = 0):
    from conftest import write_idx

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    write_idx(folder / "train-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
    write_idx(folder / "train-labels-idx1-ubyte", (np.arange(n) % 10).astype(np.uint8))
    return folder


def test_a_dataset_that_cannot_fit_as_uint8_says_so_with_the_numbers(tmp_path, monkeypatch):
    import subprocess
    import sys

    from shallowvision import DataError
    from shallowvision.datasets import load

    folder = _idx_pair(tmp_path / "big", 5000)
    monkeypatch.setenv("SHALLOWVISION_MEMORY", "1MB")
    with pytest.raises(DataError) as caught:
        load(folder, cache=False)
    message = str(caught.value)
    assert "5,000 images of 28x28 pixels need 4 MB and 1 MB of memory is free" in message
    env = {**__import__("os").environ, "SHALLOWVISION_MEMORY": "1MB"}
    out = subprocess.run(
        [sys.executable, "-m", "shallowvision", "data", "info", str(folder)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stderr
    assert "need 4 MB and 1 MB of memory is free" in out.stderr


_KILL_MID_WRITE = """
import os, signal, sys
import numpy as np
real_save = np.save

def save(file, array, *args, **kwargs):
    if array.ndim == 3:  # the images: write half of them, then die as a SIGKILL would
        real_save(file, array[: len(array) // 2], *args, **kwargs)
        file.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    return real_save(file, array, *args, **kwargs)

np.save = save
from shallowvision.datasets import load
load(sys.argv[1])
"""


def test_a_decode_killed_mid_write_leaves_nothing_that_is_read_back(tmp_path, monkeypatch):
    import os
    import subprocess
    import sys

    from shallowvision.datasets import load

    monkeypatch.setenv("SHALLOWVISION_CACHE", str(tmp_path / "cache"))
    folder = _idx_pair(tmp_path / "set", 3000)
    first = load(folder)  # a complete slot, then the files change and a decode is killed
    _idx_pair(folder, 3000, seed=1)
    os.utime(folder / "train-images-idx3-ubyte", ns=(1, 1))
    env = {**os.environ, "SHALLOWVISION_CACHE": str(tmp_path / "cache")}
    killed = subprocess.run(
        [sys.executable, "-c", _KILL_MID_WRITE, str(folder)], env=env, check=False
    )
    assert killed.returncode == -9
    slots = list((tmp_path / "cache" / "decoded").glob("path-*/train"))
    assert len(slots) == 1
    assert not (slots[0] / "meta.json").exists()  # the old slot was invalidated first
    orphans = list(slots[0].glob(".*.tmp"))
    assert len(orphans) == 1  # the half-written images of the killed process
    again = load(folder)
    fresh = load(folder, cache=False)
    np.testing.assert_array_equal(again.images, fresh.images)
    assert not np.array_equal(again.images, first.images)
    assert not list(slots[0].glob(".*.tmp")) and (slots[0] / "meta.json").is_file()


def test_peak_memory_sees_a_block_allocation_and_a_worker_process():
    import subprocess
    import sys
    import time

    import numpy as np

    from shallowvision._memory import peak_memory

    with peak_memory() as base:
        pass
    with peak_memory(interval=0.05) as held:
        block = np.ones(400 * 2**20, dtype=np.uint8)  # 400 MiB touched, held, freed
        time.sleep(0.3)
        del block
    assert base.bytes is not None and held.bytes is not None
    assert held.bytes - base.bytes > 350 * 2**20
    # A child's memory is not in this process's own peak: sampling sees it.
    child = "import numpy, time; a = numpy.ones(300 * 2**20, numpy.uint8); time.sleep(1)"
    with peak_memory(interval=0.05) as with_child:
        subprocess.run([sys.executable, "-c", child], check=True)
    assert with_child.bytes is not None and with_child.bytes - base.bytes > 250 * 2**20
