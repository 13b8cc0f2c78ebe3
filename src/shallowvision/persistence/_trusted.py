"""The explicit list of types a shallowvision model file may contain beyond skops' defaults.

skops already trusts scikit-learn's estimators, NumPy and SciPy containers. Anything a
file needs that is in neither list is refused at load time, with its name.
Every estimator class shallowvision defines, and the third-party wrappers the zoo
uses, appear here; a test fits and round-trips every registered model against this
list, and another checks that no project estimator class is missing.
"""

from __future__ import annotations

__all__ = ["TRUSTED_TYPES"]

#: The types, beyond skops' defaults, that a model file may hold; any other is refused.
TRUSTED_TYPES: tuple[str, ...] = (
    # Python containers skops does not trust by default.
    "collections.OrderedDict",
    # scikit-learn's dict of named ensemble members, and the seeded folds stacking and
    # RFECV keep as a parameter (a splitter holds no data).
    "sklearn.utils._bunch.Bunch",
    "sklearn.model_selection._split.StratifiedKFold",
    # scikit-learn internals holding fitted trees.
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    # Post-hoc calibration (sigmoid and isotonic through CalibratedClassifierCV).
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    # Gradient boosting libraries (their scikit-learn wrappers and boosters).
    "xgboost.sklearn.XGBClassifier",
    "xgboost.core.Booster",
    "lightgbm.sklearn.LGBMClassifier",
    "lightgbm.basic.Booster",
    # shallowvision's own estimators.
    "shallowvision.features._chunked.ChunkedPipeline",
    "shallowvision.features._scaling.PixelScaler",
    "shallowvision.features._kernels.RBFNystroem",
    "shallowvision.features._pca.ImagePCA",
    "shallowvision.features._color.ColorHistogram",
    "shallowvision.features._hog.HOGTransformer",
    "shallowvision.features._patches.PatchKMeansTransformer",
    "shallowvision.features._deskew.Deskewer",
    "shallowvision.models._kernel_ridge.NystroemRidgeClassifier",
    "shallowvision.models._svc.BlockRBFSVC",
    "shallowvision.evaluation._calibrators.TemperatureScaling",
    "shallowvision.ensemble._build.VotingEnsemble",
    "shallowvision.ensemble._build.StackingEnsemble",
    "shallowvision.features._select.VarianceSelector",
    "shallowvision.features._select.MutualInfoSelector",
    "shallowvision.features._select.RFESelector",
    "shallowvision.features._select.ModelSelector",
    "shallowvision.features._select.ShapSelector",
)
