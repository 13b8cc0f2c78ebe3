"""Write an evaluation's figures as PNG files, each atomically."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from shallowvision._io import atomic_path
from shallowvision.evaluation._display import (
    ConfusionDisplay,
    CurvesDisplay,
    ErrorOverlapDisplay,
    GalleryDisplay,
    HistogramDisplay,
    ReliabilityDisplay,
    RiskCoverageDisplay,
    ThresholdDisplay,
    new_axes,
)
from shallowvision.evaluation._evaluate import Evaluation

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["save_figures", "save_png"]


def save_png(figure: Figure, path: str | os.PathLike[str], *, dpi: int = 100) -> Path:
    """Write ``figure`` to ``path`` as PNG; a reader never sees a half-written file."""
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=dpi)
    return Path(path)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "class"


def _classwise_reliability(evaluation: Evaluation) -> Figure:
    from matplotlib.figure import Figure

    diagrams = evaluation.calibration.classwise.diagrams
    cols = math.ceil(math.sqrt(len(diagrams)))
    rows = math.ceil(len(diagrams) / cols)
    figure = Figure(figsize=(3.0 * cols, 2.8 * rows), layout="constrained")
    axes = figure.subplots(rows, cols, squeeze=False).ravel()
    for ax, diagram in zip(axes, diagrams, strict=False):
        ReliabilityDisplay(diagram).plot(ax=ax, show_counts=False)
        ax.set_title(f"{diagram.label}: ECE {diagram.ece:.3f}", fontsize="small")
        ax.set_xlabel("predicted probability", fontsize="x-small")
        ax.set_ylabel("observed frequency", fontsize="x-small")
        ax.get_legend().remove()
    for ax in axes[len(diagrams) :]:
        ax.set_axis_off()
    figure.suptitle(
        f"Class-wise reliability (class-wise ECE {evaluation.calibration.classwise_ece:.3f})"
    )
    return figure


def save_figures(
    evaluation: Evaluation, out_dir: str | os.PathLike[str], *, dpi: int = 100
) -> dict[str, Path]:
    """Draw every figure of an evaluation and write each as ``out_dir/<name>.png``.

    Galleries are drawn only when the evaluation kept its images; the error-overlap
    matrix only when other models were compared.

    Parameters
    ----------
    evaluation : Evaluation
    out_dir : path
        Created if missing.
    dpi : int

    Returns
    -------
    dict of str to Path
        Figure name to the file written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ev = evaluation
    draw: dict[str, Callable[[Axes], object]] = {
        "roc": lambda ax: CurvesDisplay(ev.roc).plot(ax=ax),
        "pr": lambda ax: CurvesDisplay(ev.pr).plot(ax=ax),
        "thresholds": lambda ax: ThresholdDisplay(ev.thresholds).plot(ax=ax),
        "reliability": lambda ax: ReliabilityDisplay(ev.calibration.top_label).plot(ax=ax),
        "reliability_quantile": lambda ax: ReliabilityDisplay(
            ev.calibration.top_label_quantile
        ).plot(ax=ax),
        "confidence": lambda ax: HistogramDisplay(ev.confidence).plot(ax=ax),
        "entropy": lambda ax: HistogramDisplay(ev.entropy).plot(ax=ax),
        "risk_coverage": lambda ax: RiskCoverageDisplay(ev.risk_coverage).plot(ax=ax),
        "confusion": lambda ax: ConfusionDisplay(ev.confusion).plot(ax=ax),
        "confusion_normalized": lambda ax: ConfusionDisplay(ev.confusion).plot(
            ax=ax, normalize=True
        ),
    }
    if ev.error_overlap is not None:
        overlap = ev.error_overlap
        draw["error_overlap"] = lambda ax: ErrorOverlapDisplay(overlap).plot(ax=ax)
    written = {}
    big = len(ev.class_names) > 20
    for name, plot in draw.items():
        size = (11.0, 10.0) if big and name.startswith("confusion") else (7.0, 5.5)
        ax = new_axes(size)
        plot(ax)
        written[name] = save_png(ax.get_figure(), out / f"{name}.png", dpi=dpi)  # type: ignore[arg-type]
    written["reliability_classwise"] = save_png(
        _classwise_reliability(ev), out / "reliability_classwise.png", dpi=dpi
    )
    if ev.images is not None:
        galleries = [("confidently_wrong", ev.confidently_wrong)] + [
            (f"gallery_{i + 1:02d}_{_slug(g.true[0])}_as_{_slug(g.predicted[0])}", g)
            for i, g in enumerate(ev.galleries)
            if len(g.indices)
        ]
        for name, gallery in galleries:
            display = GalleryDisplay(gallery, ev.images).plot()
            written[name] = save_png(display.figure_, out / f"{name}.png", dpi=dpi)
    return written
