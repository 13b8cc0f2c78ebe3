"""A run killed with SIGKILL in the middle of a stage resumes and finishes with the same metrics."""

import json
import os
import signal
import subprocess
import time

from test_cli import EXE

ARGS = [
    "run",
    "digits",
    "--set",
    "data.n_per_class=null",
    "-m",
    "dummy,lr,nb,knn",
    "--set",
    "tune.top=2",
    "--set",
    "tune.n_candidates=6",
]
TIMING = ("fit_seconds", "predict_seconds_per_1000", "size_bytes")


def quality(run_dir):
    metrics = json.loads((run_dir / "metrics.json").read_text())
    return {
        split: {m: {k: v for k, v in row.items() if k not in TIMING} for m, row in rows.items()}
        for split, rows in metrics.items()
        if isinstance(rows, dict)
    } | {"recommended": metrics["recommended"]}


def test_sigkill_mid_stage_then_resume_gives_the_same_metrics(tmp_path):
    env = {**os.environ}
    reference = subprocess.run(
        [EXE, *ARGS, "--out", str(tmp_path), "--run-id", "reference"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert reference.returncode == 0, reference.stderr

    run_dir = tmp_path / "killed"
    process = subprocess.Popen(
        [EXE, *ARGS, "--out", str(tmp_path), "--run-id", "killed"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    # Kill it while tuning: the comparison has finished, the tuning stage has not.
    deadline = time.monotonic() + 300
    while not (run_dir / "stages" / "compare.json").exists():
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.5)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (run_dir / "stages" / "final.json").exists()
    # Whatever the kill left under its final name is complete: every JSON parses.
    for path in run_dir.rglob("*.json"):
        json.loads(path.read_text())

    resumed = subprocess.run(
        [EXE, "run", "--resume", "--out", str(tmp_path), "--run-id", "killed"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert "Data: finished earlier" in resumed.stderr or "finished earlier" in resumed.stderr
    assert quality(run_dir) == quality(tmp_path / "reference")
    assert (run_dir / "report.html").is_file()
    assert not list(run_dir.rglob("*.tmp"))
