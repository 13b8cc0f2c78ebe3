"""Live progress of a run on the terminal."""

from __future__ import annotations

from typing import Any


class RunProgress:
    """Live progress: a weighted bar over the stages (with ETA) and one line per model."""

    def __init__(self, stages: list[Any]) -> None:
        from rich.progress import (
            BarColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        from shallowvision._console import stderr_console

        self.weights = {s.name: s.weight for s in stages}
        self.titles = {s.name: s.title for s in stages}
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description:<34}"),
            BarColumn(bar_width=24),
            TextColumn("{task.fields[detail]:<16}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=stderr_console(),
        )
        self.overall = self.progress.add_task("study", total=sum(self.weights.values()), detail="")
        self.models: dict[str, Any] = {}
        self.stage = ""

    def __enter__(self) -> RunProgress:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(*exc)  # type: ignore[arg-type]

    def on_event(self, stage: str, event: str, detail: str) -> None:
        if event == "start":
            self.stage = stage
            self.progress.update(
                self.overall, description=f"{self.titles.get(stage, stage)}", detail=""
            )
            return
        self.progress.advance(self.overall, self.weights.get(stage, 1.0))
        self.progress.console.print(
            f"  {'✓' if event == 'done' else '·'} {self.titles.get(stage, stage)}: {detail}"
        )

    def on_model(self, name: str, stage: str) -> None:
        key = f"{self.stage}:{name}"
        if stage == "start":
            self.models[key] = self.progress.add_task(f"  {name}", total=1, detail="fitting")
        elif key in self.models:
            self.progress.update(self.models[key], completed=1, detail=stage)
            self.progress.remove_task(self.models.pop(key))
            self.progress.console.print(f"      {name}: {stage}")
