"""Passes over uint8 images in bounded chunks: every statistic of the EDA comes from here.

The images are never copied whole to floats. Each pass converts one chunk (about
``CHUNK_BYTES`` of float32) at a time and folds it into small float64 accumulators:

- the first pass (:func:`scan_train`) gathers per-class pixel sums (exact) and sums of
  squares, the per-class pixel histograms, five intensity moments of every image (for
  mean intensity, centre of mass and ink spread), its count of non-zero pixels, a
  64-bit hash of its bytes, and the pixel covariance; on colour images also the
  per-class histograms of each channel, of hue and of saturation;
- the second pass (:func:`project`) projects every image on the leading principal
  components and measures its distance to its class's mean image.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

__all__ = ["CHUNK_BYTES", "TrainScan", "chunks", "principal_axes", "project", "row_hashes"]

#: Hue bins (degrees) of the colour histogram: 10 degrees each.
HUE_BINS = 36
#: Saturation bins of the colour histogram, over [0, 1].
SATURATION_BINS = 20
#: Below this saturation, or this value (brightness, 0-1), a pixel is counted as grey:
#: its hue is noise.
CHROMATIC_SATURATION = 0.1
CHROMATIC_VALUE = 0.1

#: Size of the float32 working copy of one chunk of images.
CHUNK_BYTES = 8 * 2**20

# Fixed multipliers of the row hash: a property of the hash, not of any random_state.
_HASH_SEED = 0x5EED


def chunks(n: int, n_pixels: int, budget: int = CHUNK_BYTES) -> Iterator[slice]:
    """Consecutive slices of ``range(n)`` whose float32 copy fits in ``budget`` bytes."""
    rows = max(1, budget // (4 * max(1, n_pixels)))
    for start in range(0, n, rows):
        yield slice(start, min(n, start + rows))


def row_hashes(flat: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each row's bytes (equal rows, equal hashes; collisions are possible
    and must be checked by comparing the bytes).

    Parameters
    ----------
    flat : ndarray of uint8, shape (n, n_pixels)
    """
    width = flat.shape[1]
    words = -(-width // 8)
    if width % 8:
        flat = np.pad(flat, ((0, 0), (0, 8 * words - width)))
    view = np.ascontiguousarray(flat).view(np.uint64)
    multipliers = np.random.default_rng(_HASH_SEED).integers(
        1, 2**63, size=words, dtype=np.uint64
    ) * np.uint64(2) + np.uint64(1)
    # Multiply-and-add wraps around modulo 2**64; a final xorshift-multiply mixes the bits.
    h = (view * multipliers).sum(axis=1, dtype=np.uint64)
    h ^= h >> np.uint64(31)
    h *= np.uint64(0x9E3779B97F4A7C15)
    h ^= h >> np.uint64(29)
    return h


@dataclass
class TrainScan:
    """What the first pass over the training images gathers.

    Per-image arrays have one entry per image; the centre of mass and the ink spread
    of an all-zero image are NaN.
    """

    n_classes: int
    image_shape: tuple[int, ...]  # (height, width), or (height, width, 3) in colour
    counts: np.ndarray  # (k,) images per class
    sums: np.ndarray  # (k, n_values) sum of pixel values per class (colour: per channel)
    squares: np.ndarray  # (k, n_values) sum of squared pixel values per class
    histogram: np.ndarray  # (k, 256) pixel values per class (colour: every channel's values)
    mean_intensity: np.ndarray  # (n,)
    nonzero_share: np.ndarray  # (n,)
    centre_x: np.ndarray  # (n,) intensity-weighted column of each image
    centre_y: np.ndarray  # (n,) intensity-weighted row of each image
    spread: np.ndarray  # (n,) intensity-weighted RMS distance of the ink to its centre
    hashes: np.ndarray  # (n,) uint64
    # (n_values, n_values), population covariance of the pixels; None above
    # MAX_COVARIANCE_VALUES values, where PCA works on a sample (sampled_principal_axes).
    covariance: np.ndarray | None
    # Colour images only (None for grey ones):
    channel_histogram: np.ndarray | None = None  # (k, 3, 256) values of each channel per class
    hue_histogram: np.ndarray | None = None  # (k, HUE_BINS) hues of the coloured pixels
    saturation_histogram: np.ndarray | None = None  # (k, SATURATION_BINS) of every pixel
    n_grey_pixels: np.ndarray | None = None  # (k,) pixels too grey or dark to have a hue

    @property
    def image_size(self) -> tuple[int, int]:
        return (self.image_shape[0], self.image_shape[1])

    @property
    def n_pixels(self) -> int:
        return self.image_shape[0] * self.image_shape[1]

    def class_means(self) -> np.ndarray:
        """Mean image of each class, flattened, shape ``(k, n_pixels)`` (NaN for an empty class)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.sums / self.counts[:, None]

    def class_variances(self) -> np.ndarray:
        """Per-pixel variance of each class (ddof 0; NaN for an empty class)."""
        n = self.counts[:, None].astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.maximum(n * self.squares - self.sums**2, 0.0) / n**2

    def overall_mean(self) -> np.ndarray:
        return self.sums.sum(axis=0) / max(1, int(self.counts.sum()))

    def total_variance(self) -> float:
        """The sum of every value's variance over all images (ddof 0): PCA's total."""
        n = max(1, int(self.counts.sum()))
        mean = self.overall_mean()
        return float(np.maximum(self.squares.sum(axis=0) / n - mean**2, 0.0).sum())


#: Most values per image whose full covariance the scan accumulates (64x64 grey).
MAX_COVARIANCE_VALUES = 4096
#: Images sampled for the principal axes of wider images.
PCA_SAMPLE = 2000


def _moment_weights(image_shape: tuple[int, int]) -> np.ndarray:
    """Columns 1, x, y, x^2, y^2 of every pixel (x = column, y = row), shape (n_pixels, 5)."""
    h, w = image_shape
    y, x = np.divmod(np.arange(h * w, dtype=np.float64), w)
    return np.stack([np.ones_like(x), x, y, x * x, y * y], axis=1)


def scan_train(images: np.ndarray, labels: np.ndarray, n_classes: int) -> TrainScan:
    """The first pass over the training images (see the module docstring).

    Parameters
    ----------
    images : ndarray of uint8, shape (n, height, width) or (n, height, width, 3)
    labels : ndarray of int, shape (n,)
    n_classes : int

    On colour images every channel value is a value of its own (sums, squares, the
    covariance and the value histogram); the ink statistics weigh each pixel by the sum
    of its channels, and a pixel is non-zero when any channel is.
    """
    n, h, w = images.shape[:3]
    c = images.shape[3] if images.ndim == 4 else 1
    flat = images.reshape(n, h * w * c)
    p = h * w * c
    counts = np.bincount(labels, minlength=n_classes)
    sums = np.zeros((n_classes, p))
    squares = np.zeros((n_classes, p))
    histogram = np.zeros(n_classes * 256, dtype=np.int64)
    moments = np.empty((n, 5))
    nonzero = np.empty(n, dtype=np.int64)
    hashes = np.empty(n, dtype=np.uint64)
    # A covariance of 12,288 values (64x64 colour) is 1.2 GB, and its eigenvectors take
    # minutes: wider images get their axes from a sample instead.
    scatter = np.zeros((p, p)) if p <= MAX_COVARIANCE_VALUES else None
    # A flat colour row holds each pixel's channels together: repeat its weights per channel.
    weights = np.repeat(_moment_weights((h, w)), c, axis=0).astype(np.float32)
    colour = _ColourCounts(n_classes) if c == 3 else None
    centre: np.ndarray | None = None
    for part in chunks(n, p):
        block = flat[part]
        y = labels[part]
        if centre is None:
            # Every value is shifted by a whole-number provisional centre (the first chunk's
            # rounded mean): the shifted values and their per-class sums over a chunk stay
            # exact in float32 (integers below 2**24), and the sums of squares and the
            # covariance lose nothing to cancellation, at half the cost of float64.
            centre = np.round(block.mean(axis=0)).astype(np.float32)
        shifted = block.astype(np.float32) - centre
        onehot = np.zeros((len(y), n_classes), dtype=np.float32)
        onehot[np.arange(len(y)), y] = 1.0
        sums += onehot.T @ shifted
        squares += onehot.T @ (shifted * shifted)
        if scatter is not None:
            scatter += shifted.T @ shifted
        moments[part] = shifted @ weights
        if colour is None:
            nonzero[part] = np.count_nonzero(block, axis=1)
        else:
            nonzero[part] = block.reshape(len(y), h * w, c).any(axis=2).sum(axis=1)
            colour.add(block.reshape(len(y), h * w, c), y)
        hashes[part] = row_hashes(block)
        histogram += np.bincount((y[:, None] * 256 + block).ravel(), minlength=n_classes * 256)
    shift = np.zeros(p) if centre is None else centre.astype(np.float64)
    # Back from shifted values: sum x = sum s + n K, sum x^2 = sum s^2 + 2 K sum s + n K^2.
    squares += 2 * shift * sums + counts[:, None] * shift**2
    sums += counts[:, None] * shift
    offset = sums.sum(axis=0) / max(1, n) - shift
    covariance = None if scatter is None else scatter / max(1, n) - np.outer(offset, offset)
    moments += (shift @ weights.astype(np.float64))[None, :]
    ink = moments[:, 0]
    blank = nonzero == 0
    with np.errstate(invalid="ignore", divide="ignore"):
        cx = np.where(blank, np.nan, moments[:, 1] / ink)
        cy = np.where(blank, np.nan, moments[:, 2] / ink)
        spread = np.sqrt(np.maximum(moments[:, 3] / ink - cx**2 + moments[:, 4] / ink - cy**2, 0.0))
    return TrainScan(
        n_classes=n_classes,
        image_shape=tuple(int(v) for v in images.shape[1:]),
        counts=counts,
        sums=sums,
        squares=squares,
        histogram=histogram.reshape(n_classes, 256),
        mean_intensity=ink / p,
        nonzero_share=nonzero / (h * w),
        centre_x=cx,
        centre_y=cy,
        spread=spread,
        hashes=hashes,
        covariance=covariance,
        **(colour.fields() if colour is not None else {}),
    )


class _ColourCounts:
    """The colour histograms of :func:`scan_train`, accumulated chunk by chunk."""

    def __init__(self, n_classes: int) -> None:
        self.k = n_classes
        self.channels = np.zeros(n_classes * 3 * 256, dtype=np.int64)
        self.hue = np.zeros(n_classes * HUE_BINS, dtype=np.int64)
        self.saturation = np.zeros(n_classes * SATURATION_BINS, dtype=np.int64)
        self.grey = np.zeros(n_classes, dtype=np.int64)

    def add(self, pixels: np.ndarray, y: np.ndarray) -> None:
        """Count a chunk: ``pixels`` (m, n_pixels, 3) uint8 of images of classes ``y``."""
        from shallowvision._colour import rgb_to_hsv

        k = self.k
        cells = (y[:, None, None] * 3 + np.arange(3)) * 256 + pixels
        self.channels += np.bincount(cells.ravel(), minlength=k * 3 * 256)
        hue, saturation, value = rgb_to_hsv(pixels)
        rows = np.broadcast_to(y[:, None], hue.shape)
        s_bin = np.minimum((saturation * SATURATION_BINS).astype(np.int64), SATURATION_BINS - 1)
        self.saturation += np.bincount(
            (rows * SATURATION_BINS + s_bin).ravel(), minlength=k * SATURATION_BINS
        )
        chromatic = (saturation >= CHROMATIC_SATURATION) & (value >= CHROMATIC_VALUE)
        h_bin = np.minimum((hue[chromatic] * (HUE_BINS / 360)).astype(np.int64), HUE_BINS - 1)
        self.hue += np.bincount(rows[chromatic] * HUE_BINS + h_bin, minlength=k * HUE_BINS)
        self.grey += np.bincount(rows[~chromatic], minlength=k)

    def fields(self) -> dict[str, np.ndarray]:
        k = self.k
        return {
            "channel_histogram": self.channels.reshape(k, 3, 256),
            "hue_histogram": self.hue.reshape(k, HUE_BINS),
            "saturation_histogram": self.saturation.reshape(k, SATURATION_BINS),
            "n_grey_pixels": self.grey,
        }


def principal_axes(covariance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (descending, clipped at 0) and eigenvectors (columns) of a covariance."""
    values, vectors = np.linalg.eigh(covariance)
    return np.maximum(values[::-1], 0.0), vectors[:, ::-1]


def sampled_principal_axes(
    images: np.ndarray, mean: np.ndarray, *, n_components: int, random_state: int
) -> tuple[np.ndarray, np.ndarray]:
    """The leading ``n_components`` eigenvalues and axes of the pixels' covariance, from a
    seeded sample of at most :data:`PCA_SAMPLE` images (randomised SVD, float32).

    For images of more than :data:`MAX_COVARIANCE_VALUES` values, whose full covariance
    is too large to decompose; the eigenvalues are those of the sample.
    """
    from sklearn.utils.extmath import randomized_svd

    n = len(images)
    rng = np.random.default_rng(random_state)
    rows = np.sort(rng.choice(n, size=min(n, PCA_SAMPLE), replace=False))
    sample = images[rows].reshape(len(rows), -1).astype(np.float32) - mean.astype(np.float32)
    k = max(1, min(n_components, *sample.shape))
    _, singular, vt = randomized_svd(sample, k, n_iter=4, random_state=random_state)
    return (singular.astype(np.float64) ** 2) / len(rows), vt.T.astype(np.float64)


def project(
    images: np.ndarray,
    mean: np.ndarray,
    components: np.ndarray,
    *,
    labels: np.ndarray | None = None,
    class_means: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Coordinates on ``components`` and, with labels, the RMS distance to the class mean.

    Parameters
    ----------
    images : ndarray of uint8, shape (n, height, width) or (n, height, width, 3)
    mean : ndarray, shape (n_values,)
        The centre of the projection (the training images' mean).
    components : ndarray, shape (n_pixels, d)
        Orthonormal columns.
    labels, class_means : optional
        Each image's class and the flattened class means, for the distances.

    Returns
    -------
    coordinates : ndarray of float32, shape (n, d)
    distances : ndarray of float64, shape (n,), or None without labels
    """
    n = len(images)
    flat = images.reshape(n, -1)
    p = flat.shape[1]
    coordinates = np.empty((n, components.shape[1]), dtype=np.float32)
    distances = np.empty(n) if labels is not None else None
    mean32 = mean.astype(np.float32)
    axes32 = components.astype(np.float32)
    means32 = class_means.astype(np.float32) if class_means is not None else None
    for part in chunks(n, p):
        values = flat[part].astype(np.float32)
        coordinates[part] = (values - mean32) @ axes32
        if distances is not None and labels is not None and means32 is not None:
            diff = values - means32[labels[part]]
            distances[part] = np.sqrt(np.einsum("ij,ij->i", diff, diff) / p)
    return coordinates, distances
