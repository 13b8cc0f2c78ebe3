"""Logging a run to MLflow: a file store, a real tracking server, and the CLI."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from shallowvision import ConfigError, MissingDependencyError
from shallowvision.cli import main
from shallowvision.persistence import load_model
from shallowvision.run import (
    build_config,
    load_run_config,
    log_run,
    resolve_tracking_uri,
    run_study,
)

# Skipped without MLflow, unless SHALLOWVISION_STRICT=1 (CI), where that is a failure.
pytestmark = pytest.mark.mlflow

#: A small digits study: three quick models, the stages that need no extra fits skipped.
TINY = {
    "data": {"dataset": "digits", "n_per_class": None},
    "compare": {"models": ["dummy", "lr", "nb"]},
    "tune": {"enabled": False},
    "ensemble": {"enabled": False},
    "select": {"enabled": False},
    "explain": {"enabled": False},
    "robustness": {"enabled": False},
}
TINY_FLAGS = [
    "digits",
    "--models",
    "dummy,lr,nb",
    "--set",
    "tune.enabled=false",
    "--set",
    "ensemble.enabled=false",
    "--set",
    "select.enabled=false",
    "--set",
    "explain.enabled=false",
    "--set",
    "robustness.enabled=false",
]


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    return run_study(build_config(overrides=TINY), out_dir=out, run_id="tiny")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    """A real ``mlflow server`` on 127.0.0.1 with a SQLite store and proxied artifacts."""
    root = tmp_path_factory.mktemp("mlflow-server")
    port = _free_port()
    command = [
        *(sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1"),
        *("--port", str(port), "--workers", "1"),
        *("--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}"),
        *("--artifacts-destination", str(root / "artifacts")),
    ]
    log = (root / "server.log").open("wb")
    # A session of its own: the server's workers are stopped with it, as one group.
    server = subprocess.Popen(
        command, stdout=log, stderr=subprocess.STDOUT, cwd=root, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                tail = (root / "server.log").read_text(errors="replace")[-2000:]
                pytest.fail(f"mlflow server did not start (exit {server.poll()}):\n{tail}")
            time.sleep(0.5)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        try:
            # Its workers drain for 10 s or more; nothing of the test's is left to save.
            server.wait(timeout=2)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()


def _validation_images(run_dir: Path, n: int = 6) -> np.ndarray:
    from shallowvision.run._context import RunContext

    ctx = RunContext(config=load_run_config(run_dir), run_dir=run_dir)
    images = ctx.splits.validation.images[-n:]
    return images.reshape(len(images), -1)


def _check_logged(client, mlflow_run_id: str, run_dir: Path) -> None:
    """The parameters, metrics and artifacts of ``run_dir`` are in the MLflow run."""
    run = client.get_run(mlflow_run_id)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    manifest = json.loads((run_dir / "manifest.json").read_text())
    params, figures, tags = run.data.params, run.data.metrics, run.data.tags
    assert run.info.status == "FINISHED" and run.info.run_name == run_dir.name
    assert params["seed"] == "0" and json.loads(params["compare.models"]) == ["dummy", "lr", "nb"]
    assert params["data.dataset"] == "digits" and params["tune.enabled"] == "false"
    assert "mlflow_uri" not in params
    # Characters MLflow refuses in a metric name become "_" (lr+temperature).
    assert {f"validation.{m}.accuracy".replace("+", "_") for m in metrics["validation"]} <= set(
        figures
    )
    for model, values in metrics["validation"].items():
        name = f"validation.{model}.accuracy".replace("+", "_")
        assert figures[name] == pytest.approx(values["accuracy"])
        assert figures[name.replace(".accuracy", ".f1_macro")] == pytest.approx(values["f1_macro"])
    recommended = metrics["recommended"]["model"]
    assert figures[f"test.{recommended}.accuracy".replace("+", "_")] == pytest.approx(
        metrics["test"][recommended]["accuracy"]
    )
    assert figures["stage.compare.seconds"] == pytest.approx(
        manifest["stages"]["compare"]["seconds"]
    )
    assert figures["stage.compare.peak_memory_bytes"] > 0
    assert tags["shallowvision.run_id"] == run_dir.name
    assert tags["shallowvision.recommended"] == recommended
    assert (tags["shallowvision.dataset"], tags["shallowvision.seed"]) == ("digits", "0")
    artifacts = {a.path for a in client.list_artifacts(mlflow_run_id)}
    assert {"report.html", "metrics.json", "manifest.json", "config.toml", "model"} <= artifacts
    model_files = {a.path for a in client.list_artifacts(mlflow_run_id, "model")}
    assert "model/MLmodel" in model_files and "model/python_model.pkl" not in model_files


def _check_model(model_uri: str, run_dir: Path) -> None:
    """The logged model predicts what the run's own model file does."""
    import mlflow

    metrics = json.loads((run_dir / "metrics.json").read_text())
    recommended = metrics["recommended"]["model"]
    logged = mlflow.pyfunc.load_model(model_uri)
    assert logged.metadata.metadata["shallowvision_model"] == recommended
    assert logged.metadata.saved_input_example_info is not None
    spec = logged.metadata.signature.inputs.inputs[0]
    assert (spec.type, spec.shape) == (np.dtype(np.uint8), (-1, 64))
    own = load_model(run_dir / "models" / f"{recommended}.skops")
    images = _validation_images(run_dir)
    predicted = logged.predict(images)
    names = own.class_names
    assert list(predicted.columns) == ["label", *names]
    assert list(predicted["label"]) == [names[i] for i in own.predict(images)]
    np.testing.assert_allclose(predicted[names].to_numpy(), own.predict_scores(images).values)


def test_file_store_holds_params_metrics_artifacts_and_model(tiny_run, tmp_path, monkeypatch):
    import mlflow

    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    uri = (tmp_path / "mlruns").as_uri()
    mlflow_run_id = log_run(tiny_run, uri)
    # The file store was allowed for the call only.
    assert "MLFLOW_ALLOW_FILE_STORE" not in os.environ
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    client = mlflow.MlflowClient(tracking_uri=uri)
    _check_logged(client, mlflow_run_id, tiny_run)
    artifact_uri = client.get_run(mlflow_run_id).info.artifact_uri
    _check_model(f"{artifact_uri}/model", tiny_run)
    # Logging again makes a second MLflow run of the same experiment.
    again = log_run(tiny_run, uri)
    experiment = client.get_experiment_by_name("shallowvision")
    assert again != mlflow_run_id
    assert len(client.search_runs([experiment.experiment_id])) == 2


@pytest.mark.slow
def test_real_tracking_server(tiny_run, mlflow_server):
    import mlflow

    mlflow_run_id = log_run(tiny_run, mlflow_server, experiment="digits")
    client = mlflow.MlflowClient(tracking_uri=mlflow_server)
    assert client.get_run(mlflow_run_id).info.experiment_id == (
        client.get_experiment_by_name("digits").experiment_id
    )
    _check_logged(client, mlflow_run_id, tiny_run)
    artifact_uri = client.get_run(mlflow_run_id).info.artifact_uri
    assert artifact_uri.startswith("mlflow-artifacts:")
    # The artifacts went through the server: read one back through it.
    local = client.download_artifacts(mlflow_run_id, "metrics.json")
    assert Path(local).read_bytes() == (tiny_run / "metrics.json").read_bytes()


def test_tracking_changes_no_stage(tiny_run, tmp_path):
    shutil.copytree(tiny_run, tmp_path / "tiny")
    events: list[tuple[str, str]] = []
    config = load_run_config(tmp_path / "tiny", {"mlflow_uri": "http://127.0.0.1:5000"})
    run_study(
        config,
        out_dir=tmp_path,
        run_id="tiny",
        resume=True,
        on_event=lambda s, e, d: events.append((s, e)),
    )
    assert events and all(e == "skip" for _, e in events)


def test_uri_checks(tiny_run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resolve_tracking_uri(" local ") == f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert resolve_tracking_uri("file:/x/mlruns") == "file:/x/mlruns"
    with pytest.raises(ConfigError, match="mlflow_uri='': give a tracking URI"):
        resolve_tracking_uri("  ")
    with pytest.raises(ConfigError, match="mlflow_uri: String should have at least 1"):
        build_config(overrides={"mlflow_uri": ""})
    dead = f"http://127.0.0.1:{_free_port()}"
    start = time.monotonic()
    with pytest.raises(ConfigError, match=f"mlflow_uri='{dead}': the tracking server does not"):
        log_run(tiny_run, dead)
    assert time.monotonic() - start < 5
    with pytest.raises(ConfigError, match="no MLflow URI; give uri="):
        log_run(tiny_run)
    unfinished = tmp_path / "unfinished"
    shutil.copytree(tiny_run, unfinished)
    (unfinished / "metrics.json").unlink()
    with pytest.raises(ConfigError, match="metrics.json: missing; the run has not finished"):
        log_run(unfinished, (tmp_path / "mlruns").as_uri())


@pytest.mark.slow
def test_cli_logs_the_run(tmp_path, monkeypatch, capsys):
    import mlflow

    monkeypatch.chdir(tmp_path)
    out = tmp_path / "runs"
    args = ["run", *TINY_FLAGS, "--out", str(out), "--run-id", "c", "--mlflow", "local"]
    assert main(args) == 0
    stdout = capsys.readouterr().out
    assert "mlflow: run " in stdout and f"sqlite:///{tmp_path / 'mlflow.db'}" in stdout
    mlflow_run_id = stdout.split("mlflow: run ")[1].split()[0]
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    _check_logged(client, mlflow_run_id, out / "c")
    assert load_run_config(out / "c").mlflow_uri == "local"


def test_cli_failed_logging_keeps_the_run(tmp_path, monkeypatch, capsys):
    import mlflow

    def refuse(*args, **kwargs):
        raise mlflow.exceptions.MlflowException("the store is read-only")

    monkeypatch.setattr(mlflow.MlflowClient, "log_batch", refuse)
    out = tmp_path / "runs"
    uri = (tmp_path / "mlruns").as_uri()
    args = ["run", *TINY_FLAGS, "--out", str(out), "--run-id", "c", "--mlflow", uri]
    assert main(args) == 2
    captured = capsys.readouterr()
    assert (out / "c" / "report.html").is_file() and "report:" in captured.out
    error = " ".join(captured.err.split())
    assert f"--mlflow '{uri}': cannot log {out / 'c'}" in error
    assert "the store is read-only" in error and "the run's results are kept" in error
    assert f"shallowvision run --resume --out {out} --run-id c --mlflow URI" in error


def test_cli_refuses_before_the_work(tmp_path, monkeypatch, capsys):
    out = tmp_path / "runs"
    dead = f"http://127.0.0.1:{_free_port()}"
    assert main(["run", *TINY_FLAGS, "--out", str(out), "--mlflow", dead]) == 2
    assert f"--mlflow '{dead}': the tracking server does not answer" in capsys.readouterr().err
    assert not out.exists()
    # Without the extra: the exact pip line, still before any work.
    monkeypatch.setitem(sys.modules, "mlflow", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'shallowvision\[mlflow\]'"):
        resolve_tracking_uri("local")
    assert main(["run", *TINY_FLAGS, "--out", str(out), "--mlflow", "local"]) == 2
    assert "pip install 'shallowvision[mlflow]'" in capsys.readouterr().err
    assert not out.exists()
