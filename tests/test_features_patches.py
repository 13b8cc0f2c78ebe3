import numpy as np
import pytest

from shallowvision.features import PatchKMeansTransformer


def _reference(model: PatchKMeansTransformer, image: np.ndarray) -> np.ndarray:
    """One image encoded patch by patch, as the features are defined."""
    p, pool, step = model.patch_size_, model.pool_, model.stride_
    tops, lefts = range(0, image.shape[0] - p + 1, step), range(0, image.shape[1] - p + 1, step)
    rows, cols = len(tops), len(lefts)
    sums = np.zeros((pool, pool, len(model.centroids_)))
    for r, top in enumerate(tops):
        for c, left in enumerate(lefts):
            patch = image[top : top + p, left : left + p].ravel().astype(np.float64)
            patch = patch - patch.mean()
            patch = patch / np.sqrt(patch.var() + model.contrast_eps)
            z = (patch - model.patch_mean_) @ model.whitening_
            distance = np.sqrt(((model.centroids_ - z) ** 2).sum(axis=1))
            sums[r * pool // rows, c * pool // cols] += np.maximum(distance.mean() - distance, 0)
    return np.sqrt(sums).ravel()


@pytest.mark.parametrize(
    ("patch", "pool", "stride"), [(3, 2, 1), (4, 4, 1), (5, 3, 1), (3, 2, 2), (4, 3, 3)]
)
def test_patch_features_equal_the_definition_on_digits(digits, patch, pool, stride):
    X = digits.X[:300].astype(np.float32) / 16
    model = PatchKMeansTransformer(
        n_clusters=12, patch_size=patch, pool=pool, stride=stride, n_patches=3000, random_state=0
    ).fit(X)
    features = model.transform(X[:5])
    # Five positions across at stride 3 are two: the pool shrinks to them.
    regions = min(pool, -(-(9 - patch) // stride))
    assert features.shape == (5, 12 * regions**2) == (5, model.n_output_features_)
    assert features.dtype == np.float32
    expected = np.stack([_reference(model, image) for image in X[:5].reshape(-1, 8, 8)])
    np.testing.assert_allclose(features, expected, rtol=1e-4, atol=1e-4)
    # Every patch activates at least one centroid (it is nearer to some than to the average).
    assert (features.reshape(5, regions**2, 12).sum(axis=2) > 0).all()


def test_patch_features_are_seeded_threaded_and_in_chunks(digits):
    X = digits.X.astype(np.float32) / 16
    one = PatchKMeansTransformer(n_clusters=16, patch_size=3, n_patches=5000, random_state=1)
    features = one.fit_transform(X)
    again = PatchKMeansTransformer(n_clusters=16, patch_size=3, n_patches=5000, random_state=1)
    np.testing.assert_array_equal(again.fit(X).centroids_, one.centroids_)
    # 1,797 images: many chunks, shared by two threads, stacked in order.
    threaded = one.set_params(n_jobs=2).transform(X)
    np.testing.assert_allclose(threaded, features, rtol=0, atol=1e-6)
    other = PatchKMeansTransformer(n_clusters=16, patch_size=3, n_patches=5000, random_state=2)
    assert not np.allclose(other.fit(X).centroids_, one.centroids_)


def test_patch_features_separate_digits_and_reject_bad_parameters(digits):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from shallowvision.datasets import load

    train, test = load("digits", "train"), load("digits", "test")
    model = make_pipeline(
        PatchKMeansTransformer(n_clusters=50, patch_size=3, pool=2, random_state=0),
        LogisticRegression(max_iter=2000),
    ).fit(train.X / 16, train.y)
    assert model.score(test.X / 16, test.y) > 0.95
    X = digits.X[:20] / 16
    for params, message in [
        ({"n_clusters": 0}, "n_clusters must be a positive int"),
        ({"patch_size": 2.5}, "patch_size must be a positive int"),
        ({"stride": 0}, "stride must be a positive int"),
        ({"contrast_eps": 0}, "contrast_eps must be a positive number"),
        ({"whiten_eps": "x"}, "whiten_eps must be a positive number"),
    ]:
        with pytest.raises(ValueError, match=message):
            PatchKMeansTransformer(**params).fit(X)
