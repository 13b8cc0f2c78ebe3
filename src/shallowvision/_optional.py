"""One place that imports optional heavy dependencies."""

from importlib import import_module
from importlib.util import find_spec
from types import ModuleType

from shallowvision.exceptions import MissingDependencyError

# module name -> (pip distribution, shallowvision extra)
_OPTIONAL = {
    "xgboost": ("xgboost", "boost"),
    "lightgbm": ("lightgbm", "boost"),
    "shap": ("shap", "explain"),
    "dask": ("dask[distributed]", "dask"),
    "dask.array": ("dask[distributed]", "dask"),
    "dask.dataframe": ("dask[dataframe]", "dask"),
    "distributed": ("dask[distributed]", "dask"),
    "fastapi": ("fastapi", "serve"),
    "uvicorn": ("uvicorn", "serve"),
    "cv2": ("opencv-python-headless", "cv"),
    "sklearnex": ("scikit-learn-intelex", "accel"),
    "mlflow": ("mlflow", "mlflow"),
}


def import_optional(name: str) -> ModuleType:
    """Import an optional dependency or raise with the exact ``pip install`` line.

    Parameters
    ----------
    name : str
        The importable module name, e.g. ``"xgboost"``.

    Raises
    ------
    MissingDependencyError
        If it cannot be imported.
    """
    try:
        return import_module(name)
    except ImportError as exc:
        dist, extra = _OPTIONAL.get(name, (name, None))
        hint = f"pip install 'shallowvision[{extra}]'" if extra else f"pip install {dist}"
        raise MissingDependencyError(
            f"this feature needs {dist!r}, which is not installed: {hint}"
        ) from exc


def has_module(name: str) -> bool:
    """Whether an optional dependency can be imported."""
    try:
        import_module(name)
    except ImportError:
        return False
    return True


def is_installed(name: str) -> bool:
    """Whether an optional dependency is installed, found without importing it (importing
    xgboost or lightgbm takes seconds: they load scikit-learn, SciPy and pandas)."""
    try:
        return find_spec(name) is not None
    except ModuleNotFoundError:  # a dotted name whose parent package is missing
        return False
