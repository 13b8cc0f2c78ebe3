"""Write what an evaluation produces, each file atomically: ``evaluation.json`` and its
PNG figures, a calibration's before/after figure and the calibrated model file."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shallowvision._io import write_json
from shallowvision._plotting import new_axes, save_png
from shallowvision.evaluation._calibrators import CalibrationComparison
from shallowvision.evaluation._display import (
    ConfusionDisplay,
    CurvesDisplay,
    ErrorOverlapDisplay,
    GalleryDisplay,
    HistogramDisplay,
    ReliabilityDisplay,
    RiskCoverageDisplay,
    RobustnessDisplay,
    ThresholdDisplay,
)
from shallowvision.evaluation._evaluate import Evaluation
from shallowvision.evaluation._robustness import RobustnessResult

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from shallowvision.datasets import ImageSet
    from shallowvision.persistence import SavedModel

__all__ = [
    "save_calibrated_model",
    "save_calibration_figure",
    "save_evaluation",
    "save_figures",
    "save_png",
]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "class"


def _classwise_reliability(evaluation: Evaluation) -> Figure:
    from matplotlib.figure import Figure

    diagrams = evaluation.calibration.classwise.diagrams
    cols = math.ceil(math.sqrt(len(diagrams)))
    rows = math.ceil(len(diagrams) / cols)
    width, height = 2.4 * cols + 0.9, 2.3 * rows + 1.2
    figure = Figure(figsize=(width, height))
    # Shared axes labelled on the outside only keep dozens of small diagrams readable;
    # fixed margins (in inches) replace constrained layout, which costs twice the
    # drawing time on a grid of 47.
    axes = figure.subplots(rows, cols, squeeze=False, sharex=True, sharey=True).ravel()
    figure.subplots_adjust(
        left=0.8 / width,
        right=1 - 0.15 / width,
        bottom=0.75 / height,
        top=1 - 0.55 / height,
        wspace=0.12,
        hspace=0.35,
    )
    for i, (ax, diagram) in enumerate(zip(axes, diagrams, strict=False)):
        ReliabilityDisplay(diagram).plot(ax=ax, show_counts=False, legend=False)
        ax.set_title(f"{diagram.label}: ECE {diagram.ece:.3f}", fontsize="small")
        ax.set(xlabel="", ylabel="")
        ax.label_outer()
        if i + cols >= len(diagrams):  # nothing drawn below: this column's axis is here
            ax.xaxis.set_tick_params(labelbottom=True)
    for ax in axes[len(diagrams) :]:
        ax.set_axis_off()
    figure.supxlabel("predicted probability of the class", y=0.15 / height, va="bottom")
    figure.supylabel("observed frequency", x=0.15 / width, ha="left")
    figure.suptitle(
        f"Class-wise reliability (class-wise ECE {evaluation.calibration.classwise_ece:.3f})",
        y=1 - 0.2 / height,
        va="top",
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


def save_evaluation(
    evaluation: Evaluation,
    out_dir: str | os.PathLike[str],
    *,
    model_file: str | os.PathLike[str] | None = None,
    dataset: str | None = None,
    split: str | None = None,
    robustness: RobustnessResult | None = None,
    figures: bool = True,
    dpi: int = 100,
) -> dict[str, Path]:
    """Write ``evaluation.json`` and the evaluation's figures into ``out_dir``.

    The document is the evaluation's record (:meth:`Evaluation.to_dict`) after the model
    file, dataset and split it was measured on, with a ``robustness`` section when
    ``robustness`` is given; the figures are :func:`save_figures`' and ``robustness.png``.

    Parameters
    ----------
    evaluation : Evaluation
    out_dir : path
        Created if missing.
    model_file, dataset, split : optional
        What was evaluated on what, recorded at the top of the document.
    robustness : RobustnessResult, optional
        Accuracy under corruptions of the same images.
    figures : bool
        Whether to draw the PNG figures too.
    dpi : int

    Returns
    -------
    dict of str to Path
        ``"evaluation"`` (the JSON document) first, then each figure by name.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    document: dict[str, Any] = {
        "model_file": None if model_file is None else os.fspath(model_file),
        "dataset": dataset,
        "split": split,
        **evaluation.to_dict(),
    }
    if robustness is not None:
        document["robustness"] = robustness.to_dict()
    written = {"evaluation": write_json(out / "evaluation.json", document)}
    if figures:
        written.update(save_figures(evaluation, out, dpi=dpi))
        if robustness is not None:
            display = RobustnessDisplay(robustness).plot()
            written["robustness"] = save_png(display.figure_, out / "robustness.png", dpi=dpi)
    return written


def save_calibration_figure(
    comparison: CalibrationComparison, path: str | os.PathLike[str], *, dpi: int = 100
) -> Path:
    """Draw a calibration's reliability diagrams, before (when the model gave
    probabilities) and after, side by side, and write them to ``path`` as PNG."""
    from matplotlib.figure import Figure

    shown = [(d, t) for d, t in ((comparison.before, "before"), (comparison.after, "after")) if d]
    figure = Figure(figsize=(6.0 * len(shown), 5.0), layout="constrained")
    for ax, (diagram, when) in zip(
        figure.subplots(1, len(shown), squeeze=False)[0], shown, strict=True
    ):
        ReliabilityDisplay(diagram).plot(ax=ax)
        ax.set_title(f"{when} {comparison.method}: ECE {diagram.ece:.3f}, MCE {diagram.mce:.3f}")
    return save_png(figure, path, dpi=dpi)


def save_calibrated_model(
    comparison: CalibrationComparison,
    path: str | os.PathLike[str],
    *,
    model: SavedModel,
    calibrated_on: ImageSet,
    measured_on: ImageSet,
) -> Path:
    """Save a calibration's calibrated model as a model file made from ``model``.

    The manifest keeps ``model``'s classes, image shape and training data, records the
    calibration (:meth:`CalibrationComparison.manifest_record`) with the images it was
    fitted on, and keeps the after-calibration measures as the model's metrics, so the
    file is not calibrated again.

    Parameters
    ----------
    comparison : CalibrationComparison
        From :func:`compare_calibration` on ``model``'s estimator.
    path : path
        The model file to write (``.skops``).
    model : SavedModel
        The model file that was calibrated.
    calibrated_on, measured_on : ImageSet
        The images the calibrator was fitted on, and those it was measured on.
    """
    from shallowvision.persistence import save_model

    after = {measure: values["after"] for measure, values in comparison.table.items()}
    return save_model(
        comparison.calibrator,
        path,
        trained_on=model,
        name=f"{model.name} ({comparison.method})",
        evaluated_on=measured_on.split,
        metrics={"n_images": len(measured_on), **after},
        calibration=comparison.manifest_record(
            None if model.path is None else os.fspath(model.path)
        ),
        calibrated_on=calibrated_on,
    )
