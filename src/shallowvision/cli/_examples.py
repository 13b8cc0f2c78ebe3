"""One example command line per command, shown at the end of its ``--help``."""

from __future__ import annotations

EXAMPLES: dict[str, str] = {
    "benchmark": "shallowvision benchmark fashion-mnist --grid paper --only GaussianNB --out bench.jsonl",
    "calibrate": "shallowvision calibrate runs/RUN/models/lr.skops digits --method temperature --out lr-t.skops",
    "compare": "shallowvision compare fashion-mnist -m lr,fast --test",
    "datasets": "shallowvision datasets",
    "eda": "shallowvision eda fashion-mnist --out eda",
    "ensemble": "shallowvision ensemble digits --members lr,nb,knn",
    "evaluate": "shallowvision evaluate runs/RUN/models/lr.skops digits --out evaluation",
    "explain": "shallowvision explain runs/RUN/models/lr.skops digits --out explanation",
    "info": "shallowvision data info fashion-mnist",
    "models": "shallowvision models",
    "predict": "shallowvision predict lr.skops photos/*.png",
    "report": "shallowvision report --compare runs/RUN_A runs/RUN_B",
    "run": "shallowvision run fashion-mnist --preset quick --out runs",
    "select": "shallowvision select digits --method model --keep 0.3 --model rf",
    "serve": "shallowvision serve lr.skops --port 8000",
    "tune": "shallowvision tune digits -m svm-rbf --n-candidates 8",
}


def example(command: str) -> str:
    """The ``--help`` epilog of ``command``: an example of its use."""
    return f"Example: {EXAMPLES[command]}"
