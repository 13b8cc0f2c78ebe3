"""PCA for flattened images: a count or a share of variance, components drawable as images."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.decomposition import PCA
from sklearn.utils.validation import check_is_fitted

from shallowvision.exceptions import ConfigError
from shallowvision.features._base import ImageShapeMixin

__all__ = ["ImagePCA"]

#: Features up to which the eigenvectors of the covariance matrix are the quickest exact
#: components, with at least ten rows a feature (scikit-learn's own rule stops at 1,000
#: features): on 54,000 x 2,404 float32 features, 100 components, 2 cores, 5.4 s against
#: randomized SVD's 8.4 s. Above, the d x d matrix and its eigenvectors grow as d^2 and
#: d^3 (best's 7,084 features: nine times the products), and randomized SVD is cheaper.
_COVARIANCE_MAX_FEATURES = 3000


def _solver(n_samples: int, n_features: int, k: int) -> str:
    """scikit-learn's ``svd_solver`` for ``k`` components of an ``n_samples x n_features`` matrix."""
    if n_features <= _COVARIANCE_MAX_FEATURES and n_samples >= 10 * n_features:
        return "covariance_eigh"
    # Randomized SVD costs a fraction of the exact one for a few leading components.
    return "randomized" if k < 0.8 * min(n_samples, n_features) else "full"


class ImagePCA(ImageShapeMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Principal components of flattened images.

    Unlike :class:`sklearn.decomposition.PCA`, a component count larger than the data
    allows is capped at ``min(n_samples, n_features)`` instead of failing, so one
    setting serves 8x8 and 28x28 images and the small first rounds of
    successive-halving searches.

    Parameters
    ----------
    n_components : int or float, default=50
        Number of components (int), or the share of variance to keep (float in (0, 1)).
    whiten : bool, default=False
        Scale components to unit variance.
    random_state : int, optional
        Seed of the randomized SVD used for a component count.
    image_shape : (height, width), (height, width, 3) or None
        Shape the rows were flattened from, channels last for colour; None means
        square images.

    Attributes
    ----------
    pca_ : sklearn.decomposition.PCA
        The fitted PCA.
    n_components_ : int
        Components actually kept.
    """

    def __init__(
        self,
        *,
        n_components: int | float = 50,
        whiten: bool = False,
        random_state: int | None = None,
        image_shape: tuple[int, ...] | None = None,
    ) -> None:
        self.n_components = n_components
        self.whiten = whiten
        self.random_state = random_state
        self.image_shape = image_shape

    def fit(self, X, y=None):
        X = self._validate_images(X, reset=True, dtype=(np.float32, np.float64))
        n = self.n_components
        if (
            isinstance(n, bool)
            or not isinstance(n, int | float | np.integer | np.floating)
            or n <= 0
        ):
            raise ConfigError(
                f"n_components must be a positive count or a share in (0, 1), got {n!r}"
            )
        if isinstance(n, float | np.floating) and n < 1:
            pca = PCA(n_components=float(n), svd_solver="full", whiten=self.whiten)
        else:
            k = int(min(int(n), *X.shape))
            pca = PCA(
                n_components=k,
                svd_solver=_solver(*X.shape, k),
                whiten=self.whiten,
                random_state=self.random_state,
            )
        self.pca_ = pca.fit(X)
        # The solver may leave the components in Fortran order, a saved file stores them
        # in C order, and float32 products can round differently on each: fixing the
        # order here makes a loaded model score exactly as the one that was saved.
        self.pca_.components_ = np.ascontiguousarray(self.pca_.components_)
        self.n_components_ = int(self.pca_.n_components_)
        self._n_features_out = self.n_components_
        return self

    def transform(self, X):
        check_is_fitted(self, "pca_")
        X = self._validate_images(X, reset=False, dtype=(np.float32, np.float64))
        return self.pca_.transform(X)

    def inverse_transform(self, X):
        check_is_fitted(self, "pca_")
        return self.pca_.inverse_transform(X)

    @property
    def explained_variance_ratio_(self) -> np.ndarray:
        check_is_fitted(self, "pca_")
        return self.pca_.explained_variance_ratio_

    def components_as_images(self) -> np.ndarray:
        """The components as images, shape ``(n_components_, height, width)`` (with a
        last axis of 3 channels in colour)."""
        check_is_fitted(self, "pca_")
        return self.pca_.components_.reshape(-1, *self.image_shape_)
