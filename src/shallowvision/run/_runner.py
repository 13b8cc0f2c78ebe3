"""Run the stages of a study into a run directory, resumably."""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from shallowvision._dask import dask_backend
from shallowvision._io import write_json, write_text
from shallowvision.exceptions import ConfigError
from shallowvision.run._config import RunConfig, build_config, config_hash, to_toml
from shallowvision.run._context import RunContext
from shallowvision.run._stages import STAGES, Stage

__all__ = ["RunEvents", "find_run", "load_run_config", "run_study"]

#: (stage, event, detail): event is "start", "skip", "done", "model"; detail is free text.
RunEvents = Callable[[str, str, str], None]


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def new_run_id(config: RunConfig) -> str:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = (
        config.name
        or f"{os.path.basename(config.data.dataset.rstrip('/')) or 'data'}-{config.preset}"
    )
    return f"{base}-{stamp}"


def find_run(out_dir: Path, run_id: str | None) -> Path:
    """The run to resume: ``out_dir/run_id``, or the newest run in ``out_dir``."""
    if run_id is not None:
        run_dir = out_dir / run_id
        if not (run_dir / "config.json").is_file():
            raise ConfigError(f"{run_dir}: no run to resume there (no config.json)")
        return run_dir
    runs = list(out_dir.glob("*/config.json")) if out_dir.is_dir() else []
    if not runs:
        raise ConfigError(f"{out_dir}: no run to resume")
    return max(runs, key=lambda p: p.stat().st_mtime).parent


def _stage_key(stage: Stage, config: RunConfig, keys: dict[str, str]) -> str:
    """A stage's own settings and the keys of the stages it reads: equal keys, equal result."""
    needs = list(keys) if stage.needs is None else stage.needs
    upstream = "|".join(keys[name] for name in needs)
    own = config_hash(config, "data", "seed", *stage.sections)
    return hashlib.sha256(f"{upstream}|{stage.name}|{own}".encode()).hexdigest()[:16]


def _finished_key(ctx: RunContext, stage: Stage) -> str | None:
    try:
        return json.loads(ctx.stage_file(stage.name).read_text()).get("key")
    except (FileNotFoundError, ValueError):
        return None


def _manifest(ctx: RunContext, timings: dict[str, Any], created: str) -> dict[str, Any]:
    from shallowvision.persistence import library_versions

    data = ctx.result("data") if ctx.has_result("data") else {}
    return {
        "run_id": ctx.run_dir.name,
        "created": created,
        "updated": _now(),
        "seed": ctx.config.seed,
        "preset": ctx.config.preset,
        "config": ctx.config.model_dump(mode="json"),
        "libraries": library_versions(),
        "data": {
            name: {k: split.get(k) for k in ("n_images", "sha256", "fingerprint", "source")}
            for name, split in data.get("splits", {}).items()
        },
        "stages": timings,
    }


def _gather_metrics(ctx: RunContext) -> dict[str, Any]:
    """Every candidate's validation figures and the final test figures, from stored results."""
    out: dict[str, Any] = {"validation": {c.name: c.metrics for c in ctx.candidates()}}
    if ctx.has_result("final"):
        final = ctx.result("final")
        out["recommended"] = final["recommended"]
        out["test"] = {e["name"]: e["test"] for e in final["evaluated"]}
    return out


def run_study(
    config: RunConfig,
    *,
    out_dir: str | os.PathLike[str] = "runs",
    run_id: str | None = None,
    resume: bool = False,
    on_event: RunEvents | None = None,
    on_model: Callable[[str, str], None] | None = None,
) -> Path:
    """Run every enabled stage; return the run directory.

    With ``resume``, stages whose stored result matches the current configuration
    (and whose upstream stages are unchanged) are skipped.
    """
    out = Path(out_dir)
    run_dir = out / (run_id or new_run_id(config))
    if run_dir.exists() and not resume and any(run_dir.iterdir()):
        raise ConfigError(
            f"{run_dir}: already exists; pass --resume to continue it, or another --run-id"
        )
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{run_dir}: cannot create the run folder ({exc.strerror})") from None
    if not os.access(run_dir, os.W_OK):
        raise ConfigError(f"{run_dir}: the run folder is not writable")
    if resume:
        # A process killed mid-write leaves its temporary sibling behind; the real
        # file is either complete or absent, so the leftovers are only clutter.
        for stale in run_dir.rglob(".*.tmp"):
            stale.unlink(missing_ok=True)
    ctx = RunContext(config=config, run_dir=run_dir, on_progress=on_model)
    write_text(run_dir / "config.toml", to_toml(config))
    write_json(run_dir / "config.json", config.model_dump(mode="json"))
    previous = {}
    if (run_dir / "manifest.json").is_file():
        previous = json.loads((run_dir / "manifest.json").read_text())
    created = previous.get("created", _now())
    timings: dict[str, Any] = previous.get("stages", {})
    with dask_backend(config.dask):
        _run_stages(ctx, resume, timings, created, on_event)
    write_json(run_dir / "manifest.json", _manifest(ctx, timings, created))
    write_json(run_dir / "metrics.json", _gather_metrics(ctx))
    return run_dir


def _run_stages(
    ctx: RunContext, resume: bool, timings: dict[str, Any], created: str, on_event: RunEvents | None
) -> None:
    config, run_dir = ctx.config, ctx.run_dir
    keys: dict[str, str] = {}
    for stage in STAGES:
        key = keys[stage.name] = _stage_key(stage, config, keys)
        if not stage.enabled(config):
            timings[stage.name] = {"status": "disabled"}
            ctx.stage_file(stage.name).unlink(missing_ok=True)
            if on_event:
                on_event(stage.name, "skip", "disabled")
            continue
        if resume and _finished_key(ctx, stage) == key:
            if on_event:
                on_event(stage.name, "skip", "finished earlier")
            continue
        if on_event:
            on_event(stage.name, "start", stage.title)
        started = _now()
        start = time.perf_counter()
        result = stage.run(ctx)
        seconds = time.perf_counter() - start
        write_json(
            ctx.stage_file(stage.name),
            {"stage": stage.name, "key": key, "seconds": seconds, "result": result},
        )
        timings[stage.name] = {
            "status": "done",
            "seconds": round(seconds, 3),
            "started": started,
            "finished": _now(),
        }
        write_json(run_dir / "manifest.json", _manifest(ctx, timings, created))
        write_json(run_dir / "metrics.json", _gather_metrics(ctx))
        if on_event:
            on_event(stage.name, "done", f"{seconds:.1f} s")


def load_run_config(run_dir: Path, overrides: dict[str, Any] | None = None) -> RunConfig:
    """The stored configuration of a run (exact, from ``config.json``) with ``overrides`` applied."""
    try:
        stored = json.loads((run_dir / "config.json").read_text())
    except FileNotFoundError:
        raise ConfigError(f"{run_dir}: no run to resume there (no config.json)") from None
    return build_config(base=stored, overrides=overrides)
