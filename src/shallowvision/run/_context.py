"""The run directory and what stages read from and write to it.

Layout::

    runs/<run-id>/
        config.toml          the effective configuration
        manifest.json        versions, seed, data checksums, stage timings
        metrics.json         every stage's figures, gathered
        stages/<stage>.json  a stage's result; its presence means the stage finished
        models/<name>.skops  fitted models (skops, with manifests)
        predictions/<name>.<split>.npz   stored scores: every reported number comes from these
        figures/<name>.png   static figures
        report.html

Every file is written atomically, so a killed run leaves complete files only, and a
stage without its ``stages/<stage>.json`` simply runs again on ``--resume``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from shallowvision._io import atomic_path, write_json
from shallowvision.exceptions import ConfigError, ShallowVisionError
from shallowvision.report._records import (
    Candidate,
    SplitSummary,
    StageOutput,
    StoredStage,
    Subsample,
    read_stage,
)
from shallowvision.run._config import RunConfig

if TYPE_CHECKING:
    from shallowvision.run._budget import RunBudget

__all__ = ["Candidate", "RunContext", "StageSkipped"]

OutputT = TypeVar("OutputT", bound=StageOutput)


class StageSkipped(ShallowVisionError):
    """A stage that cannot run on this run's data; the reason is stored and shown in the report."""


@dataclass
class RunContext:
    """Shared state of one run: its configuration, directory, data and stored artifacts,
    and its time budget, which stages ask what they may spend (None: no budget)."""

    config: RunConfig
    run_dir: Path
    on_progress: Callable[[str, str], None] | None = None
    budget: RunBudget | None = None
    _models: dict[str, Any] = field(default_factory=dict, repr=False)

    # -- folders ---------------------------------------------------------------------------
    def path(self, *parts: str) -> Path:
        target = self.run_dir.joinpath(*parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def stage_file(self, stage: str) -> Path:
        return self.path("stages", f"{stage}.json")

    def figure_path(self, name: str) -> Path:
        return self.path("figures", f"{name}.png")

    def save_chart(self, name: str, fig: Any) -> str:
        """Store a plotly figure as ``figures/<name>.json`` for the report; returns ``name``."""
        from shallowvision._io import write_text

        write_text(self.path("figures", f"{name}.json"), fig.to_json())
        return name

    def save_png(self, name: str, figure: Any) -> str:
        """Store a matplotlib figure as ``figures/<name>.png`` (atomically); returns ``name``."""
        from shallowvision.evaluation import save_png

        save_png(figure, self.figure_path(name))
        return name

    # -- data ------------------------------------------------------------------------------
    @cached_property
    def splits(self) -> Any:
        """Train, calibration, validation and test ImageSets (deterministic for the config),
        the subsample of train that models are compared on, and every subsample taken."""
        carved = self.recipe.carve()
        return _Splits(
            train=carved.train,
            calibration=carved.calibration,
            validation=carved.validation,
            test=carved.test,
            compared=carved.compared,
            subsamples=[Subsample.from_dict(taken) for taken in carved.subsamples],
        )

    @cached_property
    def recipe(self) -> Any:
        """The run's :class:`~shallowvision.datasets.SplitRecipe`: its data section, seed
        and the most images models are compared on."""
        from shallowvision.datasets import SplitRecipe

        data = self.config.data
        options = data.model_dump(exclude={"task"})
        return SplitRecipe(
            **options, seed=self.config.seed, max_images=self.config.scale.max_images
        )

    def trained_on(self, stage: str) -> Any:
        """The training images of the models a stage offers: every one for the finalists,
        the compared subsample for the others."""
        return self.splits.train if stage == "finalists" else self.splits.compared

    # -- stage results ---------------------------------------------------------------------
    def record(self, stage: str) -> StoredStage | None:
        """The stored record of a stage (key, seconds, output), None if it has not run."""
        return read_stage(self.stage_file(stage))

    def result(self, kind: type[OutputT]) -> OutputT:
        """The stored output of a finished stage, ``kind`` (e.g. ``DataOutput``)."""
        record = self.record(kind.stage)
        if record is None or record.output is None:
            raise ConfigError(f"stage {kind.stage!r} has not run in {self.run_dir}")
        return record.result(kind)

    def has_result(self, stage: str) -> bool:
        """Whether the stage finished with a result (not skipped for want of data)."""
        record = self.record(stage)
        return record is not None and record.output is not None

    # -- models ----------------------------------------------------------------------------
    def save_model(
        self,
        name: str,
        estimator: Any,
        *,
        evaluated_on: str | None = None,
        metrics: dict[str, Any] | None = None,
        calibration: dict[str, Any] | None = None,
        calibrated_on: Any = None,
        extra: dict[str, Any] | None = None,
        trained_on: Any = None,
    ) -> str:
        """Save a fitted model under ``models/<name>.skops``; returns the path relative to the run.

        ``trained_on`` is the ImageSet it was fitted on (default: the compared subsample,
        which is all training images unless ``scale.max_images`` cut it down); the rest
        is recorded as :func:`~shallowvision.persistence.save_model` records it.
        """
        from shallowvision.persistence import save_model

        train = self.splits.compared if trained_on is None else trained_on
        subsample = (
            {"subsample_of": len(self.splits.train), "subsample_seed": self.config.seed}
            if len(train) < len(self.splits.train)
            else {}
        )
        # The cuts of the run's data, so commands given this model find its held-out images.
        subsample["recipe"] = self.recipe.to_dict()
        relative = f"models/{name}.skops"
        save_model(
            estimator,
            self.path(relative),
            trained_on=train,
            name=name,
            training_data=subsample,
            evaluated_on=evaluated_on,
            metrics=metrics,
            calibration=calibration,
            calibrated_on=calibrated_on,
            extra={"run": self.run_dir.name, **(extra or {})},
        )
        # Later stages read the model back from its file, resumed or not, so what they
        # evaluate is exactly what was saved (an in-memory copy can differ in the last bits).
        self._models.pop(name, None)
        return relative

    def model(self, name: str) -> Any:
        """A fitted model of this run, as loaded from its file (once per stage)."""
        if name not in self._models:
            from shallowvision.persistence import load_model

            self._models[name] = load_model(self.path("models", f"{name}.skops")).estimator
        return self._models[name]

    def forget_models(self) -> None:
        """Drop the models loaded so far: a stage keeps only the models it uses in memory,
        not every model of the stages before it (forests and neighbours fitted on large
        sets hold gigabytes)."""
        self._models.clear()

    # -- predictions -----------------------------------------------------------------------
    def save_predictions(self, name: str, split: str, estimator: Any, data: Any) -> dict[str, Any]:
        """Predict ``data`` with ``estimator`` and store labels and scores; returns them."""
        from shallowvision.models import predict_scores

        scores, kind = predict_scores(estimator, data.X)
        labels = np.asarray(estimator.predict(data.X))
        with (
            atomic_path(self.path("predictions", f"{name}.{split}.npz")) as tmp,
            open(tmp, "wb") as out,
        ):
            np.savez_compressed(
                out, scores=scores, labels=labels, y_true=data.y, kind=np.array(kind)
            )
        return {"scores": scores, "labels": labels, "y_true": data.y, "kind": kind}

    def predictions(self, name: str, split: str) -> dict[str, Any]:
        """Stored predictions of model ``name`` on ``split``."""
        path = self.run_dir / "predictions" / f"{name}.{split}.npz"
        try:
            with np.load(path, allow_pickle=False) as data:
                return {
                    "scores": data["scores"],
                    "labels": data["labels"],
                    "y_true": data["y_true"],
                    "kind": str(data["kind"]),
                }
        except FileNotFoundError:
            raise ConfigError(
                f"no stored {split} predictions for {name!r} in {self.run_dir}"
            ) from None

    # -- candidates ------------------------------------------------------------------------
    def candidates(self) -> list[Candidate]:
        """Every model the finished stages offered for choice, in stage order."""
        out = []
        for stage in ("compare", "tune", "ensemble", "select", "finalists", "calibrate"):
            record = self.record(stage)
            if record is not None and record.output is not None:
                out += record.output.offered()
        return out

    def write_json(self, relative: str, data: Any) -> Path:
        return write_json(self.path(relative), data)


@dataclass(frozen=True)
class _Splits:
    train: Any
    calibration: Any
    validation: Any
    test: Any
    #: The images the comparison and the stages built on it fit on (train, or a subsample).
    compared: Any
    #: What :attr:`RunContext.splits` cut down, and why.
    subsamples: list[Subsample]

    def describe(self) -> dict[str, SplitSummary]:
        return {
            name: SplitSummary.from_dict(
                getattr(self, name).describe() | {"fingerprint": getattr(self, name).fingerprint()}
            )
            for name in ("train", "calibration", "validation", "test")
        }
