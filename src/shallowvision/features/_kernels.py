"""Approximate kernel feature maps whose width adapts to the data, as SVC's ``gamma="scale"`` does."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.kernel_approximation import Nystroem
from sklearn.utils.validation import check_is_fitted, validate_data

from shallowvision.exceptions import ConfigError

__all__ = ["RBFNystroem", "distance_weights", "rbf_gamma", "with_norms"]


def rbf_gamma(X: np.ndarray, gamma: str | float, gamma_scale: float = 1.0) -> float:
    """The RBF width for ``X``: ``gamma`` itself, or for ``"scale"`` the rule of
    :class:`sklearn.svm.SVC`, ``gamma_scale / (n_features * X.var())``."""
    if gamma == "scale":
        variance = float(X.var())
        return gamma_scale / (X.shape[1] * variance) if variance > 0 else 1.0
    if isinstance(gamma, int | float) and not isinstance(gamma, bool) and gamma > 0:
        return float(gamma)
    raise ConfigError(f"gamma must be 'scale' or a positive number, got {gamma!r}")


def with_norms(X: np.ndarray) -> np.ndarray:
    """The rows ``[x, 1, ||x||^2]`` of ``X``, in its dtype, for :func:`distance_weights`."""
    n, d = X.shape
    points = np.ones((n, d + 2), dtype=X.dtype)
    points[:, :d] = X
    points[:, d + 1] = (X * X).sum(axis=1)
    return points


def distance_weights(centres: np.ndarray, scale: float, dtype: np.typing.DTypeLike) -> np.ndarray:
    """Weights ``W``, ``(d + 2, k)``, with ``with_norms(X) @ W`` equal to ``scale`` times the
    squared distances from each row of ``X`` to each of the ``k`` centres: all of them in
    one product, ``||x - c||^2 = [x, 1, ||x||^2] . [-2c, ||c||^2, 1]``. Clip the result
    against cancellation (a distance is never negative)."""
    c = np.asarray(centres, dtype=np.float64)
    return np.vstack(
        [-2.0 * scale * c.T, scale * (c * c).sum(axis=1), np.full(len(c), scale)]
    ).astype(dtype)


class RBFNystroem(TransformerMixin, BaseEstimator):
    """Nystroem approximation of an RBF kernel with a data-scaled width.

    With ``gamma="scale"`` the width is ``gamma_scale / (n_features * X.var())``, the
    rule :class:`sklearn.svm.SVC` uses, so one default works for 8x8 and 28x28 images
    and after any PCA.

    Parameters
    ----------
    n_components : int, default=2000
        Landmarks (capped by the number of training samples).
    gamma : "scale" or float, default="scale"
    gamma_scale : float, default=1.0
        Multiplies the ``"scale"`` width; a convenient single knob for searches.
    random_state : int, optional
    """

    def __init__(
        self,
        *,
        n_components: int = 2000,
        gamma: str | float = "scale",
        gamma_scale: float = 1.0,
        random_state: int | None = None,
    ) -> None:
        self.n_components = n_components
        self.gamma = gamma
        self.gamma_scale = gamma_scale
        self.random_state = random_state

    def fit(self, X, y=None):
        X = validate_data(self, X, dtype=(np.float64, np.float32))
        self.gamma_ = rbf_gamma(X, self.gamma, self.gamma_scale)
        self.nystroem_ = Nystroem(
            kernel="rbf",
            gamma=self.gamma_,
            n_components=min(self.n_components, X.shape[0]),
            random_state=self.random_state,
        ).fit(X)
        self.n_output_features_ = self.nystroem_.components_.shape[0]
        return self

    def transform(self, X):
        check_is_fitted(self, "nystroem_")
        X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        return self.nystroem_.transform(X)

    def get_feature_names_out(self, input_features=None):
        check_is_fitted(self, "nystroem_")
        return np.array([f"rbfnystroem{i}" for i in range(self.n_output_features_)], dtype=object)
