"""Kernel ridge classification on Nystroem landmarks: an RBF machine whose size follows the data."""

from __future__ import annotations

from numbers import Real
from typing import Self

import numpy as np
from joblib import effective_n_jobs
from scipy import linalg
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from shallowvision._threads import map_in_threads
from shallowvision.exceptions import ConfigError, DataError
from shallowvision.features._base import check_positive_int
from shallowvision.features._kernels import distance_weights, rbf_gamma, with_norms

__all__ = ["NystroemRidgeClassifier", "auto_cells", "auto_landmarks"]

#: Kernel entries of one (rows, landmarks) block, per thread: 16 MB in float32, small
#: enough that the passes over a block after its product run from the cache.
_BLOCK_ENTRIES = 1 << 22
_SOLVERS = ("auto", "direct", "cg")
#: Landmarks up to which the direct solve is the cheaper one: it costs n * m^2, an
#: iteration of conjugate gradients reads the cached kernel, n * m. On 54,000 images
#: (100 features, 2 cores): 1,000 landmarks 1.5 s direct against 1.7 s by conjugate
#: gradients, 2,000 4.0-4.5 s against 2.8-3.6 s, 3,000 9.4 s against 5.3 s.
_DIRECT_MAX = 1500
#: The preconditioner's Gram matrix comes from this many rows per landmark: more when
#: every iteration recomputes the kernel, where an iteration saved pays for a larger
#: sample. On 756,000 shifted Fashion-MNIST images and 10,600 landmarks: 4 rows, 81 s
#: and 7 iterations of 28 s; 6 rows, 113 s and 5 iterations. With the kernel kept (60,000
#: images, 3,000 landmarks) 6 rows saved two iterations and cost 0.7 s more.
_PRECONDITIONER_ROWS = 4
_PRECONDITIONER_ROWS_RECOMPUTED = 6
#: n_components="auto": AUTO_MIN landmarks up to AUTO_AT images, then growing as the
#: images to the power AUTO_POWER, at most AUTO_MAX. On shifted replicas of
#: Fashion-MNIST (benchmarks/RESULTS.md), 2,000 landmarks growing as the square root
#: left 840,000 images below 70,000, and about 10,800 at 756,000 let more data help; one
#: conjugate-gradient pass costs images x landmarks. 3,000 at 54,000 images scored 0.4
#: points above 2,000 on a validation split of Fashion-MNIST in the same time, once
#: conjugate gradients kept the kernel (10,600 at 756,000).
AUTO_MIN, AUTO_AT, AUTO_POWER, AUTO_MAX = 3000, 60_000, 1 / 2, 12_000
#: n_cells="auto": one cell below CELLS_FROM rows (where one system needs about 6,000
#: landmarks), then one per CELL_ROWS rows; each cell's n_components="auto" is one
#: landmark per CELL_ROWS_PER_LANDMARK of its rows, at most CELL_MAX_LANDMARKS (a
#: preconditioner costs its landmarks cubed). On 756,000 shifted Fashion-MNIST images
#: (benchmarks/RESULTS.md): 8 cells and 36,800 landmarks in 153 s, 0.9212 test accuracy,
#: against one system of 10,600 landmarks, 0.9154; 16 and 32 cells lost at their borders.
CELLS_FROM, CELL_ROWS, CELL_ROWS_PER_LANDMARK, CELL_MAX_LANDMARKS = 250_000, 100_000, 20, 6000
#: Rows the cells' k-means centres are fitted on.
_CELL_SAMPLE = 50_000


def auto_landmarks(n_samples: int) -> int:
    """The landmarks ``n_components="auto"`` chooses for ``n_samples`` training rows of
    one system."""
    m = AUTO_MIN * (max(n_samples, 1) / AUTO_AT) ** AUTO_POWER
    return int(min(AUTO_MAX, max(AUTO_MIN, round(m / 100) * 100), n_samples))


def auto_cells(n_samples: int) -> int:
    """The cells ``n_cells="auto"`` splits ``n_samples`` training rows into."""
    return 1 if n_samples < CELLS_FROM else max(2, round(n_samples / CELL_ROWS))


def largest_system(n_samples: int) -> int:
    """The landmarks of the largest system ``"auto"`` solves for ``n_samples`` rows (a
    cell can hold twice its share of them)."""
    cells = auto_cells(n_samples)
    if cells == 1:
        return auto_landmarks(n_samples)
    return min(CELL_MAX_LANDMARKS, 2 * n_samples // cells // CELL_ROWS_PER_LANDMARK)


class _Breakdown(ArithmeticError):
    """Conjugate gradients lost the system's positive definiteness (non-finite steps)."""


def _cholesky_with_jitter(matrix: np.ndarray) -> np.ndarray:
    """The upper Cholesky factor of ``matrix`` (read from its upper triangle) plus the
    smallest diagonal jitter that makes it positive definite when landmarks nearly
    coincide; the jitter is added to ``matrix`` in place."""
    diagonal = np.diag_indices_from(matrix)
    scale = float(np.trace(matrix)) / len(matrix)
    added = 0.0
    for exponent in range(-13, 0, 2):
        jitter = 10.0**exponent * scale
        matrix[diagonal] += jitter - added
        added = jitter
        try:
            return linalg.cholesky(matrix, lower=False, check_finite=False)
        except linalg.LinAlgError:
            continue
    raise linalg.LinAlgError("the preconditioner is not positive definite")


class NystroemRidgeClassifier(ClassifierMixin, BaseEstimator):
    """One-vs-all ridge classification with an RBF kernel restricted to random landmarks.

    The decision function is ``f(x) = sum_j a_j k(x, l_j) + b`` over ``m`` landmarks
    ``l_j`` drawn from the training images, with ``a`` minimising
    ``||K_nm a + b - Y||^2 + alpha * a' K_mm a`` for targets ``Y`` in {-1, 1}. That is
    exactly :class:`~sklearn.linear_model.RidgeClassifier` on the features of
    :class:`~sklearn.kernel_approximation.Nystroem`, solved without the
    ``K_mm^(-1/2)`` factor, in bounded memory, with BLAS throughout:

    - ``solver="direct"`` accumulates ``K_mn K_nm`` batch by batch and solves one
      ``m x m`` system: ``n m^2`` work, the cheaper way for a few thousand landmarks;
    - ``solver="cg"`` runs preconditioned conjugate gradients on the same system
      (as FALKON does, Rudi, Carratino and Rosasco, 2017): each iteration reads the
      kernel once (kept in ``cache_size`` megabytes, or recomputed block by block at
      ``n m (d + classes)``), linear in the rows, and the preconditioner, the exact
      system on a seeded sample of ``4 m`` rows (``6 m`` when the kernel is recomputed)
      scaled to ``n``, brings convergence in
      under ten iterations, started from the sample's own solution.

    Predicting is one kernel block and one matrix product per batch of images.

    With ``n_cells`` above one, the rows are first split into cells by k-means (fitted on
    a seeded sample of 50,000 rows), and each cell gets its own kernel ridge on its own
    landmarks, drawn from its rows: many more landmarks in all for the time of one
    system, since a system's cost grows as its rows times its landmarks and as its
    landmarks cubed. An image is scored by the ridge of its nearest centre (a class that
    cell never saw scores below every class it did).

    Parameters
    ----------
    n_components : int or "auto", default=2000
        Landmarks (capped by the number of training samples). ``"auto"`` grows them
        with the training rows: 3,000 up to 60,000 rows, then as the square root of
        the rows (6,100 at 252,000, 10,600 at 756,000), at most 12,000 (see
        :func:`auto_landmarks`).
    gamma : "scale" or float, default="scale"
        RBF width; ``"scale"`` is ``gamma_scale / (n_features * X.var())``, as
        :class:`sklearn.svm.SVC` uses.
    gamma_scale : float, default=1.0
        Multiplies the ``"scale"`` width.
    alpha : float, default=0.01
        Ridge penalty, in the units of ``RidgeClassifier(alpha)`` on Nystroem features.
    solver : {"auto", "direct", "cg"}, default="auto"
        ``"auto"`` solves directly up to 1,500 landmarks, by conjugate gradients above.
    max_iter : int, default=30
        Most conjugate-gradient iterations.
    tol : float, default=1e-3
        Conjugate gradients stop when every class's preconditioned residual has fallen
        below this share of where it started.
    cache_size : float, default=1024
        Megabytes for the kernel between the training rows and the landmarks: when it
        fits, conjugate gradients compute it once and reuse it every iteration (54,000
        images and 4,000 landmarks, 864 MB: 9.8 s instead of 14.8 s); when it does not,
        each iteration recomputes it block by block in bounded memory.
    n_cells : int or "auto", default=1
        Cells the rows are split into, each with its own ridge. ``"auto"``: one below
        250,000 rows, then one per 100,000 rows (8 at 756,000), each cell's
        ``n_components="auto"`` being one landmark per 20 of its rows, at most 6,000 (see
        :func:`auto_cells`). An integer ``n_components`` is shared among the cells by
        their rows.
    random_state : int, optional
        Seed of the landmark draw, of the preconditioner's sample and of the cells.
    n_jobs : int, optional
        Threads computing kernel blocks (None: one, -1: every core), each with
        single-threaded BLAS.

    Attributes
    ----------
    classes_ : ndarray
    landmarks_ : ndarray of shape (n_landmarks, n_features)
        With one cell.
    n_components_ : int
        Landmarks used (in all the cells).
    n_cells_ : int
    centres_ : ndarray of shape (n_cells, n_features)
        The cells' k-means centres, with more than one cell.
    cells_ : list or None
        Each cell's fitted ridge, or None for a cell whose rows hold one class
        (``cell_classes_`` gives it); None with one cell.
    solver_ : str
        The solver used: "direct", "cg", or "cg-float64" (conjugate gradients with
        float64 products, after those in float32 broke down).
    n_iter_ : int
        Conjugate-gradient iterations (0 when their start already meets ``tol``; 1 for the
        direct solve, as scikit-learn counts one solve); the most of any cell.
    dual_coef_ : ndarray of shape (n_landmarks, n_outputs)
        With one cell, as ``intercept_``.
    intercept_ : ndarray of shape (n_outputs,)
    gamma_ : float
    """

    cells_: list[NystroemRidgeClassifier | None] | None

    def __init__(
        self,
        *,
        n_components: int | str = 2000,
        gamma: str | float = "scale",
        gamma_scale: float = 1.0,
        alpha: float = 0.01,
        solver: str = "auto",
        max_iter: int = 30,
        tol: float = 1e-3,
        cache_size: float = 1024,
        n_cells: int | str = 1,
        random_state: int | None = None,
        n_jobs: int | None = None,
    ) -> None:
        self.n_components = n_components
        self.gamma = gamma
        self.gamma_scale = gamma_scale
        self.alpha = alpha
        self.solver = solver
        self.max_iter = max_iter
        self.tol = tol
        self.cache_size = cache_size
        self.n_cells = n_cells
        self.random_state = random_state
        self.n_jobs = n_jobs

    def fit(self, X, y):
        X, y = validate_data(self, X, y, dtype=(np.float32, np.float64))
        check_classification_targets(y)
        if self.n_components != "auto":
            check_positive_int(self.n_components, "n_components")
        check_positive_int(self.max_iter, "max_iter")
        if not self.alpha > 0:
            raise ConfigError(f"alpha must be positive, got {self.alpha!r}")
        if not self.tol > 0:
            raise ConfigError(f"tol must be positive, got {self.tol!r}")
        size = self.cache_size
        if isinstance(size, bool) or not isinstance(size, Real) or not size >= 0:
            raise ConfigError(
                f"cache_size must be a non-negative number of MB, got {self.cache_size!r}"
            )
        if self.solver not in _SOLVERS:
            raise ConfigError(f"solver must be one of {', '.join(_SOLVERS)}, got {self.solver!r}")
        self.gamma_ = rbf_gamma(X, self.gamma, self.gamma_scale)
        binarizer = LabelBinarizer(pos_label=1, neg_label=-1)
        Y = binarizer.fit_transform(y).astype(np.float64)
        self.classes_ = binarizer.classes_
        if len(self.classes_) < 2:
            raise DataError(
                f"NystroemRidgeClassifier needs samples of at least 2 classes; got 1 class ({self.classes_[0]!r})"
            )
        n = len(X)
        if self.n_cells != "auto":
            check_positive_int(self.n_cells, "n_cells")
        cells = min(auto_cells(n) if self.n_cells == "auto" else self.n_cells, n)
        rng = check_random_state(self.random_state)
        self.n_cells_ = cells
        if cells > 1:
            return self._fit_cells(X, y, rng)
        self.cells_ = None
        wanted = auto_landmarks(n) if self.n_components == "auto" else self.n_components
        order = rng.permutation(n)
        self.landmarks_ = X[np.sort(order[:wanted])]
        self.n_components_ = m = len(self.landmarks_)
        self._weights = distance_weights(self.landmarks_, -self.gamma_, X.dtype)
        self.solver_ = self.solver
        if self.solver == "auto":
            self.solver_ = "direct" if m <= _DIRECT_MAX else "cg"
        # Conjugate gradients read the kernel every iteration: kept whole when it fits.
        self._cache = self._cached_kernel(X) if self.solver_ == "cg" else None
        try:
            kernel_mm = self._kernel(self.landmarks_)
            if self.solver_ == "direct":
                mean_k, coef = self._solve_direct(X, Y, kernel_mm.astype(np.float64))
                self.n_iter_ = 1
            else:
                # The preconditioner's sample: the landmarks and more rows.
                per_landmark = (
                    _PRECONDITIONER_ROWS
                    if self._cache is not None
                    else _PRECONDITIONER_ROWS_RECOMPUTED
                )
                sample = np.sort(order[: per_landmark * m])
                mean_k, coef = self._solve_cg_or_direct(X, Y, kernel_mm, sample)
        finally:
            del self._cache
        self.dual_coef_ = coef.astype(X.dtype)
        self.intercept_ = (Y.mean(axis=0) - mean_k @ coef).astype(X.dtype)
        return self

    # -- cells ------------------------------------------------------------------------------
    def _fit_cells(self, X: np.ndarray, y: np.ndarray, rng: np.random.RandomState) -> Self:
        """k-means cells of the rows, then a ridge on each cell's rows, in turn."""
        from sklearn.base import clone
        from sklearn.cluster import KMeans

        n, cells = len(X), self.n_cells_
        sample = np.sort(rng.permutation(n)[:_CELL_SAMPLE])
        kmeans = KMeans(cells, n_init=1, random_state=rng.randint(2**31)).fit(X[sample])
        self.centres_ = kmeans.cluster_centers_.astype(X.dtype)
        cell = self._cell_of(X)
        for stale in ("landmarks_", "dual_coef_", "intercept_"):  # of an earlier fit
            self.__dict__.pop(stale, None)
        self.cells_ = []
        self.cell_classes_ = np.full(cells, -1)
        iterations, solvers = [0], []
        for c in range(cells):
            rows = np.flatnonzero(cell == c)
            seen = np.unique(y[rows])
            if len(seen) < 2:  # one class (or no row: its centre came from no image here)
                self.cells_.append(None)
                self.cell_classes_[c] = np.searchsorted(self.classes_, seen[0]) if len(seen) else 0
                continue
            if self.n_components == "auto":
                wanted = min(CELL_MAX_LANDMARKS, max(1, len(rows) // CELL_ROWS_PER_LANDMARK))
            else:
                wanted = max(1, round(int(self.n_components) * len(rows) / n))
            ridge = clone(self).set_params(
                n_cells=1,
                n_components=wanted,
                gamma=self.gamma_,
                gamma_scale=1.0,
                random_state=rng.randint(2**31),
            )
            self.cells_.append(ridge.fit(X[rows], y[rows]))
            iterations.append(ridge.n_iter_)
            solvers.append(ridge.solver_)
        self.n_components_ = sum(r.n_components_ for r in self.cells_ if r is not None)
        self.n_iter_ = max(iterations)
        self.solver_ = next((s for s in ("cg-float64", "cg") if s in solvers), "direct")
        return self

    def _cell_of(self, X: np.ndarray) -> np.ndarray:
        """The cell of each row: its nearest centre."""
        weights = distance_weights(self.centres_, 1.0, X.dtype)
        return np.concatenate(
            [
                np.argmin(with_norms(X[start : start + 65536]) @ weights, axis=1)
                for start in range(0, len(X), 65536)
            ]
        )

    def _cells_decision(self, X: np.ndarray) -> np.ndarray:
        """Each row scored by its cell's ridge, in columns of every class."""
        k = len(self.classes_)
        scores = np.empty((len(X), 1 if k == 2 else k), dtype=self.centres_.dtype)
        cell = self._cell_of(X)
        for c, ridge in enumerate(self.cells_ or ()):
            rows = np.flatnonzero(cell == c)
            if not len(rows):
                continue
            if ridge is None:  # its one class scores 1, the others -1, as ridge targets
                mine = self.cell_classes_[c]
                part = np.full((len(rows), k), -1.0)
                part[:, mine] = 1.0
            else:
                own = ridge.decision_function(X[rows])
                if own.ndim == 1:  # two classes: the second's score, the first's its negative
                    own = np.column_stack([-own, own])
                part = np.empty((len(rows), k))
                # A class the cell never saw scores below every class it did.
                part[:] = own.min(axis=1, keepdims=True) - 1.0
                part[:, np.searchsorted(self.classes_, ridge.classes_)] = own
            scores[rows] = part[:, 1:] if k == 2 else part
        return scores

    # -- the kernel, by blocks --------------------------------------------------------------
    def _kernel(self, X: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """``k(x, l)`` for every row of ``X`` and every landmark, in ``X``'s dtype (into
        ``out`` when given)."""
        block = np.matmul(
            with_norms(X.astype(self._weights.dtype, copy=False)), self._weights, out=out
        )
        # Rounding can leave a distance slightly negative, a kernel value a hair above 1:
        # harmless to ridge regression, and a clipping pass would cost a tenth of the time.
        return np.exp(block, out=block)

    def _cached_kernel(self, X: np.ndarray) -> np.ndarray | None:
        """The whole ``(n, m)`` kernel when it fits in ``cache_size`` megabytes, else None."""
        n, m = len(X), len(self.landmarks_)
        if n * m * self._weights.itemsize > self.cache_size * 2**20:
            return None
        kernel = np.empty((n, m), dtype=self._weights.dtype)
        batch = self._batch()

        def block(start: int) -> None:
            rows = slice(start, start + batch)
            self._kernel(X[rows], out=kernel[rows])

        map_in_threads(block, range(0, n, batch), self.n_jobs, single_threaded_blas=True)
        return kernel

    def _batch(self) -> int:
        """Rows of a kernel block: at most ``_BLOCK_ENTRIES`` entries."""
        return int(np.clip(_BLOCK_ENTRIES // max(len(self.landmarks_), 1), 256, 4096))

    def _over_batches(self, fn, X: np.ndarray):
        """``fn(kernel_block, rows)`` summed over every batch of ``X``.

        Each thread sums its own share of the batches (single-threaded BLAS), so the
        memory is one running total per thread whatever the number of rows.
        """
        if self._cache is not None:  # one call on the whole kernel, BLAS on every core
            return fn(self._cache, slice(0, len(X)))
        batch = self._batch()
        starts = np.arange(0, len(X), batch)
        workers = min(effective_n_jobs(self.n_jobs), len(starts))

        def share(batch_starts: np.ndarray):
            total = None
            for start in batch_starts:
                rows = slice(int(start), int(start) + batch)
                part = fn(self._kernel(X[rows]), rows)
                if total is None:
                    total = part
                else:
                    for t, p in zip(total, part, strict=True):
                        t += p
            return total

        if workers <= 1:
            return share(starts)
        shares = np.array_split(starts, workers)
        parts = [
            p for p in map_in_threads(share, shares, self.n_jobs, single_threaded_blas=True) if p
        ]
        total = parts[0]
        for part in parts[1:]:
            for t, p in zip(total, part, strict=True):
                t += p
        return total

    def _first_pass(
        self, X: np.ndarray, Y: np.ndarray, start: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """Mean kernel column ``(m,)``, ``K_c' Y_c`` ``(m, outputs)`` (kernel columns and
        targets centred, which leaves the intercept unpenalised) and, given ``start``,
        ``K_mn K_nm start`` from the same kernel blocks; in float64."""
        Y32 = Y.astype(X.dtype)
        start32 = None if start is None else start.astype(self._weights.dtype)

        def sums(block: np.ndarray, rows: slice):
            targets = Y32[rows] if start32 is None else np.hstack([Y32[rows], block @ start32])
            return (block.sum(axis=0, dtype=np.float64), (block.T @ targets).astype(np.float64))

        column_sums, products = self._over_batches(sums, X)
        n, outputs = len(X), Y.shape[1]
        mean_k = column_sums / n
        cross = products[:, :outputs] - n * np.outer(mean_k, Y.mean(axis=0))
        return mean_k, cross, None if start is None else products[:, outputs:]

    def _solve_direct(
        self, X: np.ndarray, Y: np.ndarray, kernel_mm: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """The mean kernel column and the coefficients, from the whole system."""
        mean_k, cross, _ = self._first_pass(X, Y)

        def gram(block: np.ndarray, rows: slice):
            # In float64: a float32 Gram matrix loses the small eigenvalues the solve needs.
            block = block.astype(np.float64)
            return (block.T @ block,)

        (system,) = self._over_batches(gram, X)
        system -= len(X) * np.outer(mean_k, mean_k)
        system += self.alpha * kernel_mm
        # A tiny jitter keeps the system positive definite when landmarks nearly coincide.
        m = len(system)
        system[np.diag_indices_from(system)] += 1e-10 * float(np.trace(system)) / m
        try:
            return mean_k, linalg.solve(system, cross, assume_a="pos", overwrite_a=True)
        except linalg.LinAlgError:
            return mean_k, linalg.lstsq(system, cross)[0]

    def _solve_cg_or_direct(
        self, X: np.ndarray, Y: np.ndarray, kernel_mm: np.ndarray, rows: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Conjugate gradients in ``X``'s dtype; after a breakdown, again with float64
        products; after a second one, the direct solve.

        A breakdown means the products lost the system's definiteness (landmarks so alike
        that their differences are below float32's resolution). Float64 products cost
        about twice as much per iteration; the direct solve costs ``n m^2``, at 756,000
        rows and 10,600 landmarks about an hour on two cores where an iteration takes
        under a minute.
        """
        try:
            mean_k, coef, self.n_iter_ = self._solve_cg(X, Y, kernel_mm, rows)
            return mean_k, coef
        except _Breakdown:
            pass
        if X.dtype != np.float64:
            self._cache, products = None, self._weights
            self._weights = distance_weights(self.landmarks_, -self.gamma_, np.float64)
            try:
                mean_k, coef, self.n_iter_ = self._solve_cg(
                    X, Y, self._kernel(self.landmarks_), rows
                )
                self.solver_ = "cg-float64"
                return mean_k, coef
            except _Breakdown:
                pass
            finally:
                self._weights = products
        self.solver_, self.n_iter_ = "direct", 1
        return self._solve_direct(X, Y, kernel_mm.astype(np.float64))

    def _solve_cg(
        self, X: np.ndarray, Y: np.ndarray, kernel_mm: np.ndarray, rows: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, int]:
        """Conjugate gradients on ``H a = K_c' Y_c``, ``H = K_c' K_c + alpha K_mm``, each
        output column its own system, preconditioned by ``H`` on a sample of rows and
        started from the sample's own solution; returns the mean kernel column, the
        coefficients and the iterations."""
        n, sample, m = len(X), len(rows), len(kernel_mm)
        # The sample's Gram matrix, upper triangle only (all Cholesky reads), in float64:
        # in float32 the small eigenvalues the preconditioner must capture are lost.
        # One m x m total, so the batches run in turn with BLAS on every core.
        sample_gram = np.zeros((m, m), order="F")
        sample_sums = np.zeros(m)
        sample_cross = np.zeros((m, Y.shape[1]))
        batch = self._batch()
        for start in range(0, sample, batch):
            chosen = rows[start : start + batch]
            block = self._kernel(X[chosen]) if self._cache is None else self._cache[chosen]
            block = block.astype(np.float64)
            # block' block added to the upper triangle (block.T is Fortran-ordered: no copy).
            linalg.blas.dsyrk(1.0, block.T, beta=1.0, c=sample_gram, overwrite_c=True)
            sample_sums += block.sum(axis=0)
            sample_cross += block.T @ Y[chosen]
        sample_mean = sample_sums / sample
        scale = n / sample
        sample_cross -= sample * np.outer(sample_mean, Y[rows].mean(axis=0))
        for start in range(0, m, batch):  # the rest, a band of rows at a time
            band = slice(start, start + batch)
            sample_gram[band] -= sample * np.outer(sample_mean[band], sample_mean)
            sample_gram[band] *= scale
            sample_gram[band] += self.alpha * kernel_mm[band]
        # The products run in X's dtype, so directions of H below its resolution are
        # noise: without a ridge at that level, landmarks nearly alike (shifted copies of
        # the same images) leave the preconditioner inverting that noise and the
        # iterations diverge. System and preconditioner both get it; in float32 it moved
        # test accuracy by 0.0002 on Fashion-MNIST and let 120,000 shifted copies
        # converge in 8 iterations instead of breaking down.
        dtype = self._weights.dtype  # of the products: X's, or float64 after a breakdown
        ridge = np.finfo(dtype).eps * float(np.trace(sample_gram)) / m
        sample_gram[np.diag_indices_from(sample_gram)] += ridge
        factor = _cholesky_with_jitter(sample_gram)
        del sample_gram

        def precondition(v: np.ndarray) -> np.ndarray:  # P^-1 v with P = R'R
            inner = linalg.solve_triangular(factor, v, trans="T", check_finite=False)
            return linalg.solve_triangular(factor, inner, check_finite=False)

        # The sample's own solution is where the iterations start: the first pass over
        # the rows then also gives its product with H, and the iterations start nearer
        # (on 756,000 shifted Fashion-MNIST images, 7 instead of 9, a pass each).
        coef = precondition(scale * sample_cross)
        if not np.isfinite(coef).all():
            raise _Breakdown
        mean_k, cross, data = self._first_pass(X, Y, coef)

        def system(V: np.ndarray, data: np.ndarray | None = None) -> np.ndarray:
            """H V; ``data``, the data term K_mn K_nm V, computed by kernel blocks if not given."""
            V32 = V.astype(dtype)

            def product(block: np.ndarray, _rows: slice):
                return ((block.T @ (block @ V32)).astype(np.float64),)

            out = self._over_batches(product, X)[0] if data is None else data
            out -= n * np.outer(mean_k, mean_k @ V)
            out += self.alpha * (kernel_mm @ V32)
            out += ridge * V
            return out

        residual = cross - system(coef, data)
        z = precondition(residual)
        direction = z.copy()
        rz = (residual * z).sum(axis=0)
        # The tolerance is a share of the residual at zero, whatever the start.
        start = np.sqrt(np.maximum((cross * precondition(cross)).sum(axis=0), 1e-300))
        iterations = 0
        # A step that overflows means the products lost the system's definiteness.
        with np.errstate(over="raise", invalid="raise"):
            try:
                if not np.isfinite(rz).all():
                    raise _Breakdown
                if np.all(np.sqrt(np.maximum(rz, 0.0)) <= self.tol * start):
                    return mean_k, coef, iterations
                for iterations in range(1, self.max_iter + 1):  # noqa: B007
                    product = system(direction)
                    step = rz / np.maximum((direction * product).sum(axis=0), 1e-300)
                    coef += step * direction
                    residual -= step * product
                    z = precondition(residual)
                    rz_next = (residual * z).sum(axis=0)
                    # scipy's triangular solves do not raise on overflow: checked here.
                    if not np.isfinite(rz_next).all():
                        raise _Breakdown
                    if np.all(np.sqrt(np.maximum(rz_next, 0.0)) <= self.tol * start):
                        break
                    direction = z + (rz_next / np.maximum(rz, 1e-300)) * direction
                    rz = rz_next
            except FloatingPointError:
                raise _Breakdown from None
        return mean_k, coef, iterations

    # -- prediction -------------------------------------------------------------------------
    def decision_function(self, X) -> np.ndarray:
        """Per-class scores ``(n, n_classes)``, or ``(n,)`` for two classes."""
        check_is_fitted(self, "classes_")
        X = validate_data(self, X, reset=False, dtype=(np.float32, np.float64))
        if getattr(self, "cells_", None) is not None:
            scores = self._cells_decision(X)
            return scores.ravel() if scores.shape[1] == 1 else scores
        scores = np.empty((len(X), self.dual_coef_.shape[1]), dtype=self.dual_coef_.dtype)

        batch = self._batch()

        def block(start: int) -> None:
            rows = slice(start, start + batch)
            np.matmul(self._kernel(X[rows]), self.dual_coef_, out=scores[rows])
            scores[rows] += self.intercept_

        map_in_threads(block, range(0, len(X), batch), self.n_jobs, single_threaded_blas=True)
        return scores.ravel() if scores.shape[1] == 1 else scores

    def predict(self, X) -> np.ndarray:
        scores = self.decision_function(X)
        if scores.ndim == 1:
            return self.classes_[(scores > 0).astype(int)]
        return self.classes_[np.argmax(scores, axis=1)]
