"""Exploratory data analysis of an image dataset: statistics as records first, figures second.

:func:`analyze` computes every part from the uint8 images in bounded chunks and returns
one :class:`EdaResult` of records (each with ``to_dict()``); ``EdaResult.findings()``
sums it up in plain sentences. Display classes draw the records with matplotlib, the
``*_figure`` builders with plotly (:func:`eda_figures` gives them all), and
:func:`write_eda` writes ``eda.json``, ``summary.txt`` and the PNG figures.
"""

from shallowvision.eda._analyze import EdaResult, analyze
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
from shallowvision.eda._duplicates import Duplicates
from shallowvision.eda._figures import (
    balance_figure,
    centre_of_mass_figure,
    channel_histogram_figure,
    class_images_figure,
    differences_figure,
    distribution_figure,
    duplicates_figure,
    eda_figures,
    explained_variance_figure,
    hue_histogram_figure,
    image_grid_figure,
    pixel_histogram_figure,
    projection_figure,
)
from shallowvision.eda._save import explore_dataset, save_figures, summary_text, write_eda
from shallowvision.eda._stats import (
    ClassBalance,
    ClassDifferences,
    ClassImages,
    ColourStatistics,
    Distribution,
    ImageGrid,
    InkStatistics,
    MeanDifference,
    PCASummary,
    PixelHistogram,
)

__all__ = [
    "CentreOfMassDisplay",
    "ChannelHistogramDisplay",
    "ClassBalance",
    "ClassBalanceDisplay",
    "ClassDifferences",
    "ClassImages",
    "ClassImagesDisplay",
    "ColourStatistics",
    "DifferencesDisplay",
    "Distribution",
    "DistributionDisplay",
    "Duplicates",
    "DuplicatesDisplay",
    "EdaResult",
    "ExplainedVarianceDisplay",
    "HueHistogramDisplay",
    "ImageGrid",
    "ImageGridDisplay",
    "InkStatistics",
    "MeanDifference",
    "PCASummary",
    "PixelHistogram",
    "PixelHistogramDisplay",
    "ProjectionDisplay",
    "analyze",
    "balance_figure",
    "centre_of_mass_figure",
    "channel_histogram_figure",
    "class_images_figure",
    "differences_figure",
    "distribution_figure",
    "duplicates_figure",
    "eda_figures",
    "explained_variance_figure",
    "explore_dataset",
    "hue_histogram_figure",
    "image_grid_figure",
    "pixel_histogram_figure",
    "projection_figure",
    "save_figures",
    "summary_text",
    "write_eda",
]
