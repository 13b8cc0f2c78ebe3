"""Data-rich sets for scale benchmarks, built from Fashion-MNIST and written as IDX files.

- ``shifted``: the 60,000 training images first, then copies of them shifted by a seeded
  offset of -2..2 pixels in each direction (never 0, 0), each replica in its own seeded
  order, up to ``n`` images; the test split is the real 10,000 test images.
- ``many``: a many-class variant with 50 classes, each garment in five forms (as it is,
  turned by 90, 180 and 270 degrees, and with inverted intensities), drawn with class
  frequencies spread geometrically over 10:1 as in EMNIST ByClass, shifted as above; the
  test split is the real test images, each in one seeded form.

Each set is a folder of raw IDX files that ``shallowvision`` reads by path, built once and
reused (a ``complete`` marker is written last).
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np

ROOT = Path(
    os.environ.get("SHALLOWVISION_BENCH_DATA", Path.home() / ".cache" / "shallowvision-bench")
)
SHIFT = 2
FORMS = ("upright", "rot90", "rot180", "rot270", "inverted")
IMBALANCE = 10.0


def _write_idx(path: Path, array: np.ndarray) -> None:
    code = 0x08  # unsigned byte
    with open(path, "wb") as out:
        out.write(struct.pack(">HBB", 0, code, array.ndim))
        out.write(struct.pack(f">{array.ndim}I", *array.shape))
        for start in range(0, len(array), 65536):
            out.write(np.ascontiguousarray(array[start : start + 65536], dtype=np.uint8).tobytes())


def shift_images(images: np.ndarray, dy: np.ndarray, dx: np.ndarray) -> np.ndarray:
    """Each image moved by its own whole-pixel offset, the uncovered border filled with 0."""
    out = np.zeros_like(images)
    h, w = images.shape[1:]
    for oy in np.unique(dy):
        for ox in np.unique(dx):
            rows = np.flatnonzero((dy == oy) & (dx == ox))
            if not len(rows):
                continue
            src_y = slice(max(0, -oy), h - max(0, oy))
            dst_y = slice(max(0, oy), h - max(0, -oy))
            src_x = slice(max(0, -ox), w - max(0, ox))
            dst_x = slice(max(0, ox), w - max(0, -ox))
            out[rows, dst_y, dst_x] = images[rows][:, src_y, src_x]
    return out


def _offsets(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    pairs = np.array(
        [
            (y, x)
            for y in range(-SHIFT, SHIFT + 1)
            for x in range(-SHIFT, SHIFT + 1)
            if (y, x) != (0, 0)
        ]
    )
    chosen = pairs[rng.integers(len(pairs), size=n)]
    return chosen[:, 0], chosen[:, 1]


def _replicate(images: np.ndarray, labels: np.ndarray, n: int, seed: int):
    """The originals, then shifted copies in a seeded order per replica, ``n`` in all."""
    parts_x, parts_y, have, replica = [images[:n]], [labels[:n]], min(n, len(images)), 1
    while have < n:
        rng = np.random.default_rng([seed, replica])
        order = rng.permutation(len(images))[: n - have]
        dy, dx = _offsets(rng, len(order))
        parts_x.append(shift_images(images[order], dy, dx))
        parts_y.append(labels[order])
        have += len(order)
        replica += 1
    return np.concatenate(parts_x), np.concatenate(parts_y)


def _in_form(images: np.ndarray, form: str) -> np.ndarray:
    if form == "inverted":
        return 255 - images
    turns = {"upright": 0, "rot90": 1, "rot180": 2, "rot270": 3}[form]
    return np.ascontiguousarray(np.rot90(images, k=turns, axes=(1, 2)))


def _many_class(images: np.ndarray, labels: np.ndarray, n: int, seed: int, n_base: int):
    """``n`` images of ``n_base * len(FORMS)`` classes with geometric 10:1 frequencies."""
    rng = np.random.default_rng([seed, 999])
    n_classes = n_base * len(FORMS)
    weights = IMBALANCE ** -np.linspace(0.0, 1.0, n_classes)
    weights = weights[rng.permutation(n_classes)]
    classes = rng.choice(n_classes, size=n, p=weights / weights.sum())
    out = np.empty((n, *images.shape[1:]), dtype=np.uint8)
    by_label = [np.flatnonzero(labels == k) for k in range(n_base)]
    for cls in range(n_classes):
        rows = np.flatnonzero(classes == cls)
        base, form = divmod(cls, len(FORMS))
        source = rng.choice(by_label[base], size=len(rows), replace=len(rows) > len(by_label[base]))
        dy, dx = _offsets(rng, len(rows))
        keep = rng.random(len(rows)) < 0.5  # half of them unshifted
        dy[keep] = 0
        dx[keep] = 0
        out[rows] = shift_images(_in_form(images[source], FORMS[form]), dy, dx)
    return out, classes.astype(np.uint8)


def build(kind: str, n: int, *, seed: int = 0, root: Path = ROOT) -> Path:
    """The folder of the ``kind`` set with ``n`` training images, built if absent."""
    from shallowvision.datasets import load

    if kind not in ("shifted", "many"):
        raise ValueError(f"kind must be 'shifted' or 'many', got {kind!r}")
    folder = root / f"fashion-{kind}-{n // 1000}k-seed{seed}"
    if (folder / "complete").is_file():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    train, test = load("fashion-mnist"), load("fashion-mnist", "test")
    if kind == "shifted":
        x, y = _replicate(np.asarray(train.images), train.labels, n, seed)
        tx, ty = np.asarray(test.images), test.labels.astype(np.uint8)
    else:
        x, y = _many_class(np.asarray(train.images), train.labels, n, seed, train.n_classes)
        rng = np.random.default_rng([seed, 1000])
        forms = rng.integers(len(FORMS), size=len(test))
        tx = np.empty_like(np.asarray(test.images))
        for f, form in enumerate(FORMS):
            rows = np.flatnonzero(forms == f)
            tx[rows] = _in_form(np.asarray(test.images)[rows], form)
        ty = (test.labels * len(FORMS) + forms).astype(np.uint8)
    _write_idx(folder / "train-images-idx3-ubyte", x)
    _write_idx(folder / "train-labels-idx1-ubyte", y.astype(np.uint8))
    _write_idx(folder / "t10k-images-idx3-ubyte", tx)
    _write_idx(folder / "t10k-labels-idx1-ubyte", ty)
    (folder / "complete").write_text(f"{kind} {n} seed {seed}\n")
    return folder


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kind", choices=["shifted", "many"])
    parser.add_argument("n", type=int)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(build(args.kind, args.n, seed=args.seed))
