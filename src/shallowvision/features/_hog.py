"""Histograms of oriented gradients for a whole batch of flattened images at once.

The numpy path follows :func:`skimage.feature.hog` (central differences, unsigned
orientations, cell averages, overlapping blocks and its four block norms) and gives
the same numbers, but works on every image of the batch in one pass of array
operations. OpenCV, when installed, computes the gradients' magnitude and angle
instead (``backend="opencv"``), on the whole batch stacked into one tall image,
never in a loop over images.

Colour images (channels last) take, at each pixel, the gradient of the channel where
it is strongest, as Dalal and Triggs (2005) do and ``skimage.feature.hog(...,
channel_axis=-1)`` does.
"""

from __future__ import annotations

import numpy as np
from joblib import effective_n_jobs
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from shallowvision._optional import has_module, import_optional
from shallowvision._threads import map_in_threads
from shallowvision.exceptions import ConfigError, DataError
from shallowvision.features._base import ImageShapeMixin, check_positive_int

__all__ = ["HOGTransformer", "hog_images"]

_BLOCK_NORMS = ("L1", "L1-sqrt", "L2", "L2-Hys")
_BACKENDS = ("auto", "numpy", "opencv")
_EPS = 1e-5  # skimage's block-norm epsilon
_CHUNK = 8192  # most images per pass
#: Most values per pass (8,192 28x28 grey images): bounds the chunk's float32 temporaries.
_CHUNK_VALUES = 8192 * 28 * 28


def _pair(value, name: str) -> tuple[int, int]:
    pair = (value, value) if np.isscalar(value) else tuple(value)
    if len(pair) != 2 or not all(
        isinstance(v, int | np.integer) and not isinstance(v, bool) and v >= 1 for v in pair
    ):
        raise ConfigError(f"{name} must be a positive int or a pair of them, got {value!r}")
    return int(pair[0]), int(pair[1])


def _gradients(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Central differences along rows and columns; zero on the border, as skimage does.

    Colour images ``(n, h, w, c)`` give, at each pixel, the differences of the channel
    with the largest gradient magnitude (the first such channel on a tie), so the
    result is ``(n, h, w)`` either way.
    """
    g_row = np.zeros_like(images)
    g_col = np.zeros_like(images)
    g_row[:, 1:-1, :] = images[:, 2:, :] - images[:, :-2, :]
    g_col[:, :, 1:-1] = images[:, :, 2:] - images[:, :, :-2]
    if images.ndim == 3:
        return g_row, g_col
    strongest = np.argmax(np.hypot(g_row, g_col), axis=-1)[..., None]
    return (
        np.take_along_axis(g_row, strongest, axis=-1)[..., 0],
        np.take_along_axis(g_col, strongest, axis=-1)[..., 0],
    )


def _cell_histograms_numpy(
    images: np.ndarray,
    orientations: int,
    cell: tuple[int, int],
    n_cells: tuple[int, int],
    span: float = 180.0,
) -> np.ndarray:
    """``(n, cells_row, cells_col, orientations)`` mean gradient magnitude per orientation bin."""
    (ch, cw), (nr, nc) = cell, n_cells
    g_row, g_col = _gradients(images)
    # Gradients first, then crop to whole cells: the last cell's edge pixels see beyond it.
    g_row, g_col = g_row[:, : nr * ch, : nc * cw], g_col[:, : nr * ch, : nc * cw]
    magnitude = np.hypot(g_row, g_col)
    # Orientation in [0, span) degrees (180: unsigned), hard-assigned to equal-width bins.
    angle = np.rad2deg(np.arctan2(g_row, g_col)) % span
    bins = np.minimum((angle * (orientations / span)).astype(np.intp), orientations - 1)
    return _pool_bins(magnitude, bins, orientations, cell, n_cells)


def _pool_bins(
    magnitude: np.ndarray,
    bins: np.ndarray,
    n_bins: int,
    cell: tuple[int, int],
    n_cells: tuple[int, int],
) -> np.ndarray:
    """``(n, cells_row, cells_col, n_bins)`` mean magnitude of each cell's pixels per bin."""
    n = len(magnitude)
    (ch, cw), (nr, nc) = cell, n_cells
    # One unbuffered sum over (image, cell row, cell col, bin) fills every cell of every
    # image: in float32, several times faster than a bincount's float64 weights.
    rows = np.arange(nr * ch) // ch
    cols = np.arange(nc * cw) // cw
    cell_index = (rows[:, None] * nc + cols[None, :]).astype(np.intp)
    first = np.arange(n, dtype=np.intp) * (nr * nc * n_bins)
    index = np.add(first[:, None, None], cell_index * n_bins)
    index += bins.reshape(index.shape)
    hist = np.zeros(n * nr * nc * n_bins, dtype=np.float32)
    np.add.at(hist, index.ravel(), magnitude.astype(np.float32, copy=False).ravel())
    hist /= np.float32(ch * cw)
    return hist.reshape(n, nr, nc, n_bins)


def _cell_histograms_opencv(
    images: np.ndarray,
    orientations: int,
    cell: tuple[int, int],
    n_cells: tuple[int, int],
    span: float = 180.0,
) -> np.ndarray:
    """The same histograms, with OpenCV computing the gradients' polar form."""
    cv2 = import_optional("cv2")
    n = len(images)
    (ch, cw), (nr, nc) = cell, n_cells
    g_row, g_col = _gradients(images)
    shape = (n * nr * ch, nc * cw)
    # The batch stacked into one tall image: one call, no loop over images.
    magnitude, angle = cv2.cartToPolar(
        np.ascontiguousarray(g_col[:, : nr * ch, : nc * cw]).reshape(shape),
        np.ascontiguousarray(g_row[:, : nr * ch, : nc * cw]).reshape(shape),
        angleInDegrees=True,
    )
    # Binned over the full circle in OpenCV's [0, 360) degrees, without a modulo pass
    # over the pixels: unsigned histograms fold the opposite bins together afterwards.
    turns = round(360.0 / span)
    n_bins = orientations * turns
    bins = (angle * np.float32(n_bins / 360.0)).astype(np.int32)
    np.minimum(bins, n_bins - 1, out=bins)
    hist = _pool_bins(magnitude.reshape(n, nr * ch, nc * cw), bins, n_bins, cell, n_cells)
    if turns == 1:
        return hist
    return hist[..., :orientations] + hist[..., orientations:]


def _normalise_blocks(hist: np.ndarray, block: tuple[int, int], method: str) -> np.ndarray:
    """Overlapping ``block`` windows of cells, each normalised; flattened as skimage orders them."""
    n, nr, nc, _o = hist.shape
    br, bc = block
    rows, cols = nr - br + 1, nc - bc + 1
    # Each block's cells side by side, in skimage's order (cell row, cell column, bin):
    # one shifted copy of the cells per position in the block.
    blocks = np.concatenate(
        [hist[:, i : i + rows, j : j + cols] for i in range(br) for j in range(bc)], axis=-1
    )
    if method in ("L1", "L1-sqrt"):
        blocks /= np.abs(blocks).sum(axis=-1, keepdims=True) + _EPS
        if method == "L1-sqrt":
            np.sqrt(blocks, out=blocks)
    else:
        blocks /= _norms(blocks)
        if method == "L2-Hys":
            np.minimum(blocks, 0.2, out=blocks)
            blocks /= _norms(blocks)
    return blocks.reshape(n, -1)


def _norms(blocks: np.ndarray) -> np.ndarray:
    """Each block's L2 norm, softened by skimage's epsilon, broadcastable against it."""
    return np.sqrt(np.einsum("...i,...i->...", blocks, blocks) + _EPS**2)[..., None]


def _geometry(
    image_shape: tuple[int, int], cell: tuple[int, int], block: tuple[int, int]
) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    """Cells and blocks clipped to the image, so one setting serves 8x8 and 28x28 images."""
    h, w = image_shape
    cell = (min(cell[0], h), min(cell[1], w))
    n_cells = (h // cell[0], w // cell[1])
    block = (min(block[0], n_cells[0]), min(block[1], n_cells[1]))
    return cell, n_cells, block


def hog_images(
    images: np.ndarray,
    *,
    orientations: int = 9,
    pixels_per_cell: int | tuple[int, int] = 4,
    cells_per_block: int | tuple[int, int] = 2,
    block_norm: str = "L2-Hys",
    transform_sqrt: bool = False,
    signed: bool = False,
    backend: str = "numpy",
    n_jobs: int | None = None,
) -> np.ndarray:
    """HOG descriptors of a batch of images, one row per image.

    ``images`` are ``(n, height, width)`` grey or ``(n, height, width, 3)`` colour
    images; in colour each pixel's gradient is that of its strongest channel. Cells
    larger than the image, and blocks larger than the grid of cells, are clipped to
    it. With ``backend="numpy"`` and ``signed=False`` the result equals
    ``skimage.feature.hog(image, ..., feature_vector=True)`` for each image (with
    ``channel_axis=-1`` in colour).
    ``signed=True`` spreads the bins over 0-360 degrees, telling a dark-to-light
    edge from a light-to-dark one. ``n_jobs`` threads share the chunks of the
    batch (joblib's convention: None is one, -1 is every core).
    """
    if backend not in ("numpy", "opencv"):
        raise ConfigError(f"backend must be 'numpy' or 'opencv', got {backend!r}")
    images = np.asarray(images, dtype=np.float32)
    if images.ndim not in (3, 4):
        raise DataError(
            f"images must have shape (n, height, width) or (n, height, width, channels), "
            f"got {images.shape}"
        )
    cell, n_cells, block = _geometry(
        images.shape[1:3],
        _pair(pixels_per_cell, "pixels_per_cell"),
        _pair(cells_per_block, "cells_per_block"),
    )
    cell_histograms = _cell_histograms_opencv if backend == "opencv" else _cell_histograms_numpy
    span = 360.0 if signed else 180.0

    def describe(chunk: np.ndarray) -> np.ndarray:
        if transform_sqrt:
            chunk = np.sqrt(np.maximum(chunk, 0.0))
        hist = cell_histograms(chunk, orientations, cell, n_cells, span)
        return _normalise_blocks(hist, block, block_norm)

    workers = effective_n_jobs(n_jobs)
    # Chunks small enough that every worker gets some, large enough to amortise the calls.
    most = max(1, min(_CHUNK, _CHUNK_VALUES // max(1, int(np.prod(images.shape[1:])))))
    size = min(most, max(min(256, most), -(-len(images) // workers)))
    chunks = [images[start : start + size] for start in range(0, max(len(images), 1), size)]
    parts = map_in_threads(describe, chunks, n_jobs)
    return np.concatenate(parts) if len(parts) > 1 else parts[0]


class HOGTransformer(
    ImageShapeMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator
):
    """Histograms of oriented gradients of flattened images.

    Parameters
    ----------
    orientations : int, default=9
        Orientation bins over 0-180 degrees (gradient sign ignored).
    pixels_per_cell : int or (int, int), default=4
        Cell size; clipped to the image, so 8x8 and 28x28 images share a setting.
    cells_per_block : int or (int, int), default=2
        Block size in cells, clipped to the grid of cells. Blocks overlap by all but
        one cell.
    block_norm : {"L2-Hys", "L2", "L1", "L1-sqrt"}, default="L2-Hys"
    transform_sqrt : bool, default=False
        Square-root (gamma) compression of the intensities first.
    signed : bool, default=False
        Orientation bins over 0-360 degrees, keeping the gradient's sign.
    backend : {"auto", "numpy", "opencv"}, default="auto"
        ``"auto"`` uses OpenCV when it is installed, else numpy. The two agree up to
        OpenCV's angle precision (about 0.3 degrees), which moves a few gradients
        across bin edges.
    image_shape : (height, width), (height, width, 3) or None
        Shape the rows were flattened from, channels last for colour; None means
        grey square images (a width that is not a square is then read as one row of
        pixels, so pass the shape of non-square images, and a width that colour
        images have is refused). Colour images use each pixel's strongest channel.
    n_jobs : int, optional
        Threads computing chunks of the batch in :meth:`transform` (None: one, -1:
        every core).

    Attributes
    ----------
    backend_ : str
        The backend used.
    n_output_features_ : int
    """

    _spatial = True

    def __init__(
        self,
        *,
        orientations: int = 9,
        pixels_per_cell: int | tuple[int, int] = 4,
        cells_per_block: int | tuple[int, int] = 2,
        block_norm: str = "L2-Hys",
        transform_sqrt: bool = False,
        signed: bool = False,
        backend: str = "auto",
        image_shape: tuple[int, ...] | None = None,
        n_jobs: int | None = None,
    ) -> None:
        self.orientations = orientations
        self.pixels_per_cell = pixels_per_cell
        self.cells_per_block = cells_per_block
        self.block_norm = block_norm
        self.transform_sqrt = transform_sqrt
        self.signed = signed
        self.backend = backend
        self.image_shape = image_shape
        self.n_jobs = n_jobs

    def fit(self, X, y=None):
        check_positive_int(self.orientations, "orientations")
        if self.block_norm not in _BLOCK_NORMS:
            raise ConfigError(
                f"block_norm must be one of {', '.join(_BLOCK_NORMS)}, got {self.block_norm!r}"
            )
        if self.backend not in _BACKENDS:
            raise ConfigError(
                f"backend must be one of {', '.join(_BACKENDS)}, got {self.backend!r}"
            )
        cell = _pair(self.pixels_per_cell, "pixels_per_cell")
        block = _pair(self.cells_per_block, "cells_per_block")
        self._validate_images(X, reset=True, dtype=(np.float32, np.float64))
        if self.backend == "auto":
            self.backend_ = "opencv" if has_module("cv2") else "numpy"
        else:
            self.backend_ = self.backend
        _, (nr, nc), (br, bc) = _geometry(self.image_shape_[:2], cell, block)
        self.n_output_features_ = (nr - br + 1) * (nc - bc + 1) * br * bc * self.orientations
        self._n_features_out = self.n_output_features_
        return self

    def transform(self, X):
        check_is_fitted(self, "backend_")
        X = self._validate_images(X, reset=False, dtype=(np.float32, np.float64))
        return hog_images(
            self._images(X),
            orientations=self.orientations,
            pixels_per_cell=self.pixels_per_cell,
            cells_per_block=self.cells_per_block,
            block_norm=self.block_norm,
            transform_sqrt=self.transform_sqrt,
            signed=self.signed,
            backend=self.backend_,
            n_jobs=self.n_jobs,
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags
