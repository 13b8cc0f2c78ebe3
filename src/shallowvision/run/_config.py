"""The run configuration: validated, from a preset, a TOML file and CLI overrides, in that order."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import tomllib
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from shallowvision.exceptions import ConfigError

__all__ = ["MAX_SEED", "PRESETS", "RunConfig", "build_config", "config_hash"]

#: Seeds are NumPy's: 0 to 2**32 - 1.
MAX_SEED = 2**32 - 1


class _Section(BaseModel):
    # Strict: TOML and --set give typed values, and `seed = true` or `top = "3"` is a
    # mistake to name, not a value to convert.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class DataConfig(_Section):
    """Which images, and how they are split. The test split is only used by the final stage."""

    dataset: str = "fashion-mnist"
    data_dir: str | None = None
    task: Literal["multiclass", "binary"] = "multiclass"
    positive: str | None = Field(
        default=None, description="Positive class (index or name) of a binary task."
    )
    n_per_class: int | None = Field(
        default=None, ge=1, description="Subsample: at most this many training images per class."
    )
    test_n_per_class: int | None = Field(
        default=None, ge=1, description="Subsample of the test split (default: all of it)."
    )
    validation_size: float = Field(
        default=0.1, gt=0, lt=0.5, description="Share of train held out for model choices."
    )
    calibration_size: float = Field(
        default=0.1, gt=0, lt=0.5, description="Share of train held out to fit calibrators."
    )
    max_held_out: int | None = Field(
        default=None,
        ge=1,
        description="Most images of the validation split and of the calibration split, each "
        "(a seeded stratified subsample; None: all). Scoring and calibrating stay cheap at scale.",
    )
    color: Literal["auto", "gray", "rgb"] = Field(
        default="auto",
        description="Colour mode: gray, rgb (height x width x 3), or auto (colour when any "
        "image has colour, as in a folder of colour photos; grey otherwise).",
    )
    image_size: str = Field(
        default="auto",
        description="Size image files are brought to: HEIGHTxWIDTH (48x64), a side (32), auto "
        "(their median size, at most 64 a side) or native (their own, the same for all). "
        "Datasets of arrays (IDX, CSV, NPZ, the named ones) keep their size.",
    )
    resize: Literal["stretch", "pad", "crop"] = Field(
        default="stretch",
        description="How image files reach image_size: stretch, pad (aspect kept, padded with "
        "the border colour) or crop (aspect kept, the centre).",
    )
    skip_bad: bool = Field(
        default=False,
        description="Skip and list image files that cannot be decoded instead of stopping "
        "at the first.",
    )

    @field_validator("image_size")
    @classmethod
    def _known_size(cls, value: str) -> str:
        from shallowvision.datasets import parse_image_size

        parse_image_size(value)  # raises naming the value and what is expected
        return value

    @model_validator(mode="after")
    def _binary_needs_positive(self) -> DataConfig:
        if self.task == "binary" and self.positive is None:
            raise ValueError("data.task = 'binary' needs data.positive (a class index or name)")
        if self.positive is not None and self.task != "binary":
            raise ValueError("data.positive is set but data.task is not 'binary'")
        return self


class EdaConfig(_Section):
    enabled: bool = True
    compare_class: str | None = Field(
        default=None, description="Class drawn against every other (e.g. 8 or Shirt)."
    )


def _zoo_names(names: list[str] | None) -> list[str] | None:
    """Every name a zoo model (an unknown one is named, with close matches), before any work."""
    if names is not None:
        from shallowvision.models import get_model_spec

        if not names:
            raise ValueError("give at least one model")
        for name in names:
            if name != "all" or len(names) > 1:
                get_model_spec(name)  # raises "unknown model ...: did you mean ...?"
    return names


def _time_budget(description: str) -> Any:
    """An optional limit in seconds: positive and finite, None for none."""
    return Field(default=None, gt=0, allow_inf_nan=False, description=description)


class CompareConfig(_Section):
    models: list[str] = ["dummy", "lr", "nb", "knn", "rf", "xgb"]
    time_limit: float | None = Field(
        default=None, gt=0, description="Seconds per model before it is stopped."
    )
    params: dict[str, dict[str, Any]] = {}

    _known_models = field_validator("models")(_zoo_names)


class TuneConfig(_Section):
    enabled: bool = True
    top: int = Field(
        default=2,
        ge=1,
        description="Tune this many of the best model families from the comparison.",
    )
    models: list[str] | None = Field(
        default=None, description="Tune these instead of the best of the comparison."
    )
    search: Literal["halving-grid", "halving-random"] = "halving-random"
    _known_models = field_validator("models")(_zoo_names)
    grids: dict[str, str] = Field(
        default={}, description="Named grid per model, e.g. {rf = 'emnist'}."
    )
    scoring: str = "accuracy"
    cv: int = Field(default=3, ge=2)
    factor: int = Field(default=3, ge=2)
    n_candidates: int = Field(default=12, ge=2)
    time_budget: float | None = _time_budget(
        "Seconds the tuning stage may take (None: no limit): each search is planned from "
        "the compared fit times on fewer images per round to fit its share, or left out "
        "with the reason (the run's time_budget may leave less)."
    )


class EnsembleConfig(_Section):
    enabled: bool = True
    methods: list[Literal["soft", "hard", "stack"]] = ["soft", "stack"]
    members: list[str] | None = Field(
        default=None, description="Members by name; default the top models so far."
    )
    size: int = Field(
        default=3,
        ge=2,
        description="Members taken from the top of the comparison when members is unset.",
    )
    weights: list[float] | None = None
    final: str = "lr"
    cv: int = Field(default=5, ge=2)


class SelectConfig(_Section):
    enabled: bool = True
    method: str = Field(
        default="model",
        description="variance, mi, rfe, rfecv, model (impurity importance), permutation or shap.",
    )
    keep: float = Field(default=0.3, description="Share (< 1) or count (>= 1) of pixels kept.")
    model: str | None = Field(
        default=None, description="Model retrained on the kept pixels; default the best so far."
    )
    n_explain: int | None = Field(
        default=None, ge=1, description="shap only: training images explained (default 200)."
    )

    @field_validator("method")
    @classmethod
    def _known_method(cls, method: str) -> str:
        from shallowvision.features._keep import check_selection_method

        check_selection_method(method)  # raises "unknown selection method ...: methods are ..."
        return method

    @field_validator("keep")
    @classmethod
    def _share_or_count(cls, keep: float) -> float:
        from shallowvision.features._keep import n_to_keep

        n_to_keep(keep, 2**31)  # raises "keep must be a share in (0, 1) or a whole count ..."
        return keep

    @model_validator(mode="after")
    def _explain_needs_shap(self) -> SelectConfig:
        if self.n_explain is not None and self.method != "shap":
            raise ConfigError("n_explain= applies to method=shap only")
        return self

    def selector_options(self) -> dict[str, Any]:
        """The selector's own parameters this section sets (see ``make_selector``)."""
        return {} if self.n_explain is None else {"n_explain": self.n_explain}


class ExplainConfig(_Section):
    enabled: bool = True
    model: str | None = None
    n_background: int = Field(default=100, ge=1)
    n_explain: int | None = Field(
        default=None,
        ge=1,
        description="Images whose SHAP values are averaged; default 200, fewer for large forests.",
    )
    n_permutation: int = Field(
        default=500, ge=10, description="Images shuffled per pixel for permutation importance."
    )


class CalibrateConfig(_Section):
    enabled: bool = True
    top: int = Field(default=1, ge=1, description="Calibrate this many of the best models so far.")
    methods: list[Literal["temperature", "sigmoid", "isotonic"]] = ["temperature", "isotonic"]
    n_bins: int = Field(default=15, ge=2)
    target_accuracy: float = Field(
        default=0.99, gt=0, le=1, description="Accuracy for the risk-coverage operating point."
    )


class RobustnessConfig(_Section):
    enabled: bool = True
    top: int = Field(default=2, ge=1, description="Corrupt the images of this many best models.")
    corruptions: list[str] | None = Field(
        default=None,
        description="Corruption names (None: every one for the images' colour; hue_shift, "
        "saturation, color_jitter and grayscale need colour images).",
    )
    severities: list[int] = [1, 2, 3]
    n_images: int | None = Field(
        default=2000, ge=1, description="Validation images used (None: all)."
    )

    @field_validator("corruptions")
    @classmethod
    def _known_corruptions(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            from shallowvision.evaluation import get_corruption_names

            known = get_corruption_names("rgb")
            unknown = [name for name in value if name not in known]
            if unknown:
                raise ValueError(
                    f"unknown corruption {unknown[0]!r}; choose from {', '.join(known)}"
                )
        return value


class ErrorsConfig(_Section):
    enabled: bool = True
    n_pairs: int = Field(default=6, ge=1, description="Most confused class pairs with galleries.")
    overlap_models: int = Field(
        default=5, ge=2, description="Models whose shared errors are counted."
    )


class ScaleConfig(_Section):
    """Data-rich runs: compare on a subsample, refit the finalists on every training image.

    When the training split holds more than ``max_images`` images, the comparison and
    the stages built on it (tuning, ensembles, pixel selection, explanations) fit their
    models on a seeded stratified subsample of that size; the ``finalists`` best single
    models are then refitted on every training image and offered as candidates, and
    each is scored on validation at ``curve_points`` training sizes from the subsample
    up to all images. With fewer training images nothing changes, unless ``curve`` is
    ``"always"``: the best models' curves then halve down from all the images.
    """

    max_images: int | None = Field(
        default=None,
        ge=2,
        description="Most training images the comparison, tuning, ensembles and pixel "
        "selection fit on: a seeded stratified subsample of the training split (None: all).",
    )
    finalists: int = Field(
        default=1,
        ge=0,
        description="Best single models of the comparison and tuning (one per family) "
        "refitted on every training image when the comparison used a subsample.",
    )
    curve: Literal["auto", "always", "never"] = Field(
        default="auto",
        description="Learning curves of the finalists: 'auto' when the comparison used a "
        "subsample, 'always' also without one, 'never'.",
    )
    curve_points: int = Field(
        default=3,
        ge=2,
        description="Training sizes of a learning curve, geometric from the compared "
        "subsample to all training images, nested.",
    )
    budget_seconds: float | None = Field(
        default=None,
        gt=0,
        description="Seconds the finalists stage may take: a fit expected (from the fit "
        "times at smaller sizes) to end later is not started (None: no limit).",
    )


class ObjectiveConfig(_Section):
    """What 'best' means when the report recommends a model.

    The leader is the model with the best validation ``metric`` among those that meet
    the constraints. A model whose paired bootstrap interval of its difference to the
    leader (at ``1 - significance``) lies wholly on the worse side is significantly
    worse; among the leader and the models that are not, the faster one is recommended,
    then the smaller, the better calibrated, the one made in fewer steps, and last the
    one with the better metric.
    """

    metric: Literal["accuracy", "balanced_accuracy", "f1_macro", "roc_auc", "log_loss", "brier"] = (
        "f1_macro"
    )
    max_predict_ms_per_image: float | None = Field(default=1.0, gt=0)
    max_size_mb: float | None = Field(default=None, gt=0)
    significance: float = Field(
        default=0.05,
        gt=0,
        lt=1,
        description="Level of the paired test on validation images: a model is "
        "significantly worse than the leader when its (1 - level) bootstrap interval of "
        "the difference lies wholly below (above, for log_loss and brier) zero.",
    )


class RunConfig(_Section):
    """Every choice a run makes; see :data:`PRESETS` for the three starting points."""

    name: str = ""
    preset: Literal["quick", "standard", "full", "fast", "best"] = "quick"
    seed: int = Field(default=0, ge=0, le=MAX_SEED, description="NumPy's range: 0 to 2**32 - 1.")
    n_jobs: int | None = Field(
        default=-1,
        description="Threads/processes per fit: -1 uses every core, None the library default.",
    )
    dask: str | None = Field(default=None, description="'local', 'local:N' or tcp://host:port.")
    time_budget: float | None = _time_budget(
        "Seconds the whole run may take (None: no limit): the cheap stages always run, "
        "the model stages share the rest, the cheapest models first, and what cannot "
        "finish in what is left is not started (skipped with the reason)."
    )
    mlflow_uri: str | None = Field(
        default=None,
        min_length=1,
        description="MLflow tracking URI the finished run is logged to ('local': a store in "
        "the current folder; None: not logged). Read after the stages, by no stage.",
    )
    data: DataConfig = DataConfig()
    eda: EdaConfig = EdaConfig()
    compare: CompareConfig = CompareConfig()
    tune: TuneConfig = TuneConfig()
    ensemble: EnsembleConfig = EnsembleConfig()
    select: SelectConfig = SelectConfig()
    explain: ExplainConfig = ExplainConfig()
    calibrate: CalibrateConfig = CalibrateConfig()
    robustness: RobustnessConfig = RobustnessConfig()
    errors: ErrorsConfig = ErrorsConfig()
    scale: ScaleConfig = ScaleConfig()
    objective: ObjectiveConfig = ObjectiveConfig()

    @field_validator("n_jobs")
    @classmethod
    def _some_workers(cls, value: int | None) -> int | None:
        if value == 0:
            raise ValueError("0 workers cannot fit anything; give 1 or more, or -1 for every core")
        return value

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        if value and (os.sep in value or value.startswith(".")):
            raise ValueError("name must be a plain folder name")
        return value


#: Starting points; a TOML file and CLI flags override them key by key.
PRESETS: dict[str, dict[str, Any]] = {
    # Full Fashion-MNIST in a few minutes on two cores: the models are compared on 20,000
    # training images (on data-rich sets too), the best one is refitted on all of them.
    "quick": {
        "data": {"n_per_class": None, "max_held_out": 20000},
        "scale": {"max_images": 20000, "finalists": 1, "curve_points": 3, "budget_seconds": 1200},
        "compare": {
            "models": ["dummy", "lr", "nb", "knn", "rf", "fast"],
            # Half the trees, half the forest's fits, SHAP values and predictions: on 20,000
            # Fashion-MNIST images 100 trees scored 0.867 on validation, 200 trees 0.866.
            "params": {"rf": {"n_estimators": 100}},
        },
        # A search's cost grows with the image: tuning the forests on 20,000 64x64x3
        # images took longer than the rest of the study together.
        "tune": {
            "top": 1,
            "search": "halving-random",
            "n_candidates": 4,
            "cv": 2,
            "time_budget": 600,
        },
        "ensemble": {"methods": ["soft"], "size": 3},
        "select": {"method": "model"},
        "explain": {"n_background": 50, "n_permutation": 200},
        "calibrate": {"methods": ["temperature", "isotonic"]},
        "robustness": {"severities": [1, 2], "n_images": 1000},
    },
    # All training images in under 30 minutes on two cores: the families that are
    # expensive to refit (forests, boosting) are compared but not tuned or stacked.
    # Above 60,000 training images the comparison takes a subsample and the two best
    # models are refitted on everything, within half an hour.
    "standard": {
        "data": {"n_per_class": None, "max_held_out": 40000},
        "scale": {
            "max_images": 60000,
            "finalists": 2,
            "curve_points": 4,
            "budget_seconds": 1800,
        },
        "compare": {
            "models": [
                "dummy",
                "lr",
                "sgd",
                "nb",
                "knn",
                "dt",
                "rf",
                "et",
                "lgbm",
                "svm-rbf-approx",
                "fast",
            ]
        },
        "tune": {
            "models": ["fast", "svm-rbf-approx"],
            "search": "halving-random",
            "n_candidates": 6,
            "cv": 2,
        },
        "ensemble": {"methods": ["soft", "hard"], "size": 3},
        "select": {"method": "shap"},
    },
    # Everything on every image, however long it takes; learning curves of the three best.
    "full": {
        "data": {"n_per_class": None},
        "scale": {"finalists": 3, "curve": "always", "curve_points": 4},
        "compare": {"models": ["all"]},
        "tune": {"top": 3, "search": "halving-grid"},
        "ensemble": {"methods": ["soft", "hard", "stack"], "size": 4},
        "select": {"method": "shap"},
        "explain": {"n_background": 200, "n_explain": 500, "n_permutation": 1000},
        "calibrate": {"methods": ["temperature", "sigmoid", "isotonic"]},
        "robustness": {"n_images": None},
    },
}


def _pipeline_preset(model: str) -> dict[str, Any]:
    """One of the zoo's HOG + kernel pipelines on all training images, against the linear
    baseline, with the analysis stages but no tuning, ensembles or selection (and no
    learning curve, which would cost as much again)."""
    return {
        "data": {"n_per_class": None, "max_held_out": 40000},
        "compare": {"models": ["dummy", "lr", model]},
        "tune": {"enabled": False},
        "ensemble": {"enabled": False},
        "select": {"enabled": False},
        "robustness": {"n_images": 2000},
        "objective": {"max_predict_ms_per_image": None},
    }


PRESETS["fast"] = _pipeline_preset("fast")
PRESETS["best"] = _pipeline_preset("best")


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if (
            isinstance(value, dict)
            and isinstance(out.get(key), dict)
            and key not in ("params", "grids")
        ):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _error_text(exc: ValidationError, source: str) -> str:
    problems = []
    for err in exc.errors():
        path = ".".join(str(p) for p in err["loc"]) or "(top level)"
        if err["type"] == "extra_forbidden":
            problems.append(f"unknown key {path!r}")
        else:
            problems.append(f"{path}: {err['msg']}")
    return f"{source}: " + "; ".join(problems)


def read_toml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The contents of a TOML config file."""
    try:
        with open(path, "rb") as stream:
            return tomllib.load(stream)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start}); "
            "TOML files are UTF-8"
        ) from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, expected a TOML file") from None


def build_config(
    *,
    preset: str | None = None,
    file: str | os.PathLike[str] | None = None,
    overrides: dict[str, Any] | None = None,
    base: dict[str, Any] | None = None,
) -> RunConfig:
    """The effective configuration: preset, then the TOML file, then ``overrides``.

    The preset is ``preset`` if given, else the overrides', the file's or the base's
    ``preset`` key, else ``quick``. ``base`` (a stored run's full configuration)
    replaces the preset as the starting point. Unknown keys anywhere are an error
    that names their path.
    """
    from_file = read_toml(file) if file is not None else {}
    overrides = overrides or {}
    chosen = (
        preset
        or overrides.get("preset")
        or from_file.get("preset")
        or (base or {}).get("preset")
        or "quick"
    )
    if chosen not in PRESETS:
        raise ConfigError(f"unknown preset {chosen!r}; choose one of {', '.join(PRESETS)}")
    start = base if base is not None else PRESETS[chosen]
    merged = _merge(_merge(_merge(start, from_file), overrides), {"preset": chosen})
    try:
        config = RunConfig.model_validate(merged)
    except ValidationError as exc:
        source = str(file) if file is not None else "config"
        raise ConfigError(_error_text(exc, source)) from None
    return _expand_all(config)


def _expand_all(config: RunConfig) -> RunConfig:
    if config.compare.models == ["all"]:
        from shallowvision.models import get_model_names

        compare = config.compare.model_copy(update={"models": get_model_names()})
        return config.model_copy(update={"compare": compare})
    return config


def config_hash(config: RunConfig, *sections: str) -> str:
    """A short hash of the given sections (default: all), to tell whether a stage is still current.

    A section may be narrowed to one of its keys: ``"scale.max_images"``.
    """
    data = config.model_dump(mode="json")
    chosen = {k: _pick(data, k) for k in sections} if sections else data
    text = json.dumps(chosen, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _pick(data: dict[str, Any], key: str) -> Any:
    """A section (``"tune"``) or one key of it (``"scale.max_images"``)."""
    section, _, leaf = key.partition(".")
    return data[section][leaf] if leaf else data[section]


def to_toml(config: RunConfig) -> str:
    """The configuration as TOML (what ``--print-config`` shows)."""
    lines: list[str] = []
    data = config.model_dump(mode="json")
    top = {k: v for k, v in data.items() if not isinstance(v, dict)}
    for key, value in top.items():
        if value is not None:
            lines.append(f"{key} = {_toml_value(value)}")
    for section, values in data.items():
        if not isinstance(values, dict):
            continue
        lines.append(f"\n[{section}]")
        for key, value in values.items():
            if value is None:
                lines.append(f"# {key} is unset")
            else:
                lines.append(f"{key} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return (
            "{"
            + ", ".join(
                f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items() if v is not None
            )
            + "}"
        )
    raise TypeError(f"cannot write {type(value).__name__} as TOML")
