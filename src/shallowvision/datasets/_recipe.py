"""How a study cuts a dataset into the splits it uses, as a record that can be stored.

A run cuts train, calibration, validation and test splits (and the subsample models are
compared on) from one dataset, with one seed. The :class:`SplitRecipe` is everything that
decides those images, so a model file that keeps it can find its own held-out images
again, and a check of the training images' fingerprint proves they are the same.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from shallowvision._records import StoredRecord
from shallowvision.datasets._imageset import ImageSet

__all__ = ["CarvedSplits", "SplitRecipe"]


@dataclass(frozen=True, kw_only=True)
class SplitRecipe(StoredRecord):
    """The dataset, its loading options and the cuts a study makes of it.

    ``validation_size`` and ``calibration_size`` are shares of the training split held
    out (a seeded stratified draw, then split between the two); ``n_per_class``,
    ``max_held_out`` and ``test_n_per_class`` subsample the splits, and
    ``max_images`` is the most training images models are compared on.
    """

    dataset: str
    data_dir: str | None = None
    positive: str | None = None
    color: str = "auto"
    image_size: str = "auto"
    resize: str = "stretch"
    skip_bad: bool = False
    seed: int = 0
    validation_size: float = 0.1
    calibration_size: float = 0.1
    n_per_class: int | None = None
    max_held_out: int | None = None
    test_n_per_class: int | None = None
    max_images: int | None = None

    def carve(self) -> CarvedSplits:
        """Load the dataset and cut it as the recipe says (the same images every time)."""
        from shallowvision.datasets._load import load_splits

        seed = self.seed
        held = self.validation_size + self.calibration_size
        pool = load_splits(
            self.dataset,
            validation_size=held,
            data_dir=self.data_dir,
            positive=self.positive,
            random_state=seed,
            color=self.color,
            image_size=self.image_size,
            resize=self.resize,
            skip_bad=self.skip_bad,
        )
        assert pool.validation is not None  # validation_size was given
        share = self.validation_size / held
        calibration, validation = pool.validation.split_off(share, random_state=seed)
        calibration = dataclasses.replace(calibration, split="calibration")
        whole = {"train": pool.train, "calibration": calibration, "validation": validation}
        why = {}
        train = pool.train
        if self.n_per_class is not None:
            train = train.subsample(n_per_class=self.n_per_class, random_state=seed)
            why["train"] = f"at most {self.n_per_class:,} per class (data.n_per_class)"
            # The held-out splits shrink in proportion, so a quick run stays quick.
            ratio = len(train) / len(pool.train)
            calibration = _shrink(calibration, ratio, seed)
            validation = _shrink(validation, ratio, seed)
            why["calibration"] = why["validation"] = "in proportion to data.n_per_class"
        if self.max_held_out is not None:
            # Scoring every model and fitting calibrators stay cheap on data-rich sets.
            cap = self.max_held_out
            for name, split in (("calibration", calibration), ("validation", validation)):
                if len(split) > cap:
                    capped = f"at most {cap:,} images (data.max_held_out)"
                    why[name] = f"{why[name]}, then {capped}" if name in why else capped
            calibration = calibration.subsample(n_images=cap, random_state=seed)
            validation = validation.subsample(n_images=cap, random_state=seed)
        test = pool.test
        whole["test"] = test
        if self.test_n_per_class is not None:
            test = test.subsample(n_per_class=self.test_n_per_class, random_state=seed)
            why["test"] = f"at most {self.test_n_per_class:,} per class (data.test_n_per_class)"
        for split in (train, calibration, validation):
            split.check_trainable()
        compared = train
        if self.max_images is not None and len(train) > self.max_images:
            compared = train.subsample(n_images=self.max_images, random_state=seed)
            compared.check_trainable()
        kept = {"train": train, "calibration": calibration, "validation": validation, "test": test}
        taken = [
            {
                "name": f"{name} split",
                "split": name,
                "n_images": len(kept[name]),
                "of": len(whole[name]),
                "seed": seed,
                "used_for": why[name],
            }
            for name in ("train", "validation", "calibration", "test")
            if name in why and len(kept[name]) < len(whole[name])
        ]
        return CarvedSplits(
            recipe=self,
            train=train,
            calibration=calibration,
            validation=validation,
            test=test,
            compared=compared,
            subsamples=taken,
        )


@dataclass(frozen=True)
class CarvedSplits:
    """The splits a :class:`SplitRecipe` cuts, and the subsamples it took on the way."""

    recipe: SplitRecipe
    train: ImageSet
    calibration: ImageSet
    validation: ImageSet
    test: ImageSet
    #: The images models are compared on (train, or a subsample of it).
    compared: ImageSet
    #: What the recipe cut down, and why (``name, split, n_images, of, seed, used_for``).
    subsamples: list[dict[str, Any]]


def _shrink(data: ImageSet, ratio: float, seed: int) -> ImageSet:
    return data if ratio >= 1 else data.subsample(fraction=max(ratio, 1e-6), random_state=seed)
