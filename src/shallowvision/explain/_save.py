"""Write an explanation as ``explanation.json`` and one PNG per figure, each atomically."""

from __future__ import annotations

import os
from pathlib import Path

from shallowvision._io import write_json
from shallowvision._plotting import save_png
from shallowvision.explain._display import OverlayDisplay, PixelMapDisplay
from shallowvision.explain._explain import Explanation

__all__ = ["save_explanation"]


def save_explanation(
    explanation: Explanation, out_dir: str | os.PathLike[str], *, dpi: int = 100
) -> dict[str, Path]:
    """Write ``explanation.json`` and the PNGs of an explanation into ``out_dir``.

    PNGs: ``shap_classes``, ``shap_direction``, ``importance``, and ``misclassified``
    and ``chosen`` when there are such images.

    Parameters
    ----------
    explanation : Explanation
    out_dir : path
        Created if missing.
    dpi : int

    Returns
    -------
    dict of str to Path
        File name (without suffix) to the file written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = {"explanation": write_json(out / "explanation.json", explanation.to_dict())}
    for name, kind in (
        ("shap_classes", "class_mean_abs"),
        ("shap_direction", "class_mean"),
        ("importance", "importance"),
    ):
        display = PixelMapDisplay.from_explanation(explanation, kind)
        written[name] = save_png(display.figure_, out / f"{name}.png", dpi=dpi)
    for which in ("misclassified", "chosen"):
        if getattr(explanation, which)():
            display = OverlayDisplay.from_explanation(explanation, which)  # type: ignore[assignment]
            written[which] = save_png(display.figure_, out / f"{which}.png", dpi=dpi)
    return written
