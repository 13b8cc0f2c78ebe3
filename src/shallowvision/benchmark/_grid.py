"""The benchmark grids and their classifiers on the installed scikit-learn.

The grid names parameters as the paper did; :func:`build_classifier` maps them to the
installed scikit-learn, whose API moved since 2017:

- ``LogisticRegression`` ``penalty`` becomes ``l1_ratio`` (1 for L1, 0 for L2) where
  ``penalty`` is deprecated; the ``saga`` solver handles both penalties and many
  classes (``liblinear``, the paper's default then, is binary-only today).
- ``PassiveAggressiveClassifier`` is ``SGDClassifier(loss="hinge", penalty=None,
  learning_rate="pa1", eta0=C)`` where the class is deprecated (its documented
  replacement, the same algorithm).
- ``LinearSVC`` ``multi_class="crammer_singer"`` runs liblinear's Crammer-Singer solver
  where LinearSVC still offers it; where it does not, those rows are recorded as
  ``"skipped"`` with the reason, never silently replaced by one-vs-rest.
- ``LinearSVC`` loss/penalty pairs liblinear cannot solve (hinge with L1) are left out
  of the grid; Crammer-Singer ignores loss and penalty, so it has one row per ``C``.

Other parameters keep the installed scikit-learn's defaults (SVC's ``gamma="scale"``,
for one, was ``"auto"`` in 2017).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from shallowvision.exceptions import ConfigError, ShallowVisionError, did_you_mean

__all__ = [
    "BenchmarkConfig",
    "UnsupportedConfigError",
    "build_classifier",
    "config_key",
    "get_benchmark_configs",
    "get_benchmark_grid_names",
]

_PAPER: dict[str, list[dict[str, list[Any]]]] = {
    "DecisionTreeClassifier": [
        {
            "criterion": ["gini", "entropy"],
            "splitter": ["best", "random"],
            "max_depth": [10, 50, 100],
        }
    ],
    "ExtraTreeClassifier": [
        {
            "criterion": ["gini", "entropy"],
            "splitter": ["best", "random"],
            "max_depth": [10, 50, 100],
        }
    ],
    "RandomForestClassifier": [
        {
            "criterion": ["gini", "entropy"],
            "max_depth": [10, 50, 100],
            "n_estimators": [10, 50, 100],
        }
    ],
    "GradientBoostingClassifier": [{"n_estimators": [10, 50, 100], "max_depth": [3, 10]}],
    "KNeighborsClassifier": [
        {"n_neighbors": [1, 5, 9], "weights": ["uniform", "distance"], "p": [1, 2]}
    ],
    "LogisticRegression": [{"C": [1.0, 10.0, 100.0], "penalty": ["l1", "l2"]}],
    "LinearSVC": [
        # liblinear solves hinge only with L2, squared hinge with L1 or L2.
        {"multi_class": ["ovr"], "loss": ["hinge"], "penalty": ["l2"], "C": [1.0, 10.0, 100.0]},
        {
            "multi_class": ["ovr"],
            "loss": ["squared_hinge"],
            "penalty": ["l1", "l2"],
            "C": [1.0, 10.0, 100.0],
        },
        # Crammer-Singer ignores loss and penalty: one configuration per C.
        {"multi_class": ["crammer_singer"], "C": [1.0, 10.0, 100.0]},
    ],
    "SGDClassifier": [
        {
            "loss": ["hinge", "squared_hinge", "perceptron", "log_loss", "modified_huber"],
            "penalty": ["l1", "l2", "elasticnet"],
        }
    ],
    "Perceptron": [{"penalty": ["l1", "l2", "elasticnet"]}],
    "PassiveAggressiveClassifier": [{"C": [1.0, 10.0, 100.0]}],
    "SVC": [{"C": [1.0, 10.0, 100.0], "kernel": ["linear", "rbf", "poly", "sigmoid"]}],
    "GaussianNB": [{"priors": ["uniform"]}],
}

_GRIDS: dict[str, dict[str, list[dict[str, list[Any]]]]] = {"paper": _PAPER}


class UnsupportedConfigError(ShallowVisionError):
    """The installed scikit-learn cannot build a configuration faithfully; its row is skipped."""


@dataclass(frozen=True)
class BenchmarkConfig:
    """One configuration of a benchmark grid: a classifier and its parameters, as the grid names them."""

    classifier: str
    params: Mapping[str, Any]

    @property
    def key(self) -> str:
        """A stable identifier (classifier and sorted parameters) for resuming."""
        return config_key(self.classifier, self.params)


def config_key(classifier: str, params: Mapping[str, Any]) -> str:
    """``'SVC {"C": 1.0, "kernel": "rbf"}'``: the same for a configuration and its row read back."""
    return f"{classifier} {json.dumps(dict(params), sort_keys=True)}"


def get_benchmark_grid_names() -> list[str]:
    """Names of the benchmark grids (``"paper"``: the Fashion-MNIST paper's)."""
    return sorted(_GRIDS)


def _grid(name: str) -> dict[str, list[dict[str, list[Any]]]]:
    if name not in _GRIDS:
        raise ConfigError(
            f"unknown benchmark grid {name!r}; grids are: {', '.join(get_benchmark_grid_names())}"
        )
    return _GRIDS[name]


def _classifier_name(text: str, known: Sequence[str]) -> str:
    """Resolve ``--only`` names case-insensitively; ``Classifier`` may be left off."""
    wanted = text.strip().lower()
    for name in known:
        if wanted in (name.lower(), name.lower().removesuffix("classifier")):
            return name
    hint = did_you_mean(text.strip(), known)
    raise ConfigError(f"unknown classifier {text!r}: {hint}classifiers are {', '.join(known)}")


def get_benchmark_configs(
    grid: str = "paper", only: Sequence[str] | None = None
) -> list[BenchmarkConfig]:
    """Every configuration of a grid, in a fixed order.

    Parameters
    ----------
    grid : str
        A name from :func:`get_benchmark_grid_names`.
    only : sequence of str, optional
        Classifier names to keep (case-insensitive; ``"KNeighbors"`` for
        ``"KNeighborsClassifier"``); unknown names raise, listing the valid ones.
    """
    from sklearn.model_selection import ParameterGrid

    spec = _grid(grid)
    names = list(spec)
    chosen = names if not only else list(dict.fromkeys(_classifier_name(n, names) for n in only))
    return [
        BenchmarkConfig(name, params)
        for name in names
        if name in chosen
        for params in ParameterGrid(spec[name])
    ]


# -- building the classifiers on the installed scikit-learn ------------------------------------
def _sklearn_at_least(major: int, minor: int) -> bool:
    import sklearn

    parts = sklearn.__version__.split(".")
    return (int(parts[0]), int(parts[1])) >= (major, minor)


def _logistic(params: dict[str, Any]) -> Any:
    from sklearn.linear_model import LogisticRegression

    penalty = params.pop("penalty", "l2")
    if LogisticRegression().get_params()["penalty"] == "deprecated":
        params["l1_ratio"] = {"l1": 1.0, "l2": 0.0}[penalty]
    else:
        params["penalty"] = penalty
    return LogisticRegression(solver="saga", **params)


def _linear_svc(params: dict[str, Any]) -> Any:
    import sklearn
    from sklearn.svm import LinearSVC

    multi_class = params.pop("multi_class", "ovr")
    if multi_class == "crammer_singer":
        if "multi_class" not in LinearSVC().get_params():
            raise UnsupportedConfigError(
                f"scikit-learn {sklearn.__version__}'s LinearSVC has no Crammer-Singer solver "
                "(multi_class was removed); one-vs-rest is not a substitute, so the row is skipped"
            )
        return LinearSVC(multi_class="crammer_singer", **params)
    return LinearSVC(dual="auto", **params)


def _passive_aggressive(params: dict[str, Any]) -> Any:
    if _sklearn_at_least(1, 8):
        from sklearn.linear_model import SGDClassifier

        # The documented replacement of the deprecated class: the same PA-I updates.
        return SGDClassifier(
            loss="hinge", penalty=None, learning_rate="pa1", eta0=params.pop("C"), **params
        )
    from sklearn.linear_model import PassiveAggressiveClassifier

    return PassiveAggressiveClassifier(**params)


def _plain(module: str, cls: str) -> Callable[[dict[str, Any]], Any]:
    def build(params: dict[str, Any]) -> Any:
        import importlib

        return getattr(importlib.import_module(module), cls)(**params)

    return build


_BUILDERS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "DecisionTreeClassifier": _plain("sklearn.tree", "DecisionTreeClassifier"),
    "ExtraTreeClassifier": _plain("sklearn.tree", "ExtraTreeClassifier"),
    "RandomForestClassifier": _plain("sklearn.ensemble", "RandomForestClassifier"),
    "GradientBoostingClassifier": _plain("sklearn.ensemble", "GradientBoostingClassifier"),
    "KNeighborsClassifier": _plain("sklearn.neighbors", "KNeighborsClassifier"),
    "LogisticRegression": _logistic,
    "LinearSVC": _linear_svc,
    "SGDClassifier": _plain("sklearn.linear_model", "SGDClassifier"),
    "Perceptron": _plain("sklearn.linear_model", "Perceptron"),
    "PassiveAggressiveClassifier": _passive_aggressive,
    "SVC": _plain("sklearn.svm", "SVC"),
    "GaussianNB": _plain("sklearn.naive_bayes", "GaussianNB"),
}


def build_classifier(
    config: BenchmarkConfig,
    *,
    n_classes: int,
    random_state: int | None = None,
    n_jobs: int | None = None,
) -> Any:
    """An unfitted scikit-learn classifier for ``config`` on the installed scikit-learn.

    ``priors="uniform"`` becomes equal priors over ``n_classes``; ``random_state`` and
    ``n_jobs`` are set where the classifier has them. Raises :class:`UnsupportedConfigError` when
    the installed scikit-learn cannot build the configuration faithfully.
    """
    params = dict(config.params)
    if params.get("priors") == "uniform":
        params["priors"] = np.full(n_classes, 1.0 / n_classes)
    estimator = _BUILDERS[config.classifier](params)
    own = estimator.get_params()
    extra = {"random_state": random_state, "n_jobs": n_jobs}
    return estimator.set_params(**{k: v for k, v in extra.items() if k in own and v is not None})
