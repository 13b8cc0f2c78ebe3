"""`best`'s SVM with virtual examples and test-time flips, on a validation split.

Fits `best`'s feature steps on Fashion-MNIST's training images less a 6,000-image
validation split (seed 0), its SVM (C=5, gamma_scale=2) on them (the baseline), then on
the support vectors plus their horizontal flips, 1-pixel shifts, or both (virtual
support vectors), and prints each validation accuracy, alone and with the flipped
image's scores averaged in. ``test`` instead of ``validation`` fits on all 60,000 and
scores the test set. Features are cached under ``SHALLOWVISION_BENCH_DATA``.

    python benchmarks/ablate_virtual.py [validation|test]
"""

import os
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from shallowvision.datasets import load
from shallowvision.features._kernels import rbf_gamma
from shallowvision.models import get_model

CACHE = (
    Path(os.environ.get("SHALLOWVISION_BENCH_DATA", Path.home() / ".cache/shallowvision-bench"))
    / "ablate-virtual"
)
CACHE.mkdir(parents=True, exist_ok=True)
T0 = time.perf_counter()


def log(*a):
    print(f"[{time.perf_counter() - T0:7.1f}s]", *a, flush=True)


def shift(images, dy, dx):
    out = np.zeros_like(images)
    h, w = images.shape[1:3]
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    out[:, yd, xd] = images[:, ys, xs]
    return out


VARIANTS = {
    "flip": lambda im: im[:, :, ::-1].copy(),
    "up": lambda im: shift(im, -1, 0),
    "down": lambda im: shift(im, 1, 0),
    "left": lambda im: shift(im, 0, -1),
    "right": lambda im: shift(im, 0, 1),
}


def features(feat, name, images):
    path = CACHE / f"{name}.npy"
    if path.exists():
        return np.load(path)
    t = time.perf_counter()
    x = feat.transform(images.reshape(len(images), -1)).astype(np.float32)
    np.save(path, x)
    log(f"features {name}: {len(images)} images in {time.perf_counter() - t:.1f}s")
    return x


def svc(X, y, gamma, C=5.0):
    from sklearnex.svm import SVC

    t = time.perf_counter()
    m = SVC(C=C, kernel="rbf", gamma=gamma, cache_size=1000).fit(X, y)
    log(f"SVC fit {len(X)} rows: {time.perf_counter() - t:.1f}s, {len(m.support_)} SVs")
    return m


def main():
    which = sys.argv[1] if len(sys.argv) > 1 else "validation"
    train = load("fashion-mnist", "train", validation_size=6000)
    if which == "test":
        train, held = load("fashion-mnist", "train"), load("fashion-mnist", "test")
    else:
        held = load("fashion-mnist", "validation", validation_size=6000)
    tag = "v" if which == "validation" else "t"
    model = get_model("best", random_state=0, n_jobs=2, image_shape=train.images.shape[1:])
    feat = model[:-1]
    import joblib

    t = time.perf_counter()
    fpath = CACHE / f"feat-{tag}.joblib"
    if fpath.exists():
        feat = joblib.load(fpath)
    else:
        feat.fit(train.X, train.labels)
        joblib.dump(feat, fpath)
        log(f"feature fit {time.perf_counter() - t:.1f}s")
    Xtr = features(feat, f"{tag}-train", train.images)
    Xte = features(feat, f"{tag}-held", held.images)
    y, yt = train.labels, held.labels
    gamma = rbf_gamma(Xtr, "scale", 2.0)
    log("gamma", gamma)
    base = svc(Xtr, y, gamma)
    d0 = base.decision_function(Xte)
    log("base acc", (base.predict(Xte) == yt).mean())
    np.save(CACHE / f"{tag}-base-pred.npy", base.predict(Xte))
    if "--base-only" in sys.argv:
        return
    # test-time flip
    Xte_f = features(feat, f"{tag}-held-flip", held.images[:, :, ::-1].copy())
    d1 = base.decision_function(Xte_f)
    log(
        "TTA flip (ovr avg) acc",
        (base.classes_[np.argmax(d0 + d1, 1)] == yt).mean(),
        "ovr alone",
        (base.classes_[np.argmax(d0, 1)] == yt).mean(),
    )
    sv = base.support_
    Xv, yv = [Xtr[sv]], [y[sv]]
    for name, fn in VARIANTS.items():
        Xn = features(feat, f"{tag}-sv-{name}", fn(train.images[sv]))
        Xv.append(Xn)
        yv.append(y[sv])
        log(name, "done")
    rows = {
        "sv+flip": [0, 1],
        "sv+shifts": [0, 2, 3, 4, 5],
        "sv+flip+shifts": [0, 1, 2, 3, 4, 5],
    }
    for label, parts in rows.items():
        m = svc(
            np.concatenate([Xv[i] for i in parts]), np.concatenate([yv[i] for i in parts]), gamma
        )
        d = m.decision_function(Xte)
        df = m.decision_function(Xte_f)
        log(
            label,
            "acc",
            (m.predict(Xte) == yt).mean(),
            "with TTA flip",
            (m.classes_[np.argmax(d + df, 1)] == yt).mean(),
        )


if __name__ == "__main__":
    with threadpool_limits(2):
        main()
