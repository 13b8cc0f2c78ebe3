"""Faults: tampered model files are refused; read-only and full output folders give one clear
line and leave nothing half-written.

Read-only and full file systems are real: a tmpfs mounted (full, or read-only) in a
private mount namespace (``unshare -rm``), as a user with no special rights would meet
them; root ignores permission bits, so ``chmod`` alone would prove nothing here.
"""

import errno
import json
import os
import shlex
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given

from conftest import FAST_PARAMS
from shallowvision import OutputError
from shallowvision._io import atomic_path
from shallowvision.models import get_model
from shallowvision.persistence import ModelFileError, load_model, save_model
from shallowvision.persistence._model_file import (
    MANIFEST_MEMBER,
    _payload_sha256,
    seal_manifest,
)
from test_cli import EXE
from test_fuzz_readers import FUZZ, damaged, tried


# -- tampered model files ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def model_file(digits, tmp_path_factory):
    data = digits.subsample(n_per_class=20, random_state=0)
    model = get_model("lr", **FAST_PARAMS.get("lr", {})).fit(data.X, data.labels)
    path = tmp_path_factory.mktemp("model") / "lr.skops"
    save_model(model, path, class_names=data.class_names, image_shape=data.image_shape)
    return SimpleNamespace(
        path=path, bytes=path.read_bytes(), X=data.X, labels=model.predict(data.X)
    )


def forge(source, target, edit_schema):
    """Rewrite a model file as an attacker would: edit the schema, then recompute the
    checksum the manifest keeps, so that only the type check can catch it."""
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "schema.json":
                data = json.dumps(edit_schema(json.loads(data))).encode()
            if item.filename != MANIFEST_MEMBER:
                dst.writestr(item, data)
    with zipfile.ZipFile(target) as archive:
        checksum = _payload_sha256(archive)
    with zipfile.ZipFile(source) as src:
        manifest = json.loads(src.read(MANIFEST_MEMBER))
    manifest["payload_sha256"] = checksum
    with zipfile.ZipFile(target, "a") as dst:
        dst.writestr(MANIFEST_MEMBER, json.dumps(seal_manifest(manifest)))
    return target


def swap_first(node, module, name, loader=None):
    """Replace the first object of scikit-learn or shallowvision in a skops schema."""
    if isinstance(node, dict):
        if str(node.get("__module__", "")).startswith(("sklearn.", "shallowvision.")):
            node["__module__"], node["__class__"] = module, name
            if loader:
                node["__loader__"] = loader
            return True
        return any(swap_first(v, module, name, loader) for v in node.values())
    if isinstance(node, list):
        return any(swap_first(v, module, name, loader) for v in node)
    return False


@pytest.mark.parametrize(
    ("module", "name", "loader", "shown"),
    [
        ("subprocess", "Popen", None, "subprocess.Popen"),
        ("builtins", "eval", "TypeNode", "builtins.eval"),
        ("os", "system", None, "os.system"),
    ],
)
def test_an_injected_untrusted_type_is_refused(model_file, tmp_path, module, name, loader, shown):
    def edit(schema):
        assert swap_first(schema, module, name, loader)
        return schema

    forged = forge(model_file.path, tmp_path / "forged.skops", edit)
    with pytest.raises(ModelFileError, match=rf"refusing to load untrusted types .*{shown}"):
        load_model(forged)
    # Even a caller trusting extra types of its own does not open the door.
    with pytest.raises(ModelFileError, match="refusing to load untrusted types"):
        load_model(forged, trusted=["collections.Counter"])


def test_changed_bytes_are_refused_with_the_reason(model_file, tmp_path):
    with zipfile.ZipFile(model_file.path) as archive:
        npy = next(n for n in archive.namelist() if n.endswith(".npy"))
        offset = archive.getinfo(npy).header_offset
    data = bytearray(model_file.bytes)
    data[offset + 100] ^= 0xFF  # inside a stored array: the zip's own CRC notices
    (tmp_path / "crc.skops").write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match=r"crc.skops: the model file is damaged \(Bad CRC-32"):
        load_model(tmp_path / "crc.skops")


def test_damaged_model_files_are_refused_or_unchanged(model_file, tmp_path_factory):
    """Truncated or mutated model files: refused with ModelFileError, or (a byte the zip
    format ignores) loaded and predicting exactly as the original."""
    folder = tmp_path_factory.mktemp("damaged")

    @FUZZ
    @given(data=damaged(model_file.bytes))
    def check(data):
        tried("skops damaged")
        path = folder / "m.skops"
        path.write_bytes(data)
        try:
            loaded = load_model(path)
        except ModelFileError as exc:
            assert "\n" not in str(exc)
            return
        np.testing.assert_array_equal(loaded.predict(model_file.X), model_file.labels)

    check()


# -- writes that fail -------------------------------------------------------------------------
def test_a_failed_write_names_the_file_and_keeps_the_old_one(tmp_path):
    target = tmp_path / "metrics.json"
    target.write_text('{"old": true}')
    with (
        pytest.raises(
            OutputError, match=r"metrics.json: cannot write the file \(No space left on device\)"
        ),
        atomic_path(target) as tmp,
    ):
        tmp.write_text('{"new": ')
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert target.read_text() == '{"old": true}'
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]
    # Still an OSError, for the code that tolerates a failed write (the dataset cache).
    assert issubclass(OutputError, OSError)


def can_mount() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(
        ["unshare", "-rm", "sh", "-c", "mount -t tmpfs tmpfs /mnt"], capture_output=True, timeout=30
    )
    return probe.returncode == 0


needs_mounts = pytest.mark.skipif(
    os.environ.get("SHALLOWVISION_STRICT") != "1" and not can_mount(),
    reason="needs unshare -rm (user and mount namespaces) to mount a full or read-only tmpfs",
)


def confined(tmp_path, commands, *, full=False, read_only=False, size="1m"):
    """Run ``commands`` with ``tmp_path/out`` a fresh tmpfs (full, or read-only) in a
    private mount namespace; return their results and a copy of what they left there."""
    out, left = tmp_path / "out", tmp_path / "left"
    out.mkdir()
    left.mkdir()
    lines = ["set -e", f"mount -t tmpfs -o size={size} tmpfs {out}"]
    if full:
        lines.append(f"dd if=/dev/zero of={out}/filler bs=4k 2>/dev/null || true")
    if read_only:
        lines.append(f"mount -o remount,ro {out}")
    lines.append("set +e")
    for i, command in enumerate(commands):
        lines.append(f"{shlex.join(map(str, command))} >{tmp_path}/{i}.out 2>{tmp_path}/{i}.err")
        lines.append(f"echo $? >{tmp_path}/{i}.rc")
    lines.append(f"cp -a {out}/. {left}/ && rm -f {left}/filler")
    env = {**os.environ, "COLUMNS": "300"}
    subprocess.run(
        ["unshare", "-rm", "sh", "-c", "\n".join(lines)], check=True, timeout=600, env=env
    )
    results = [
        SimpleNamespace(
            returncode=int((tmp_path / f"{i}.rc").read_text()),
            stderr=(tmp_path / f"{i}.err").read_text(),
        )
        for i in range(len(commands))
    ]
    return results, left


def one_error_line(result):
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert lines[-1].startswith("error: ") and "Traceback" not in result.stderr
    return lines[-1]


def nothing_half_written(folder: Path):
    assert not [p for p in folder.rglob("*") if p.name.endswith(".tmp")]
    for path in folder.rglob("*.json"):
        json.loads(path.read_text())
    for path in folder.rglob("*.skops"):
        load_model(path)


RUN = ["run", "digits", "-m", "dummy,nb", "--set", "tune.top=1", "--set", "tune.n_candidates=2"]


@pytest.mark.slow
@needs_mounts
def test_read_only_output_folder(tmp_path):
    out = tmp_path / "out"
    results, left = confined(
        tmp_path,
        [
            [EXE, "compare", "digits", "-m", "nb", "--out", out / "cmp.json"],
            [EXE, "compare", "digits", "-m", "nb", "--save-models", out / "models"],
            [EXE, *RUN, "--out", out / "runs"],
            [
                sys.executable,
                "-m",
                "shallowvision",
                "tune",
                "digits",
                "-m",
                "nb",
                "--out",
                out / "t.json",
            ],
        ],
        read_only=True,
    )
    assert one_error_line(results[0]) == f"error: {out}: folder is not writable"
    assert one_error_line(results[1]) == f"error: {out / 'models'}: Read-only file system"
    assert one_error_line(results[2]).startswith(
        f"error: {out / 'runs'}/digits-"
    ) and one_error_line(results[2]).endswith(
        "cannot create the run folder (Read-only file system)"
    )
    assert one_error_line(results[3]) == f"error: {out}: folder is not writable"
    assert list(left.iterdir()) == []


@pytest.mark.slow
@needs_mounts
def test_full_disk(tmp_path):
    """Every command runs its work, then cannot write: one line naming the file, and
    the folder holds no partial file. Takes ~20 s: four processes importing scikit-learn."""
    out = tmp_path / "out"
    figures = (
        "from shallowvision.datasets import load; from shallowvision.evaluation import evaluate_predictions, save_figures; "
        "from shallowvision.cli import main; import numpy as np; d = load('digits', 'test'); "
        "p = np.eye(10)[d.labels] * 0.9 + 0.01; "
        f"save_figures(evaluate_predictions(d.labels, p, class_names=d.class_names), {str(out / 'figures')!r})"
    )
    results, left = confined(
        tmp_path,
        [
            [EXE, "compare", "digits", "-m", "nb", "--out", out / "cmp.json"],
            [EXE, "compare", "digits", "-m", "nb", "--save-models", out],
            [EXE, *RUN, "--out", out / "runs", "--run-id", "r"],
            [sys.executable, "-c", figures],
        ],
        full=True,
    )
    nospace = "cannot write the file (No space left on device); nothing was changed there"
    assert one_error_line(results[0]) == f"error: {out / 'cmp.json'}: {nospace}"
    assert one_error_line(results[1]) == f"error: {out / 'nb.skops'}: {nospace}"
    assert one_error_line(results[2]).endswith(nospace)
    assert results[3].returncode == 1
    assert f"OutputError: {out / 'figures' / 'roc.png'}: {nospace}" in results[3].stderr
    nothing_half_written(left)
    assert not list(left.rglob("*.png")) and not list(left.rglob("*.skops"))


@pytest.mark.slow
@needs_mounts
def test_a_disk_that_fills_during_a_run(tmp_path):
    """The run folder fills up mid-run: the run stops with one line and what it wrote
    is complete."""
    out = tmp_path / "out"
    results, left = confined(tmp_path, [[EXE, *RUN, "--out", out, "--run-id", "r"]], size="120k")
    line = one_error_line(results[0])
    assert "No space left on device" in line and str(out / "r") in line
    nothing_half_written(left)
    assert (left / "r" / "config.json").is_file()
    assert not (left / "r" / "report.html").exists()
