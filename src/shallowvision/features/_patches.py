"""Patch features learnt by k-means, as Coates, Lee and Ng (2011) describe them.

Small patches of the training images are normalised for brightness and contrast,
whitened (ZCA) and clustered by k-means. An image is then described, at every patch
position, by the "triangle" activation of each centroid (how much closer the patch is
to it than to the average centroid), summed over a coarse grid of regions. Nothing is
learnt from the labels: the dictionary is a k-means clustering, the encoding a fixed
formula. Colour images give patches of ``p x p x 3`` values, normalised and whitened
together, so the dictionary learns coloured edges and blobs as Coates et al. did on
CIFAR-10.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.cluster import KMeans
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from shallowvision._threads import map_in_threads
from shallowvision.exceptions import ConfigError
from shallowvision.features._base import ImageShapeMixin, check_positive_int

__all__ = ["PatchKMeansTransformer"]

# Activations encoded at once (positions x centroids): 8 images' 576 positions by 400
# centroids, 7 MB in float32, cache-sized; more images when there are fewer centroids or
# positions, fewer for larger images.
_CHUNK_ACTIVATIONS = 8 * 576 * 400


def _normalise(patches: np.ndarray, eps: float | np.floating) -> np.ndarray:
    """Each patch (a row) less its mean, over its standard deviation softened by ``eps``."""
    patches = patches - patches.mean(axis=1, keepdims=True)
    patches /= np.sqrt((patches * patches).mean(axis=1, keepdims=True) + eps)
    return patches


def _window_sums(images: np.ndarray, p: int) -> np.ndarray:
    """Sums of ``(n, height, width[, channels])`` images over every ``p x p`` window (and
    its channels): ``(n, height - p + 1, width - p + 1)``, rows then columns."""
    if images.ndim == 4:
        images = images.sum(axis=3)
    rows = images.shape[1] - p + 1
    cols = images.shape[2] - p + 1
    band = images[:, :rows].copy()
    for dy in range(1, p):
        band += images[:, dy : dy + rows]
    out = band[:, :, :cols].copy()
    for dx in range(1, p):
        out += band[:, :, dx : dx + cols]
    return out


def _encoded(grid: tuple[int, int], stride: int) -> tuple[int, int]:
    """Patch positions encoded down and across a ``grid`` of them, every ``stride``-th."""
    return (-(-grid[0] // stride), -(-grid[1] // stride))


def _pool_regions(activations: np.ndarray, pool: int) -> np.ndarray:
    """Sums of ``(n, rows, cols, k)`` activations over a ``pool x pool`` grid of regions.

    Band by band: a band's rows summed first, then its columns, region by region
    (faster than ``np.add.reduceat`` on these shapes).
    """
    n, rows, cols, k = activations.shape
    # Position r falls in region r * pool // rows: region i starts at ceil(i * rows / pool).
    row_edges = -(-np.arange(pool + 1) * rows // pool)
    col_edges = -(-np.arange(pool + 1) * cols // pool)
    out = np.empty((n, pool, pool, k), dtype=activations.dtype)
    for i in range(pool):
        band = activations[:, row_edges[i] : row_edges[i + 1]].sum(axis=1)
        for j in range(pool):
            out[:, i, j] = band[:, col_edges[j] : col_edges[j + 1]].sum(axis=1)
    return out


class PatchKMeansTransformer(
    ImageShapeMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator
):
    """Pooled k-means patch activations of flattened images (Coates, Lee and Ng, 2011).

    Parameters
    ----------
    n_clusters : int, default=400
        Centroids of the patch dictionary; each gives ``pool * pool`` features.
    patch_size : int, default=5
        Side of the square patches (clipped to the image); in colour a patch holds all
        three channels.
    pool : int, default=3
        The activations are summed over a ``pool x pool`` grid of regions.
    stride : int, default=1
        Pixels between encoded patch positions, down and across: 2 encodes about a
        quarter of the positions (the dictionary still learns from all of them).
    n_patches : int, default=100_000
        Random training patches the dictionary is learnt from.
    contrast_eps : float, default=0.01
        Added to each patch's variance before its contrast is normalised, so that flat
        background patches are not blown up into noise (pixels in [0, 1]).
    whiten_eps : float, default=0.1
        Regularisation of the ZCA whitening's eigenvalues.
    max_iter : int, default=50
        Iterations of k-means.
    random_state : int, optional
    image_shape : (height, width), (height, width, 3) or None
        Shape the rows were flattened from, channels last for colour; None means grey
        square images (a width that colour images have is refused: pass their shape).
    n_jobs : int, optional
        Threads encoding chunks of the batch in :meth:`transform` (None: one, -1: every core).

    Attributes
    ----------
    centroids_ : ndarray of shape (n_clusters, channels * patch_size ** 2)
        The dictionary, in whitened patch space (channels: 1 grey, 3 colour; a colour
        patch is flattened channel by channel).
    whitening_ : ndarray of shape (channels * patch_size ** 2, channels * patch_size ** 2)
    patch_mean_ : ndarray of shape (channels * patch_size ** 2,)
    n_iter_ : int
        Iterations k-means ran.
    n_output_features_ : int

    Notes
    -----
    The features are the square roots of the pooled sums, which evens out their
    scale across regions with much and little texture.
    """

    _spatial = True

    def __init__(
        self,
        *,
        n_clusters: int = 400,
        patch_size: int = 5,
        pool: int = 3,
        stride: int = 1,
        n_patches: int = 100_000,
        contrast_eps: float = 0.01,
        whiten_eps: float = 0.1,
        max_iter: int = 50,
        random_state: int | None = None,
        image_shape: tuple[int, ...] | None = None,
        n_jobs: int | None = None,
    ) -> None:
        self.n_clusters = n_clusters
        self.patch_size = patch_size
        self.pool = pool
        self.stride = stride
        self.n_patches = n_patches
        self.contrast_eps = contrast_eps
        self.whiten_eps = whiten_eps
        self.max_iter = max_iter
        self.random_state = random_state
        self.image_shape = image_shape
        self.n_jobs = n_jobs

    def fit(self, X, y=None):
        n_clusters = check_positive_int(self.n_clusters, "n_clusters")
        patch_size = check_positive_int(self.patch_size, "patch_size")
        pool = check_positive_int(self.pool, "pool")
        stride = check_positive_int(self.stride, "stride")
        n_patches = check_positive_int(self.n_patches, "n_patches")
        for name in ("contrast_eps", "whiten_eps"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ConfigError(f"{name} must be a positive number, got {value!r}")
        X = self._validate_images(X, reset=True, dtype=(np.float32, np.float64))
        images = self._images(X)
        h, w = self.image_shape_[:2]
        self.patch_size_ = min(patch_size, h, w)
        p = self.patch_size_
        grid = (h - p + 1, w - p + 1)
        self.stride_ = min(stride, *grid)
        self.pool_ = min(pool, *_encoded(grid, self.stride_))
        rng = check_random_state(self.random_state)
        count = min(n_patches, len(images) * grid[0] * grid[1])
        which = rng.randint(len(images), size=count)
        top = rng.randint(grid[0], size=count)
        left = rng.randint(grid[1], size=count)
        offsets = np.arange(p)
        patches = images[
            which[:, None, None],
            top[:, None, None] + offsets[None, :, None],
            left[:, None, None] + offsets[None, None, :],
        ]
        if patches.ndim == 4:  # colour: channel by channel, as transform's windows are
            patches = patches.transpose(0, 3, 1, 2)
        patches = patches.reshape(count, -1)
        patches = _normalise(patches.astype(np.float64), self.contrast_eps)
        self.patch_mean_ = patches.mean(axis=0)
        covariance = np.atleast_2d(np.cov(patches - self.patch_mean_, rowvar=False))
        eigenvalues, eigenvectors = np.linalg.eigh(covariance)
        eigenvalues = np.maximum(eigenvalues, 0.0)
        self.whitening_ = (eigenvectors / np.sqrt(eigenvalues + self.whiten_eps)) @ eigenvectors.T
        whitened = (patches - self.patch_mean_) @ self.whitening_
        # No more centroids than distinct patches (flat images have few).
        distinct = len(np.unique(whitened.round(6), axis=0))
        kmeans = KMeans(
            n_clusters=min(n_clusters, distinct),
            n_init=1,
            max_iter=self.max_iter,
            random_state=rng.randint(np.iinfo(np.int32).max),
        ).fit(whitened)
        self.centroids_ = kmeans.cluster_centers_
        self.n_iter_ = kmeans.n_iter_
        self.n_output_features_ = len(self.centroids_) * self.pool_ * self.pool_
        self._n_features_out = self.n_output_features_
        return self

    def transform(self, X):
        check_is_fitted(self, "centroids_")
        X = self._validate_images(X, reset=False, dtype=(np.float32, np.float64))
        images = self._images(X).astype(np.float32, copy=False)
        p, step = self.patch_size_, self.stride_
        h, w = self.image_shape_[:2]
        grid = _encoded((h - p + 1, w - p + 1), step)
        size = len(self.patch_mean_)
        whiten, distance = self._encoding_weights()
        k = len(self.centroids_)
        mean_weights = np.full(k, 1.0 / k, dtype=np.float32)
        eps = np.float32(self.contrast_eps)
        channels = size // (p * p)
        # The pixels the encoded positions span, down and across.
        span = ((grid[0] - 1) * step + 1, (grid[1] - 1) * step + 1)

        def encode(chunk: np.ndarray) -> np.ndarray:
            n = len(chunk)
            # Each patch over its contrast; its brightness and the dictionary's mean are
            # folded into the weights, so the normalised patches are never formed.
            mean = _window_sums(chunk, p)[:, ::step, ::step] / size
            spread = _window_sums(chunk * chunk, p)[:, ::step, ::step] / size - mean * mean
            contrast = 1.0 / np.sqrt(np.maximum(spread, 0.0) + eps)
            # [x / s, 1, ||z||^2] for every position, a column each: the patch over its
            # contrast written one pixel (a shifted image) at a time, then the squared norm
            # of its whitened form; with them one product gives the squared distances.
            # Colour patches are flattened channel by channel.
            columns = np.empty((size + 2, n * grid[0] * grid[1]), dtype=np.float32)
            columns[size] = 1.0
            pixels = columns[:size].reshape(channels, p, p, n, *grid)
            chunk = chunk.reshape(*chunk.shape[:3], channels)
            for c, dy, dx in np.ndindex(channels, p, p):
                shifted = chunk[:, dy : dy + span[0] : step, dx : dx + span[1] : step, c]
                np.multiply(shifted, contrast, out=pixels[c, dy, dx])
            whitened = columns[: size + 1].T @ whiten
            columns[size + 1] = np.einsum("ij,ij->i", whitened, whitened)
            # Squared distances to the centroids. One below zero is cancellation, as small
            # as the rounding: its magnitude serves as well as zero, and np.abs is several
            # times quicker than np.maximum against a scalar (so is t + |t| below).
            dist = columns.T @ distance
            np.sqrt(np.abs(dist, out=dist), out=dist)
            # Triangle activation: max(0, t) for t = mean distance - distance, as (t + |t|) / 2.
            np.subtract((dist @ mean_weights)[:, None], dist, out=dist)
            dist += np.abs(dist)
            pooled = _pool_regions(dist.reshape(n, *grid, -1), self.pool_)
            pooled *= np.float32(0.5)
            return np.sqrt(pooled, out=pooled).reshape(n, -1)

        rows = max(1, _CHUNK_ACTIVATIONS // (k * grid[0] * grid[1]))
        chunks = [images[s : s + rows] for s in range(0, max(len(images), 1), rows)]
        parts = map_in_threads(
            encode, chunks, self.n_jobs, single_threaded_blas=True, batch_size=32
        )
        return np.concatenate(parts) if len(parts) > 1 else parts[0]

    def _encoding_weights(self) -> tuple[np.ndarray, np.ndarray]:
        """Weights that take ``[x / s, 1]`` (a patch over its contrast) to its whitened
        form ``z``, and ``[x / s, 1, ||z||^2]`` to its squared distances to the centroids.

        A normalised, whitened patch is ``z = (x - mean(x)) / s @ W - m @ W``: removing
        the patch's own mean is the projection ``P = I - 11'/d``, so ``z = x / s @ PW -
        mW`` and ``||z - c||^2 = ||z||^2 + (||c||^2 + 2 mW.c) - 2 x / s @ PWc``.
        """
        whitening = np.asarray(self.whitening_, dtype=np.float64)
        projected = whitening - whitening.mean(axis=0)
        offset = np.asarray(self.patch_mean_, dtype=np.float64) @ whitening
        centroids = np.asarray(self.centroids_, dtype=np.float64)
        whiten = np.vstack([projected, -offset])
        distance = np.vstack(
            [
                -2.0 * projected @ centroids.T,
                (centroids * centroids).sum(axis=1) + 2.0 * offset @ centroids.T,
                np.ones(len(centroids)),
            ]
        )
        return whiten.astype(np.float32), distance.astype(np.float32)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags
