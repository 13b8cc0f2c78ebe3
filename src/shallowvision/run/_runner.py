"""Run the stages of a study into a run directory, resumably."""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from shallowvision._dask import dask_backend
from shallowvision._io import write_json, write_text
from shallowvision._memory import format_bytes, peak_memory
from shallowvision.exceptions import ConfigError
from shallowvision.report._records import (
    DataOutput,
    FinalOutput,
    RunManifest,
    SplitChecksum,
    StageOutput,
    StageTiming,
    StoredStage,
)
from shallowvision.run._budget import OverBudget, RunBudget
from shallowvision.run._config import RunConfig, build_config, config_hash, to_toml
from shallowvision.run._context import RunContext, StageSkipped
from shallowvision.run._scale import subsamples
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


def check_run_id(run_id: str) -> str:
    """A run id names one folder inside the runs folder: no path, no hidden name."""
    if (
        not run_id.strip()
        or run_id in (".", "..")
        or run_id.startswith(".")
        or "/" in run_id
        or os.sep in run_id
        or (os.altsep is not None and os.altsep in run_id)
        or "\0" in run_id
    ):
        raise ConfigError(
            f"run_id={run_id!r}: give a plain folder name (no '/', not starting with '.'); "
            "runs are written inside the out_dir= folder"
        )
    return run_id


def find_run(out_dir: Path, run_id: str | None, overrides: dict[str, Any] | None = None) -> Path:
    """The run to resume: ``out_dir/run_id``, or the newest run in ``out_dir`` whose study
    (data section and seed) ``overrides`` leave as it is."""
    if run_id is not None:
        run_dir = out_dir / check_run_id(run_id)
        if not (run_dir / "config.json").is_file():
            raise ConfigError(f"{run_dir}: no run to resume there (no config.json)")
        return run_dir
    runs = list(out_dir.glob("*/config.json")) if out_dir.is_dir() else []
    if not runs:
        raise ConfigError(f"{out_dir}: no run to resume")
    newest_first = sorted(
        (p.parent for p in runs), key=lambda d: -(d / "config.json").stat().st_mtime
    )
    differences = []
    for run_dir in newest_first:
        try:
            changed = study_changes(_stored_config(run_dir), load_run_config(run_dir, overrides))
        except ConfigError:
            continue  # damaged, or the overrides do not apply to it
        if not changed:
            return run_dir
        differences.append(f"{run_dir.name} ({', '.join(changed)})")
    raise ConfigError(
        f"{out_dir}: no run of this study to resume; "
        + (f"the runs there differ in {'; '.join(differences[:3])}" if differences else "")
        + "; start a new run, or name one with run_id="
    )


#: What makes a run the study it is: the same images, split by the same seed.
_STUDY_KEYS = ("data", "seed")


def study_changes(stored: dict[str, Any], config: RunConfig) -> list[str]:
    """The data keys (and seed) where ``config`` differs from a run's stored configuration,
    each as ``key ('old' -> 'new')``."""
    new = config.model_dump(mode="json")
    changes = []
    for key in _STUDY_KEYS:
        old_value, new_value = stored.get(key), new.get(key)
        if isinstance(new_value, dict):
            old_section = old_value if isinstance(old_value, dict) else {}
            for sub in sorted(set(new_value) | set(old_section)):
                if old_section.get(sub) != new_value.get(sub):
                    changes.append(
                        f"{key}.{sub} ({old_section.get(sub)!r} -> {new_value.get(sub)!r})"
                    )
        elif old_value != new_value:
            changes.append(f"{key} ({old_value!r} -> {new_value!r})")
    return changes


def _stage_key(stage: Stage, config: RunConfig, keys: dict[str, str]) -> str:
    """A stage's own settings and the keys of the stages it reads: equal keys, equal result."""
    needs = list(keys) if stage.needs is None else stage.needs
    upstream = "|".join(keys[name] for name in needs)
    own = config_hash(config, "data", "seed", *stage.sections)
    return hashlib.sha256(f"{upstream}|{stage.name}|{own}".encode()).hexdigest()[:16]


def _finished_key(ctx: RunContext, stage: Stage) -> str | None:
    """The key the stage finished with; None if it has not, or if its file is damaged (it
    runs again)."""
    try:
        record = ctx.record(stage.name)
    except ConfigError:
        return None
    return None if record is None else record.key


def _manifest(ctx: RunContext, timings: dict[str, StageTiming], created: str) -> RunManifest:
    from shallowvision.persistence import library_versions

    splits = ctx.result(DataOutput).splits if ctx.has_result("data") else {}
    return RunManifest(
        run_id=ctx.run_dir.name,
        created=created,
        updated=_now(),
        seed=ctx.config.seed,
        preset=ctx.config.preset,
        config=ctx.config.model_dump(mode="json"),
        libraries=library_versions(),
        data={
            name: SplitChecksum(
                n_images=split.n_images,
                sha256=split.sha256,
                fingerprint=split.fingerprint,
                source=split.source,
            )
            for name, split in splits.items()
        },
        subsamples=subsamples(ctx),
        stages=timings,
        time_budget=None if ctx.budget is None else ctx.budget.record(),
    )


def _gather_metrics(ctx: RunContext) -> dict[str, Any]:
    """Every candidate's validation figures and the final test figures, from stored results."""
    out: dict[str, Any] = {"validation": {c.name: c.metrics for c in ctx.candidates()}}
    if ctx.has_result("final"):
        final = ctx.result(FinalOutput)
        # Runs written before the choice respected noise name the model only.
        out["recommended"] = (
            final.recommendation.to_dict()
            if final.recommendation is not None
            else {"model": final.recommended}
        )
        out["test"] = {e.name: e.test.to_dict() for e in final.evaluated}
    return out


def run_study(
    config: RunConfig,
    *,
    out_dir: str | os.PathLike[str] = "runs",
    run_id: str | None = None,
    resume: bool = False,
    on_event: RunEvents | None = None,
    on_model: Callable[[str, str], None] | None = None,
    started: float | None = None,
) -> Path:
    """Run every enabled stage; return the run directory.

    With ``resume``, stages whose stored result matches the current configuration
    (and whose upstream stages are unchanged) are skipped. With ``config.time_budget``,
    the run plans its stages and models to end within that many seconds of ``started``
    (a :func:`time.monotonic` time, by default this call's): the cheapest models first,
    and what cannot fit in what is left is not started (a resumed run gets the budget
    afresh). The command line passes its own start, so the budget covers the command.
    """
    budget = _budget(config, time.monotonic() if started is None else started)
    out = Path(out_dir)
    run_dir = out / check_run_id(run_id or new_run_id(config))
    if run_dir.exists() and not resume and any(run_dir.iterdir()):
        raise ConfigError(
            f"{run_dir}: already exists; pass resume=True to continue it, or another run_id="
        )
    if resume and (run_dir / "config.json").is_file():
        changed = study_changes(_stored_config(run_dir), config)
        if changed:
            raise ConfigError(
                f"{run_dir}: resuming would change the study ({'; '.join(changed)}); "
                "start it as a new run with another run_id="
            )
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{run_dir}: cannot create the run folder ({exc.strerror})") from None
    if not os.access(run_dir, os.W_OK):
        raise ConfigError(f"{run_dir}: the run folder is not writable")
    with _exclusive(run_dir):
        return _run_locked(config, run_dir, resume, on_event, on_model, budget)


def _budget(config: RunConfig, started: float) -> RunBudget | None:
    """The run's time budget, its clock started at ``started`` (None without one)."""
    if config.time_budget is None:
        return None
    if config.dask is not None:
        raise ConfigError(
            "time_budget= stops fits in worker processes on this machine when the budget runs "
            "out; it cannot be combined with dask="
        )
    return RunBudget(
        config.time_budget,
        enabled=[stage.name for stage in STAGES if stage.enabled(config)],
        weights={stage.name: stage.weight for stage in STAGES},
        start=started,
    )


@contextlib.contextmanager
def _exclusive(run_dir: Path) -> Iterator[None]:
    """Hold the run folder's lock: a second process on the same run (two ``--resume`` at
    once) is refused instead of redoing the same stages."""
    try:
        import fcntl
    except ImportError:  # no advisory locks on this platform
        yield
        return
    with open(run_dir / ".lock", "a+b") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError(
                f"{run_dir}: another shallowvision run is working in this folder; "
                "wait for it to finish"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _run_locked(
    config: RunConfig,
    run_dir: Path,
    resume: bool,
    on_event: RunEvents | None,
    on_model: Callable[[str, str], None] | None,
    budget: RunBudget | None,
) -> Path:
    if resume:
        # A process killed mid-write leaves its temporary sibling behind; the real
        # file is either complete or absent, so the leftovers are only clutter.
        for stale in run_dir.rglob(".*.tmp"):
            stale.unlink(missing_ok=True)
    ctx = RunContext(config=config, run_dir=run_dir, on_progress=on_model, budget=budget)
    write_text(run_dir / "config.toml", to_toml(config))
    write_json(run_dir / "config.json", config.model_dump(mode="json"))
    created = _now()
    timings: dict[str, StageTiming] = {}
    with contextlib.suppress(OSError, ValueError):  # absent or damaged: written anew below
        loaded = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
        previous = RunManifest.from_dict(loaded)
        created, timings = previous.created, dict(previous.stages)
    with dask_backend(config.dask):
        _run_stages(ctx, resume, timings, created, on_event)
    write_json(run_dir / "manifest.json", _manifest(ctx, timings, created).to_dict())
    write_json(run_dir / "metrics.json", _gather_metrics(ctx))
    return run_dir


def _run_stages(
    ctx: RunContext,
    resume: bool,
    timings: dict[str, StageTiming],
    created: str,
    on_event: RunEvents | None,
) -> None:
    # Imported here: the feature steps load scikit-learn, which a refused run never needs.
    from shallowvision.features._chunked import remembered_inputs

    config, run_dir = ctx.config, ctx.run_dir
    if resume and ctx.has_result("data"):
        _check_same_data(ctx)
    keys: dict[str, str] = {}
    for stage in STAGES:
        key = keys[stage.name] = _stage_key(stage, config, keys)
        if not stage.enabled(config):
            timings[stage.name] = StageTiming(status="disabled")
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
        skipped = None
        finished = key
        output: StageOutput | None
        with peak_memory() as peak:
            try:
                if ctx.budget is not None:
                    ctx.budget.admit(ctx, stage.name)
                # A stage predicts the same images with the same model several times
                # (scores, labels, stored predictions, its calibrated forms): once is enough.
                with remembered_inputs():
                    output = stage.run(ctx)
            except StageSkipped as exc:
                # The data cannot support this stage (too few images of a class for its
                # folds), or the time budget cannot: the run goes on, and the report says
                # why the stage is missing.
                skipped, output = str(exc), None
                if isinstance(exc, OverBudget):
                    finished = ""  # not done: a resumed run with time to spare runs it
            finally:
                ctx.forget_models()
        seconds = time.perf_counter() - start
        record = StoredStage(
            stage=stage.name, key=finished, seconds=seconds, output=output, skipped=skipped
        )
        # On one line: indented, the pixel arrays of an EDA on 64x64x3 images took 69 MB.
        write_json(ctx.stage_file(stage.name), record.to_dict(), compact=True)
        timings[stage.name] = StageTiming(
            status="skipped" if skipped else "done",
            seconds=round(seconds, 3),
            started=started,
            finished=_now(),
            reason=skipped,
            peak_memory=peak.bytes,
        )
        write_json(run_dir / "manifest.json", _manifest(ctx, timings, created).to_dict())
        write_json(run_dir / "metrics.json", _gather_metrics(ctx))
        if on_event:
            done = f"{seconds:.1f} s, {format_bytes(peak.bytes or 0)} peak"
            on_event(stage.name, "skip" if skipped else "done", skipped or done)


def _check_same_data(ctx: RunContext) -> None:
    """Refuse to resume on images other than the ones the run began with (a folder that
    gained files, a file replaced): the report would mix two datasets."""
    stored = ctx.result(DataOutput).splits
    current = ctx.splits.describe()
    for split, now in current.items():
        before = stored.get(split)
        if before is None or before.fingerprint != now.fingerprint:
            then = (None, None) if before is None else (before.n_images, before.sha256)
            raise ConfigError(
                f"{ctx.run_dir}: the dataset changed since the run began ({split} split: "
                f"{then[0]} images with sha256 {str(then[1])[:12]} then, "
                f"{now.n_images} with sha256 {str(now.sha256)[:12]} now); "
                "start a new run with another run_id="
            )


def _stored_config(run_dir: Path) -> dict[str, Any]:
    try:
        stored = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{run_dir}: no run to resume there (no config.json)") from None
    except ValueError as exc:
        raise ConfigError(f"{run_dir / 'config.json'}: damaged ({exc}); start a new run") from None
    if not isinstance(stored, dict):
        raise ConfigError(
            f"{run_dir / 'config.json'}: damaged (not a configuration); start a new run"
        )
    return stored


def load_run_config(run_dir: Path, overrides: dict[str, Any] | None = None) -> RunConfig:
    """The stored configuration of a run (exact, from ``config.json``) with ``overrides`` applied."""
    return build_config(base=_stored_config(run_dir), overrides=overrides)
