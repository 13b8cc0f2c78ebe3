"""Time budgets kept: the wall time of a budgeted command against its budget.

For each budget of ``--budgets`` (``5m,10m,30m`` by default) and each subject, one command
of the command line runs in a fresh process, measured by ``_harness.measure`` (wall and
CPU seconds, and the peak resident memory of the process with its worker processes):

- ``run``: ``shallowvision run DATASET --time-budget B --out TMP`` (with ``--preset P``
  when given; the quick preset otherwise, as the command's default);
- ``compare``: ``shallowvision compare DATASET -m all --time-budget B --test --out TMP``.

It prints, per command, the wall time over the budget (the target: at most 1.05), the
recommended model (``run``; for ``compare``, the best macro F1 among the models that
finished) and its test accuracy, and what the budget left out (stages skipped, models not
started or stopped), from the run's ``manifest.json`` and stage files or the comparison's
table. Results are appended to ``--store`` (JSON lines) when given.

Run it on a quiet machine (every budget is timed, so other work inflates the ratio):

    python benchmarks/bench_budget.py [--dataset fashion-mnist] [--budgets 5m,10m,30m] \\
        [--subjects run,compare] [--preset quick|standard|full] [--store FILE]

A smoke test on scikit-learn's digits, in a minute or two:

    python benchmarks/bench_budget.py --dataset digits --budgets 20s --subjects run,compare
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from _harness import machine, measure, table

REPO = Path(__file__).resolve().parent.parent
SUBJECTS = ("run", "compare")
#: The budget is met when the wall time is at most this share of it.
TARGET = 1.05


def parse_budgets(text: str) -> list[float]:
    """``"5m,10m,30m"`` -> seconds, read as the command line reads ``--time-budget``."""
    sys.path.insert(0, str(REPO / "src"))
    from shallowvision.cli._options import parse_duration

    return [parse_duration(part) for part in text.split(",") if part.strip()]


def _argv(subject: str, dataset: str, budget: float, preset: str | None, work: Path) -> list[str]:
    if subject == "run":
        return [
            "run",
            dataset,
            "--time-budget",
            f"{budget:g}",
            *(["--preset", preset] if preset else []),
            "--out",
            str(work / "runs"),
        ]
    if subject == "compare":
        return [
            "compare",
            dataset,
            "-m",
            "all",
            "--time-budget",
            f"{budget:g}",
            "--test",
            "--out",
            str(work / "compare.json"),
        ]
    raise SystemExit(f"unknown subject {subject!r}: run or compare")


def _run_outcome(work: Path) -> dict[str, Any]:
    """What a budgeted run recommends and leaves out, from its folder."""
    folders = [p.parent for p in (work / "runs").glob("*/manifest.json")]
    if not folders:
        return {}
    run_dir = folders[0]
    manifest = json.loads((run_dir / "manifest.json").read_text())
    out: dict[str, Any] = {
        "run_wall_s": (manifest.get("time_budget") or {}).get("wall_seconds"),
        # Each stage's seconds, or why it was skipped: what explains a budget's outcome.
        "stages": {
            name: stage.get("reason") or stage.get("seconds")
            for name, stage in manifest["stages"].items()
        },
        "left_out": [
            name
            for name, stage in manifest["stages"].items()
            if stage.get("status") == "skipped" and "time budget" in (stage.get("reason") or "")
        ],
    }
    compare = run_dir / "stages" / "compare.json"
    if compare.is_file():
        rows = json.loads(compare.read_text())["result"]["comparison"]["rows"]
        out["left_out"] += [
            f"{r['model']} ({r['status']})" for r in rows if "time budget" in r.get("error", "")
        ]
    metrics_file = run_dir / "metrics.json"
    if metrics_file.is_file():
        metrics = json.loads(metrics_file.read_text())
        model = (metrics.get("recommended") or {}).get("model")
        if model is not None:
            out["model"] = model
            out["test_accuracy"] = metrics["test"][model]["accuracy"]
    return out


def _compare_outcome(work: Path) -> dict[str, Any]:
    """The best model of a budgeted comparison on test, and the models it left out."""
    path = work / "compare.json"
    if not path.is_file():
        return {}
    rows = json.loads(path.read_text())["rows"]
    done = [r for r in rows if r["status"] == "ok" and r.get("f1_macro") is not None]
    out: dict[str, Any] = {
        "left_out": [f"{r['model']} ({r['status']})" for r in rows if r["status"] != "ok"]
    }
    if done:
        best = max(done, key=lambda r: r["f1_macro"])
        out.update(model=best["model"], test_accuracy=best["accuracy"])
    return out


def measure_one(
    subject: str, dataset: str, budget: float, preset: str | None, cap: float
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-budget-") as tmp:
        work = Path(tmp)
        argv = _argv(subject, dataset, budget, preset, work)
        result = measure(argv, REPO / "src", {"MPLBACKEND": "Agg"}, cap)
        outcome = _run_outcome(work) if subject == "run" else _compare_outcome(work)
    ratio = result["wall_s"] / budget
    return {
        "subject": subject,
        "dataset": dataset,
        "preset": preset or ("quick" if subject == "run" else ""),
        "budget_s": budget,
        **result,
        **outcome,
        "ratio": ratio,
        "met": ratio <= TARGET,
        "command": "shallowvision " + " ".join(argv[:4]) + " ...",
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--budgets", default="5m,10m,30m", help="durations: 90s, 10m, 1.5h")
    parser.add_argument("--subjects", default="run", help="run, compare, or both")
    parser.add_argument("--preset", default=None, help="the run's preset (default: quick)")
    parser.add_argument("--cap-gib", type=float, default=20.0, help="stop a process above it")
    parser.add_argument("--store", type=Path, default=None, help="append results (JSON lines)")
    args = parser.parse_args()
    budgets = parse_budgets(args.budgets)
    subjects = [s.strip() for s in args.subjects.split(",") if s.strip()]
    unknown = sorted(set(subjects) - set(SUBJECTS))
    if unknown:
        raise SystemExit(f"unknown subject {', '.join(unknown)}: choose from {', '.join(SUBJECTS)}")

    print(f"machine: {machine()}")
    print(f"load average before: {', '.join(f'{v:.1f}' for v in os.getloadavg())}")
    rows = []
    for budget in budgets:
        for subject in subjects:
            row = measure_one(subject, args.dataset, budget, args.preset, args.cap_gib * 2**30)
            row["load_average"] = os.getloadavg()[0]
            row["when"] = time.time()
            rows.append(row)
            accuracy = row.get("test_accuracy")
            print(
                f"{subject:<8} budget {budget:7.0f} s  wall {row['wall_s']:7.1f} s  "
                f"wall/budget {row['ratio']:.3f}  {'met' if row['met'] else 'OVER'}  "
                f"peak {row['peak_gib']:5.2f} GiB  {row['status']}  "
                f"{row.get('model', '-')}"
                + (f" (test accuracy {accuracy:.4f})" if accuracy is not None else ""),
                flush=True,
            )
            if row.get("left_out"):
                print(f"         left out: {'; '.join(row['left_out'])}")
            if row.get("stages"):
                print("         stages: " + "; ".join(f"{k} {v}" for k, v in row["stages"].items()))
            if row["status"] != "ok":
                print(row["output"][-1500:])
            if args.store is not None:
                with open(args.store, "a") as store:
                    store.write(json.dumps({k: v for k, v in row.items() if k != "output"}) + "\n")
    print(f"load average after: {', '.join(f'{v:.1f}' for v in os.getloadavg())}")
    print()
    for row in rows:
        row["left out"] = len(row.get("left_out", []))
    print(
        table(
            rows,
            [
                "subject",
                "preset",
                "budget_s",
                "wall_s",
                "ratio",
                "met",
                "cpu_s",
                "peak_gib",
                "model",
                "test_accuracy",
                "left out",
            ],
        )
    )
    if not all(row["met"] and row["status"] == "ok" for row in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
