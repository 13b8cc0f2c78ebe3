"""Exact and near-duplicate images, within the training split and between train and test.

Exact duplicates are found by hashing each image's bytes (:func:`row_hashes`) and
confirmed by comparing the bytes. Near duplicates are pairs of *different* images whose
root-mean-square pixel difference is at most ``threshold`` grey levels. They are found
without comparing all pairs: an orthogonal projection never lengthens a distance, so
every such pair lies within ``threshold * sqrt(n_pixels)`` of each other on the leading
principal components too. A k-d tree on a few components lists those candidates, more
components prune them, and the survivors are measured in pixel space: nothing within the
threshold is missed, and nothing beyond it is reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from shallowvision.datasets._imageset import ImageSet
from shallowvision.eda._records import EdaRecord, decimals
from shallowvision.eda._scan import row_hashes

__all__ = ["Duplicates", "find_duplicates"]

#: Principal components the k-d tree is built on: few enough for the tree to be fast, enough
#: to keep the candidate pairs few.
TREE_COMPONENTS = 8
# Candidate pairs measured at once when pruning and verifying (bounds the temporary memory).
_PAIR_CHUNK = 65_536


@dataclass(frozen=True, eq=False, kw_only=True)
class Duplicates(EdaRecord):
    """Duplicate images of one kind in one scope, with a few examples.

    Attributes
    ----------
    kind : {"exact", "near"}
    scope : {"train", "train-test"}
        Within the training split, or a training image against a test image.
    threshold : float
        Largest RMS pixel difference (grey levels; in colour, over every channel value) of
        a near duplicate; 0 for exact ones. Exact duplicates of colour images match in
        every channel.
    n_pairs : int
        Pairs of images. Within train, exact copies of one image count as
        ``s * (s - 1) / 2`` pairs; near pairs are counted between distinct images (an
        image with exact copies counts once).
    n_images : int
        Within train, the images involved in a pair; between train and test, the test
        images with a duplicate in train.
    n_label_conflicts : int
        Pairs whose two images carry different labels.
    first_index, second_index : ndarray of int, shape (m,)
        Examples (at most ``max_examples``): image indices in train and in train (scope
        "train") or test (scope "train-test"); pairs with different labels first, then
        the closest.
    first_label, second_label : tuple of str
    distance : ndarray of float, shape (m,)
        RMS pixel difference of each example pair.
    images : ndarray of uint8, shape (m, 2, height, width) or (m, 2, height, width, 3)
        The two images of each example pair.
    """

    kind: Literal["exact", "near"]
    scope: Literal["train", "train-test"]
    threshold: float
    n_pairs: int
    n_images: int
    n_label_conflicts: int
    first_index: np.ndarray
    second_index: np.ndarray
    first_label: tuple[str, ...]
    second_label: tuple[str, ...]
    distance: np.ndarray = field(metadata=decimals(3))
    images: np.ndarray

    def describe(self) -> str:
        """One line of findings, e.g. ``"12 exact duplicates between train and test"``."""
        where = "within train" if self.scope == "train" else "between train and test"
        what = "exact duplicate" if self.kind == "exact" else "near-duplicate"
        if self.n_pairs == 0:
            return f"no {what}s {where}"
        if self.scope == "train":
            text = f"{self.n_pairs:,} {what} pair{'s' * (self.n_pairs != 1)} {where} ({self.n_images:,} images"
        else:
            text = (
                f"{self.n_pairs:,} {what}{'s' * (self.n_pairs != 1)} {where} "
                f"({self.n_images:,} test image{'s' * (self.n_images != 1)}"
            )
        if self.kind == "near":
            levels = "colour levels" if self.images.ndim == 5 else "grey levels"
            text += f", RMS difference at most {self.threshold:g} {levels}"
        if self.n_label_conflicts:
            text += f"; {self.n_label_conflicts:,} with different labels"
        return text + ")"


def exact_groups(flat: np.ndarray, hashes: np.ndarray) -> np.ndarray:
    """For each image, the index of the first image with the same bytes (itself if none).

    Parameters
    ----------
    flat : ndarray of uint8, shape (n, n_pixels)
    hashes : ndarray of uint64, shape (n,)
        :func:`~shallowvision.eda._scan.row_hashes` of ``flat``.
    """
    n = len(hashes)
    representative = np.arange(n)
    order = np.argsort(hashes, kind="stable")
    ordered = hashes[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], n]
    for start, end in zip(starts[ends - starts > 1], ends[ends - starts > 1], strict=True):
        members = order[start:end]  # ascending image order (stable sort)
        block = np.ascontiguousarray(flat[members])
        if (block == block[0]).all():
            representative[members] = members[0]
            continue
        # A hash collision: group the members by their bytes.
        rows = block.view(np.dtype((np.void, block.shape[1]))).ravel()
        _, first, inverse = np.unique(rows, return_index=True, return_inverse=True)
        representative[members] = members[first[inverse.ravel()]]
    return representative


def near_pairs(
    coords_a: np.ndarray,
    flat_a: np.ndarray,
    threshold: float,
    coords_b: np.ndarray | None = None,
    flat_b: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs of different images at most ``threshold`` grey levels apart (RMS), found
    through their principal-component coordinates and measured in pixel space.

    Parameters
    ----------
    coords_a : ndarray, shape (n_a, d)
        Coordinates of the images on orthonormal components (see ``project``).
    flat_a : ndarray of uint8, shape (n_a, n_pixels)
    threshold : float
        Largest RMS pixel difference, in grey levels (> 0).
    coords_b, flat_b : optional
        A second set: pairs are then ``(image of a, image of b)``; without it, pairs
        ``i < j`` within ``a``.

    Returns
    -------
    first, second : ndarray of int
        Indices into ``a`` and into ``b`` (or ``a``), sorted.
    rms : ndarray of float
        RMS pixel difference of each pair.
    """
    from scipy.spatial import cKDTree

    within = coords_b is None
    other_coords = coords_a if coords_b is None else coords_b
    other_flat = flat_a if flat_b is None else flat_b
    n_pixels = flat_a.shape[1]
    empty = np.zeros(0, dtype=np.intp)
    if not len(coords_a) or not len(other_coords):
        return empty, empty, np.zeros(0)
    radius = threshold * np.sqrt(n_pixels)
    # Slack for float32 rounding of the coordinates: a candidate too many is measured
    # in pixel space and dropped; one too few would be lost.
    reach = radius * 1.001 + 1.0
    d = min(TREE_COMPONENTS, coords_a.shape[1])
    tree = cKDTree(coords_a[:, :d])
    if within:
        pairs = tree.query_pairs(reach, output_type="ndarray")
        first, second = pairs[:, 0], pairs[:, 1]
    else:
        found = tree.sparse_distance_matrix(
            cKDTree(other_coords[:, :d]), reach, output_type="ndarray"
        )
        first, second = found["i"], found["j"]
    # Prune on every component, then measure in pixel space; both in bounded chunks.
    keep_first, keep_second, keep_d2 = [], [], []
    for start in range(0, len(first), _PAIR_CHUNK):
        i, j = first[start : start + _PAIR_CHUNK], second[start : start + _PAIR_CHUNK]
        gap = coords_a[i] - other_coords[j]
        close = np.einsum("ij,ij->i", gap, gap) <= reach**2
        i, j = i[close], j[close]
        diff = flat_a[i].astype(np.int32) - other_flat[j]
        d2 = np.einsum("ij,ij->i", diff, diff, dtype=np.int64)
        near = (d2 > 0) & (d2 <= threshold**2 * n_pixels)
        keep_first.append(i[near])
        keep_second.append(j[near])
        keep_d2.append(d2[near])
    if not keep_first:
        return empty, empty, np.zeros(0)
    i, j = np.concatenate(keep_first), np.concatenate(keep_second)
    d2 = np.concatenate(keep_d2)
    order = np.lexsort((j, i))
    return i[order], j[order], np.sqrt(d2[order] / n_pixels)


def duplicate_record(
    *,
    kind: Literal["exact", "near"],
    scope: Literal["train", "train-test"],
    threshold: float,
    first: np.ndarray,
    second: np.ndarray,
    distance: np.ndarray,
    n_pairs: int,
    n_images: int,
    n_label_conflicts: int,
    labels: tuple[np.ndarray, np.ndarray],
    images: tuple[np.ndarray, np.ndarray],
    class_names: tuple[str, ...],
    max_examples: int,
) -> Duplicates:
    """A :class:`Duplicates` record with up to ``max_examples`` of the given pairs as examples:
    pairs with different labels first, then the closest, then in image order."""
    label_a, label_b = labels[0][first], labels[1][second]
    order = np.lexsort((second, first, distance, label_a == label_b))[:max_examples]
    first, second = first[order], second[order]
    shape = images[0].shape[1:]
    pictures = np.zeros((len(order), 2, *shape), dtype=np.uint8)
    if len(order):
        pictures[:, 0] = images[0][first]
        pictures[:, 1] = images[1][second]
    return Duplicates(
        kind=kind,
        scope=scope,
        threshold=float(threshold),
        n_pairs=int(n_pairs),
        n_images=int(n_images),
        n_label_conflicts=int(n_label_conflicts),
        first_index=first.astype(np.int64),
        second_index=second.astype(np.int64),
        first_label=tuple(class_names[c] for c in labels[0][first]),
        second_label=tuple(class_names[c] for c in labels[1][second]),
        distance=distance[order].astype(np.float64),
        images=pictures,
    )


def find_duplicates(
    train: ImageSet,
    test: ImageSet | None,
    *,
    train_coords: np.ndarray,
    test_coords: np.ndarray | None,
    train_hashes: np.ndarray | None = None,
    threshold: float = 6.0,
    max_examples: int = 12,
) -> tuple[Duplicates, ...]:
    """Exact and near duplicates within train and, with a test split, between train and test.

    Parameters
    ----------
    train, test : ImageSet
    train_coords, test_coords : ndarray, shape (n, d)
        Coordinates of the images on the training images' leading principal
        components (orthonormal), e.g. from :func:`~shallowvision.eda._scan.project`.
    train_hashes : ndarray of uint64, optional
        :func:`row_hashes` of the training images, if already computed.
    threshold : float
        Largest RMS pixel difference of a near duplicate, in grey levels.
    max_examples : int
        Example pairs kept in each record.

    Returns
    -------
    tuple of Duplicates
        Exact and near within train; then exact and near between train and test.
    """
    names = train.class_names
    flat = train.X
    hashes = row_hashes(flat) if train_hashes is None else train_hashes
    representative = exact_groups(flat, hashes)
    records = [_exact_within(train, representative, class_names=names, max_examples=max_examples)]
    # Near duplicates are searched among distinct images: exact copies count once.
    distinct = np.flatnonzero(representative == np.arange(len(train)))
    i, j, rms = near_pairs(train_coords[distinct], flat[distinct], threshold)
    i, j = distinct[i], distinct[j]
    records.append(
        _near_record(
            train, train, i, j, rms, scope="train", threshold=threshold, limit=max_examples
        )
    )
    if test is None or test_coords is None:
        return tuple(records)
    records.append(
        _exact_between(
            train, test, representative, hashes, class_names=names, max_examples=max_examples
        )
    )
    i, j, rms = near_pairs(train_coords[distinct], flat[distinct], threshold, test_coords, test.X)
    records.append(
        _near_record(
            train,
            test,
            distinct[i],
            j,
            rms,
            scope="train-test",
            threshold=threshold,
            limit=max_examples,
        )
    )
    return tuple(records)


def _near_record(
    train: ImageSet,
    other: ImageSet,
    first: np.ndarray,
    second: np.ndarray,
    rms: np.ndarray,
    *,
    scope: Literal["train", "train-test"],
    threshold: float,
    limit: int,
) -> Duplicates:
    involved = np.union1d(first, second) if scope == "train" else np.unique(second)
    return duplicate_record(
        kind="near",
        scope=scope,
        threshold=threshold,
        first=first,
        second=second,
        distance=rms,
        n_pairs=len(first),
        n_images=len(involved),
        n_label_conflicts=int(np.count_nonzero(train.labels[first] != other.labels[second])),
        labels=(train.labels, other.labels),
        images=(train.images, other.images),
        class_names=train.class_names,
        max_examples=limit,
    )


def _exact_within(
    train: ImageSet,
    representative: np.ndarray,
    *,
    class_names: tuple[str, ...],
    max_examples: int,
) -> Duplicates:
    n, y = len(train), train.labels
    sizes = np.bincount(representative, minlength=n)
    groups = sizes[sizes > 1].astype(np.int64)
    copies = np.flatnonzero(representative != np.arange(n))
    # Pairs with different labels in a group of s images: (s^2 - sum of squared label counts) / 2.
    in_group = sizes[representative] > 1
    _, per_label = np.unique(
        representative[in_group] * train.n_classes + y[in_group], return_counts=True
    )
    conflicts = (int((groups**2).sum()) - int((per_label.astype(np.int64) ** 2).sum())) // 2
    first = representative[copies]
    return duplicate_record(
        kind="exact",
        scope="train",
        threshold=0.0,
        first=first,
        second=copies,
        distance=np.zeros(len(copies)),
        n_pairs=int((groups * (groups - 1) // 2).sum()),
        n_images=int(groups.sum()),
        n_label_conflicts=conflicts,
        labels=(y, y),
        images=(train.images, train.images),
        class_names=class_names,
        max_examples=max_examples,
    )


def _exact_between(
    train: ImageSet,
    test: ImageSet,
    representative: np.ndarray,
    hashes: np.ndarray,
    *,
    class_names: tuple[str, ...],
    max_examples: int,
) -> Duplicates:
    flat, test_flat = train.X, test.X
    distinct = np.flatnonzero(representative == np.arange(len(train)))
    order = np.argsort(hashes[distinct], kind="stable")
    keys = hashes[distinct][order]
    test_hashes = row_hashes(test_flat)
    lo = np.searchsorted(keys, test_hashes, side="left")
    hi = np.searchsorted(keys, test_hashes, side="right")
    # Members of each exact group, contiguous in this order.
    by_group = np.argsort(representative, kind="stable")
    group_start = np.searchsorted(representative[by_group], distinct)
    group_size = np.bincount(representative, minlength=len(train))[distinct]
    first, second = [], []
    n_pairs = conflicts = 0
    for t in np.flatnonzero(hi > lo):
        for slot in order[lo[t] : hi[t]]:
            if not np.array_equal(flat[distinct[slot]], test_flat[t]):
                continue  # a hash collision
            members = by_group[group_start[slot] : group_start[slot] + group_size[slot]]
            n_pairs += len(members)
            conflicts += int(np.count_nonzero(train.labels[members] != test.labels[t]))
            first.append(distinct[slot])
            second.append(t)
    first_arr = np.asarray(first, dtype=np.intp)
    second_arr = np.asarray(second, dtype=np.intp)
    return duplicate_record(
        kind="exact",
        scope="train-test",
        threshold=0.0,
        first=first_arr,
        second=second_arr,
        distance=np.zeros(len(first_arr)),
        n_pairs=n_pairs,
        n_images=len(np.unique(second_arr)),
        n_label_conflicts=conflicts,
        labels=(train.labels, test.labels),
        images=(train.images, test.images),
        class_names=class_names,
        max_examples=max_examples,
    )
