"""Loading speed and peak memory: shallowvision's readers against the plain baselines.

1. Full Fashion-MNIST (70,000 images) from the .gz files, against gzip + numpy.frombuffer.
2. The same from shallowvision's decoded cache (a memory map).
3. The 60,000-image training set written as a Kaggle-style CSV, against one pandas.read_csv.

Run:  python benchmarks/bench_datasets.py
Targets: cached reload < 50 ms; CSV no slower than 1.5x pandas with peak memory < 3x the
final uint8 array.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _harness import in_child, machine, table

FASHION = "/usr/share/datasets/fashion-mnist"


def main() -> None:
    cache = tempfile.mkdtemp(prefix="sv-bench-cache-")
    env = {"SHALLOWVISION_CACHE": cache}
    rows = []

    baseline_gz = in_child(
        f"""
        for prefix in ("train", "t10k"):
            with gzip.open("{FASHION}/" + prefix + "-images-idx3-ubyte.gz") as f:
                images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
            with gzip.open("{FASHION}/" + prefix + "-labels-idx1-ubyte.gz") as f:
                labels = np.frombuffer(f.read(), np.uint8, offset=8)
        """,
        setup="import gzip, numpy as np",
    )
    ours_gz = in_child(
        """
        train = load("fashion-mnist", cache=False)
        test = load("fashion-mnist", "test", cache=False)
        extra = len(train) + len(test)
        """,
        setup="from shallowvision.datasets import load",
        env=env,
    )
    assert ours_gz["extra"] == 70000
    rows += [
        {
            "step": "Fashion-MNIST 70k from .gz",
            "reader": "gzip + np.frombuffer (baseline)",
            **baseline_gz,
        },
        {
            "step": "Fashion-MNIST 70k from .gz",
            "reader": "shallowvision.load (verified checksums)",
            **ours_gz,
            "ratio": ours_gz["seconds"] / baseline_gz["seconds"],
        },
    ]

    # Fill the cache, then time the reload in a fresh process.
    in_child(
        'load("fashion-mnist"); load("fashion-mnist", "test")',
        setup="from shallowvision.datasets import load",
        env=env,
    )
    cached = in_child(
        """
        train = load("fashion-mnist")
        test = load("fashion-mnist", "test")
        extra = type(train.images).__name__
        """,
        setup="from shallowvision.datasets import load",
        env=env,
    )
    rows.append(
        {
            "step": "Fashion-MNIST 70k, cached",
            "reader": f"shallowvision.load ({cached['extra']})",
            **cached,
            "ratio": cached["seconds"] / baseline_gz["seconds"],
        }
    )

    csv_path = Path(tempfile.gettempdir()) / "sv-bench-fashion-mnist_train.csv"
    if not csv_path.exists():
        in_child(
            f"""
            train = load("fashion-mnist", cache=False)
            header = "label," + ",".join(f"pixel{{i + 1}}" for i in range(784))
            np.savetxt("{csv_path}", np.column_stack([train.labels, train.X]), fmt="%d", delimiter=",",
                       header=header, comments="")
            """,
            setup="import numpy as np\nfrom shallowvision.datasets import load",
        )
    final_mib = 60000 * 784 / 2**20
    pandas_csv = in_child(f'df = pd.read_csv("{csv_path}")', setup="import pandas as pd")
    ours_csv = in_child(
        f'images, labels = read_csv("{csv_path}")\nextra = list(images.shape)',
        setup="from shallowvision.datasets import read_csv",
    )
    rows += [
        {"step": "60k CSV (133 MB)", "reader": "pandas.read_csv (baseline)", **pandas_csv},
        {
            "step": "60k CSV (133 MB)",
            "reader": "shallowvision read_csv (chunked)",
            **ours_csv,
            "ratio": ours_csv["seconds"] / pandas_csv["seconds"],
        },
    ]
    for r in rows:
        r["peak / uint8 array"] = r["peak_mib"] / final_mib if "CSV" in r["step"] else ""
    print(f"machine: {machine()}")
    print(table(rows, ["step", "reader", "seconds", "ratio", "peak_mib", "peak / uint8 array"]))
    print(f"\nfinal uint8 training array: {final_mib:.1f} MiB")
    print(f"cached reload: {cached['seconds'] * 1000:.1f} ms (target < 50 ms)")
    print(
        f"CSV: {ours_csv['seconds'] / pandas_csv['seconds']:.2f}x pandas (target <= 1.5x), "
        f"peak {ours_csv['peak_mib'] / final_mib:.2f}x the array (target < 3x)"
    )


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    main()
