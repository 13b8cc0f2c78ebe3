"""Model files: a skops archive of the whole pipeline plus a JSON manifest, loaded against trusted types."""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import platform
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from shallowvision import __version__
from shallowvision._io import ZIP_ERRORS, atomic_path
from shallowvision.exceptions import ShallowVisionError
from shallowvision.persistence._trusted import TRUSTED_TYPES

__all__ = [
    "FORMAT_VERSION",
    "ModelFileError",
    "SavedModel",
    "load_model",
    "read_manifest",
    "save_model",
    "training_provenance",
]

MANIFEST_MEMBER = "shallowvision-manifest.json"
FORMAT_VERSION = 1
_LIBRARIES = ("numpy", "scipy", "scikit-learn", "skops", "xgboost", "xgboost-cpu", "lightgbm")


class ModelFileError(ShallowVisionError):
    """A model file is missing, not a shallowvision model, tampered with, or incompatible."""


def library_versions(names: Iterable[str] = _LIBRARIES) -> dict[str, str]:
    """Installed versions of ``names`` (absent ones are left out), plus Python's."""
    versions = {"python": platform.python_version(), "shallowvision": __version__}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def _payload_sha256(archive: zipfile.ZipFile) -> str:
    """SHA-256 over every member but the manifest, by name and content."""
    digest = hashlib.sha256()
    for name in sorted(n for n in archive.namelist() if n != MANIFEST_MEMBER):
        digest.update(name.encode())
        digest.update(hashlib.sha256(archive.read(name)).digest())
    return digest.hexdigest()


def save_model(
    model: Any,
    path: str | os.PathLike[str],
    *,
    class_names: Iterable[str],
    image_shape: tuple[int, int],
    name: str = "model",
    training_data: Mapping[str, Any] | None = None,
    metrics: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Save a fitted pipeline and its manifest as one skops file, atomically.

    Parameters
    ----------
    model : fitted estimator
        Usually a whole Pipeline, preprocessing included.
    path : path
        Target file (conventionally ``*.skops``); replaced only when complete.
    class_names : iterable of str
        Names of the classes, in the order of the model's outputs.
    image_shape : (height, width)
        Shape of the images the model was trained on.
    name : str
        Zoo name or a description of the model.
    training_data : mapping, optional
        Provenance, e.g. ``{"name", "split", "n_images", "fingerprint"}``.
    metrics : mapping, optional
        Validation or test figures to keep with the model.
    extra : mapping, optional
        Anything else JSON-ready for the manifest.
    """
    import skops.io as sio

    target = Path(path)
    if not target.parent.is_dir():
        raise ModelFileError(f"{target.parent}: folder does not exist")
    classes = [str(c) for c in class_names]
    h, w = (int(v) for v in image_shape)
    with atomic_path(target) as tmp:
        sio.dump(model, tmp)
        with zipfile.ZipFile(tmp, "a") as archive:
            manifest = {
                "format": "shallowvision-model",
                "format_version": FORMAT_VERSION,
                "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
                "name": name,
                "estimator": type(model).__name__,
                "class_names": classes,
                "image_shape": [h, w],
                "n_features": h * w,
                "gives_proba": hasattr(model, "predict_proba"),
                "training_data": dict(training_data or {}),
                "metrics": dict(metrics or {}),
                "libraries": library_versions(),
                "payload_sha256": _payload_sha256(archive),
                **dict(extra or {}),
            }
            archive.writestr(MANIFEST_MEMBER, json.dumps(manifest, indent=2, default=_jsonable))
    return target


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic | np.ndarray):
        return value.tolist()
    return str(value)


def read_manifest(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest of a model file, read without loading any object."""
    label = str(path)
    try:
        with zipfile.ZipFile(path) as archive:
            if MANIFEST_MEMBER not in archive.namelist():
                raise ModelFileError(f"{label}: not a shallowvision model file (no manifest)")
            manifest = json.loads(archive.read(MANIFEST_MEMBER))
    except FileNotFoundError:
        raise ModelFileError(f"{label}: model file not found") from None
    except IsADirectoryError:
        raise ModelFileError(f"{label}: is a folder, expected a model file") from None
    except ModelFileError:
        raise
    except ZIP_ERRORS as exc:  # UnicodeDecodeError and JSON errors are ValueErrors
        raise ModelFileError(f"{label}: not a readable model file ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != "shallowvision-model":
        raise ModelFileError(f"{label}: not a shallowvision model file (unknown manifest)")
    return manifest


#: Other libraries whose fitted objects a model file holds (see :func:`_check_compatible`).
_MODEL_LIBRARIES = ("scikit-learn", "xgboost", "xgboost-cpu", "lightgbm")


def _minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def _check_compatible(
    label: str, manifest: Mapping[str, Any], allow_version_mismatch: bool
) -> None:
    version = manifest.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelFileError(
            f"{label}: written by shallowvision {manifest.get('libraries', {}).get('shallowvision', '?')} "
            f"in model format {version}, which this version ({__version__}, format {FORMAT_VERSION}) cannot read; upgrade shallowvision"
        )
    if allow_version_mismatch:
        return
    saved = manifest.get("libraries", {})
    # A file loads only within the minor versions that wrote it, shallowvision's own
    # included: its estimators' fitted attributes change between them too.
    current = library_versions(_MODEL_LIBRARIES)
    for lib in ("shallowvision", *_MODEL_LIBRARIES):
        if lib in saved and lib in current and _minor(saved[lib]) != _minor(current[lib]):
            raise ModelFileError(
                f"{label}: saved with {lib} {saved[lib]} but {current[lib]} is installed; models are "
                "only guaranteed to load in the version that wrote them: retrain, or allow the "
                "mismatch (allow_version_mismatch=True, --allow-version-mismatch) at your own risk"
            )


@dataclass
class SavedModel:
    """A loaded model file: the fitted pipeline and its manifest."""

    estimator: Any
    manifest: dict[str, Any]
    path: Path | None = None
    _n_features: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self._n_features = int(self.manifest.get("n_features", 0))

    @property
    def class_names(self) -> list[str]:
        return list(self.manifest["class_names"])

    @property
    def image_shape(self) -> tuple[int, int]:
        h, w = self.manifest["image_shape"]
        return int(h), int(w)

    @property
    def name(self) -> str:
        return str(self.manifest.get("name", "model"))

    @property
    def version(self) -> str:
        """The manifest's ``version`` if one was saved, else ``sha256:`` and the first 12
        hex digits of the payload's checksum, which name this exact fitted model."""
        if self.manifest.get("version"):
            return str(self.manifest["version"])
        return f"sha256:{str(self.manifest.get('payload_sha256', ''))[:12]}"

    def _check(self, X: Any) -> np.ndarray:
        X = np.asarray(X)
        if X.ndim == 3:
            X = X.reshape(len(X), -1)
        if X.ndim != 2 or X.shape[1] != self._n_features:
            h, w = self.image_shape
            got = X.shape[1] if X.ndim == 2 else X.shape
            raise ShallowVisionError(
                f"X has {got} features, but the model was trained on {h}x{w} images ({h * w} pixels)"
            )
        return X

    def predict(self, X: Any) -> np.ndarray:
        """Class indices for flattened ``(n, h*w)`` or ``(n, h, w)`` uint8 images."""
        return np.asarray(self.estimator.predict(self._check(X)))

    def predict_scores(self, X: Any) -> tuple[np.ndarray, str]:
        """Per-class probabilities or decision scores (see :func:`shallowvision.models.predict_scores`)."""
        from shallowvision.models import predict_scores

        return predict_scores(self.estimator, self._check(X))


def load_model(
    path: str | os.PathLike[str],
    *,
    trusted: Iterable[str] = (),
    allow_version_mismatch: bool = False,
) -> SavedModel:
    """Load a model file written by :func:`save_model`.

    The file is refused, with a message naming the problem, when it is not a
    shallowvision model file, when its contents changed after saving, when it was
    written by an incompatible version, or when it holds a type outside skops'
    defaults, :data:`TRUSTED_TYPES` and ``trusted``.

    Parameters
    ----------
    path : path
    trusted : iterable of str
        Further fully-qualified type names to trust.
    allow_version_mismatch : bool
        Load even if the model's libraries differ in minor version from the installed ones.
    """
    import skops.io as sio

    label = str(path)
    manifest = read_manifest(path)
    _check_compatible(label, manifest, allow_version_mismatch)
    try:
        with zipfile.ZipFile(path) as archive:
            payload = _payload_sha256(archive)
    except ZIP_ERRORS as exc:
        raise ModelFileError(
            f"{label}: the model file is damaged ({exc}); refusing to load it"
        ) from None
    if payload != manifest.get("payload_sha256"):
        raise ModelFileError(
            f"{label}: the model was modified after it was saved (checksum mismatch); refusing to load it"
        )
    allowed = {*TRUSTED_TYPES, *trusted}
    try:
        untrusted = [t for t in sio.get_untrusted_types(file=path) if t not in allowed]
    except Exception as exc:  # skops raises many kinds of errors on malformed schemas
        raise ModelFileError(
            f"{label}: malformed model file ({type(exc).__name__}: {exc})"
        ) from None
    if untrusted:
        raise ModelFileError(
            f"{label}: refusing to load untrusted types {', '.join(sorted(untrusted))}; "
            "trust them explicitly only if you trust the file's author"
        )
    try:
        estimator = sio.load(path, trusted=sorted(allowed))
    except Exception as exc:  # a schema that passed the type check but cannot be rebuilt
        raise ModelFileError(
            f"{label}: cannot rebuild the model ({type(exc).__name__}: {exc})"
        ) from None
    return SavedModel(estimator=estimator, manifest=manifest, path=Path(path))


def training_provenance(data: Any) -> dict[str, Any]:
    """What a manifest records about the images a model was trained on (an ImageSet)."""
    return {
        "name": data.name,
        "split": data.split,
        "n_images": len(data),
        "image_shape": list(data.image_shape),
        "class_counts": [int(c) for c in data.class_counts()],
        "fingerprint": data.fingerprint(),
        "source": data.source,
        "source_sha256": data.sha256,
        **({"positive": data.meta["positive"]} if "positive" in data.meta else {}),
    }
