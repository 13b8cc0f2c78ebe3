"""Explanation speed: ``shallowvision explain`` with its defaults on Fashion-MNIST, against
plain shap and scikit-learn calls for the same work.

For each tree model of the zoo (default settings), fitted on the 60,000 training images
(not timed) and saved with ``save_model``:

1. ``shallowvision explain MODEL fashion-mnist --out DIR`` in a fresh process, with every
   default (the 10,000 test images: predictions for all, SHAP values for a stratified
   sample plus the 8 most confidently misclassified, permutation importance on 500,
   impurity importance, JSON and 5 PNGs). Wall time from the command's start to its
   exit: the target is under 2 minutes.
2. Baselines, in a fresh process: one plain ``shap.TreeExplainer(model)(X)`` call on the
   same number of images as step 1 explained, and scikit-learn's
   ``permutation_importance`` on the same 500 images (the numbers our batched version
   reproduces exactly).

Run:  python benchmarks/bench_explain.py [rf lgbm xgb]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _harness import in_child, machine, table

EXE = Path(sys.executable).with_name("shallowvision")

FIT = """
import sys
from shallowvision.datasets import load
from shallowvision.models import get_model
from shallowvision.persistence import save_model, training_provenance
train = load("fashion-mnist")
model = get_model("{name}", random_state=0).fit(train.X, train.y)
save_model(model, "{path}", class_names=train.class_names, image_shape=train.image_shape,
           name="{name}", training_data=training_provenance(train))
"""

BASELINE_SETUP = """
import json, warnings
import numpy as np
warnings.simplefilter("ignore")
import shap
from sklearn.inspection import permutation_importance
from shallowvision.datasets import load
from shallowvision.explain._shap import stratified_sample
from shallowvision.persistence import load_model
saved = load_model("{path}")
test = load("fashion-mnist", "test")
done = json.load(open("{explanation}"))
rows = np.asarray(done["explained_indices"])
X = test.X[rows].astype(np.float64)
final = saved.estimator[-1]
perm_rows = stratified_sample(test.y, 500, random_state=2)
"""

SHAP_CALL = """
shap.TreeExplainer(final)(X, check_additivity=False)
"""

SKLEARN_PERMUTATION = """
permutation_importance(saved.estimator, test.X[perm_rows], test.y[perm_rows], scoring="accuracy", n_repeats=1, random_state=0)
"""


def main(names: list[str]) -> None:
    work = Path(tempfile.mkdtemp(prefix="sv-bench-explain-"))
    rows, lines = [], []
    for name in names:
        path = work / f"{name}.skops"
        # Not timed; one OpenMP thread keeps the boosting libraries from thrashing a shared machine.
        in_child(FIT.format(name=name, path=path), env={"OMP_NUM_THREADS": "1"})
        out = work / f"{name}-explained"
        load_before = os.getloadavg()[0]
        start = time.perf_counter()
        run = subprocess.run(
            [str(EXE), "explain", str(path), "fashion-mnist", "--out", str(out)],
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - start
        if run.returncode != 0:
            raise RuntimeError(run.stderr)
        done = json.loads((out / "explanation.json").read_text())
        seconds = done["seconds"]
        setup = BASELINE_SETUP.format(path=path, explanation=out / "explanation.json")
        shap_call = in_child(SHAP_CALL, setup=setup)["seconds"]
        sklearn_perm = in_child(SKLEARN_PERMUTATION, setup=setup)["seconds"]
        n = len(done["explained_indices"])
        load_after = os.getloadavg()[0]
        rows += [
            {"model": name, "step": "shallowvision explain (CLI, defaults, wall)", "seconds": wall},
            {
                "model": name,
                "step": f"  SHAP values of {n} images",
                "seconds": seconds["shap"],
                "ratio": seconds["shap"] / shap_call,
            },
            {
                "model": name,
                "step": f"  plain shap.TreeExplainer call, same {n} images (baseline)",
                "seconds": shap_call,
            },
            {
                "model": name,
                "step": "  permutation importance, 500 images (batched)",
                "seconds": seconds["permutation"],
                "ratio": seconds["permutation"] / sklearn_perm,
            },
            {
                "model": name,
                "step": "  sklearn permutation_importance, same images (baseline)",
                "seconds": sklearn_perm,
            },
        ]
        lines.append(
            f"{name}: explain took {wall:.0f} s wall ({n} images explained, "
            f"additivity error {done['additivity_error']:.1e}); load average "
            f"{load_before:.1f} before, {load_after:.1f} after (2 cores shared)"
        )
    print(f"machine: {machine()}\n")
    print(table(rows, ["model", "step", "seconds", "ratio"]))
    print()
    for line in lines:
        print(line)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    main(sys.argv[1:] or ["lgbm", "rf"])
