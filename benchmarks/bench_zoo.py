"""The model zoo's defaults on full Fashion-MNIST, and ``compare`` over the whole zoo on digits.

1. Every registered model (whatever ``get_model_names()`` lists when this runs) with
   its default parameters, fitted on Fashion-MNIST's 60,000 training images less a
   seeded, stratified validation split of 6,000, and scored on that split: accuracy,
   fit seconds and prediction throughput (images per second, from ``predict_proba`` or
   ``decision_function``). Baselines, measured in the same run: the chance-level
   ``dummy`` model and plain scikit-learn, ``StandardScaler`` + ``LogisticRegression()``
   with its defaults. Each fit runs in a worker process that is stopped after
   ``--time-limit`` seconds. Thread waiting is chosen as the command line chooses it.
2. ``shallowvision compare digits -m all`` through the console script, wall time
   (target < 60 s): as the command line chooses (by the cores' use when it starts),
   against the same command with the OpenMP/OpenBLAS runtimes' own thread waiting
   (spinning first, the baseline) and with idle threads always sleeping at once.

Run:  python benchmarks/bench_zoo.py [--time-limit 1800] [--skip-fashion] [--skip-digits]
                                     [--models fast,best]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

# The command line's choice of thread waiting, made before numpy loads OpenBLAS.
from shallowvision.cli._app import SLEEPING_THREADS, sleep_idle_threads_when_busy

SLEEPING = sleep_idle_threads_when_busy()

from _harness import machine, table  # noqa: E402

EXE = shutil.which("shallowvision", path=os.path.dirname(sys.executable)) or "shallowvision"
PLAIN_LR = "sklearn StandardScaler + LogisticRegression() (baseline)"


def fashion(time_limit: float, only: list[str] | None) -> list[dict]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from shallowvision.datasets import load_splits
    from shallowvision.models import compare_models, get_model_names

    splits = load_splits("fashion-mnist", validation_size=6000, random_state=0)
    names = [n for n in get_model_names() if only is None or n in only or n == "dummy"]
    models = [(PLAIN_LR, make_pipeline(StandardScaler(), LogisticRegression())), *names]

    def progress(name: str, stage: str) -> None:
        print(f"  {time.strftime('%H:%M:%S')} {name}: {stage}", file=sys.stderr, flush=True)

    comparison = compare_models(
        models,
        splits.train,
        splits.validation,
        random_state=0,
        time_limit=time_limit,
        on_progress=progress,
    )
    base = next(r for r in comparison.rows if r.model == PLAIN_LR)
    rows = []
    for r in comparison.rows:
        ok = r.status == "ok"
        rows.append(
            {
                "model": r.model,
                "status": r.status,
                "accuracy": r.accuracy if ok else "",
                "vs LR": f"{r.accuracy - base.accuracy:+.4f}" if ok and base.accuracy else "",
                "fit s": r.fit_seconds if ok else "",
                "fit / LR": r.fit_seconds / base.fit_seconds if ok and base.fit_seconds else "",
                "images/s": 1000 / r.predict_seconds_per_1000
                if ok and r.predict_seconds_per_1000
                else "",
                "size MB": r.size_bytes / 1e6 if ok and r.size_bytes else "",
            }
        )
    print(
        f"Fashion-MNIST: {comparison.n_train:,} training images, {comparison.n_eval:,} "
        f"validation images; time limit {time_limit:g} s per model"
    )
    return rows


def compare_digits(waiting: str, timeout: float) -> dict:
    """``waiting``: "chosen" (the command line's choice), "spinning" or "sleeping"."""
    out = Path(tempfile.mkdtemp(prefix="sv-bench-zoo-")) / "digits.json"
    args = ["compare", "digits", "-m", "all", "--out", str(out)]
    env = {k: v for k, v in os.environ.items() if k not in SLEEPING_THREADS}
    command = [EXE, *args]
    if waiting == "spinning":
        # The same command through the Typer app, without main()'s thread-waiting choice.
        command = [sys.executable, "-c", f"from shallowvision.cli import app; app({args!r})"]
    elif waiting == "sleeping":
        env.update(SLEEPING_THREADS)
    start = time.perf_counter()
    try:
        done = subprocess.run(
            command,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return {"seconds": f"> {timeout:g} (stopped)", "models": "", "slowest": ""}
    seconds = time.perf_counter() - start
    if done.returncode not in (0, None):
        raise RuntimeError(done.stderr)
    rows = json.loads(out.read_text())["rows"]
    slowest = sorted(rows, key=lambda r: -(r["fit_seconds"] or 0))[:3]
    return {
        "seconds": seconds,
        "models": f"{sum(r['status'] == 'ok' for r in rows)}/{len(rows)} ok",
        "slowest": ", ".join(f"{r['model']} {r['fit_seconds']:.1f} s" for r in slowest),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--time-limit", type=float, default=1800.0)
    parser.add_argument("--baseline-timeout", type=float, default=600.0)
    parser.add_argument("--skip-fashion", action="store_true")
    parser.add_argument("--skip-digits", action="store_true")
    parser.add_argument(
        "--models", help="Comma-separated zoo models for Fashion-MNIST (the baselines always run)"
    )
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    print(f"machine: {machine()}")
    waiting = "sleeping at once" if SLEEPING else "spinning first"
    print(f"this process's idle threads, chosen as the command line chooses: {waiting}")
    if not args.skip_digits:
        base = compare_digits("spinning", timeout=args.baseline_timeout)
        rows = [{"threads wait by": "spinning first (runtime defaults, baseline)", **base}]
        for waiting, label in (
            ("sleeping", "sleeping at once"),
            ("chosen", "the command line's choice"),
        ):
            row = {"threads wait by": label, **compare_digits(waiting, timeout=600)}
            if isinstance(base["seconds"], float):
                row["ratio"] = row["seconds"] / base["seconds"]
            rows.append(row)
        print("\n`shallowvision compare digits -m all` (target < 60 s)")
        print(table(rows, ["threads wait by", "seconds", "ratio", "models", "slowest"]))
        print(f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after")
    if not args.skip_fashion:
        load_fashion = os.getloadavg()[0]
        rows = fashion(args.time_limit, args.models.split(",") if args.models else None)
        print(
            table(
                rows,
                [
                    "model",
                    "status",
                    "accuracy",
                    "vs LR",
                    "fit s",
                    "fit / LR",
                    "images/s",
                    "size MB",
                ],
            )
        )
        print(f"load average {load_fashion:.1f} before, {os.getloadavg()[0]:.1f} after")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    main()
