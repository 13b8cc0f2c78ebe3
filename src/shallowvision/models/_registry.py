"""The model zoo: short names mapped to fresh pipelines, search spaces and capabilities."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from shallowvision._optional import is_installed
from shallowvision.exceptions import ConfigError, did_you_mean
from shallowvision.models._memory import MemoryProfile, check_memory

__all__ = [
    "ModelSpec",
    "get_model",
    "get_model_names",
    "get_model_spec",
    "get_search_space",
    "list_models",
]

#: The data of a model's reference fit time (:attr:`ModelSpec.fit_seconds`): Fashion-MNIST's
#: 60,000 training images less its validation and calibration splits, 28x28 grey.
REFERENCE_IMAGES = 48_000
REFERENCE_SHAPE = (28, 28)

#: A search space: parameter name (as in ``Pipeline.set_params``) -> list of values (grid)
#: or a scipy.stats distribution (random search).
SearchSpace = dict[str, Any]


@dataclass(frozen=True)
class ModelSpec:
    """A registered model family.

    Attributes
    ----------
    name : str
        Short name, e.g. ``"xgb"``.
    description : str
    factory : callable
        ``factory(random_state, n_jobs, image_shape) -> Pipeline``; always a fresh,
        unfitted pipeline whose last step is named ``"clf"``. ``image_shape`` is the
        images' ``(height, width)`` or ``(height, width, 3)``, or None when not known
        (grey square images are then assumed where the shape matters); pipelines whose
        settings depend on the image size choose them from it.
    grid : callable
        ``grid() -> SearchSpace`` of lists for halving grid search.
    distributions : callable
        ``distributions() -> SearchSpace`` for halving random search.
    named_grids : dict
        Extra grids by name, e.g. ``"emnist"`` (the EMNIST-Digits study's grid).
    proba : bool
        Whether the fitted pipeline has ``predict_proba``.
    sample_weight : bool
        Whether ``fit`` accepts ``clf__sample_weight``.
    sparse : bool
        Whether the classifier accepts sparse input.
    cost : str
        Relative fit cost on 60,000 28x28 images: ``"low"`` (< 30 s), ``"medium"``
        (< 5 min) or ``"high"``.
    extra : str or None
        The ``shallowvision[extra]`` that provides the library, if optional.
    requires : tuple of str
        The optional libraries (module names) the factory imports through
        :func:`~shallowvision._optional.import_optional`; ``extra`` installs them.
    memory : MemoryProfile
        How the peak memory of fitting and scoring grows with the images, pixels and
        classes (see :meth:`check_memory`).
    sized_space : callable or None
        ``sized_space(space, n_pixels) -> SearchSpace``: a search space above (written
        for 28x28 grey images) adapted to images of ``n_pixels`` values each (colour
        channels included), where a setting's cost grows with the pixels.
    fit_seconds : float or None
        Reference fit time: seconds to fit on 48,000 grey 28x28 images on a 2-core
        machine (the standard study's comparison on Fashion-MNIST in
        benchmarks/RESULTS.md unless the zoo says otherwise), from which
        :meth:`expected_fit_seconds` scales; None: not known.
    """

    name: str
    description: str
    factory: Callable[[int, int | None, tuple[int, ...] | None], Any]
    grid: Callable[[], SearchSpace]
    distributions: Callable[[], SearchSpace]
    named_grids: Mapping[str, Callable[[], SearchSpace]] = field(default_factory=dict)
    proba: bool = True
    sample_weight: bool = True
    sparse: bool = False
    cost: str = "low"
    extra: str | None = None
    requires: tuple[str, ...] = ()
    memory: MemoryProfile = field(default_factory=MemoryProfile)
    fit_seconds: float | None = None
    sized_space: Callable[[SearchSpace, int], SearchSpace] | None = None

    def expected_fit_seconds(self, n_images: int, image_shape: tuple[int, ...]) -> float | None:
        """Seconds a fit on ``n_images`` images of ``image_shape`` is expected to take on a
        2-core machine (None if the model has no reference time).

        A linear rule: the reference time times the ratio of the pixels to fit (images
        times pixels per image, colour channels included) to the reference's 48,000 x
        784. It is a prior for planning a time budget, not a promise: kernel methods grow
        faster than their images and feature pipelines slower than their pixels, and a
        loaded machine takes longer; measured fit times correct it (see
        :func:`~shallowvision.models.compare_models`).
        """
        if self.fit_seconds is None:
            return None
        pixels = n_images * math.prod(image_shape)
        return self.fit_seconds * pixels / (REFERENCE_IMAGES * math.prod(REFERENCE_SHAPE))

    def make(
        self,
        *,
        random_state: int = 0,
        n_jobs: int | None = None,
        image_shape: tuple[int, ...] | None = None,
        **params: Any,
    ) -> Any:
        """A fresh pipeline with ``params`` set, for images of ``image_shape``.

        Bare parameter names go to the ``clf`` step (``C=10`` is ``clf__C=10``); a step
        name replaces that step, and ``pca=144`` or ``pca=0.95`` is shorthand for a PCA
        step keeping that many components or that share of variance (``pca=None``
        removes it). ``image_shape`` (``ImageSet.image_shape``: ``(height, width)``, or
        ``(height, width, 3)`` in colour) sizes the pipeline's defaults and is given to
        every step that looks at neighbouring pixels, so the fitted model keeps it;
        without it, grey square images are assumed, and those steps refuse colour.
        """
        if image_shape is not None:
            from shallowvision.features._base import check_image_shape

            image_shape = check_image_shape(image_shape)
        pipeline = self.factory(random_state, n_jobs, image_shape)
        if params:
            steps = dict(pipeline.steps)
            expanded = {}
            for key, value in params.items():
                if key in steps:
                    expanded[key] = _step_value(key, value, random_state)
                else:
                    expanded.update(qualify_params({key: value}))
            pipeline.set_params(**expanded)
        if image_shape is not None:
            _give_image_shape(pipeline, image_shape)
        return pipeline

    def check_memory(
        self,
        n_images: int,
        image_shape: tuple[int, ...],
        n_classes: int,
        *,
        available: int | None = None,
    ) -> int:
        """The estimated peak bytes of fitting this model on ``n_images`` images, refused
        with a :class:`~shallowvision.models.MemoryBudgetError` (the estimate, what is
        free and a subsample that fits) when it exceeds the free memory."""
        return check_memory(
            self.name, self.memory, n_images, image_shape, n_classes, available=available
        )

    def installed(self) -> bool:
        """Whether the optional libraries the model needs (``requires``) are installed (else
        ``extra`` names the ``shallowvision[extra]`` that brings them).

        They are looked up, not imported, and no pipeline is built: the models listing
        asks every model, and would otherwise load scikit-learn, xgboost and lightgbm.
        """
        return all(is_installed(name) for name in self.requires)

    def search_space(
        self,
        kind: str = "grid",
        name: str | None = None,
        image_shape: tuple[int, ...] | None = None,
    ) -> SearchSpace:
        """The grid (``kind="grid"``), the distributions (``kind="random"``) or a named
        grid, for images of ``image_shape`` when given (see ``sized_space``)."""
        if name not in (None, "default"):
            if name not in self.named_grids:
                known = ", ".join(["default", *self.named_grids])
                raise ConfigError(
                    f"model {self.name!r} has no grid {name!r}; its grids are: {known}"
                )
            space = self.named_grids[name]()
        else:
            space = self.grid() if kind == "grid" else self.distributions()
        if image_shape is not None and self.sized_space is not None:
            space = self.sized_space(space, math.prod(image_shape))
        return space


_REGISTRY: dict[str, ModelSpec] = {}


def register(spec: ModelSpec) -> ModelSpec:
    """Add a model family to the registry (its name must be new)."""
    if spec.name in _REGISTRY:
        raise ConfigError(f"model {spec.name!r} is already registered")
    _REGISTRY[spec.name] = spec
    return spec


def qualify_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """``{"C": 10}`` -> ``{"clf__C": 10}``; names with ``__`` are kept as they are."""
    return {k if "__" in k else f"clf__{k}": v for k, v in params.items()}


def _give_image_shape(estimator: Any, image_shape: tuple[int, ...]) -> None:
    """Set ``image_shape`` on every step (nested ones too) that looks at neighbouring
    pixels. Pixel-wise steps keep inferring it, so a clone of their pipeline can still
    learn from a selection of the pixels."""
    params = estimator.get_params(deep=True)
    keys = []
    for key in params:
        if key == "image_shape" or key.endswith("__image_shape"):
            owner = params[key[: -len("__image_shape")]] if "__" in key else estimator
            if getattr(owner, "_spatial", False):
                keys.append(key)
    if keys:
        estimator.set_params(**dict.fromkeys(keys, image_shape))


def _step_value(step: str, value: Any, random_state: int) -> Any:
    if value is None:
        return "passthrough"
    if step == "pca" and isinstance(value, int | float) and not isinstance(value, bool):
        from shallowvision.features import ImagePCA

        return ImagePCA(n_components=value, random_state=random_state)
    return value


def _ensure_loaded() -> None:
    # The zoo registers its models when it is imported; its pipelines and search spaces
    # import scikit-learn and SciPy only when they are built.
    import shallowvision.models._zoo  # noqa: F401


def get_model_names() -> list[str]:
    """Names of every registered model."""
    _ensure_loaded()
    return list(_REGISTRY)


def get_model_spec(name: str) -> ModelSpec:
    """The registry entry of a model; an unknown name lists the valid ones."""
    _ensure_loaded()
    key = name.strip().lower()
    if key in _REGISTRY:
        return _REGISTRY[key]
    hint = did_you_mean(key, _REGISTRY, n=3)
    raise ConfigError(f"unknown model {name!r}: {hint}models are {', '.join(_REGISTRY)}")


def get_model(
    name: str,
    *,
    random_state: int = 0,
    n_jobs: int | None = None,
    image_shape: tuple[int, ...] | None = None,
    **params: Any,
) -> Any:
    """A fresh, unfitted scikit-learn Pipeline for a registered model.

    Parameters
    ----------
    name : str
        A name from :func:`list_models`, e.g. ``"lr"``, ``"svm-rbf"``, ``"xgb"``.
    random_state : int
        Seed of every random step.
    n_jobs : int, optional
        Threads or processes for the estimators that use them.
    image_shape : (height, width) or (height, width, 3), optional
        The images' shape (``ImageSet.image_shape``). Pipelines that look at
        neighbouring pixels (``fast``, ``best``) need it for colour images, and size
        their cells and patches from it; None assumes grey square images.
    **params
        Pipeline parameters; bare names (``C=10``) go to the classifier step ``clf``.

    Returns
    -------
    sklearn.pipeline.Pipeline
        Takes flattened uint8 images ``(n, height * width)``, or ``(n, height * width * 3)``
        in colour.
    """
    return get_model_spec(name).make(
        random_state=random_state, n_jobs=n_jobs, image_shape=image_shape, **params
    )


def get_search_space(name: str, *, kind: str = "grid", grid: str | None = None) -> SearchSpace:
    """The search space of a registered model (see :meth:`ModelSpec.search_space`)."""
    return get_model_spec(name).search_space(kind, grid)


def list_models() -> list[ModelSpec]:
    """Every registered model family."""
    _ensure_loaded()
    return list(_REGISTRY.values())
