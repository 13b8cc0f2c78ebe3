"""An RBF support vector machine fitted by libsvm and evaluated with matrix products."""

from __future__ import annotations

from importlib import import_module

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.svm import SVC
from sklearn.utils.multiclass import _ovr_decision_function, check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from shallowvision._optional import has_module, import_optional
from shallowvision._threads import map_in_threads
from shallowvision.features._kernels import distance_weights, rbf_gamma, with_norms

__all__ = ["BlockRBFSVC"]

_SOLVERS = ("auto", "libsvm", "sklearnex")
_BLOCK_ENTRIES = 1 << 23  # kernel entries computed at once: 32 MB in float32


class BlockRBFSVC(ClassifierMixin, BaseEstimator):
    """RBF :class:`~sklearn.svm.SVC` whose decision function is computed by blocks in BLAS.

    Fitting is an exact SVC solver: :class:`sklearn.svm.SVC` (libsvm), or the SVC of
    scikit-learn-intelex (oneDAL) when it is installed (see ``solver``). Predicting
    evaluates the same one-vs-one decision function, ``sum_s a_s k(x, s) + b`` for each
    pair of classes, as one kernel block ``exp(-gamma ||x - s||^2)`` against all support
    vectors (computed from ``X @ S.T``) and one product with a support-vector-by-pair
    matrix of dual coefficients, a block of images at a time. libsvm instead evaluates
    the kernel one image and one support vector at a time; the blocks give the same
    decisions many times faster. Votes are counted as libsvm counts them, so
    :meth:`predict` equals ``SVC.predict`` (up to rounding of decisions within about
    ``1e-6`` of zero in float32).

    Parameters
    ----------
    C : float, default=1.0
        Penalty of the soft margin.
    gamma : "scale" or float, default="scale"
        RBF width; ``"scale"`` is ``gamma_scale / (n_features * X.var())``, as SVC uses.
    gamma_scale : float, default=1.0
        Multiplies the ``"scale"`` width.
    tol : float, default=1e-3
        Stopping tolerance of libsvm.
    cache_size : float, default=1000
        libsvm's kernel cache, in MB.
    decision_function_shape : {"ovr", "ovo"}, default="ovr"
        As for SVC: per-class scores from the votes, or the raw pairwise decisions.
    solver : {"auto", "libsvm", "sklearnex"}, default="auto"
        Who solves the dual problem: scikit-learn's SVC (libsvm, one core) or
        scikit-learn-intelex's SVC (oneDAL, several times faster, same solution up to
        the tolerance), which ``"auto"`` uses when it is installed.
    n_jobs : int, optional
        Threads computing the kernel blocks of a prediction (None: one, -1: every
        core); each runs single-threaded BLAS.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    support_vectors_ : ndarray of shape (n_support_vectors, n_features)
        In the dtype of the training data.
    n_support_ : ndarray of shape (n_classes,)
    pair_coef_ : ndarray of shape (n_support_vectors, n_pairs)
        Dual coefficient of each support vector in each pairwise decision (zero where
        the vector belongs to neither class of the pair).
    intercept_ : ndarray of shape (n_pairs,)
    gamma_ : float
    solver_ : str
        The solver used.
    """

    def __init__(
        self,
        C: float = 1.0,
        gamma: str | float = "scale",
        gamma_scale: float = 1.0,
        tol: float = 1e-3,
        cache_size: float = 1000,
        decision_function_shape: str = "ovr",
        solver: str = "auto",
        n_jobs: int | None = None,
    ) -> None:
        self.C = C
        self.gamma = gamma
        self.gamma_scale = gamma_scale
        self.tol = tol
        self.cache_size = cache_size
        self.decision_function_shape = decision_function_shape
        self.solver = solver
        self.n_jobs = n_jobs

    def fit(self, X, y):
        X, y = validate_data(self, X, y, dtype=(np.float64, np.float32))
        check_classification_targets(y)
        if self.decision_function_shape not in ("ovr", "ovo"):
            raise ValueError(
                f"decision_function_shape must be 'ovr' or 'ovo', got {self.decision_function_shape!r}"
            )
        if self.solver not in _SOLVERS:
            raise ValueError(f"solver must be one of {', '.join(_SOLVERS)}, got {self.solver!r}")
        self.gamma_ = rbf_gamma(X, self.gamma, self.gamma_scale)
        self.solver_ = self.solver
        if self.solver == "auto":
            self.solver_ = "sklearnex" if has_module("sklearnex") else "libsvm"
        solver_class = SVC
        if self.solver_ == "sklearnex":
            import_optional("sklearnex")  # a clear message when it is not installed
            solver_class = import_module("sklearnex.svm").SVC
        svc = solver_class(
            C=self.C, kernel="rbf", gamma=self.gamma_, tol=self.tol, cache_size=self.cache_size
        ).fit(X, y)
        self.classes_ = svc.classes_
        self.n_support_ = svc.n_support_
        self.support_vectors_ = svc.support_vectors_.astype(X.dtype)
        self.pair_coef_, self.intercept_ = _pair_coefficients(
            svc.dual_coef_, svc.intercept_, svc.n_support_
        )
        self.pair_coef_ = self.pair_coef_.astype(X.dtype)
        self.intercept_ = self.intercept_.astype(X.dtype)
        # The kernel's exponent, -gamma ||x - s||^2, in one product; computed once, not per call.
        self._exponent_weights = distance_weights(self.support_vectors_, -self.gamma_, X.dtype)
        return self

    def _pairwise(self, X: np.ndarray) -> np.ndarray:
        """The one-vs-one decisions ``(n, n_pairs)``; positive favours the pair's first class."""
        sv = self.support_vectors_
        X = X.astype(sv.dtype, copy=False)
        out = np.empty((len(X), self.pair_coef_.shape[1]), dtype=sv.dtype)
        rows = max(1, _BLOCK_ENTRIES // max(len(sv), 1))

        def block(start: int) -> None:
            kernel = with_norms(X[start : start + rows]) @ self._exponent_weights
            np.minimum(kernel, 0.0, out=kernel)  # a distance is never negative
            np.exp(kernel, out=kernel)
            np.matmul(kernel, self.pair_coef_, out=out[start : start + rows])
            out[start : start + rows] += self.intercept_

        map_in_threads(block, range(0, len(X), rows), self.n_jobs, single_threaded_blas=True)
        return out

    def decision_function(self, X) -> np.ndarray:
        """Scores as :meth:`sklearn.svm.SVC.decision_function` gives them.

        ``(n,)`` for two classes (positive favours ``classes_[1]``); otherwise
        ``(n, n_classes)`` for ``"ovr"`` or ``(n, n_pairs)`` for ``"ovo"``.
        """
        check_is_fitted(self, "pair_coef_")
        X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        pairwise = self._pairwise(X)
        if len(self.classes_) == 2:
            return -pairwise[:, 0]
        if self.decision_function_shape == "ovo":
            return pairwise
        return _ovr_decision_function(pairwise < 0, -pairwise, len(self.classes_))

    def predict(self, X) -> np.ndarray:
        """libsvm's vote: each pair's decision gives one vote, ties go to the lower class."""
        check_is_fitted(self, "pair_coef_")
        X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        pairwise = self._pairwise(X)
        n_classes = len(self.classes_)
        first, second = np.triu_indices(n_classes, k=1)
        votes = np.zeros((len(X), n_classes), dtype=np.intp)
        wins = pairwise > 0
        for p in range(len(first)):
            votes[:, first[p]] += wins[:, p]
            votes[:, second[p]] += ~wins[:, p]
        return self.classes_[np.argmax(votes, axis=1)]


def _pair_coefficients(
    dual_coef: np.ndarray, intercept: np.ndarray, n_support: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """libsvm's one-vs-one coefficients as a ``(n_support_vectors, n_pairs)`` matrix.

    In libsvm's layout the decision of the pair ``(i, j)``, ``i < j``, weighs the
    support vectors of class ``i`` by row ``j - 1`` of ``dual_coef`` and those of class
    ``j`` by row ``i``. For two classes scikit-learn stores both signs flipped, so they
    are flipped back: every column then favours its first class when positive.
    """
    n_classes = len(n_support)
    bounds = np.concatenate([[0], np.cumsum(n_support)])
    first, second = np.triu_indices(n_classes, k=1)
    coef = np.zeros((dual_coef.shape[1], len(first)))
    for p, (i, j) in enumerate(zip(first, second, strict=True)):
        coef[bounds[i] : bounds[i + 1], p] = dual_coef[j - 1, bounds[i] : bounds[i + 1]]
        coef[bounds[j] : bounds[j + 1], p] = dual_coef[i, bounds[j] : bounds[j + 1]]
    if n_classes == 2:
        return -coef, -np.asarray(intercept, dtype=np.float64)
    return coef, np.asarray(intercept, dtype=np.float64)
