"""The weight of kernel ridge blended with ``best``'s SVM when the SVM sees a sample.

On Fashion-MNIST (a 6,000-image validation split, seeds 0-2), ``best``'s features are
learnt once per split; the SVM is fitted on a seeded 59.5% of the other 54,000 images
(the share 450,000 is of 756,000) and kernel ridge on landmarks (``fast``'s) on all of
them. Each weight's validation accuracy is printed next to the SVM alone (weight 0,
measured in the same run) as a difference; the test images are scored once per weight
to show the choice carries over, not to make it. The SVM on every row is printed too.

    python benchmarks/blend_weight.py [--seeds 0,1,2]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from _harness import machine, table

from shallowvision.datasets import load_splits
from shallowvision.models import BlockRBFSVC, NystroemRidgeClassifier, get_model
from shallowvision.models._compare import thread_limit
from shallowvision.models._svc import _score_differences, _votes

WEIGHTS = (0.0, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0)
SHARE = 450_000 / 756_000


def one_split(seed: int) -> dict[str, dict[float, float]]:
    splits = load_splits("fashion-mnist", validation_size=0.1, random_state=seed)
    features = get_model("best", random_state=seed, n_jobs=-1, clf="passthrough")
    X = features.fit_transform(splits.train.X, splits.train.y)
    y = splits.train.y
    sampled = BlockRBFSVC(
        C=5.0,
        gamma_scale=2.0,
        max_train=int(SHARE * len(X)),
        refine=0,
        random_state=seed,
        n_jobs=-1,
    ).fit(X, y)
    ridge = NystroemRidgeClassifier(
        n_components="auto", alpha=0.01, tol=3e-3, random_state=seed, n_jobs=-1
    ).fit(X, y)
    whole = BlockRBFSVC(C=5.0, gamma_scale=2.0, random_state=seed, n_jobs=-1).fit(X, y)
    out: dict[str, dict[float, float]] = {}
    for name, held in (("validation", splits.validation), ("test", splits.test)):
        Xh = features.transform(held.X)
        svm, scores = sampled._svm_pairwise(Xh), _score_differences(ridge, Xh)
        n_classes = len(sampled.classes_)
        out[name] = {
            w: float((_votes(svm + w * scores, n_classes) == held.y).mean()) for w in WEIGHTS
        }
        out[name]["ridge"] = float((ridge.predict(Xh) == held.y).mean())
        out[name]["svm on all"] = float((whole.predict(Xh) == held.y).mean())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", default="0,1,2")
    seeds = [int(s) for s in parser.parse_args().seeds.split(",")]
    print(f"machine: {machine()}")
    start = time.perf_counter()
    with thread_limit(-1):
        runs = [one_split(s) for s in seeds]
    rows = []
    for key in [*WEIGHTS, "ridge", "svm on all"]:
        row: dict[str, object] = {"weight": key}
        for name in ("validation", "test"):
            values = [r[name][key] for r in runs]
            row[f"{name} (mean of {len(seeds)})"] = f"{np.mean(values):.4f}"
            row[f"{name} - weight 0"] = (
                f"{np.mean(values) - np.mean([r[name][0.0] for r in runs]):+.4f}"
            )
        rows.append(row)
    print(table(rows, list(rows[0])))
    print(f"{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
