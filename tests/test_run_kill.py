"""A run stopped in the middle of a stage (SIGKILL, or Ctrl-C) resumes and finishes with the same metrics."""

import json
import signal
import subprocess
import time

import pytest

from conftest import default_sigint
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


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("reference")
    done = subprocess.run(
        [EXE, *ARGS, "--out", str(out), "--run-id", "reference"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return out / "reference"


@pytest.mark.parametrize(
    ("stop", "exit_code"), [(signal.SIGKILL, -signal.SIGKILL), (signal.SIGINT, 130)]
)
def test_stopped_mid_stage_then_resumed_gives_the_same_metrics(
    reference, tmp_path, stop, exit_code
):
    run_dir = tmp_path / "stopped"
    process = subprocess.Popen(
        [EXE, *ARGS, "--out", str(tmp_path), "--run-id", "stopped"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=default_sigint,
    )
    # Stop it while tuning: the comparison has finished, the tuning stage has not.
    deadline = time.monotonic() + 300
    while not (run_dir / "stages" / "compare.json").exists():
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.5)
    process.send_signal(stop)
    if stop == signal.SIGINT:
        _, stderr = process.communicate(timeout=120)
        assert "interrupted" in stderr and "--resume" in stderr and "Traceback" not in stderr
    else:
        # Killed outright, the run cannot stop its worker processes, which keep the pipe
        # open until they notice: wait for the process itself, not for the end of its output.
        process.wait(timeout=120)
        process.stderr.close()
    assert process.returncode == exit_code
    assert not (run_dir / "stages" / "final.json").exists()
    # Whatever the stop left under its final name is complete: every JSON parses.
    for path in run_dir.rglob("*.json"):
        json.loads(path.read_text())

    resumed = subprocess.run(
        [EXE, "run", "--resume", "--out", str(tmp_path), "--run-id", "stopped"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert "Baseline comparison: finished earlier" in resumed.stderr
    assert quality(run_dir) == quality(reference)
    assert (run_dir / "report.html").is_file()
    assert not list(run_dir.rglob("*.tmp"))
