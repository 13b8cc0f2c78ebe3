"""Evaluation speed: ``evaluate_predictions`` against the plain scikit-learn calls it replaces.

Three tasks, each from stored probabilities:

1. Fashion-MNIST test set (10,000 images, 10 classes), probabilities of a logistic
   regression fitted on a 6,000-image training subset (real data).
2. The same images as a binary task, "Shirt" against the rest (real data).
3. 18,800 images and 47 classes, the size of EMNIST-Balanced's test set (synthetic
   probabilities: EMNIST is not on this machine).

For each, in a fresh process: the baseline (scikit-learn's classification_report,
accuracy, balanced accuracy, MCC, kappa, top-k, ROC AUC and average precision per class,
log loss, Brier score, confusion matrix, and roc_curve, precision_recall_curve and
calibration_curve per class), then ``evaluate_predictions`` (everything but robustness,
figure data included), ``to_dict`` + ``json.dumps``, and ``save_figures`` (PNG
rendering, measured apart). Each timing is the best of 3 runs in that process.
Robustness (not part of the target) is timed once for the 10-class model: 16 corrupted
copies of the test set, each predicted.

Run:  python benchmarks/bench_evaluation.py
Target: evaluating the 10,000-image Fashion-MNIST test set in under 5 s.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _harness import in_child, machine, table

REPEATS = 3

_TIMED = """
best = float("inf")
for _ in range({repeats}):
    start = time.perf_counter()
{body}
    best = min(best, time.perf_counter() - start)
extra = best
"""

_SETUP = """
import json, tempfile, time, warnings
import numpy as np
warnings.simplefilter("ignore")
data = np.load("{npz}")
y, proba = data["y"], data["proba"]
names = [str(n) for n in data["names"]]
images = data["images"] if "images" in data.files else None
"""

BASELINE = """
    from sklearn import metrics as skm
    from sklearn.calibration import calibration_curve
    k = proba.shape[1]
    labels = np.arange(k)
    onehot = np.eye(k)[y]
    pred = proba.argmax(axis=1)
    skm.classification_report(y, pred, labels=labels, output_dict=True, zero_division=0)
    skm.accuracy_score(y, pred)
    skm.balanced_accuracy_score(y, pred)
    skm.matthews_corrcoef(y, pred)
    skm.cohen_kappa_score(y, pred)
    if k > 2:
        skm.top_k_accuracy_score(y, proba, k=3, labels=labels)
        skm.top_k_accuracy_score(y, proba, k=5, labels=labels)
        skm.roc_auc_score(y, proba, multi_class="ovr", average=None)
    else:
        skm.roc_auc_score(y, proba[:, 1])
    skm.average_precision_score(onehot, proba, average=None)
    skm.log_loss(y, proba, labels=labels)
    skm.brier_score_loss(y, proba, labels=labels, scale_by_half=False)
    skm.confusion_matrix(y, pred, labels=labels)
    for c in range(k):
        skm.roc_curve(y == c, proba[:, c])
        skm.precision_recall_curve(y == c, proba[:, c])
        calibration_curve(y == c, proba[:, c], n_bins=15)
        calibration_curve(y == c, proba[:, c], n_bins=15, strategy="quantile")
"""

OURS = """
    ev = evaluate_predictions(y, proba, class_names=names, images=images)
"""

JSON = """
    text = json.dumps(ev.to_dict(), allow_nan=False)
"""

PNG = """
    written = save_figures(ev, out_dir)
"""


ROBUSTNESS_SETUP = """
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from threadpoolctl import threadpool_limits
from shallowvision.datasets import load
from shallowvision.evaluation import evaluate_robustness
from shallowvision.features import PixelScaler
train = load("fashion-mnist").subsample(n_per_class=600, random_state=0)
test = load("fashion-mnist", "test")
model = make_pipeline(PixelScaler(), LogisticRegression(C=0.05, max_iter=2000))
with threadpool_limits(1):
    model.fit(train.X, train.labels)
"""

ROBUSTNESS = """
    result = evaluate_robustness(model, test.images, test.labels)
"""


def _timed(body: str, npz: Path, setup: str = "", repeats: int = REPEATS) -> dict:
    result = in_child(
        _TIMED.format(repeats=repeats, body=body.rstrip()),
        setup=_SETUP.format(npz=npz) + setup,
    )
    return {"seconds": result["extra"]}


def _fashion_tasks(workdir: Path) -> list[tuple[str, Path]]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from threadpoolctl import threadpool_limits

    from shallowvision.datasets import load
    from shallowvision.features import PixelScaler

    train = load("fashion-mnist").subsample(n_per_class=600, random_state=0)
    test = load("fashion-mnist", "test")
    tasks = []
    for name, fit_set, test_set in (
        ("Fashion-MNIST, 10 classes", train, test),
        ("Fashion-MNIST, Shirt vs rest", train.one_vs_rest("Shirt"), test.one_vs_rest("Shirt")),
    ):
        model = make_pipeline(PixelScaler(), LogisticRegression(C=0.05, max_iter=2000))
        # One BLAS thread: on a shared 2-core machine more threads only slow the fit down.
        with threadpool_limits(1):
            model.fit(fit_set.X, fit_set.labels)
        path = workdir / f"{len(tasks)}.npz"
        np.savez(
            path,
            y=test_set.labels,
            proba=model.predict_proba(test_set.X),
            names=np.array(test_set.class_names),
            images=np.asarray(test_set.images),
        )
        tasks.append((name, path))
    return tasks


def _synthetic_47(workdir: Path) -> tuple[str, Path]:
    rng = np.random.default_rng(0)
    n, k = 18_800, 47
    y = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), y] += rng.normal(3.0, 1.5, n)  # about 80% top-1 accuracy
    proba = np.exp(logits - logits.max(axis=1, keepdims=True))
    proba /= proba.sum(axis=1, keepdims=True)
    path = workdir / "47.npz"
    np.savez(path, y=y, proba=proba, names=np.array([f"c{i}" for i in range(k)]))
    return "47 classes, 18,800 images (synthetic)", path


def main() -> None:
    load_before = os.getloadavg()[0]
    workdir = Path(tempfile.mkdtemp(prefix="sv-bench-eval-"))
    tasks = [*_fashion_tasks(workdir), _synthetic_47(workdir)]
    ours_setup = "from shallowvision.evaluation import evaluate_predictions, save_figures\n"
    png_setup = ours_setup + (
        "ev = evaluate_predictions(y, proba, class_names=names, images=images)\n"
        "out_dir = tempfile.mkdtemp()\n"
    )
    rows, summary = [], []
    for name, npz in tasks:
        baseline = _timed(BASELINE, npz)
        ours = _timed(OURS, npz, ours_setup)
        as_json = _timed(JSON, npz, png_setup)
        png = _timed(PNG, npz, png_setup)
        rows += [
            {"task": name, "step": "scikit-learn calls (baseline)", **baseline},
            {
                "task": name,
                "step": "evaluate_predictions",
                **ours,
                "ratio": ours["seconds"] / baseline["seconds"],
            },
            {"task": name, "step": "to_dict + json.dumps", **as_json},
            {"task": name, "step": "save_figures (PNG)", **png},
        ]
        summary.append(
            f"{name}: evaluate_predictions {ours['seconds']:.2f} s "
            f"({ours['seconds'] / baseline['seconds']:.2f}x the baseline's "
            f"{baseline['seconds']:.2f} s), PNGs {png['seconds']:.2f} s"
        )
    robustness = _timed(ROBUSTNESS, tasks[0][1], ROBUSTNESS_SETUP, repeats=1)
    rows.append({"task": tasks[0][0], "step": "evaluate_robustness (one run)", **robustness})
    print(f"machine: {machine()}")
    print(
        f"best of {REPEATS} runs per step, each task in fresh processes; load average "
        f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after (2 cores shared)\n"
    )
    print(table(rows, ["task", "step", "seconds", "ratio"]))
    print()
    for line in summary:
        print(line)
    fashion = next(r for r in rows if r["step"] == "evaluate_predictions")
    print(f"\nFashion-MNIST test set: {fashion['seconds']:.2f} s (target < 5 s)")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    main()
