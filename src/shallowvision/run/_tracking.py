"""Experiment tracking: a stored run's configuration, figures, report and recommended model
logged to MLflow.

Logging reads the run directory only, after the stages are done, so a run's results
never depend on the tracking server, and a finished (or resumed) run can be logged again
later. Each call makes one new MLflow run in the experiment.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from shallowvision._optional import import_optional
from shallowvision.exceptions import ConfigError, ShallowVisionError

__all__ = ["LOCAL_STORE", "log_run", "resolve_tracking_uri"]

#: The ``mlflow_uri`` value that means MLflow's local store in the current folder.
LOCAL_STORE = "local"
#: The files of a run directory logged as artifacts, when present.
_ARTIFACTS = ("report.html", "metrics.json", "manifest.json", "config.toml")
#: MLflow's limits: characters of a parameter value, parameters and metrics per batch.
_MAX_PARAM_LENGTH = 6000
_PARAMS_PER_BATCH = 100
_METRICS_PER_BATCH = 1000
#: Validation images kept as the logged model's input example.
_N_EXAMPLES = 3
#: Seconds to wait for a tracking server's first answer before giving up.
_REACH_SECONDS = 10.0
#: Characters MLflow refuses in metric names.
_NOT_IN_NAME = re.compile(r"[^\w\-. /]")


def resolve_tracking_uri(uri: str) -> str:
    """The tracking URI MLflow is given for ``uri``, checked before any work is done.

    ``"local"`` is MLflow's default local store in the current folder
    (``sqlite:///<folder>/mlflow.db``, which ``mlflow ui`` opens there); other values
    are MLflow tracking URIs (``http(s)://host:port``, ``file:/path``, ``sqlite:///path``,
    ``databricks``). An HTTP server must answer.

    Parameters
    ----------
    uri : str
        ``"local"`` or an MLflow tracking URI.

    Returns
    -------
    str
        The URI to log to.

    Raises
    ------
    MissingDependencyError
        If MLflow is not installed (the message gives the ``pip install`` line).
    ConfigError
        If ``uri`` is empty or names a server that does not answer.
    """
    import_optional("mlflow")
    uri = uri.strip()
    if not uri:
        raise ConfigError("mlflow_uri='': give a tracking URI, or 'local' for a local store")
    if uri == LOCAL_STORE:
        return f"sqlite:///{Path.cwd() / 'mlflow.db'}"
    if uri.startswith(("http://", "https://")):
        _check_reachable(uri)
    return uri


def _check_reachable(uri: str) -> None:
    """Fail in seconds on a server that is down, rather than after MLflow's minutes of retries."""
    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=_REACH_SECONDS):
            pass
    except urllib.error.HTTPError:
        pass  # it answered: whether it accepts our requests is MLflow's to say
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ConfigError(
            f"mlflow_uri={uri!r}: the tracking server does not answer ({reason})"
        ) from None


def log_run(
    run_dir: str | os.PathLike[str],
    uri: str | None = None,
    *,
    experiment: str = "shallowvision",
) -> str:
    """Log a finished run to MLflow; return the MLflow run's id.

    The MLflow run, named after the run folder, holds:

    - parameters: the effective configuration, one per key (``seed``,
      ``compare.models``, ...; lists and tables as JSON), except ``mlflow_uri`` itself;
    - metrics: every candidate's validation figures (``validation.<model>.<metric>``),
      the test figures of the evaluated models (``test.<model>.<metric>``) and each
      stage's seconds and peak memory (``stage.<name>.seconds``,
      ``stage.<name>.peak_memory_bytes``);
    - artifacts: ``report.html``, ``metrics.json``, ``manifest.json`` and ``config.toml``;
    - the recommended model as an MLflow ``pyfunc`` model under ``model``, with its
      signature and a few validation images as input example. It wraps the run's skops
      file, loaded through :func:`~shallowvision.persistence.load_model`; its ``predict``
      takes flattened uint8 images and returns a ``label`` column and one score column
      per class;
    - tags: ``shallowvision.run_id``, ``.preset``, ``.dataset``, ``.seed``,
      ``.recommended`` and ``.version``.

    Parameters
    ----------
    run_dir : path
        A run directory written by :func:`run_study`.
    uri : str, optional
        ``"local"`` or an MLflow tracking URI (see :func:`resolve_tracking_uri`);
        default the run configuration's ``mlflow_uri``.
    experiment : str
        The MLflow experiment, created if missing.

    Returns
    -------
    str
        The id of the new MLflow run.

    Raises
    ------
    MissingDependencyError
        If MLflow is not installed.
    ConfigError
        If no URI is given or configured, the run has not finished, or MLflow cannot
        log to ``uri``; the run directory is left as it was.
    """
    from shallowvision.run._runner import load_run_config

    run_dir = Path(run_dir)
    config = load_run_config(run_dir)
    chosen = uri if uri is not None else config.mlflow_uri
    if chosen is None:
        raise ConfigError(
            f"{run_dir}: no MLflow URI; give uri= or set mlflow_uri in the run's configuration"
        )
    target = resolve_tracking_uri(chosen)
    metrics = _read_json(run_dir / "metrics.json")
    manifest = _read_json(run_dir / "manifest.json")
    recommended = (metrics.get("recommended") or {}).get("model")
    if not recommended:
        raise ConfigError(
            f"{run_dir}: the run has not finished (no recommended model); resume it first"
        )
    mlflow = import_optional("mlflow")
    try:
        with _file_store_allowed(target):
            return _log(mlflow, target, experiment, run_dir, config, metrics, manifest)
    except ShallowVisionError:
        raise
    except (mlflow.exceptions.MlflowException, OSError) as exc:
        reason = " ".join(str(exc).split())[:300]
        raise ConfigError(
            f"mlflow_uri={chosen!r}: cannot log {run_dir} ({type(exc).__name__}: {reason}); "
            "the run's results are kept"
        ) from None


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: missing; the run has not finished, resume it first") from None
    except ValueError as exc:
        raise ConfigError(f"{path}: damaged ({exc}); resume the run to write it again") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: damaged (not a JSON object); resume the run to write it again")
    return data


@contextlib.contextmanager
def _file_store_allowed(uri: str) -> Iterator[None]:
    """MLflow 3 refuses its file store unless asked; a ``file:`` URI or a path given here
    is that ask. Set only for the call, so the process's own choice is left alone."""
    remote = "://" in uri and not uri.startswith("file:")
    if remote or os.environ.get("MLFLOW_ALLOW_FILE_STORE"):
        yield
        return
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    try:
        yield
    finally:
        os.environ.pop("MLFLOW_ALLOW_FILE_STORE", None)


def _log(
    mlflow: Any,
    uri: str,
    experiment: str,
    run_dir: Path,
    config: Any,
    metrics: dict[str, Any],
    manifest: dict[str, Any],
) -> str:
    from mlflow.entities import Metric, Param, RunStatus

    from shallowvision import __version__

    client = mlflow.MlflowClient(tracking_uri=uri)
    found = client.get_experiment_by_name(experiment)
    experiment_id = (
        found.experiment_id if found is not None else client.create_experiment(experiment)
    )
    recommended = metrics["recommended"]["model"]
    tags = {
        "shallowvision.run_id": run_dir.name,
        "shallowvision.preset": config.preset,
        "shallowvision.dataset": config.data.dataset,
        "shallowvision.seed": str(config.seed),
        "shallowvision.recommended": recommended,
        "shallowvision.version": __version__,
    }
    run = client.create_run(experiment_id, run_name=run_dir.name, tags=tags)
    run_id = run.info.run_id
    try:
        params = [Param(k, v) for k, v in flatten_config(config.model_dump(mode="json")).items()]
        for start in range(0, len(params), _PARAMS_PER_BATCH):
            client.log_batch(run_id, params=params[start : start + _PARAMS_PER_BATCH])
        stamp = int(time.time() * 1000)
        figures = [Metric(k, v, stamp, 0) for k, v in run_metrics(metrics, manifest).items()]
        for start in range(0, len(figures), _METRICS_PER_BATCH):
            client.log_batch(run_id, metrics=figures[start : start + _METRICS_PER_BATCH])
        for name in _ARTIFACTS:
            if (run_dir / name).is_file():
                client.log_artifact(run_id, str(run_dir / name))
        with tempfile.TemporaryDirectory() as scratch:
            model_dir = Path(scratch) / "model"
            _save_pyfunc(mlflow, run_dir, config, recommended, model_dir)
            client.log_artifacts(run_id, str(model_dir), "model")
    except BaseException:
        with contextlib.suppress(Exception):
            client.set_terminated(run_id, RunStatus.to_string(RunStatus.FAILED))
        raise
    client.set_terminated(run_id, RunStatus.to_string(RunStatus.FINISHED))
    return str(run_id)


def flatten_config(config: dict[str, Any]) -> dict[str, str]:
    """``{"data": {"dataset": "digits"}}`` -> ``{"data.dataset": "digits"}``; values as text.

    Strings stay as they are, other values become JSON (``["lr", "nb"]``, ``null``);
    values longer than MLflow's limit are cut. ``mlflow_uri`` is left out: it may hold
    credentials, and it is where the parameters go, not a choice of the study.
    """
    out: dict[str, str] = {}
    for key, value in config.items():
        if key == "mlflow_uri":
            continue
        if isinstance(value, dict):
            for sub, leaf in value.items():
                out[f"{key}.{sub}"] = _param_text(leaf)
        else:
            out[key] = _param_text(value)
    return out


def _param_text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text[:_MAX_PARAM_LENGTH]


def run_metrics(metrics: dict[str, Any], manifest: dict[str, Any]) -> dict[str, float]:
    """Every figure of ``metrics.json`` and the stage timings of ``manifest.json``, by
    MLflow metric name; figures that are not finite numbers are left out, and characters
    MLflow refuses in a name (``lr+temperature``) become ``_``."""
    out: dict[str, float] = {}
    for split in ("validation", "test"):
        for model, figures in (metrics.get(split) or {}).items():
            _add_numbers(out, f"{split}.{model}", figures)
    for stage, timing in (manifest.get("stages") or {}).items():
        for field, name in (("seconds", "seconds"), ("peak_memory", "peak_memory_bytes")):
            _add_numbers(out, f"stage.{stage}.{name}", (timing or {}).get(field))
    return out


def _add_numbers(out: dict[str, float], name: str, value: Any) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            _add_numbers(out, f"{name}.{key}", inner)
    elif isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        out[_NOT_IN_NAME.sub("_", name)] = float(value)


def _save_pyfunc(mlflow: Any, run_dir: Path, config: Any, name: str, path: Path) -> None:
    """Save the recommended model as an MLflow pyfunc model in ``path``."""
    from mlflow.models import infer_signature

    from shallowvision import __version__
    from shallowvision.persistence import load_model
    from shallowvision.run._context import RunContext
    from shallowvision.run._pyfunc import ARTIFACT, MODEL_CODE, predict_frame

    ctx = RunContext(config=config, run_dir=run_dir)
    candidate = next((c for c in ctx.candidates() if c.name == name), None)
    if candidate is None:
        raise ConfigError(f"{run_dir}: the recommended model {name!r} is not among its candidates")
    model_file = run_dir / candidate.model_file
    model = load_model(model_file)
    images = ctx.splits.validation.images[:_N_EXAMPLES]
    example = images.reshape(len(images), -1)
    signature = infer_signature(example, predict_frame(model, example))
    libraries = model.manifest.get("libraries", {})
    requirements = [f"shallowvision=={__version__}"] + [
        f"{lib}=={libraries[lib]}"
        for lib in ("numpy", "scipy", "scikit-learn", "skops", "xgboost", "lightgbm")
        if lib in libraries
    ]
    code = path.parent / "shallowvision_model.py"
    code.write_text(MODEL_CODE, encoding="utf-8")
    mlflow.pyfunc.save_model(
        str(path),
        python_model=str(code),
        artifacts={ARTIFACT: str(model_file)},
        signature=signature,
        input_example=example,
        pip_requirements=requirements,
        metadata={"shallowvision_model": name, "gives_proba": model.manifest.get("gives_proba")},
    )
