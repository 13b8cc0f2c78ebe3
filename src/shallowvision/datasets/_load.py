"""``load``: from a dataset name or a path to an ImageSet, through the decoded cache.

Finding the files is :mod:`._locate`'s job, reading them :mod:`._decode`'s and keeping
the result :mod:`._cache`'s; this module puts them in order and carves the requested
split.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from shallowvision.datasets._cache import _cached
from shallowvision.datasets._convert import (
    ImageSize,
    array_as,
    check_color,
    check_resize,
    parse_image_size,
)
from shallowvision.datasets._decode import (
    ReadOptions,
    _decode_named,
    _decode_path,
    _Decoded,
    nested_split,
)
from shallowvision.datasets._imageset import ImageSet
from shallowvision.datasets._registry import get_dataset_spec, is_dataset_name
from shallowvision.exceptions import ConfigError, DataError

__all__ = ["DatasetSplits", "load", "load_splits"]

SPLITS = ("train", "validation", "test")


# -- public API -----------------------------------------------------------------------------
def _decode_cached(
    source: str | os.PathLike[str],
    part: str,
    *,
    data_dir: str | os.PathLike[str] | None,
    download: bool,
    verify: bool,
    options: ReadOptions,
    cache: bool,
) -> _Decoded:
    text = os.fspath(source)
    if not text.strip():
        raise DataError(
            "no dataset given (an empty name); give a dataset name such as digits or a path"
        )
    if isinstance(source, str) and is_dataset_name(text) and not Path(text).exists():
        spec = get_dataset_spec(text)
        return _cached(
            spec.name,
            part,
            lambda: _decode_named(spec, part, data_dir, download, verify),
            use_cache=cache and spec.kind != "sklearn",
        )
    path = Path(text).expanduser()
    if not path.exists():
        if os.sep not in text and "." not in text:
            get_dataset_spec(text)  # raises "unknown dataset ..., did you mean ..."
        raise DataError(f"{path}: file or folder not found")
    resolved = path.resolve()
    if (
        part == "test"
        and resolved.is_dir()
        and nested_split(resolved) == "train+test"
        and "auto" in (options.image_size, options.color)
    ):
        # The test folder is read as the training folder was: its size and colour are
        # chosen from the training images (decoded once, then cached).
        train = _decode_path_cached(resolved, "train", options, cache)
        options = dataclasses.replace(
            options,
            image_size=(int(train.images.shape[1]), int(train.images.shape[2])),
            color="rgb" if train.images.ndim == 4 else "gray",
        )
    return _decode_path_cached(resolved, part, options, cache)


def _decode_path_cached(path: Path, part: str, options: ReadOptions, cache: bool) -> _Decoded:
    size = options.image_size
    size_key = (
        "native" if size is None else size if isinstance(size, str) else f"{size[0]}x{size[1]}"
    )
    # How image files are converted changes what a folder decodes to; a file of arrays
    # is decoded alike whatever the options (converted after the cache).
    conversion = f"|{options.color}|{options.resize}" if path.is_dir() else ""
    key = "path-" + hashlib.sha1(f"{path}|{size_key}{conversion}".encode()).hexdigest()[:16]
    return _cached(key, part, lambda: _decode_path(path, part, options), use_cache=cache, root=path)


def load(
    source: str | os.PathLike[str],
    split: str = "train",
    *,
    data_dir: str | os.PathLike[str] | None = None,
    validation_size: float | int | None = None,
    n_per_class: int | None = None,
    fraction: float | None = None,
    positive: int | str | None = None,
    random_state: int = 0,
    image_size: ImageSize | int | str = "auto",
    color: str = "auto",
    resize: str = "stretch",
    skip_bad: bool = False,
    download: bool = True,
    verify: bool = True,
    cache: bool = True,
) -> ImageSet:
    """Load one split of a named dataset or of a dataset on disk.

    Parameters
    ----------
    source : str or path
        A registered name (see :func:`list_datasets`) or a path: an IDX images file,
        a Kaggle-style CSV, an NPZ with ``x_train/y_train/x_test/y_test``, a folder of
        IDX or CSV files, or a folder with one sub-folder of images per class
        (optionally inside ``train/`` and ``test/``).
    split : {"train", "validation", "test"}
        ``"validation"`` is carved from the training split (stratified, seeded) and
        needs ``validation_size``; ``"train"`` with ``validation_size`` is the rest.
        Datasets without an official test split get a fixed 20% carved with seed 0.
    data_dir : path, optional
        Folder searched first (also ``$SHALLOWVISION_DATA``); then the user cache,
        system copies, then a download.
    validation_size : float or int, optional
        Share or count of the training split held out for validation.
    n_per_class, fraction : optional
        Seeded stratified subsample of the chosen split.
    positive : int or str, optional
        Relabel for a one-vs-rest task with this class (index or name) as positive.
    random_state : int
        Seed for the validation split and the subsample.
    image_size : (height, width), int, "auto" or None
        Size image files are brought to (``48x64`` text and a single side work too).
        ``"auto"``: the median size of the images, the longer side at most 64 pixels;
        None: their own size, which must be the same for all. Files of arrays (IDX,
        CSV, NPZ, the named datasets) keep their own size.
    color : {"auto", "gray", "rgb"}
        ``"gray"`` gives ``(n, height, width)`` images, ``"rgb"`` ``(n, height, width,
        3)``; ``"auto"`` keeps colour when the source has it (any image of a folder with
        colour, an NPZ of colour arrays) and grey otherwise. Transparent pixels are
        composited onto black for grey images and onto white for colour ones.
    resize : {"stretch", "pad", "crop"}
        How image files reach ``image_size``: ``"stretch"`` ignores the aspect ratio,
        ``"pad"`` keeps it and pads with the image's border colour, ``"crop"`` keeps it
        and takes the centre.
    skip_bad : bool
        Skip image files that cannot be decoded instead of stopping at the first (named
        in the error); the skipped files are listed in the result's ``skipped``.
    download : bool
        Whether a missing named dataset may be downloaded.
    verify : bool
        Whether local copies must match the published checksums.
    cache : bool
        Whether to read and write the decoded ``.npy`` cache (keyed by the image size,
        colour mode and resize rule too).

    Returns
    -------
    ImageSet
    """
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    if split == "validation" and validation_size is None:
        raise DataError("split='validation' is carved from train: pass validation_size (e.g. 0.1)")
    part = "test" if split == "test" else "train"
    options = ReadOptions(
        image_size=parse_image_size(image_size),
        color=check_color(color),
        resize=check_resize(resize),
        skip_bad=skip_bad,
    )
    decoded = _decode_cached(
        source,
        part,
        data_dir=data_dir,
        download=download,
        verify=verify,
        options=options,
        cache=cache,
    )
    skipped = decoded.meta.get("skipped")
    if skipped and not skip_bad:  # skipped by an earlier load, now in the cache
        raise DataError(f"{skipped[0]}; pass skip_bad=True to skip unreadable files")  # type: ignore[index]
    result = decoded.to_imageset(part)
    converted = array_as(result.images, options.color)
    if converted is not result.images:
        result = dataclasses.replace(result, images=converted)
    if validation_size is not None and part == "train":
        rest, held = result.split_off(validation_size, random_state=random_state)
        result = held if split == "validation" else rest
    if n_per_class is not None or fraction is not None:
        result = result.subsample(
            n_per_class=n_per_class, fraction=fraction, random_state=random_state
        )
    if positive is not None:
        result = result.one_vs_rest(positive)
    return result


@dataclass(frozen=True)
class DatasetSplits:
    """Disjoint train, validation and test splits of one dataset."""

    train: ImageSet
    validation: ImageSet | None
    test: ImageSet

    def __iter__(self) -> Iterator[ImageSet | None]:
        return iter((self.train, self.validation, self.test))


def load_splits(
    source: str | os.PathLike[str],
    *,
    validation_size: float | int | None = 0.1,
    data_dir: str | os.PathLike[str] | None = None,
    n_per_class: int | None = None,
    fraction: float | None = None,
    test_n_per_class: int | None = None,
    positive: int | str | None = None,
    random_state: int = 0,
    image_size: ImageSize | int | str = "auto",
    color: str = "auto",
    resize: str = "stretch",
    skip_bad: bool = False,
    download: bool = True,
    verify: bool = True,
    cache: bool = True,
) -> DatasetSplits:
    """Load train, validation (carved from train) and test splits with one set of options.

    Each split is one :func:`load` call with these options, so the three are disjoint
    and the same options always give the same images. Class names are made the same
    across the three splits.

    Parameters
    ----------
    source : str or path
        A registered name (see :func:`list_datasets`) or a path, as for :func:`load`.
    validation_size : float or int or None
        Share or count of the training split held out, stratified and seeded, as the
        validation split; None keeps the whole training split and gives no validation
        split.
    data_dir : path, optional
        Folder searched first (also ``$SHALLOWVISION_DATA``); then the user cache,
        system copies, then a download.
    n_per_class, fraction : optional
        Seeded stratified subsample of the training and validation splits, taken after
        validation is carved. The test split stays whole, so its scores compare with
        every other figure on the same dataset.
    test_n_per_class : int, optional
        Seeded stratified subsample of the test split: at most this many per class.
    positive : int or str, optional
        Relabel every split for a one-vs-rest task with this class (index or name) as
        positive.
    random_state : int
        Seed for the validation split and the subsamples.
    image_size, color, resize, skip_bad : optional
        How image files are converted, as for :func:`load`; one conversion for the
        three splits.
    download : bool
        Whether a missing named dataset may be downloaded.
    verify : bool
        Whether local copies must match the published checksums.
    cache : bool
        Whether to read and write the decoded ``.npy`` cache.

    Returns
    -------
    DatasetSplits
        ``train``, ``validation`` (None when ``validation_size`` is None) and ``test``.
    """

    def one(
        split: str,
        held_out: float | int | None,
        per_class: int | None = n_per_class,
        share: float | None = fraction,
    ) -> ImageSet:
        return load(
            source,
            split,
            data_dir=data_dir,
            validation_size=held_out,
            n_per_class=per_class,
            fraction=share,
            positive=positive,
            random_state=random_state,
            image_size=image_size,
            color=color,
            resize=resize,
            skip_bad=skip_bad,
            download=download,
            verify=verify,
            cache=cache,
        )

    train = one("train", validation_size)
    validation = one("validation", validation_size) if validation_size is not None else None
    test = one("test", None, test_n_per_class, None)
    names = max((s.class_names for s in (train, validation, test) if s is not None), key=len)
    fixed = [
        s if s is None or s.class_names == names else _with_names(s, names)
        for s in (train, validation, test)
    ]
    return DatasetSplits(*fixed)  # type: ignore[arg-type]


def _with_names(split: ImageSet, names: tuple[str, ...]) -> ImageSet:
    import dataclasses

    if names[: split.n_classes] != split.class_names:
        raise DataError(
            f"{split.name}: the {split.split} split's classes {split.class_names} differ from {names}"
        )
    return dataclasses.replace(split, class_names=names)
