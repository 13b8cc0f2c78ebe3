"""Exploratory data analysis of an image dataset: statistics as records first, figures second.

:func:`analyze` computes every part from the uint8 images in bounded chunks and returns
one :class:`EdaResult` of records (each with ``to_dict()``); ``EdaResult.findings()``
sums it up in plain sentences.
"""

from shallowvision.eda._analyze import EdaResult, analyze
from shallowvision.eda._duplicates import Duplicates
from shallowvision.eda._stats import (
    ClassBalance,
    ClassDifferences,
    ClassImages,
    Distribution,
    ImageGrid,
    InkStatistics,
    MeanDifference,
    PCASummary,
    PixelHistogram,
)

__all__ = [
    "ClassBalance",
    "ClassDifferences",
    "ClassImages",
    "Distribution",
    "Duplicates",
    "EdaResult",
    "ImageGrid",
    "InkStatistics",
    "MeanDifference",
    "PCASummary",
    "PixelHistogram",
    "analyze",
]
