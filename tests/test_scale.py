"""Bounded memory and capacity that grows with the data: the chunked pipeline, the scaler's
single float copy, and kernel ridge by conjugate gradients on many landmarks."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from shallowvision.features import ChunkedPipeline, HOGTransformer, ImagePCA, PixelScaler
from shallowvision.models import NystroemRidgeClassifier, get_model
from shallowvision.models._kernel_ridge import auto_landmarks


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
    # Many chunks of 256 rows give exactly the one-pass answers.
    np.testing.assert_array_equal(chunked.predict_proba(digits.X), plain.predict_proba(digits.X))
    np.testing.assert_array_equal(
        chunked.decision_function(digits.X), plain.decision_function(digits.X)
    )
    assert chunked.score(digits.X, digits.y) == plain.score(digits.X, digits.y)


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


# -- kernel ridge: landmarks from the data, conjugate gradients ------------------------------
def test_auto_landmarks_grow_with_the_square_root_of_the_rows():
    assert auto_landmarks(1000) == 1000  # never more than the rows
    assert auto_landmarks(20_000) == auto_landmarks(60_000) == 2000
    assert auto_landmarks(240_000) == 4000
    assert auto_landmarks(840_000) == 7500
    assert auto_landmarks(10**8) == 12_000


def _pca_digits(digits):
    pca = ImagePCA(n_components=30, random_state=0).fit(digits.X / 255.0)
    return pca.transform(digits.X / 255.0).astype(np.float32)


def test_conjugate_gradients_reach_the_direct_solution(digits):
    X, y = _pca_digits(digits), digits.y
    params = dict(n_components=600, alpha=0.01, random_state=0)
    direct = NystroemRidgeClassifier(solver="direct", **params).fit(X, y)
    cg = NystroemRidgeClassifier(solver="cg", tol=1e-5, max_iter=60, n_jobs=2, **params).fit(X, y)
    assert (direct.solver_, direct.n_iter_) == ("direct", 1)
    assert cg.solver_ == "cg" and 1 < cg.n_iter_ < 60
    np.testing.assert_array_equal(cg.landmarks_, direct.landmarks_)
    scores_direct, scores_cg = direct.decision_function(X), cg.decision_function(X)
    assert np.abs(scores_cg - scores_direct).max() < 0.02 * np.abs(scores_direct).max()
    assert (cg.predict(X) == direct.predict(X)).mean() >= 0.995


def test_conjugate_gradients_converge_in_few_iterations_at_the_default_tolerance(digits):
    X, y = _pca_digits(digits), digits.y
    cg = NystroemRidgeClassifier(n_components=900, solver="cg", random_state=0).fit(X, y)
    assert cg.n_iter_ <= 12, cg.n_iter_
    assert NystroemRidgeClassifier(n_components=900).fit(X, y).solver_ == "direct"
    auto = NystroemRidgeClassifier(n_components="auto", random_state=0).fit(X, y)
    assert auto.n_components_ == len(X)  # 1,438 rows: all of them are landmarks


def test_kernel_ridge_rejects_bad_solver_settings(digits):
    X, y = _pca_digits(digits), digits.y
    for params, message in [
        ({"solver": "lsqr"}, "solver must be one of"),
        ({"tol": 0}, "tol must be positive"),
        ({"max_iter": 0}, "max_iter must be a positive int"),
        ({"n_components": "many"}, "n_components must be a positive int"),
    ]:
        with pytest.raises(ValueError, match=message):
            NystroemRidgeClassifier(**params).fit(X, y)
