"""Kernel ridge classification on Nystroem landmarks: an RBF machine solved by one linear system."""

from __future__ import annotations

import numpy as np
from scipy import linalg
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics.pairwise import rbf_kernel
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from shallowvision.features._base import check_positive_int
from shallowvision.features._kernels import rbf_gamma

__all__ = ["NystroemRidgeClassifier"]

_BATCH = 4096  # rows of the (batch, n_landmarks) kernel block held at once


class NystroemRidgeClassifier(ClassifierMixin, BaseEstimator):
    """One-vs-all ridge classification with an RBF kernel restricted to random landmarks.

    The decision function is ``f(x) = sum_j a_j k(x, l_j) + b`` over ``n_components``
    landmarks ``l_j`` drawn from the training images, with ``a`` minimising
    ``||K_nm a + b - Y||^2 + alpha * a' K_mm a`` for targets ``Y`` in {-1, 1}. That is
    exactly :class:`~sklearn.linear_model.RidgeClassifier` on the features of
    :class:`~sklearn.kernel_approximation.Nystroem`, but solved without the
    ``K_mm^(-1/2)`` factor: fitting accumulates ``K_mn K_nm`` batch by batch (bounded
    memory, BLAS throughout) and solves one ``m x m`` system, and predicting is one
    kernel block and one matrix product, with no ``m x m`` transform per image.

    Parameters
    ----------
    n_components : int, default=2000
        Landmarks (capped by the number of training samples).
    gamma : "scale" or float, default="scale"
        RBF width; ``"scale"`` is ``gamma_scale / (n_features * X.var())``, as
        :class:`sklearn.svm.SVC` uses.
    gamma_scale : float, default=1.0
        Multiplies the ``"scale"`` width.
    alpha : float, default=0.01
        Ridge penalty, in the units of ``RidgeClassifier(alpha)`` on Nystroem features.
    random_state : int, optional
        Seed of the landmark draw.

    Attributes
    ----------
    classes_ : ndarray
    landmarks_ : ndarray of shape (n_landmarks, n_features)
    dual_coef_ : ndarray of shape (n_landmarks, n_outputs)
    intercept_ : ndarray of shape (n_outputs,)
    gamma_ : float
    """

    def __init__(
        self,
        n_components: int = 2000,
        gamma: str | float = "scale",
        gamma_scale: float = 1.0,
        alpha: float = 0.01,
        random_state: int | None = None,
    ) -> None:
        self.n_components = n_components
        self.gamma = gamma
        self.gamma_scale = gamma_scale
        self.alpha = alpha
        self.random_state = random_state

    def fit(self, X, y):
        X, y = validate_data(self, X, y, dtype=(np.float32, np.float64))
        check_classification_targets(y)
        check_positive_int(self.n_components, "n_components")
        if not self.alpha > 0:
            raise ValueError(f"alpha must be positive, got {self.alpha!r}")
        self.gamma_ = rbf_gamma(X, self.gamma, self.gamma_scale)
        binarizer = LabelBinarizer(pos_label=1, neg_label=-1)
        Y = binarizer.fit_transform(y).astype(np.float64)
        self.classes_ = binarizer.classes_
        if len(self.classes_) < 2:
            raise ValueError(
                f"NystroemRidgeClassifier needs samples of at least 2 classes; got 1 class ({self.classes_[0]!r})"
            )
        n = len(X)
        rng = check_random_state(self.random_state)
        chosen = rng.permutation(n)[: min(self.n_components, n)]
        self.landmarks_ = X[np.sort(chosen)]
        m = len(self.landmarks_)
        gram = np.zeros((m, m))
        column_sums = np.zeros(m)
        cross = np.zeros((m, Y.shape[1]))
        for start in range(0, n, _BATCH):
            # In float64: a float32 Gram matrix loses the small eigenvalues the solve needs.
            block = self._kernel(X[start : start + _BATCH]).astype(np.float64)
            gram += block.T @ block
            column_sums += block.sum(axis=0)
            cross += block.T @ Y[start : start + _BATCH]
        # Centre the kernel columns and the targets: the intercept is then unpenalised.
        mean_k, mean_y = column_sums / n, Y.mean(axis=0)
        gram -= n * np.outer(mean_k, mean_k)
        cross -= n * np.outer(mean_k, mean_y)
        system = gram + self.alpha * self._kernel(self.landmarks_).astype(np.float64)
        # A tiny jitter keeps the system positive definite when landmarks nearly coincide.
        system[np.diag_indices_from(system)] += 1e-10 * float(np.trace(system)) / m
        try:
            coef = linalg.solve(system, cross, assume_a="pos")
        except linalg.LinAlgError:
            coef = linalg.lstsq(system, cross)[0]
        self.dual_coef_ = coef.astype(X.dtype)
        self.intercept_ = (mean_y - mean_k @ coef).astype(X.dtype)
        return self

    def _kernel(self, X: np.ndarray) -> np.ndarray:
        return rbf_kernel(X, self.landmarks_, gamma=self.gamma_)

    def decision_function(self, X) -> np.ndarray:
        """Per-class scores ``(n, n_classes)``, or ``(n,)`` for two classes."""
        check_is_fitted(self, "dual_coef_")
        X = validate_data(self, X, reset=False, dtype=(np.float32, np.float64))
        scores = np.empty((len(X), self.dual_coef_.shape[1]), dtype=self.dual_coef_.dtype)
        for start in range(0, len(X), _BATCH):
            block = self._kernel(X[start : start + _BATCH])
            scores[start : start + _BATCH] = block @ self.dual_coef_ + self.intercept_
        return scores.ravel() if scores.shape[1] == 1 else scores

    def predict(self, X) -> np.ndarray:
        scores = self.decision_function(X)
        if scores.ndim == 1:
            return self.classes_[(scores > 0).astype(int)]
        return self.classes_[np.argmax(scores, axis=1)]
