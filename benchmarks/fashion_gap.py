"""Fashion-MNIST's validation-test gap: how close each held-out image is to its nearest
training image (pixels in [0, 1]), for a 6,000-image validation split (seed 0) against
the other 54,000 and for the test set against all 60,000, with 1-NN accuracy.

    python benchmarks/fashion_gap.py
"""

import numpy as np
from sklearn.neighbors import NearestNeighbors
from threadpoolctl import threadpool_limits

from shallowvision.datasets import load


def nn_dist(train, held):
    a = train.images.reshape(len(train), -1).astype(np.float32) / 255
    b = held.images.reshape(len(held), -1).astype(np.float32) / 255
    nn = NearestNeighbors(n_neighbors=1, algorithm="brute").fit(a)
    d, i = nn.kneighbors(b)
    return d[:, 0], train.labels[i[:, 0]]


with threadpool_limits(2):
    tr_v = load("fashion-mnist", "train", validation_size=6000)
    val = load("fashion-mnist", "validation", validation_size=6000)
    tr = load("fashion-mnist", "train")
    te = load("fashion-mnist", "test")
    dv, lv = nn_dist(tr_v, val)
    dt, lt = nn_dist(tr, te)
    for name, d, lab, held in (("validation", dv, lv, val), ("test", dt, lt, te)):
        q = np.percentile(d, [1, 5, 10, 25, 50])
        print(
            name,
            "nn dist pct 1/5/10/25/50:",
            np.round(q, 2),
            "1-NN acc",
            (lab == held.labels).mean(),
        )
        for th in (0.5, 1.0, 1.5, 2.0):
            print(f"  share with nn dist < {th}: {(d < th).mean():.4f}")
