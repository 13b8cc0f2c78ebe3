"""Datasets: the ImageSet container, the registry of named datasets, readers and ``load``."""

from shallowvision.datasets._convert import parse_image_size
from shallowvision.datasets._imageset import ImageSet
from shallowvision.datasets._load import DatasetSplits, load, load_splits
from shallowvision.datasets._locate import cache_dir, list_datasets, locate
from shallowvision.datasets._partitioned import PartitionedImages, read_partitioned
from shallowvision.datasets._readers import (
    decode_image,
    read_csv,
    read_emnist_zip,
    read_idx,
    read_image_folder,
    read_npz,
)
from shallowvision.datasets._recipe import CarvedSplits, SplitRecipe
from shallowvision.datasets._registry import DatasetSpec, get_dataset_names, get_dataset_spec

__all__ = [
    "CarvedSplits",
    "DatasetSpec",
    "DatasetSplits",
    "ImageSet",
    "PartitionedImages",
    "SplitRecipe",
    "cache_dir",
    "decode_image",
    "get_dataset_names",
    "get_dataset_spec",
    "list_datasets",
    "load",
    "load_splits",
    "locate",
    "parse_image_size",
    "read_csv",
    "read_emnist_zip",
    "read_idx",
    "read_image_folder",
    "read_npz",
    "read_partitioned",
]
