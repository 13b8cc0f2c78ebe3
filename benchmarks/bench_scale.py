"""Time and memory at EMNIST sizes: shallowvision's commands on data-rich sets, against a baseline.

The sets come from ``benchmarks/_replicas.py``: Fashion-MNIST's 60,000 training images
and seeded copies shifted by up to 2 pixels, as IDX files, at 70k to 840k training
images (``--kind shifted``, the real 10,000 test images), or the 50-class variant
imbalanced 10:1 (``--kind many``).

Every measurement is one command of the installed command line, in a fresh process:
``eda SET``, ``compare SET -m MODEL --test --n-jobs -1`` (train less a 10% validation
split, scored on the test images), or ``run SET --preset P``. For each it records the
wall and CPU seconds, the peak resident memory (the process and its worker processes,
sampled every 0.1 s, and the kernel's own peak of the process) and, for ``compare``, the
test accuracy and fit seconds. A process that grows past ``--cap-gib`` is stopped and
recorded as such, so that a baseline which cannot fit never meets the kernel's
out-of-memory killer.

The baseline is the same command run by the code of ``--baseline`` (a git commit,
checked out into a temporary worktree), in the same invocation; ``--baseline none``
skips it. Over the sizes, fit time is fitted as ``a * n^b`` and peak memory as
``c + d * n``; the summary prints ``b`` and ``d`` for both sides, and their ratio.

Results accumulate in ``--store`` (JSON lines): a measurement already there for the
same commit is not repeated, so a long benchmark can be run piece by piece.

    python benchmarks/bench_scale.py --subjects compare:fast,compare:lr,eda \
        [--sizes 70000,140000,280000,560000,840000] [--kind shifted|many] \
        [--baseline 0b0e931|none] [--cap-gib 20] [--store FILE]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import _replicas
from _harness import machine, measure, table

REPO = Path(__file__).resolve().parent.parent
#: The last commit before chunked feature pipelines and conjugate-gradient kernel ridge.
BASELINE = "0b0e931"
SIZES = (70_000, 140_000, 280_000, 560_000, 840_000)


# -- one measured command ---------------------------------------------------------------------
def _subject_argv(subject: str, folder: Path, work: Path) -> tuple[list[str], Path | None]:
    """The command line of a subject and the JSON file it writes (if any)."""
    kind, _, what = subject.partition(":")
    if kind == "eda":
        return ["eda", str(folder), "--out", str(work / "eda")], None
    if kind == "compare":
        out = work / "compare.json"
        return [
            "compare",
            str(folder),
            "-m",
            what,
            "--test",
            "--n-jobs",
            "-1",
            "--out",
            str(out),
        ], out
    if kind == "run":
        return ["run", str(folder), "--preset", what, "--out", str(work / "runs")], None
    if kind == "load":
        return ["data", "info", str(folder)], None
    raise SystemExit(f"unknown subject {subject!r}: eda, load, compare:MODEL or run:PRESET")


def run_one(subject: str, folder: Path, src: Path, cache: Path, cap: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        work = Path(tmp)
        argv, out = _subject_argv(subject, folder, work)
        env = {"SHALLOWVISION_CACHE": str(cache), "MPLBACKEND": "Agg"}
        if subject == "load":  # a cold load: decoded into an empty cache
            env["SHALLOWVISION_CACHE"] = str(work / "cache")
        result = measure(argv, src, env, cap)
        if out is not None and out.is_file():
            row = json.loads(out.read_text())["rows"][0]
            result.update(
                accuracy=row.get("accuracy"),
                fit_s=row.get("fit_seconds"),
                model_status=row.get("status"),
                notes=row.get("notes", ""),
                estimate_gib=(row.get("memory_estimate_bytes") or 0) / 2**30 or None,
            )
            if row.get("status") != "ok":
                result["status"] = row.get("status") or result["status"]
    return result


# -- sides: this checkout and the baseline commit ---------------------------------------------
def _head() -> str:
    return subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def _dirty() -> bool:
    out = subprocess.run(
        ["git", "-C", str(REPO), "status", "--porcelain", "src"], capture_output=True, text=True
    )
    return bool(out.stdout.strip())


def baseline_src(ref: str, parent: Path) -> Path:
    folder = parent / f"baseline-{ref}"
    if not (folder / "src").is_dir():
        subprocess.run(
            ["git", "-C", str(REPO), "worktree", "add", "--detach", str(folder), ref],
            check=True,
            capture_output=True,
        )
    return folder / "src"


# -- fits over the sizes ----------------------------------------------------------------------
def power_law(points: list[tuple[float, float]]) -> float | None:
    """``b`` of ``y = a * n^b``, least squares on logarithms."""
    if len(points) < 2:
        return None
    xs = [math.log(n) for n, _ in points]
    ys = [math.log(max(y, 1e-9)) for _, y in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx if sxx else None


def linear(points: list[tuple[float, float]]) -> tuple[float, float] | None:
    """``(c, d)`` of ``y = c + d * n``, least squares."""
    if len(points) < 2:
        return None
    mx = sum(n for n, _ in points) / len(points)
    my = sum(y for _, y in points) / len(points)
    sxx = sum((n - mx) ** 2 for n, _ in points)
    if not sxx:
        return None
    d = sum((n - mx) * (y - my) for n, y in points) / sxx
    return my - d * mx, d


def summarise(rows: list[dict]) -> list[dict]:
    out = []
    keys = sorted({(r["kind"], r["subject"], r["side"]) for r in rows})
    for kind, subject, side in keys:
        done = [
            r
            for r in rows
            if (r["kind"], r["subject"], r["side"]) == (kind, subject, side) and r["status"] == "ok"
        ]
        time_key = "fit_s" if all(r.get("fit_s") for r in done) and done else "wall_s"
        b = power_law([(r["n"], r[time_key]) for r in done])
        line = linear([(r["n"], r["peak_gib"]) for r in done])
        out.append(
            {
                "set": kind,
                "subject": subject,
                "side": side,
                "sizes ok": f"{len(done)}/{sum(1 for r in rows if (r['kind'], r['subject'], r['side']) == (kind, subject, side))}",
                f"time b ({time_key})": "" if b is None else round(b, 2),
                "memory c GiB": "" if line is None else round(line[0], 2),
                "memory d GiB/100k": "" if line is None else round(line[1] * 1e5, 3),
            }
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--subjects", default="compare:fast,compare:lr,eda")
    parser.add_argument("--sizes", default=",".join(str(s) for s in SIZES))
    parser.add_argument("--kind", choices=["shifted", "many"], default="shifted")
    parser.add_argument("--baseline", default=BASELINE, help="a git commit, or none")
    parser.add_argument("--cap-gib", type=float, default=20.0)
    parser.add_argument(
        "--store", type=Path, default=_replicas.ROOT / "scale-results.jsonl", help="JSON lines"
    )
    parser.add_argument("--fresh", action="store_true", help="measure again what the store has")
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="print the store's latest figures whatever commit measured them; measure nothing",
    )
    args = parser.parse_args()
    subjects = [s.strip() for s in args.subjects.split(",") if s.strip()]
    sizes = [int(s) for s in args.sizes.split(",")]
    head = _head() + ("+" if _dirty() else "")
    sides: dict[str, Path | None] = {"new": REPO / "src"}
    scratch = _replicas.ROOT / "worktrees"
    if args.baseline != "none":
        scratch.mkdir(parents=True, exist_ok=True)
        sides[f"baseline {args.baseline}"] = (
            None if args.report_only else baseline_src(args.baseline, scratch)
        )
    refs = {"new": head, f"baseline {args.baseline}": args.baseline}
    stored = []
    if args.store.is_file():
        stored = [json.loads(line) for line in args.store.read_text().splitlines() if line.strip()]

    def known(key: dict) -> dict | None:
        if args.report_only:  # the latest figure of any commit
            key = {k: v for k, v in key.items() if k != "ref"}
        for r in reversed(stored):
            if all(r.get(k) == v for k, v in key.items()):
                return r
        return None

    print(f"machine: {machine()}")
    print(f"load average before: {', '.join(f'{v:.1f}' for v in os.getloadavg())}")
    rows = []
    for n in sizes:
        folder = None if args.report_only else _replicas.build(args.kind, n)
        for subject in subjects:
            for side, src in sides.items():
                key = {
                    "kind": args.kind,
                    "n": n,
                    "subject": subject,
                    "side": side,
                    "ref": refs[side],
                }
                hit = known(key)
                if (hit and not args.fresh) or args.report_only:
                    if hit:
                        rows.append(hit)
                    continue
                cache = _replicas.ROOT / "cache" / side.replace(" ", "-")
                result = run_one(subject, folder, src, cache, args.cap_gib * 2**30)
                row = {**key, **result, "load_average": os.getloadavg()[0], "when": time.time()}
                rows.append(row)
                with open(args.store, "a") as store:
                    store.write(json.dumps(row) + "\n")
                print(
                    f"{args.kind} {n:>7,} {subject:<16} {side:<18} {row['status']:<14} "
                    f"wall {row['wall_s']:7.1f} s  cpu {row['cpu_s']:7.1f} s  "
                    f"peak {row['peak_gib']:5.2f} GiB"
                    + (f"  test acc {row['accuracy']:.4f}" if row.get("accuracy") else "")
                    + (f"  ({row['notes']})" if row.get("notes") else ""),
                    flush=True,
                )
                if row["status"] not in ("ok",) and "Traceback" in row.get("output", ""):
                    print(row["output"][-800:])
    print()
    columns = [
        "kind",
        "n",
        "subject",
        "side",
        "status",
        "wall_s",
        "cpu_s",
        "peak_gib",
        "estimate_gib",
        "fit_s",
        "accuracy",
    ]
    print(table(sorted(rows, key=lambda r: (r["subject"], r["side"], r["n"])), columns))
    print()
    summary = summarise(rows)
    print(table(summary, list(summary[0]) if summary else []))
    new = {(s["set"], s["subject"]): s for s in summary if s["side"] == "new"}
    for s in summary:
        if s["side"] == "new":
            continue
        ours = new.get((s["set"], s["subject"]))
        d_new, d_old = (ours or {}).get("memory d GiB/100k"), s.get("memory d GiB/100k")
        if d_new not in ("", None) and d_old not in ("", None) and d_old:
            print(
                f"{s['subject']}: memory per 100k images {d_new} GiB against {d_old} GiB ({d_new / d_old:.2f}x)"
            )


if __name__ == "__main__":
    main()
