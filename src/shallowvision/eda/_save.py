"""Write an EDA: its PNG figures, ``summary.txt`` and ``eda.json``, each file atomically."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from shallowvision._io import write_json, write_text
from shallowvision._plotting import new_axes, save_png
from shallowvision.eda._analyze import EdaResult
from shallowvision.eda._display import (
    CentreOfMassDisplay,
    ChannelHistogramDisplay,
    ClassBalanceDisplay,
    ClassImagesDisplay,
    DifferencesDisplay,
    DistributionDisplay,
    DuplicatesDisplay,
    ExplainedVarianceDisplay,
    HueHistogramDisplay,
    ImageGridDisplay,
    PixelHistogramDisplay,
    ProjectionDisplay,
)
from shallowvision.eda._figures import duplicates_name

__all__ = ["explore_dataset", "save_figures", "summary_text", "write_eda"]


def save_figures(
    result: EdaResult, out_dir: str | os.PathLike[str], *, dpi: int = 100
) -> dict[str, Path]:
    """Draw every figure of an EDA and write each as ``out_dir/<name>.png``.

    The names are those of :func:`eda_figures`: ``class_balance``, ``samples``,
    ``pixel_histogram``, ``channel_histograms`` and ``hue_histogram`` (colour images),
    ``ink_<statistic>``, ``centre_of_mass``, ``mean_images``,
    ``variance_images``, ``similar_pairs``, ``against_others``, ``pca_variance``,
    ``pca_projection``, ``atypical`` and ``duplicates_<kind>_<scope>`` for each kind of
    duplicate with examples.

    Parameters
    ----------
    result : EdaResult
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
    r = result
    wide = (11.0, 5.0) if len(r.class_names) > 20 else (7.0, 4.5)
    # name -> (figure size, or None for the display's own; the display; options of its plot)
    draw: dict[str, tuple[tuple[float, float] | None, Any, dict[str, Any]]] = {
        "class_balance": (wide, ClassBalanceDisplay(r.balance), {}),
        "samples": (None, ImageGridDisplay(r.samples), {}),
        "pixel_histogram": ((7.0, 4.5), PixelHistogramDisplay(r.pixels), {}),
    }
    if r.pixels.channels is not None:
        draw["channel_histograms"] = ((9.0, 4.5), ChannelHistogramDisplay(r.pixels), {})
    if r.colour is not None:
        draw["hue_histogram"] = ((8.0, 4.5), HueHistogramDisplay(r.colour), {})
    draw |= {
        **{f"ink_{d.name}": (wide, DistributionDisplay(d), {}) for d in r.ink.distributions()},
        "centre_of_mass": (
            (7.5, 5.5),
            CentreOfMassDisplay(r.ink, r.class_images.overall_mean),
            {},
        ),
        "mean_images": (None, ClassImagesDisplay(r.class_images), {"kind": "mean"}),
        "variance_images": (None, ClassImagesDisplay(r.class_images), {"kind": "variance"}),
        "similar_pairs": (None, DifferencesDisplay(r.differences), {"view": "similar"}),
    }
    if r.differences.against_others:
        draw["against_others"] = (None, DifferencesDisplay(r.differences), {"view": "others"})
    draw["pca_variance"] = ((7.0, 4.5), ExplainedVarianceDisplay(r.pca), {})
    draw["pca_projection"] = ((7.5, 6.0), ProjectionDisplay(r.pca), {})
    draw["atypical"] = (None, ImageGridDisplay(r.atypical), {})
    for dup in r.duplicates:
        if len(dup.first_index):
            draw[duplicates_name(dup)] = (None, DuplicatesDisplay(dup), {})
    written = {}
    for name, (size, display, options) in draw.items():
        display.plot(ax=new_axes(size) if size is not None else None, **options)
        written[name] = save_png(display.figure_, out / f"{name}.png", dpi=dpi)
    return written


def summary_text(result: EdaResult) -> str:
    """The findings as plain text, one ``- `` line each (the content of ``summary.txt``)."""
    return "".join(f"- {line}\n" for line in result.findings())


def write_eda(
    result: EdaResult,
    out_dir: str | os.PathLike[str],
    *,
    figures: bool = True,
    dpi: int = 100,
) -> dict[str, Path]:
    """Write an EDA into ``out_dir``: the PNG figures, ``summary.txt`` and ``eda.json``.

    Every file is written atomically, and ``eda.json`` last: once it is there, the
    rest is complete. A previous EDA in the folder is removed first (``eda.json``
    before anything else), so its files never stand next to the new ones.

    Parameters
    ----------
    result : EdaResult
    out_dir : path
        Created if missing; must not be a file.
    figures : bool
        Whether to draw the PNG figures (the slow part).
    dpi : int

    Returns
    -------
    dict of str to Path
        ``"eda"``, ``"summary"`` and each figure's name, to the file written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _remove_previous(out)
    written = save_figures(result, out, dpi=dpi) if figures else {}
    written["summary"] = write_text(out / "summary.txt", summary_text(result))
    # Compact: the images in it would take four times the room indented.
    written["eda"] = write_json(out / "eda.json", result.to_dict(), compact=True)
    return written


#: The files an EDA writes: its JSON and summary, and its figures' names.
_FIGURE_NAMES = re.compile(
    r"^(class_balance|samples|pixel_histogram|channel_histograms|hue_histogram|ink_\w+|centre_of_mass|mean_images|"
    r"variance_images|similar_pairs|against_others|pca_variance|pca_projection|atypical|"
    r"duplicates_\w+)\.png$"
)


def _remove_previous(out: Path) -> None:
    """Remove what an earlier EDA wrote into ``out``, its completion mark first."""
    for name in ("eda.json", "summary.txt"):
        (out / name).unlink(missing_ok=True)
    for path in out.iterdir():
        if _FIGURE_NAMES.match(path.name) and path.is_file():
            path.unlink()


def explore_dataset(
    source: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    data_dir: str | os.PathLike[str] | None = None,
    n_per_class: int | None = None,
    compare_class: int | str | None = None,
    random_state: int = 0,
    near_threshold: float = 6.0,
    figures: bool = True,
    on_step: Callable[[str], None] | None = None,
    color: str = "auto",
    image_size: tuple[int, int] | int | str | None = "auto",
    resize: str = "stretch",
    skip_bad: bool = False,
) -> tuple[EdaResult, dict[str, Path]]:
    """Load a dataset's train and test splits, analyse them and write the EDA into ``out_dir``
    (what ``shallowvision eda`` does).

    Parameters
    ----------
    source : str or path
        A dataset name or path, as :func:`~shallowvision.datasets.load` takes.
    out_dir : path
        Folder for ``eda.json``, ``summary.txt`` and the PNG figures; created if missing.
    data_dir : path, optional
        Folder searched first for the dataset's files.
    n_per_class : int, optional
        Seeded stratified subsample of both splits: at most this many images per class.
    compare_class : int or str, optional
        The class drawn against every other one (see :func:`analyze`).
    random_state : int
        Seed of the subsample and of the EDA's samples.
    near_threshold : float
        Largest RMS pixel difference of a near duplicate, in grey levels.
    figures : bool
        Whether to draw the PNG figures.
    on_step : callable, optional
        Called with a short description as each step starts.
    color, image_size, resize, skip_bad : optional
        How image files are read, as for :func:`~shallowvision.datasets.load` (colour
        images are analysed in colour, channel by channel).

    Returns
    -------
    result : EdaResult
    written : dict of str to Path
    """
    from shallowvision.datasets import load_splits
    from shallowvision.eda._analyze import analyze
    from shallowvision.exceptions import ConfigError

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{out}: out_dir= must be a folder, and this is a file")
    step = on_step or (lambda _: None)
    step("loading")
    splits = load_splits(
        source,
        validation_size=None,
        # Exploring a sample: both splits are cut alike.
        n_per_class=n_per_class,
        test_n_per_class=n_per_class,
        random_state=random_state,
        data_dir=data_dir,
        color=color,
        image_size=image_size,
        resize=resize,
        skip_bad=skip_bad,
    )
    step("analysing")
    result = analyze(
        splits.train,
        splits.test,
        compare_class=compare_class,
        near_threshold=near_threshold,
        random_state=random_state,
    )
    step("writing")
    return result, write_eda(result, out, figures=figures)
