"""A run stopped in the middle of a stage (SIGKILL, or Ctrl-C) resumes and finishes with the same metrics;
a killed command takes its worker processes with it."""

import contextlib
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
        if split in ("validation", "test")
    } | {
        # The paired comparison with the leader, not the tie-breakers: those read the
        # measured prediction times, which differ from run to run.
        "recommended": {
            k: metrics["recommended"][k] for k in ("leader", "metric", "within_noise", "compared")
        }
    }


def assert_same_quality(run_dir, reference):
    """The same validation figures, leader and paired comparisons, and the same test figures
    of every model scored on test in both runs (the leader always is; the recommended model
    among those within the noise may differ, as it may be chosen by measured speed)."""
    ours, theirs = quality(run_dir), quality(reference)
    common = ours["test"].keys() & theirs["test"].keys()
    assert theirs["recommended"]["leader"] in common
    assert {m: ours["test"][m] for m in common} == {m: theirs["test"][m] for m in common}
    assert {k: v for k, v in ours.items() if k != "test"} == {
        k: v for k, v in theirs.items() if k != "test"
    }


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
    # The command ends with the recommended model and the reason it won, on one line.
    chosen = json.loads((out / "reference" / "metrics.json").read_text())["recommended"]
    assert f"recommended: {chosen['model']}: {chosen['reason']}\n" in done.stdout
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
    assert_same_quality(run_dir, reference)
    assert (run_dir / "report.html").is_file()
    assert not list(run_dir.rglob("*.tmp"))


@pytest.mark.parametrize(
    "command",
    [
        ["tune", "digits", "-m", "rf", "--n-jobs", "2", "--search", "halving-random"],
        ["compare", "digits", "-m", "rf,et", "--time-limit", "120"],
    ],
    ids=["loky workers", "time-limited worker"],
)
def test_workers_die_with_a_killed_command(command):
    import psutil

    process = subprocess.Popen(
        [EXE, *command], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        parent = psutil.Process(process.pid)
        deadline = time.monotonic() + 120
        workers: list[psutil.Process] = []
        while not any(
            "loky" in " ".join(w.cmdline()) or "spawn" in " ".join(w.cmdline()) for w in workers
        ):
            assert process.poll() is None and time.monotonic() < deadline, "no worker started"
            time.sleep(0.2)
            try:
                workers = parent.children(recursive=True)
            except psutil.NoSuchProcess:
                workers = []
        process.kill()
        process.wait()
        _, alive = psutil.wait_procs(workers, timeout=10)
        assert not alive, [" ".join(p.cmdline())[:100] for p in alive]
    finally:
        process.kill()
        for worker in workers:  # whatever outlived the test
            with contextlib.suppress(psutil.NoSuchProcess):
                worker.kill()
