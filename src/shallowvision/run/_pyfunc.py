"""A shallowvision model file as an MLflow ``pyfunc`` model.

Imported only where MLflow is installed: by :func:`~shallowvision.run.log_run`, and by
MLflow when it loads a logged model, whose code (:data:`MODEL_CODE`) names
:class:`SkopsPyfunc` by this module's path: the path is part of every logged model.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel

__all__ = ["ARTIFACT", "MODEL_CODE", "SkopsPyfunc", "predict_frame"]

#: The name of the skops model file among the MLflow model's artifacts.
ARTIFACT = "skops_model"


def predict_frame(model: Any, images: Any) -> pd.DataFrame:
    """The predicted class name and every class's score for ``images``.

    Parameters
    ----------
    model : SavedModel
        A loaded shallowvision model file.
    images : array-like
        Flattened ``(n, n_features)`` uint8 pixels (or ``(n, h, w)`` / ``(n, h, w, 3)``).

    Returns
    -------
    pandas.DataFrame
        A ``label`` column (the class name ``predict`` gives) and one column per class
        name holding its probability (or decision score, for a model without
        probabilities).
    """
    names = model.class_names
    labels = model.predict(images)
    scores = model.predict_scores(images).values
    frame = pd.DataFrame(scores, columns=names)
    frame.insert(0, "label", [names[int(i)] for i in labels])
    return frame


class SkopsPyfunc(PythonModel):
    """Loads the skops file through shallowvision's trusted loader when MLflow loads the
    model: no fitted estimator is ever pickled."""

    def load_context(self, context: Any) -> None:
        from shallowvision.persistence import load_model

        self._model = load_model(context.artifacts[ARTIFACT])

    # An ndarray hint is one MLflow infers no schema from: the signature, inferred from
    # the input example, states the input exactly (uint8 pixels, n_features wide).
    def predict(
        self, context: Any, model_input: np.ndarray, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        pixels = model_input.to_numpy() if isinstance(model_input, pd.DataFrame) else model_input
        return predict_frame(self._model, np.asarray(pixels))


#: The code MLflow runs to rebuild the model when it loads it ("models from code"), so
#: the logged model holds no pickle at all, only this text and the skops file.
MODEL_CODE = """\
from mlflow.models import set_model

from shallowvision.run._pyfunc import SkopsPyfunc

set_model(SkopsPyfunc())
"""
