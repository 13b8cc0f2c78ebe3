"""A dataset's images as a saved model sees them, and the images it was not trained on."""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from shallowvision.datasets import CarvedSplits, ImageSet, SplitRecipe, load, load_splits
from shallowvision.exceptions import DataError
from shallowvision.persistence import SavedModel

__all__ = ["calibration_splits", "held_out_for_model", "load_for_model", "split_recipe"]


def _label(model: SavedModel) -> str:
    return str(model.path) if model.path is not None else model.name


def _positive(model: SavedModel) -> str | None:
    """The positive class of a one-vs-rest model (None for a multiclass one)."""
    return model.manifest.get("training_data", {}).get("positive")


def _check_matches(model: SavedModel, data: ImageSet) -> ImageSet:
    if tuple(data.class_names) != tuple(model.class_names):
        raise DataError(
            f"{_label(model)} predicts the classes {', '.join(model.class_names)} but "
            f"{data.name} ({data.split}) has {', '.join(data.class_names)}"
        )
    if data.image_shape != model.input_shape:
        h, w = data.image_size
        what = f"{h}x{w}" + (" colour" if data.color == "rgb" else "")
        raise DataError(
            f"{data.name} images are {what} but {_label(model)} expects "
            f"{model.describe_input()} images"
        )
    return data


def load_for_model(
    model: SavedModel,
    source: str | os.PathLike[str],
    split: str = "test",
    *,
    validation_size: float | int | None = None,
    n_per_class: int | None = None,
    random_state: int | None = None,
    data_dir: str | os.PathLike[str] | None = None,
) -> ImageSet:
    """One split of a dataset, loaded for a saved model.

    The split gets the model's one-vs-rest task (the positive class recorded in its
    manifest) and its conversion: image files are converted to its colour mode and
    brought to its size by its resize rule, exactly as its training images were; the
    split must have its classes.

    Parameters
    ----------
    model : SavedModel
    source : str or path
        A dataset name or path, as for :func:`shallowvision.datasets.load`.
    split : {"train", "validation", "test"}
        ``"validation"`` and ``"train"`` are carved with ``validation_size`` and
        ``random_state``: the same options ``compare`` and ``tune`` used give the
        same images. With ``validation_size=None``, ``"train"`` is the whole
        training split.
    validation_size, n_per_class, random_state, data_dir : optional
        As for :func:`shallowvision.datasets.load`. ``"validation"`` with none of the
        first three is the model's own validation split when it records the recipe of
        its splits (a model saved by ``run``), else that of ``validation_size=0.1``
        and ``random_state=0``.
    """
    if split == "validation" and _no_options(validation_size, n_per_class, random_state):
        carved = _carved_for(model, source, data_dir)
        if carved is not None:
            return _check_matches(model, carved.validation)
        validation_size = 0.1
    data = load(
        source,
        split,
        data_dir=data_dir,
        validation_size=validation_size,
        n_per_class=n_per_class,
        random_state=0 if random_state is None else random_state,
        positive=_positive(model),
        **_conversion(model),
    )
    return _check_matches(model, data)


def _conversion(model: SavedModel) -> dict[str, Any]:
    """The options of :func:`~shallowvision.datasets.load` that convert images as the
    model's training images were converted."""
    return {"image_size": model.image_shape, "color": model.color, "resize": model.resize}


def _no_options(*options: Any) -> bool:
    return all(option is None for option in options)


def split_recipe(model: SavedModel) -> SplitRecipe | None:
    """The recipe of the splits a model was fitted on, if its file records one (models
    saved by ``run`` do), or None."""
    stored = model.manifest.get("training_data", {}).get("recipe")
    return None if stored is None else SplitRecipe.from_dict(stored)


def _carved_for(
    model: SavedModel, source: str | os.PathLike[str], data_dir: str | os.PathLike[str] | None
) -> CarvedSplits | None:
    """The splits of the model's recipe, cut from ``source``; None without a recipe.

    The recipe's dataset is read from ``source`` (the run's data may have moved), and
    the images the model was fitted on must be exactly the recipe's, or nothing cut
    from them can be called held out.
    """
    recipe = split_recipe(model)
    if recipe is None:
        return None
    recipe = dataclasses.replace(
        recipe,
        dataset=os.fspath(source),
        data_dir=recipe.data_dir if data_dir is None else os.fspath(data_dir),
    )
    carved = recipe.carve()
    trained_on = model.manifest.get("training_data", {}).get("fingerprint")
    if trained_on not in (carved.compared.fingerprint(), carved.train.fingerprint()):
        raise DataError(
            f"{_label(model)} was trained on other images than the splits its run cut from "
            f"{carved.train.name} (seed {recipe.seed}); is this the dataset of its run?"
        )
    return carved


def held_out_for_model(
    model: SavedModel,
    source: str | os.PathLike[str],
    *,
    validation_size: float | int | None = None,
    n_per_class: int | None = None,
    random_state: int | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    check: bool = True,
) -> ImageSet:
    """The validation split carved from train, checked to hold no image the model was trained on.

    A model saved by ``compare`` or ``tune`` records a fingerprint of its training
    images; the split is returned only if the rest of the training split, loaded
    with the same options, has that fingerprint (so the two are disjoint).

    Parameters
    ----------
    model : SavedModel
    source : str or path
    validation_size, n_per_class, random_state, data_dir : optional
        The options the model was trained with. With none of the first three, a model
        that records the recipe of its splits (one saved by ``run``) gets its own
        validation split; any other gets ``compare``'s defaults (0.1, None, 0).
    check : bool
        Verify the fingerprint; ``False`` trusts the caller that the model never
        saw these images.

    Raises
    ------
    DataError
        If the model was trained on the whole training split, was already
        calibrated, or was trained on other images than these options give.
    """
    label = _label(model)
    if "calibration" in model.manifest:
        raise DataError(
            f"{label} is already calibrated ({model.manifest['calibration'].get('method')}); "
            "calibrate the model it was made from instead"
        )
    if _no_options(validation_size, n_per_class, random_state):
        carved = _carved_for(model, source, data_dir)
        if carved is not None:
            return _check_matches(model, carved.validation)
    validation_size = 0.1 if validation_size is None else validation_size
    random_state = 0 if random_state is None else random_state
    positive, conversion = _positive(model), _conversion(model)
    splits = load_splits(
        source,
        validation_size=validation_size,
        n_per_class=n_per_class,
        random_state=random_state,
        data_dir=data_dir,
        positive=positive,
        **conversion,
    )
    held_out = splits.validation
    if held_out is None:
        raise DataError("a held-out split needs a validation_size")
    if check:
        trained_on = model.manifest.get("training_data", {}).get("fingerprint")
        if trained_on is None:
            raise DataError(
                f"{label} does not record which images it was trained on, so no split can be "
                "shown to be held out from them"
            )
        if trained_on != splits.train.fingerprint():
            whole = load(
                source,
                "train",
                n_per_class=n_per_class,
                random_state=random_state,
                data_dir=data_dir,
                positive=positive,
                **conversion,
            )
            if trained_on == whole.fingerprint():
                raise DataError(
                    f"{label} was trained on the whole training split of {whole.name}: no "
                    "held-out images are left to calibrate on; train it on train minus a "
                    "validation split (compare, tune)"
                )
            raise DataError(
                f"{label} was trained on other images than {splits.train.name}'s training split "
                f"less a validation split of {validation_size} (seed {random_state}"
                f"{f', {n_per_class} per class' if n_per_class else ''}); give the "
                "validation_size=, n_per_class= and random_state= it was trained with"
            )
    return _check_matches(model, held_out)


def calibration_splits(
    model: SavedModel,
    source: str | os.PathLike[str],
    *,
    test: bool = False,
    validation_size: float | int | None = None,
    n_per_class: int | None = None,
    random_state: int | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    check: bool = True,
) -> tuple[ImageSet, ImageSet]:
    """The images to fit a saved model's calibrator on, and the images to measure it on.

    Both come from the model's held-out split (:func:`held_out_for_model`), never from
    its training images: by default a seeded stratified half of it fits the calibrator
    and the other half (named ``"held-out"``) measures it. With ``test``, the whole
    held-out split fits it and the test split measures it; the test split is never
    fitted on. A model that records the recipe of its splits (one saved by ``run``), with
    none of ``validation_size``, ``n_per_class`` and ``random_state`` given, is
    calibrated as its run calibrates: on the run's calibration split, measured on its
    validation split (or on test).

    Parameters
    ----------
    model : SavedModel
    source : str or path
    test : bool
        Measure on the test split (whole, as :func:`load_for_model` loads it).
    validation_size, n_per_class, random_state, data_dir, check : optional
        As for :func:`held_out_for_model`; ``random_state`` also seeds the halves.

    Returns
    -------
    calibration, measured : ImageSet
    """
    if "calibration" not in model.manifest and _no_options(
        validation_size, n_per_class, random_state
    ):
        carved = _carved_for(model, source, data_dir)
        if carved is not None:
            # As its run calibrates: fitted on the calibration split, measured on the
            # validation split (or on test).
            fitted_on = _check_matches(model, carved.calibration)
            return fitted_on, _check_matches(model, carved.test if test else carved.validation)
    held_out = held_out_for_model(
        model,
        source,
        validation_size=validation_size,
        n_per_class=n_per_class,
        random_state=random_state,
        data_dir=data_dir,
        check=check,
    )
    if test:
        return held_out, load_for_model(model, source, "test", data_dir=data_dir)
    return held_out.split_off(
        0.5, random_state=0 if random_state is None else random_state, name="held-out"
    )
