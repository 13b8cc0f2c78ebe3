"""Model files: a skops archive of the whole pipeline plus a JSON manifest, loaded against trusted types.

The manifest is validated by a schema (:class:`ModelManifest`) before anything it
describes is used, and one checksum covers the fitted objects and the manifest
together. A checksum kept inside the file shows accidental damage and edits by someone
who did not recompute it; it cannot show a deliberate change by someone who did. For
that, pin the file's SHA-256 (``expect_sha256``) or sign files with a key only you
hold (``SHALLOWVISION_MODEL_KEY``: HMAC-SHA256).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
import io
import json
import os
import platform
import re
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from shallowvision import __version__
from shallowvision._io import ZIP_ERRORS, atomic_path
from shallowvision._scores import Scores, predict_scores
from shallowvision.exceptions import ConfigError, ShallowVisionError
from shallowvision.persistence._schema import MAX_MANIFEST_BYTES, check_manifest
from shallowvision.persistence._trusted import TRUSTED_TYPES

__all__ = [
    "FORMAT_VERSION",
    "KEY_VARIABLE",
    "ModelFileError",
    "SavedModel",
    "load_model",
    "read_manifest",
    "save_model",
    "seal_manifest",
    "signing_key",
    "training_provenance",
]

MANIFEST_MEMBER = "shallowvision-manifest.json"
#: 2: the checksum covers the manifest too, and files may be signed.
FORMAT_VERSION = 2
#: The environment variable holding the signing key (at least 16 bytes of text).
KEY_VARIABLE = "SHALLOWVISION_MODEL_KEY"
_MIN_KEY_BYTES = 16
_HEX64 = re.compile(r"[0-9a-f]{64}")
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


def _sealed_message(manifest: Mapping[str, Any]) -> bytes:
    """What the checksum and the signature cover: the manifest (which holds the payload's
    checksum) in canonical JSON, without the checksum and signature themselves."""
    body = {k: v for k, v in manifest.items() if k not in ("checksum", "signature")}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return b"shallowvision-model\n" + canonical.encode()


def _checksum(manifest: Mapping[str, Any]) -> str:
    return hashlib.sha256(_sealed_message(manifest)).hexdigest()


def signing_key() -> bytes | None:
    """The signing key from ``$SHALLOWVISION_MODEL_KEY`` (its UTF-8 bytes), None if unset."""
    text = os.environ.get(KEY_VARIABLE)
    if not text:
        return None
    key = text.encode()
    if len(key) < _MIN_KEY_BYTES:
        raise ConfigError(
            f"{KEY_VARIABLE} is {len(key)} bytes; a signing key needs at least {_MIN_KEY_BYTES} "
            "(e.g. python -c 'import secrets; print(secrets.token_hex(32))')"
        )
    return key


def _signature(manifest: Mapping[str, Any], key: bytes) -> str:
    return hmac.new(key, _sealed_message(manifest), hashlib.sha256).hexdigest()


def seal_manifest(manifest: dict[str, Any], key: bytes | None = None) -> dict[str, Any]:
    """``manifest`` with its checksum and, given a key, its HMAC-SHA256 signature."""
    sealed = {k: v for k, v in manifest.items() if k not in ("checksum", "signature")}
    sealed["checksum"] = _checksum(sealed)
    if key is not None:
        sealed["signature"] = {"algorithm": "hmac-sha256", "value": _signature(sealed, key)}
    return sealed


def save_model(
    model: Any,
    path: str | os.PathLike[str],
    *,
    trained_on: Any = None,
    class_names: Iterable[str] | None = None,
    image_shape: tuple[int, ...] | None = None,
    name: str = "model",
    training_data: Mapping[str, Any] | None = None,
    evaluated_on: str | None = None,
    metrics: Mapping[str, Any] | None = None,
    calibration: Mapping[str, Any] | None = None,
    calibrated_on: Any = None,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Save a fitted pipeline and its manifest as one skops file, atomically.

    Every model file is written here, by every command and by the run, so the
    manifests they write have one layout.

    Parameters
    ----------
    model : fitted estimator
        Usually a whole Pipeline, preprocessing included.
    path : path
        Target file (conventionally ``*.skops``); replaced only when complete.
    trained_on : ImageSet or SavedModel, optional
        What the model was fitted on: the images, whose class names, image shape,
        conversion and provenance (:func:`training_provenance`) the manifest records,
        or the model file a derived model (a calibrated one) was made from, whose class
        names, image shape, conversion and training data it keeps. Without it, give
        ``class_names`` and ``image_shape``.
    class_names : iterable of str, optional
        Names of the classes, in the order of the model's outputs.
    image_shape : (height, width) or (height, width, 3), optional
        Shape of the images the model was trained on (three values for colour).
    name : str
        Zoo name or a description of the model.
    training_data : mapping, optional
        Provenance of the training images, e.g. ``{"name", "split", "n_images",
        "fingerprint"}``; with ``trained_on``, further facts added to its provenance
        (such as the subsample a run fitted on).
    evaluated_on : str, optional
        The split ``metrics`` were measured on, recorded first among them.
    metrics : mapping, optional
        Validation or test figures to keep with the model.
    calibration : mapping, optional
        For a calibrated model: how it was calibrated (method, temperature, the model
        file it was made from, the before-and-after table). Its presence marks the
        model as calibrated, so it is not calibrated again.
    calibrated_on : ImageSet, optional
        The images the calibration was fitted on, recorded in ``calibration`` as
        ``data``.
    extra : mapping, optional
        Anything else JSON-ready for the manifest.
    """
    import skops.io as sio

    target = Path(path)
    if not target.parent.is_dir():
        raise ModelFileError(f"{target.parent}: folder does not exist")
    classes, (h, w), conversion, provenance = _training_of(trained_on, class_names, image_shape)
    channels = 3 if conversion["color"] == "rgb" else 1
    measured = {} if evaluated_on is None else {"evaluated_on": evaluated_on}
    key = signing_key()
    with atomic_path(target) as tmp:
        sio.dump(model, tmp)
        with zipfile.ZipFile(tmp, "a") as archive:
            manifest: dict[str, Any] = {
                "format": "shallowvision-model",
                "format_version": FORMAT_VERSION,
                "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
                "name": name,
                "estimator": type(model).__name__,
                "class_names": classes,
                "image_shape": [h, w],
                "n_features": h * w * channels,
                # How an image file becomes this model's input, for prediction to repeat.
                "conversion": conversion,
                "gives_proba": hasattr(model, "predict_proba"),
                "training_data": {**provenance, **(training_data or {})},
                "metrics": {**measured, **(metrics or {})},
                "libraries": library_versions(),
                "payload_sha256": _payload_sha256(archive),
                **_calibration_of(calibration, calibrated_on),
                **dict(extra or {}),
            }
            # Sealed as it will be read back: plain JSON values, numpy arrays as lists.
            manifest = json.loads(json.dumps(manifest, default=_jsonable))
            manifest = seal_manifest(manifest, key)
            # The file must load again: a manifest outside the schema is refused now.
            check_manifest(manifest, str(target), refuse=ModelFileError)
            archive.writestr(MANIFEST_MEMBER, json.dumps(manifest, indent=2))
    return target


def _calibration_of(calibration: Mapping[str, Any] | None, data: Any) -> dict[str, Any]:
    if calibration is None and data is None:
        return {}
    provenance = {} if data is None else {"data": training_provenance(data)}
    return {"calibration": {**(calibration or {}), **provenance}}


def _training_of(
    trained_on: Any, class_names: Iterable[str] | None, image_shape: tuple[int, ...] | None
) -> tuple[list[str], tuple[int, int], dict[str, str], dict[str, Any]]:
    """Class names, image size, conversion (colour mode and resize rule) and provenance
    of what a model was fitted on."""
    provenance: dict[str, Any] = {}
    resize = "stretch"
    if isinstance(trained_on, SavedModel):
        provenance = dict(trained_on.manifest.get("training_data") or {})
        resize = trained_on.resize
    elif trained_on is not None:
        provenance = training_provenance(trained_on)
        resize = str(trained_on.meta.get("resize", "stretch"))
    if class_names is None:
        class_names = None if trained_on is None else trained_on.class_names
    if image_shape is None and trained_on is not None:
        image_shape = (
            trained_on.input_shape if isinstance(trained_on, SavedModel) else trained_on.image_shape
        )
    if class_names is None or image_shape is None:
        raise ConfigError("save_model needs trained_on, or class_names and image_shape")
    if len(image_shape) not in (2, 3) or (len(image_shape) == 3 and image_shape[2] != 3):
        raise ConfigError(
            f"image_shape {tuple(image_shape)}: give (height, width), or (height, width, 3) "
            "for colour images"
        )
    h, w = (int(v) for v in image_shape[:2])
    conversion = {"color": "rgb" if len(image_shape) == 3 else "gray", "resize": resize}
    return [str(c) for c in class_names], (h, w), conversion, provenance


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic | np.ndarray):
        return value.tolist()
    return str(value)


def read_manifest(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest of a model file, read without loading any object and checked against
    :class:`~shallowvision.persistence.ModelManifest` (not against the checksum)."""
    label = str(path)
    try:
        with zipfile.ZipFile(path) as archive:
            return _manifest_of(archive, label)
    except FileNotFoundError:
        raise ModelFileError(f"{label}: model file not found") from None
    except IsADirectoryError:
        raise ModelFileError(f"{label}: is a folder, expected a model file") from None
    except ModelFileError:
        raise
    except ZIP_ERRORS as exc:
        raise ModelFileError(f"{label}: not a readable model file ({exc})") from None


def _manifest_of(archive: zipfile.ZipFile, label: str) -> dict[str, Any]:
    try:
        info = archive.getinfo(MANIFEST_MEMBER)
    except KeyError:
        raise ModelFileError(f"{label}: not a shallowvision model file (no manifest)") from None
    if info.file_size > MAX_MANIFEST_BYTES:
        raise ModelFileError(
            f"{label}: the manifest is {info.file_size:,} bytes, more than the "
            f"{MAX_MANIFEST_BYTES:,} a model file's manifest may hold"
        )
    try:
        raw = archive.read(MANIFEST_MEMBER)
        manifest = json.loads(raw)
    except RecursionError:
        raise ModelFileError(
            f"{label}: not a readable model file (manifest nested too deeply)"
        ) from None
    except ZIP_ERRORS as exc:  # UnicodeDecodeError and JSON errors are ValueErrors
        raise ModelFileError(f"{label}: not a readable model file ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != "shallowvision-model":
        raise ModelFileError(f"{label}: not a shallowvision model file (unknown manifest)")
    return check_manifest(manifest, label, refuse=ModelFileError)


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
                "mismatch (allow_version_mismatch=True) at your own risk"
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
        """``(height, width)`` of the model's images, grey or colour."""
        h, w = self.manifest["image_shape"]
        return int(h), int(w)

    @property
    def color(self) -> str:
        """``"gray"`` or ``"rgb"``: the colour mode image files are converted to (files
        saved before colour was kept are grey)."""
        return str((self.manifest.get("conversion") or {}).get("color", "gray"))

    @property
    def resize(self) -> str:
        """How image files are brought to :attr:`image_shape`: ``"stretch"``, ``"pad"`` or
        ``"crop"``."""
        return str((self.manifest.get("conversion") or {}).get("resize", "stretch"))

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one input image: ``(height, width)`` grey, ``(height, width, 3)`` colour."""
        return (*self.image_shape, 3) if self.color == "rgb" else self.image_shape

    def describe_input(self) -> str:
        """The input images in words: ``"28x28 grey"``, ``"32x32 colour"``."""
        h, w = self.image_shape
        return f"{h}x{w} {'colour' if self.color == 'rgb' else 'grey'}"

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
        if X.ndim in (3, 4):
            X = X.reshape(len(X), -1)
        if X.ndim != 2 or X.shape[1] != self._n_features:
            got = X.shape[1] if X.ndim == 2 else X.shape
            h, w = self.image_shape
            what = f"{h}x{w} images ({h * w} pixels)"
            if self.color == "rgb":
                what = f"{h}x{w} colour images ({h * w} pixels, {self._n_features} values)"
            raise ShallowVisionError(f"X has {got} features, but the model was trained on {what}")
        return X

    def predict(self, X: Any) -> np.ndarray:
        """Class indices for flattened ``(n, h*w)`` or ``(n, h, w)`` uint8 images (colour:
        ``(n, h*w*3)`` or ``(n, h, w, 3)``)."""
        return np.asarray(self.estimator.predict(self._check(X)))

    def predict_scores(self, X: Any) -> Scores:
        """Per-class probabilities, else decision scores, and their kind (see
        :func:`shallowvision.evaluation.predict_scores`)."""
        return predict_scores(self.estimator, self._check(X))


def load_model(
    path: str | os.PathLike[str],
    *,
    trusted: Iterable[str] = (),
    allow_version_mismatch: bool = False,
    expect_sha256: str | None = None,
) -> SavedModel:
    """Load a model file written by :func:`save_model`.

    The file is refused, with a message naming the problem, when it is not a
    shallowvision model file, when its manifest breaks the schema (sizes, types, a
    class count other than the model's), when its contents or manifest changed after
    saving, when it was written by an incompatible version, or when it holds a type
    outside skops' defaults, :data:`TRUSTED_TYPES` and ``trusted``.

    The checksum inside the file cannot show a deliberate change by someone who
    recomputed it. Against that: ``expect_sha256`` refuses any file but the one whose
    SHA-256 you pinned, and with ``$SHALLOWVISION_MODEL_KEY`` set only files signed with
    that key (HMAC-SHA256, by :func:`save_model` under the same key) load.

    Parameters
    ----------
    path : path
    trusted : iterable of str
        Further fully-qualified type names to trust.
    allow_version_mismatch : bool
        Load even if the model's libraries differ in minor version from the installed ones.
    expect_sha256 : str, optional
        The SHA-256 (64 hex digits) the file's bytes must have.
    """
    label = str(path)
    expected = _expected_sha256(expect_sha256)
    key = signing_key()
    try:
        data = Path(path).read_bytes()  # one read: what is checked is what is loaded
    except FileNotFoundError:
        raise ModelFileError(f"{label}: model file not found") from None
    except IsADirectoryError:
        raise ModelFileError(f"{label}: is a folder, expected a model file") from None
    if expected is not None and (actual := hashlib.sha256(data).hexdigest()) != expected:
        raise ModelFileError(
            f"{label}: the file's SHA-256 is {actual}, not the expected {expected}; "
            "refusing to load it"
        )
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except ZIP_ERRORS as exc:
        raise ModelFileError(f"{label}: not a readable model file ({exc})") from None
    try:
        with archive:
            manifest = _manifest_of(archive, label)
            _check_compatible(label, manifest, allow_version_mismatch)
            payload = _payload_sha256(archive)
    except ModelFileError:
        raise
    except ZIP_ERRORS as exc:
        raise ModelFileError(
            f"{label}: the model file is damaged ({exc}); refusing to load it"
        ) from None
    _check_sealed(label, manifest, payload, key)
    # Only now: skops loads all of scikit-learn, which a refused file never needs.
    import skops.io as sio

    allowed = {*TRUSTED_TYPES, *trusted}
    try:
        untrusted = [t for t in sio.get_untrusted_types(data=data) if t not in allowed]
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
        estimator = sio.loads(data, trusted=sorted(allowed))
    except Exception as exc:  # a schema that passed the type check but cannot be rebuilt
        raise ModelFileError(
            f"{label}: cannot rebuild the model ({type(exc).__name__}: {exc})"
        ) from None
    _check_matches_estimator(label, manifest, estimator)
    return SavedModel(estimator=estimator, manifest=manifest, path=Path(path))


def _expected_sha256(text: str | None) -> str | None:
    if text is None:
        return None
    value = text.strip().lower().removeprefix("sha256:")
    if not _HEX64.fullmatch(value):
        raise ConfigError(f"expect_sha256={text!r}: expected 64 hex digits (sha256sum's output)")
    return value


def _check_sealed(label: str, manifest: Mapping[str, Any], payload: str, key: bytes | None) -> None:
    """The checksum covers payload and manifest; with a key, the signature must match."""
    if manifest["format_version"] < FORMAT_VERSION:
        raise ModelFileError(
            f"{label}: written in model format {manifest['format_version']}, whose checksum does "
            "not cover the manifest; save the model again with this version"
        )
    sealed = manifest.get("checksum")
    if (
        payload != manifest.get("payload_sha256")
        or not isinstance(sealed, str)
        or (not hmac.compare_digest(sealed, _checksum(manifest)))
    ):
        raise ModelFileError(
            f"{label}: the model was modified after it was saved (checksum mismatch); refusing to load it"
        )
    if key is None:
        return
    signature = manifest.get("signature")
    if not isinstance(signature, dict) or signature.get("algorithm") != "hmac-sha256":
        raise ModelFileError(
            f"{label}: the file is not signed, and {KEY_VARIABLE} is set: only files signed "
            "with that key load"
        )
    if not hmac.compare_digest(str(signature.get("value", "")), _signature(manifest, key)):
        raise ModelFileError(
            f"{label}: the signature does not match {KEY_VARIABLE} (signed with another key, "
            "or changed after signing); refusing to load it"
        )


def _check_matches_estimator(label: str, manifest: Mapping[str, Any], estimator: Any) -> None:
    """The manifest describes this estimator: as many classes, as many input pixels."""
    classes = getattr(estimator, "classes_", None)
    names = manifest["class_names"]
    if classes is not None and len(classes) != len(names):
        raise ModelFileError(
            f"{label}: the manifest names {len(names)} classes but the model predicts "
            f"{len(classes)}; refusing to load it"
        )
    n_features = getattr(estimator, "n_features_in_", None)
    if isinstance(n_features, int | np.integer) and n_features != manifest["n_features"]:
        h, w = manifest["image_shape"]
        colour = (manifest.get("conversion") or {}).get("color") == "rgb"
        raise ModelFileError(
            f"{label}: the manifest says {h}x{w}{'x3' if colour else ''} images but the model "
            f"takes {n_features} features; refusing to load it"
        )


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
