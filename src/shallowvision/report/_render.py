"""Render a run directory's stored results into one self-contained, offline HTML file."""

from __future__ import annotations

import datetime as _dt
import html
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from shallowvision import __version__
from shallowvision._io import write_text
from shallowvision._plotting import MIN_TILE_PX
from shallowvision._records import RecordError
from shallowvision.exceptions import ConfigError
from shallowvision.report._figures import (
    FigureHTML,
    cost_chart,
    figure_html,
    metric_bars,
    mosaic_size,
)
from shallowvision.report._records import (
    Candidate,
    RunManifest,
    StageOutput,
    StoredStage,
    read_stage,
)

OutputT = TypeVar("OutputT", bound=StageOutput)

__all__ = ["RunData", "Section", "render_report"]

METRIC_LABELS = {
    "accuracy": "accuracy",
    "balanced_accuracy": "balanced accuracy",
    "precision_macro": "macro precision",
    "recall_macro": "macro recall",
    "f1_macro": "macro F1",
    "roc_auc": "ROC AUC",
    "log_loss": "log loss",
    "brier": "Brier score",
}


@dataclass
class Section:
    """One part of the report: an anchor, a title and its blocks of HTML."""

    key: str
    title: str
    blocks: list[str] = field(default_factory=list)

    def text(self, paragraph: str) -> Section:
        self.blocks.append(f"<p>{paragraph}</p>")
        return self

    def chart(self, fig: Any, name: str) -> Section:
        self.blocks.append(f'<div class="chart">{figure_html(fig, name=name)}</div>')
        return self

    def stored_charts(self, run: RunData, names: list[str], *, columns: int = 1) -> Section:
        """Charts a stage stored, side by side in ``columns`` columns, in order.

        A mosaic whose images would be drawn less than :data:`MIN_TILE_PX` pixels wide
        in a cell takes the whole width instead, between the rows of the others.
        """
        groups: list[tuple[int, list[str]]] = []
        for n in names:
            fig = run.chart(n)
            size = mosaic_size(fig, columns)
            small = size is not None and size["tile"] is not None and size["tile"] < MIN_TILE_PX
            wide = 1 if small else columns
            if not groups or groups[-1][0] != wide:
                groups.append((wide, []))
            groups[-1][1].append(figure_html(fig, name=n, columns=wide))
        for wide, charts in groups:
            cells = "".join(f'<div class="chart">{chart}</div>' for chart in charts)
            self.blocks.append(f'<div class="grid cols-{wide}">{cells}</div>')
        return self

    def image(self, uri: str, caption: str) -> Section:
        self.blocks.append(
            f'<figure><img src="{uri}" alt="{html.escape(caption)}"><figcaption>{html.escape(caption)}</figcaption></figure>'
        )
        return self

    def table(
        self,
        rows: list[dict[str, Any]],
        columns: dict[str, str],
        *,
        highlight: str | None = None,
        key: str = "model",
    ) -> Section:
        head = "".join(f"<th>{html.escape(label)}</th>" for label in columns.values())
        body = []
        for row in rows:
            cls = (
                ' class="highlight"' if highlight is not None and row.get(key) == highlight else ""
            )
            cells = "".join(f"<td>{_cell(row.get(c))}</td>" for c in columns)
            body.append(f"<tr{cls}>{cells}</tr>")
        self.blocks.append(
            f'<div class="table-wrap"><table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'
        )
        return self


def _cell(value: Any) -> str:
    if value is None:
        return "&ndash;"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float | np.floating):
        number = float(value)
        if np.isnan(number):
            return "&ndash;"
        return f"{number:.4f}" if abs(number) < 100 else f"{number:,.0f}"
    if isinstance(value, int | np.integer):
        return f"{value:,}"
    return html.escape(str(value))


class RunData:
    """Read-only access to a run directory's stored results (nothing is recomputed from models)."""

    def __init__(self, run_dir: str | Path) -> None:
        self.run_dir = Path(run_dir)
        if not (self.run_dir / "stages").is_dir():
            raise ConfigError(f"{self.run_dir}: not a run folder (no stages/)")
        self.manifest = self._manifest()
        self._stages: dict[str, StoredStage | None] = {}

    def _manifest(self) -> RunManifest:
        path = self.run_dir / "manifest.json"
        try:
            return RunManifest.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise ConfigError(f"{self.run_dir}: missing manifest.json") from None
        except (RecordError, ValueError) as exc:  # JSON errors and UnicodeDecodeError alike
            raise ConfigError(
                f"{path}: damaged manifest ({exc}); `shallowvision run --resume` writes it again"
            ) from None

    def _record(self, stage: str) -> StoredStage | None:
        if stage not in self._stages:
            self._stages[stage] = read_stage(self.run_dir / "stages" / f"{stage}.json")
        return self._stages[stage]

    def has(self, stage: str) -> bool:
        """Whether the stage finished with a result (not skipped)."""
        record = self._record(stage)
        return record is not None and record.output is not None

    def skipped(self, stage: str) -> str | None:
        """Why the stage was skipped, None if it was not."""
        record = self._record(stage)
        return None if record is None else record.skipped

    def result(self, kind: type[OutputT]) -> OutputT:
        """The stored output of a finished stage, ``kind`` (e.g. ``DataOutput``)."""
        record = self._record(kind.stage)
        if record is None:
            raise ConfigError(f"{self.run_dir}: missing stages/{kind.stage}.json")
        return record.result(kind)

    def offered(self, stage: str) -> list[Candidate]:
        """The models a finished stage offered for the final choice."""
        record = self._record(stage)
        return [] if record is None or record.output is None else record.output.offered()

    def predictions(self, name: str, split: str) -> dict[str, Any]:
        with np.load(
            self.run_dir / "predictions" / f"{name}.{split}.npz", allow_pickle=False
        ) as data:
            return {k: (str(data[k]) if k == "kind" else data[k]) for k in data.files}

    def chart(self, name: str) -> Any:
        """A plotly figure a stage stored as ``figures/<name>.json``, without its template
        (:func:`figure_html` gives every chart the same one)."""
        import plotly.graph_objects as go

        try:
            spec = json.loads((self.run_dir / "figures" / f"{name}.json").read_text())
        except FileNotFoundError:
            raise ConfigError(f"{self.run_dir}: missing figures/{name}.json") from None
        spec.get("layout", {}).pop("template", None)
        return go.Figure(spec)

    def scored(self, name: str, split: str, n_classes: int) -> dict[str, float | None]:
        """Metrics recomputed from the stored predictions."""
        from shallowvision.evaluation import summary_metrics

        p = self.predictions(name, split)
        return summary_metrics(p["y_true"], p["labels"], p["scores"], p["kind"], n_classes)


SectionBuilder = Callable[[RunData], Section | None]

#: The report's sections, in reading order: the summary, then the stages as they ran.
ORDER = (
    "summary",
    "data",
    "eda",
    "compare",
    "tune",
    "ensemble",
    "select",
    "explain",
    "finalists",
    "calibrate",
    "robustness",
    "errors",
    "test",
    "reproduce",
)
_SECTIONS: dict[str, SectionBuilder] = {}
#: The stage whose result a section shows, where its key differs.
_STAGE_OF = {"test": "final"}
_SKIPPED_TITLES = {
    "tune": "Tuning",
    "ensemble": "Ensembles",
    "select": "Pixel selection",
    "explain": "Explanations",
    "finalists": "Finalists on all training images",
    "calibrate": "Calibration and uncertainty",
    "robustness": "Robustness to corrupted images",
    "errors": "Error analysis",
    "test": "Final test-set evaluation",
}


def section(key: str) -> Callable[[SectionBuilder], SectionBuilder]:
    """Register the builder of the section ``key`` (one of :data:`ORDER`)."""
    if key not in ORDER:
        raise ValueError(f"unknown report section {key!r}; add it to ORDER")

    def register(builder: SectionBuilder) -> SectionBuilder:
        _SECTIONS[key] = builder
        return builder

    return register


def render_report(run_dir: str | Path) -> Path:
    """Write ``report.html`` in ``run_dir`` from its stored results; return its path."""
    import jinja2
    from plotly.offline import get_plotlyjs

    import shallowvision.report._analysis_sections
    import shallowvision.report._improve_sections
    import shallowvision.report._scale_sections
    import shallowvision.report._sections  # noqa: F401  (they register the sections)

    run = RunData(run_dir)
    sections = []
    for key in ORDER:
        reason = run.skipped(_STAGE_OF.get(key, key))
        if reason is not None:
            # The data could not support the stage: say so where its section would be.
            sections.append(
                Section(key, _SKIPPED_TITLES.get(key, key)).text(
                    f"This stage was skipped: {html.escape(reason)}."
                )
            )
        elif key in _SECTIONS and (built := _SECTIONS[key](run)) is not None:
            sections.append(built)
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("shallowvision.report", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
    )
    template = env.get_template("report.html.j2")
    page = template.render(
        title=f"shallowvision report: {run.manifest.dataset}",
        run_id=run.manifest.run_id,
        generated=_dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        version=__version__,
        plotly_js=get_plotlyjs(),
        sections=sections,
    )
    target = Path(run_dir) / "report.html"
    write_text(target, page)
    return target


__all__ += ["METRIC_LABELS", "FigureHTML", "cost_chart", "metric_bars", "section"]
