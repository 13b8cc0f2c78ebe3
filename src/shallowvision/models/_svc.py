"""An RBF support vector machine fitted by libsvm and evaluated with matrix products."""

from __future__ import annotations

from importlib import import_module
from numbers import Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.svm import SVC
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import _ovr_decision_function, check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from shallowvision._optional import has_module, import_optional
from shallowvision._threads import map_in_threads
from shallowvision.exceptions import ConfigError
from shallowvision.features._base import check_positive_int
from shallowvision.features._kernels import distance_weights, rbf_gamma, with_norms

__all__ = ["BlockRBFSVC"]

_SOLVERS = ("auto", "libsvm", "sklearnex")
_BLOCK_ENTRIES = 1 << 23  # kernel entries computed at once: 32 MB in float32
_MARGIN_ENTRIES = 1 << 25  # pairwise decisions held at once when measuring margins


def _stratified_sample(y: np.ndarray, size: int, rng: np.random.RandomState) -> np.ndarray:
    """Sorted indices of ``size`` rows drawn from each class in proportion (at least one)."""
    _, index = np.unique(y, return_inverse=True)
    counts = np.bincount(index)
    take = np.maximum(1, np.floor(counts * size / len(y)).astype(int))
    chosen = [
        rng.choice(np.flatnonzero(index == c), size=min(k, n), replace=False)
        for c, (k, n) in enumerate(zip(take, counts, strict=True))
    ]
    return np.sort(np.concatenate(chosen))


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
    max_train : int, optional
        Most training rows the exact solver sees at once (None: every row). With more
        rows, the SVM is fitted on a seeded stratified sample of ``max_train`` of them,
        then, ``refine`` times, refitted on its support vectors and the rows left out
        that violate its margins most (the working-set idea of decomposition solvers),
        so its cost stays that of ``max_train`` rows while the rows it gets wrong
        still shape it.
    refine : int, default=1
        Refits on the support vectors and the worst violators, when rows are left out.
    blend_with : classifier, optional
        When rows are left out, a classifier that scales to every row (one with per-class
        scores from ``decision_function``, such as
        :class:`~shallowvision.models.NystroemRidgeClassifier`): a clone of it is fitted
        on every row, and each pairwise decision becomes the SVM's plus ``blend_weight``
        times the difference of the two classes' scores.
    blend_weight : float, default=0.5
        The blended classifier's weight. Choose it on a validation split: rows held out
        of the training rows say nothing when these are augmented copies of each other
        (the SVM has seen a copy of nearly every one). 0.5 was the best of 0 to 1 for
        kernel ridge beside an SVM on 59.5% of Fashion-MNIST's training images, on its
        validation images (benchmarks/RESULTS.md).
    random_state : int, optional
        Seed of the first sample when rows are left out.
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
    n_train_ : int
        Rows of the last exact fit.
    n_refined_ : int
        Refits on margin violators made.
    blended_ : classifier or None
        The fitted clone of ``blend_with`` (None when every row was the SVM's).
    """

    def __init__(
        self,
        *,
        C: float = 1.0,
        gamma: str | float = "scale",
        gamma_scale: float = 1.0,
        tol: float = 1e-3,
        cache_size: float = 1000,
        decision_function_shape: str = "ovr",
        solver: str = "auto",
        max_train: int | None = None,
        refine: int = 1,
        blend_with: BaseEstimator | None = None,
        blend_weight: float = 0.5,
        random_state: int | None = None,
        n_jobs: int | None = None,
    ) -> None:
        self.C = C
        self.gamma = gamma
        self.gamma_scale = gamma_scale
        self.tol = tol
        self.cache_size = cache_size
        self.decision_function_shape = decision_function_shape
        self.solver = solver
        self.max_train = max_train
        self.refine = refine
        self.blend_with = blend_with
        self.blend_weight = blend_weight
        self.random_state = random_state
        self.n_jobs = n_jobs

    def fit(self, X, y):
        X, y = validate_data(self, X, y, dtype=(np.float64, np.float32))
        check_classification_targets(y)
        if self.decision_function_shape not in ("ovr", "ovo"):
            raise ConfigError(
                f"decision_function_shape must be 'ovr' or 'ovo', got {self.decision_function_shape!r}"
            )
        if self.solver not in _SOLVERS:
            raise ConfigError(f"solver must be one of {', '.join(_SOLVERS)}, got {self.solver!r}")
        self.gamma_ = rbf_gamma(X, self.gamma, self.gamma_scale)
        self.solver_ = self.solver
        if self.solver == "auto":
            self.solver_ = "sklearnex" if has_module("sklearnex") else "libsvm"
        if self.max_train is not None:
            check_positive_int(self.max_train, "max_train")
        check_positive_int(self.refine, "refine", minimum=0)
        if not (isinstance(self.blend_weight, Real) and self.blend_weight >= 0):
            raise ConfigError(f"blend_weight must be a number >= 0, got {self.blend_weight!r}")
        self.blended_ = None
        if self.max_train is None or len(X) <= self.max_train:
            self._fit_exact(X, y)
            self.n_train_, self.n_refined_ = len(X), 0
            return self
        working = _stratified_sample(y, self.max_train, check_random_state(self.random_state))
        self.n_refined_ = 0
        for round_ in range(self.refine + 1):
            support = self._fit_exact(X[working], y[working])
            if round_ == self.refine:
                break
            # The rows left out that violate the margins, the worst first.
            margins = self._margins(X, y)
            margins[working] = np.inf
            violators = np.flatnonzero(margins < 1.0)
            if not len(violators):
                break
            kept = working[support]
            room = max(self.max_train - len(kept), 0)
            worst = violators[np.argsort(margins[violators], kind="stable")[:room]]
            working = np.union1d(kept, worst)
            self.n_refined_ += 1
        self.n_train_ = len(working)
        if self.blend_with is not None:
            self.blended_ = clone(self.blend_with).fit(X, y)
        return self

    def _fit_exact(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Fit the exact solver on ``X``; the indices of its support vectors in ``X``."""
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
        return np.asarray(svc.support_)

    def _margins(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Each row's smallest margin over the pairwise decisions of its own class
        (below 1: inside a margin or on the wrong side), in chunks of rows."""
        classes = self.classes_
        first, second = np.triu_indices(len(classes), k=1)
        # sign[p, c]: +1 when class c is the pair's first, -1 its second, 0 neither.
        sign = np.zeros((len(first), len(classes)), dtype=X.dtype)
        sign[np.arange(len(first)), first] = 1.0
        sign[np.arange(len(first)), second] = -1.0
        index = np.searchsorted(classes, y)
        out = np.empty(len(X))
        rows = max(1, _MARGIN_ENTRIES // max(len(first), 1))
        for start in range(0, len(X), rows):
            part = slice(start, start + rows)
            signs = sign[:, index[part]].T
            signed = self._pairwise(X[part]) * signs
            signed[signs == 0] = np.inf
            out[part] = signed.min(axis=1)
        return out

    def _pairwise(self, X: np.ndarray) -> np.ndarray:
        """The one-vs-one decisions ``(n, n_pairs)``, blended when a classifier is;
        positive favours the pair's first class."""
        out = self._svm_pairwise(X)
        if getattr(self, "blended_", None) is not None:  # files saved before blends lack it
            out += self.blend_weight * _score_differences(self.blended_, X).astype(out.dtype)
        return out

    def _svm_pairwise(self, X: np.ndarray) -> np.ndarray:
        """The SVM's one-vs-one decisions ``(n, n_pairs)``."""
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
        return self.classes_[_votes(self._pairwise(X), len(self.classes_))]


def _votes(pairwise: np.ndarray, n_classes: int) -> np.ndarray:
    """The class index each row's pairwise decisions vote for, ties to the lower class."""
    first, second = np.triu_indices(n_classes, k=1)
    votes = np.zeros((len(pairwise), n_classes), dtype=np.intp)
    wins = pairwise > 0
    for p in range(len(first)):
        votes[:, first[p]] += wins[:, p]
        votes[:, second[p]] += ~wins[:, p]
    return np.argmax(votes, axis=1)


def _score_differences(classifier, X: np.ndarray) -> np.ndarray:
    """``(n, n_pairs)``: for each pair of classes, the first's score less the second's."""
    scores = classifier.decision_function(X)
    if scores.ndim == 1:  # two classes: positive favours the second
        return -scores[:, None]
    first, second = np.triu_indices(scores.shape[1], k=1)
    return scores[:, first] - scores[:, second]


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
