"""ImageSet: the one in-memory representation of a labelled image dataset."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from shallowvision.exceptions import DataError

__all__ = ["ImageSet"]


@dataclass(frozen=True, eq=False)
class ImageSet:
    """A split of a labelled image dataset.

    Pixels stay ``uint8`` (often a read-only memory map of the decoded cache);
    models convert them to floats only when they need to.

    Attributes
    ----------
    images : ndarray of uint8, shape (n, height, width) or (n, height, width, 3)
        Grey images, or colour images with their red, green and blue channels last.
    labels : ndarray of int64, shape (n,)
        Class indices into ``class_names``.
    class_names : tuple of str
    name : str
        Dataset name, e.g. ``"fashion-mnist"``.
    split : str
        ``"train"``, ``"validation"`` or ``"test"``.
    source : str
        Path or URL the pixels were read from.
    sha256 : str
        SHA-256 of the source file(s) the pixels were read from.
    meta : dict
        Further facts: how image files were converted (``resize``), the files skipped
        as unreadable (``skipped``), a carved test split, a one-vs-rest relabelling.
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    name: str = "unnamed"
    split: str = "train"
    source: str = ""
    sha256: str = ""
    meta: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        images, labels = self.images, self.labels
        where = f"{self.name} ({self.split})"
        if not (images.ndim == 3 or (images.ndim == 4 and images.shape[-1] == 3)):
            raise DataError(
                f"{where}: images must have shape (n, height, width), or (n, height, width, 3) "
                f"in colour, got {images.shape}"
            )
        if images.dtype != np.uint8:
            raise DataError(f"{where}: images must be uint8, got {images.dtype}")
        if labels.ndim != 1 or len(labels) != len(images):
            raise DataError(
                f"{where}: {len(images)} images but {len(labels)} labels; the counts must match"
            )
        if labels.dtype != np.int64:
            object.__setattr__(self, "labels", labels.astype(np.int64))
        object.__setattr__(self, "class_names", tuple(str(c) for c in self.class_names))
        if len(labels) and (labels.min() < 0 or labels.max() >= len(self.class_names)):
            raise DataError(
                f"{where}: labels span {labels.min()}..{labels.max()} but there are "
                f"{len(self.class_names)} class names"
            )

    # -- shape -----------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.labels)

    @property
    def image_shape(self) -> tuple[int, ...]:
        """Shape of every image: ``(height, width)`` grey, ``(height, width, 3)`` colour."""
        return tuple(int(side) for side in self.images.shape[1:])

    @property
    def image_size(self) -> tuple[int, int]:
        """``(height, width)`` of every image, grey or colour."""
        return (int(self.images.shape[1]), int(self.images.shape[2]))

    @property
    def color(self) -> str:
        """``"rgb"`` for colour images, ``"gray"`` for grey ones."""
        return "rgb" if self.images.ndim == 4 else "gray"

    @property
    def conversion(self) -> dict[str, object]:
        """How image files are converted to images like these: ``color``, ``image_size``
        and ``resize`` rule (what a model file records, for prediction to repeat)."""
        return {
            "color": self.color,
            "image_size": list(self.image_size),
            "resize": str(self.meta.get("resize", "stretch")),
        }

    @property
    def skipped(self) -> tuple[str, ...]:
        """The unreadable files a load with ``skip_bad`` skipped, each with its problem."""
        return tuple(str(item) for item in self.meta.get("skipped", ()))  # type: ignore[attr-defined]

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def X(self) -> np.ndarray:
        """Flattened pixels, shape ``(n, height * width)`` (colour: ``height * width * 3``,
        each pixel's red, green and blue together), still ``uint8`` (a view when possible)."""
        return self.images.reshape(len(self.images), -1)

    @property
    def y(self) -> np.ndarray:
        return self.labels

    def class_counts(self) -> np.ndarray:
        """Number of images of each class, shape ``(n_classes,)``."""
        return np.bincount(self.labels, minlength=self.n_classes)

    def fingerprint(self) -> str:
        """SHA-256 of the pixels and labels themselves (independent of the file format)."""
        digest = hashlib.sha256()
        if self.images.ndim == 4:
            # Colour pixels' bytes could equal those of a grey set three times as wide.
            digest.update(b"rgb")
        digest.update(np.ascontiguousarray(self.images).data)
        digest.update(np.ascontiguousarray(self.labels).data)
        return digest.hexdigest()

    def describe(self) -> dict[str, object]:
        """A JSON-ready summary: shapes, class counts, provenance."""
        counts = self.class_counts()
        return {
            "name": self.name,
            "split": self.split,
            "n_images": len(self),
            "image_shape": list(self.image_shape),
            "n_classes": self.n_classes,
            "class_counts": {c: int(n) for c, n in zip(self.class_names, counts, strict=True)},
            "source": self.source,
            "sha256": self.sha256,
            **({"skipped": list(self.skipped)} if self.skipped else {}),
        }

    # -- derived sets -----------------------------------------------------------------------
    def take(self, indices: np.ndarray | Sequence[int], *, split: str | None = None) -> ImageSet:
        """A new ImageSet with the images at ``indices`` (copied, in that order)."""
        indices = np.asarray(indices, dtype=np.intp)
        return dataclasses.replace(
            self,
            images=np.ascontiguousarray(self.images[indices]),
            labels=self.labels[indices],
            split=split or self.split,
        )

    def subsample(
        self,
        *,
        n_per_class: int | None = None,
        fraction: float | None = None,
        n_images: int | None = None,
        random_state: int = 0,
    ) -> ImageSet:
        """A seeded, stratified subsample.

        Parameters
        ----------
        n_per_class : int, optional
            Keep at most this many images of each class.
        fraction : float, optional
            Keep this share (0 < fraction <= 1) of each class, at least one image.
        n_images : int, optional
            Keep this many images in all (every image if there are fewer), each class
            in proportion to its share, within one image. For one seed the draws are
            nested: a smaller ``n_images`` keeps a subset of a larger one's images.
        random_state : int
            Seed of the draw; the same seed gives the same images.
        """
        if sum(option is not None for option in (n_per_class, fraction, n_images)) != 1:
            raise DataError("subsample needs exactly one of n_per_class, fraction or n_images")
        if n_per_class is not None and n_per_class < 1:
            raise DataError(f"n_per_class must be at least 1, got {n_per_class}")
        if fraction is not None and not 0 < fraction <= 1:
            raise DataError(f"fraction must be in (0, 1], got {fraction}")
        if n_images is not None:
            if n_images < 1:
                raise DataError(f"n_images must be at least 1, got {n_images}")
            if n_images >= len(self):
                return self
            order = stratified_order(self.labels, self.n_classes, random_state=random_state)
            return self.take(np.sort(order[:n_images]))
        rng = np.random.default_rng(random_state)
        keep = []
        for cls in range(self.n_classes):
            members = np.flatnonzero(self.labels == cls)
            if n_per_class is not None:
                k = min(n_per_class, len(members))
            elif len(members):
                k = max(1, round(len(members) * (fraction or 1.0)))
            else:
                k = 0
            keep.append(rng.choice(members, size=k, replace=False))
        return self.take(np.sort(np.concatenate(keep)))

    def split_off(
        self, size: float | int, *, random_state: int = 0, name: str = "validation"
    ) -> tuple[ImageSet, ImageSet]:
        """Split into ``(rest, held_out)`` with a seeded stratified draw.

        Parameters
        ----------
        size : float or int
            Share (0 < size < 1) or number of images to hold out.
        random_state : int
            Seed of the split.
        name : str
            The ``split`` name given to the held-out part.
        """
        n = len(self)
        held_idx = held_out_indices(
            self.labels, self.n_classes, size, random_state=random_state, name=self.name
        )
        rest_mask = np.ones(n, dtype=bool)
        rest_mask[held_idx] = False
        return self.take(np.flatnonzero(rest_mask)), self.take(held_idx, split=name)

    def one_vs_rest(self, positive: int | str) -> ImageSet:
        """Relabel for a binary task: 1 for the ``positive`` class, 0 for every other.

        Parameters
        ----------
        positive : int or str
            Class index (``8``) or class name (``"Shirt"``); a digit string that is
            not a class name is read as an index.
        """
        index = resolve_class(self.class_names, positive)
        name = self.class_names[index]
        return dataclasses.replace(
            self,
            labels=(self.labels == index).astype(np.int64),
            class_names=(f"not {name}", name),
            meta={**self.meta, "positive": name, "original_class_names": list(self.class_names)},
        )

    def check_gray(self, what: str) -> tuple[int, int]:
        """``(height, width)`` of these grey images; raise if they are in colour.

        For the steps that draw on grey images only (``what`` names the step).
        """
        if self.images.ndim == 4:
            raise DataError(
                f"{what} needs grey images, and {self.name} ({self.split}) is in colour; "
                "load it with color='gray'"
            )
        return self.image_size

    def check_trainable(self) -> None:
        """Raise if this set cannot train a classifier (empty, or a single class)."""
        present = np.flatnonzero(self.class_counts())
        if len(self) == 0:
            raise DataError(f"{self.name} ({self.split}) has no images")
        if len(present) < 2:
            raise DataError(
                f"{self.name} ({self.split}) has a single class "
                f"({self.class_names[present[0]]!r}); a classifier needs at least two"
            )


def stratified_order(labels: np.ndarray, n_classes: int, *, random_state: int = 0) -> np.ndarray:
    """Every index of ``labels``, in a seeded order whose every prefix holds each class in
    proportion to its share, within one image.

    Each class's images are shuffled and spread evenly over (0, 1): the j-th of a class of
    ``k`` images sits at ``(j + u) / k``, with one random offset ``u`` per class, and the
    order sorts by that position (ties at random). A prefix is thus a stratified sample,
    and the prefixes of one order are nested.
    """
    rng = np.random.default_rng(random_state)
    position = np.empty(len(labels))
    for cls in range(n_classes):
        members = np.flatnonzero(labels == cls)
        if len(members):
            spread = (np.arange(len(members)) + rng.random()) / len(members)
            position[rng.permutation(members)] = spread
    return np.lexsort((rng.random(len(labels)), position))


def held_out_indices(
    labels: np.ndarray,
    n_classes: int,
    size: float | int,
    *,
    random_state: int = 0,
    name: str = "the images",
) -> np.ndarray:
    """The sorted indices :meth:`ImageSet.split_off` holds out: a seeded stratified draw.

    Only the labels are needed, so a partitioned dataset holds out exactly the rows an
    in-memory one does. ``size`` is a share (0 < size < 1) or a number of images.
    """
    n = len(labels)
    n_out = round(size * n) if isinstance(size, float) else int(size)
    if not 0 < n_out < n:
        raise DataError(
            f"cannot hold out {size!r} of {n} images in {name}: "
            "give a share in (0, 1) or a count between 1 and n - 1"
        )
    rng = np.random.default_rng(random_state)
    held = []
    counts = np.bincount(labels, minlength=n_classes)
    # Largest-remainder allocation keeps every class's share as close as possible.
    quota = counts * n_out / n
    alloc = np.floor(quota).astype(int)
    order = np.argsort(-(quota - alloc), kind="stable")
    alloc[order[: n_out - alloc.sum()]] += 1
    for cls, k in enumerate(alloc):
        members = np.flatnonzero(labels == cls)
        held.append(rng.choice(members, size=min(k, len(members)), replace=False))
    return np.sort(np.concatenate(held))


def resolve_class(class_names: Sequence[str], positive: int | str) -> int:
    """The index of a class given by index or name (case-insensitive)."""
    names = [str(c) for c in class_names]
    if isinstance(positive, str):
        lowered = [c.lower() for c in names]
        if positive.lower() in lowered:
            return lowered.index(positive.lower())
        if not positive.lstrip("-").isdigit():
            raise DataError(f"unknown class {positive!r}; classes are: {', '.join(names)}")
        positive = int(positive)
    if not 0 <= positive < len(names):
        raise DataError(f"class index {positive} is out of range 0..{len(names) - 1}")
    return int(positive)
