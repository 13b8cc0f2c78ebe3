"""The cost of colour: decoding image files, and the study at 32x32x3 and 64x64x3 against 28x28 grey.

The images are Fashion-MNIST's (``shallowvision.datasets.load("fashion-mnist")``),
upscaled (bilinear) to 32 or 64 pixels a side and tinted: each image gets a seeded random
hue, the same in every size, drawn whatever its class, at equal luminance (the ITU-R 601
luma of every pixel is the grey original's; the chroma is as strong as the gamut allows
at that grey level, so white and black stay white and black). Colour carries no
information about the label: the benchmark measures what colour costs, not what it could
gain. Files alternate PNG and JPEG (quality 90), one sub-folder per class.

1. ``decode``: a folder of ``--n-files`` files (default 50,000 training images; beyond
   60,000 they repeat with other hues) at each side. ``shallowvision data info FOLDER``
   with an empty ``SHALLOWVISION_CACHE`` (sizes read from the headers, colour detected,
   files decoded on one thread per core into the cache) against a plain Pillow loop on
   one thread (open, convert RGB, resize to the side, ``np.asarray``, ``np.stack``):
   files per wall second, CPU seconds and peak RSS, each in a fresh process, the files
   read once beforehand so that both find them in the page cache.
2. ``eda``, ``compare`` and ``run``: a study set of ``--n-train`` training images (a
   seeded subsample of the 60,000) and ``--n-test`` test images, as ``train/`` and
   ``test/`` folders at each side, and the baseline, the same images as 28x28 grey IDX
   files (the originals: by equal luminance they are the colour images' grey, up to the
   upscaling and JPEG). Each set is first decoded into a fresh cache by ``data info``
   (row ``load``), then ``eda SET``, ``compare SET -m fast,lr --test --n-jobs -1`` and
   ``run SET --preset quick`` run on it; test accuracy from ``compare --out`` and
   ``metrics.json`` of the run (its recommended model).

Every command runs in a fresh process (``bench_scale.measure``): wall and CPU seconds
(process and children), peak RSS of the process tree. Ratios are to the Pillow loop
(decode) and to the grey set (the study), all measured in the same invocation. Sets are
built once under ``~/.cache/shallowvision-bench`` (``SHALLOWVISION_BENCH_DATA``) and
reused; rows are appended to ``--store`` (JSON lines).

    python benchmarks/bench_colour.py [--sizes 32,64] [--subjects decode,eda,compare,run] \
        [--n-files 50000] [--n-train 20000] [--n-test 10000]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
import _replicas
from _harness import measure, table
from bench_scale import _dirty, _head

REPO = Path(__file__).resolve().parent.parent
SIDES = (32, 64)
SUBJECTS = ("decode", "eda", "compare", "run")
GREY = "28x28 grey"
CHUNK = 2000

#: The baseline reader, run as a script in its own process: folder, side.
PILLOW_LOOP = """
import sys
from pathlib import Path

import numpy as np
from PIL import Image

root, side = Path(sys.argv[1]), int(sys.argv[2])
files = sorted(p for p in root.rglob("*") if p.suffix in (".png", ".jpg"))
arrays = []
for path in files:
    with Image.open(path) as image:
        arrays.append(np.asarray(image.convert("RGB").resize((side, side))))
images = np.stack(arrays)
print(len(files), images.shape)
"""


# -- the images -------------------------------------------------------------------------------
def tint(grey: np.ndarray, hues: np.ndarray) -> np.ndarray:
    """``(n, h, w)`` grey levels in [0, 1] coloured with one hue in [0, 1) per image.

    The chroma (Cb, Cr) points at the hue with the largest amplitude that keeps every
    channel in [0, 1] at that grey level, so each pixel's luma is its grey level.
    """
    angle = 2 * np.pi * hues
    cb, cr = np.cos(angle), np.sin(angle)
    # RGB change per unit of chroma (JPEG's YCbCr); each has zero luma.
    shift = np.stack([1.402 * cr, -0.344136 * cb - 0.714136 * cr, 1.772 * cb], axis=-1)
    reach = np.abs(shift).max(axis=-1)
    amplitude = np.minimum(grey, 1.0 - grey) / reach[:, None, None]
    rgb = grey[..., None] + amplitude[..., None] * shift[:, None, None, :]
    return np.clip(np.rint(rgb * 255), 0, 255).astype(np.uint8)


def upscale(images: np.ndarray, side: int) -> np.ndarray:
    """uint8 ``(n, 28, 28)`` to float ``(n, side, side)`` in [0, 1], bilinear."""
    from PIL import Image

    out = np.empty((len(images), side, side), dtype=np.float32)
    for i, image in enumerate(images):
        out[i] = np.asarray(Image.fromarray(image).resize((side, side), Image.BILINEAR))
    return out / 255.0


def _class_dirs(names: tuple[str, ...]) -> list[str]:
    return [f"{k}-{re.sub(r'[^A-Za-z0-9]+', '-', n).strip('-')}" for k, n in enumerate(names)]


def _write_files(folder: Path, images, labels, hues, side: int, dirs: list[str]) -> None:
    """Even rows as PNG, odd rows as JPEG (quality 90), in their class's sub-folder."""
    from PIL import Image

    for d in dirs:
        (folder / d).mkdir(parents=True, exist_ok=True)
    for start in range(0, len(images), CHUNK):
        stop = min(start + CHUNK, len(images))
        rgb = tint(upscale(images[start:stop], side), hues[start:stop])
        for i, pixels in enumerate(rgb, start):
            path = folder / dirs[labels[i]] / f"{i:06d}"
            if i % 2 == 0:
                Image.fromarray(pixels).save(path.with_suffix(".png"))
            else:
                Image.fromarray(pixels).save(path.with_suffix(".jpg"), quality=90)


def _fresh(folder: Path) -> bool:
    """True when ``folder`` is complete; else emptied for a new build."""
    if (folder / "complete").is_file():
        return True
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return False


def _hues(seed: int, part: str, n: int) -> np.ndarray:
    """One hue per source image of a split, the same at every side."""
    return np.random.default_rng([seed, 7, part == "test"]).random(n)


def decode_set(side: int, n: int, seed: int, root: Path) -> Path:
    """A flat folder of ``n`` tinted training images (class sub-folders), built if absent."""
    from shallowvision.datasets import load

    folder = root / f"colour-files-{side}px-{n}-seed{seed}"
    if _fresh(folder):
        return folder
    train = load("fashion-mnist")
    images = np.asarray(train.images)
    picks = np.concatenate(
        [
            np.random.default_rng([seed, 11, r]).permutation(len(images))
            for r in range(-(-n // len(images)))
        ]
    )[:n]
    repeat = np.arange(n) // len(images)
    hues = (_hues(seed, "train", len(images))[picks] + repeat * 0.382) % 1.0
    _write_files(
        folder, images[picks], train.labels[picks], hues, side, _class_dirs(train.class_names)
    )
    (folder / "complete").write_text(f"{n} files, {side} px, seed {seed}\n")
    return folder


def study_sets(
    sides: list[int], n_train: int, n_test: int, seed: int, root: Path
) -> dict[str, Path]:
    """The grey IDX set and a ``train/`` + ``test/`` folder per side, of the same images."""
    from shallowvision.datasets import load

    splits = {"train": load("fashion-mnist"), "test": load("fashion-mnist", "test")}
    counts = {"train": n_train, "test": n_test}
    picks = {
        part: np.sort(
            np.random.default_rng([seed, 13, part == "test"]).permutation(len(s))[: counts[part]]
        )
        for part, s in splits.items()
    }
    sets = {}
    folder = root / f"colour-study-28grey-{n_train}-{n_test}-seed{seed}"
    if not _fresh(folder):
        for part, prefix in (("train", "train"), ("test", "t10k")):
            images = np.asarray(splits[part].images)[picks[part]]
            labels = splits[part].labels[picks[part]].astype(np.uint8)
            _replicas._write_idx(folder / f"{prefix}-images-idx3-ubyte", images)
            _replicas._write_idx(folder / f"{prefix}-labels-idx1-ubyte", labels)
        (folder / "complete").write_text(f"{n_train} + {n_test} grey, seed {seed}\n")
    sets[GREY] = folder
    dirs = _class_dirs(splits["train"].class_names)
    for side in sides:
        folder = root / f"colour-study-{side}px-{n_train}-{n_test}-seed{seed}"
        if not _fresh(folder):
            for part, split in splits.items():
                rows = picks[part]
                hues = _hues(seed, part, len(split))[rows]
                images = np.asarray(split.images)[rows]
                _write_files(folder / part, images, split.labels[rows], hues, side, dirs)
            (folder / "complete").write_text(f"{n_train} + {n_test}, {side} px, seed {seed}\n")
        sets[f"{side}x{side}x3"] = folder
    return sets


def _read_all(folder: Path) -> int:
    """Read every file once, so that each reader finds them in the page cache."""
    total = 0
    for path in folder.rglob("*"):
        if path.is_file():
            total += len(path.read_bytes())
    return total


def _in_child(flags: list[str]) -> str:
    """The last line this script prints with ``flags``, run in its own process.

    Building sets and importing scikit-learn happen there: a child's peak RSS starts
    at its parent's (the kernel carries it over ``exec``), so the parent stays small.
    """
    import subprocess

    out = subprocess.run(
        [sys.executable, __file__, *flags], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(flags)} failed:\n{out.stderr[-3000:]}")
    return out.stdout.strip().splitlines()[-1]


# -- measurements -----------------------------------------------------------------------------
def _costs(result: dict) -> dict:
    keys = ("status", "wall_s", "cpu_s", "peak_gib")
    return {k: result[k] for k in keys}


def _report(row: dict) -> None:
    print(
        f"{row['subject']:<8} {row['set']:<11} {row['reader']:<14} {row['status']:<8} "
        f"wall {row['wall_s']:7.1f} s  cpu {row['cpu_s']:7.1f} s  peak {row['peak_gib']:5.2f} GiB"
        + (f"  {row['files_per_s']:,.0f} files/s" if row.get("files_per_s") else "")
        + (f"  test {row['accuracy']}" if row.get("accuracy") else ""),
        flush=True,
    )
    if row["status"] != "ok":
        print(row.get("output", "")[-1200:])


def bench_decode(folder: Path, side: int, n: int, cap: float) -> list[dict]:
    _read_all(folder)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-colour-") as tmp:
        script = Path(tmp) / "pillow_loop.py"
        script.write_text(PILLOW_LOOP)
        pillow = measure(
            [str(folder), str(side)], REPO / "src", {}, cap, program=[sys.executable, str(script)]
        )
        ours = measure(
            ["data", "info", str(folder)],
            REPO / "src",
            {"SHALLOWVISION_CACHE": str(Path(tmp) / "cache")},
            cap,
        )
    for reader, result in (("Pillow loop", pillow), ("data info", ours)):
        row = {
            "subject": "decode",
            "set": f"{side}x{side}x3",
            "reader": reader,
            "n": n,
            **result,
            "files_per_s": n / result["wall_s"],
        }
        _report(row)
        rows.append(row)
    rows[1]["ratio"] = rows[1]["files_per_s"] / rows[0]["files_per_s"]
    return rows


def _study_argv(subject: str, folder: Path, work: Path) -> list[str]:
    if subject == "load":
        return ["data", "info", str(folder)]
    if subject == "eda":
        return ["eda", str(folder), "--out", str(work / "eda")]
    if subject == "compare":
        out = str(work / "compare.json")
        return ["compare", str(folder), "-m", "fast,lr", "--test", "--n-jobs", "-1", "--out", out]
    if subject == "run":
        return [
            "run",
            str(folder),
            "--preset",
            "quick",
            "--out",
            str(work / "runs"),
            "--run-id",
            "bench",
        ]
    raise SystemExit(f"unknown subject {subject!r}: one of {', '.join(SUBJECTS)}")


def _accuracy(subject: str, work: Path) -> str | None:
    """Test accuracy from the command's JSON output: ``model 0.8712`` per model."""
    if subject == "compare" and (work / "compare.json").is_file():
        rows = json.loads((work / "compare.json").read_text())["rows"]
        return ", ".join(
            f"{r['model']} {r['accuracy']:.4f}"
            if r.get("accuracy") is not None
            else f"{r['model']} {r.get('status')}"
            for r in rows
        )
    metrics_file = work / "runs" / "bench" / "metrics.json"
    if subject == "run" and metrics_file.is_file():
        metrics = json.loads(metrics_file.read_text())
        model = (metrics.get("recommended") or {}).get("model")
        test = (metrics.get("test") or {}).get(model) or {}
        if test.get("accuracy") is not None:
            return f"{model} {test['accuracy']:.4f}"
    return None


def bench_study(name: str, folder: Path, subjects: list[str], n: int, cap: float) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-colour-") as tmp:
        env = {"SHALLOWVISION_CACHE": str(Path(tmp) / "cache"), "MPLBACKEND": "Agg"}
        for subject in ["load", *subjects]:  # load: the cold decode that fills the cache
            work = Path(tmp) / subject
            work.mkdir()
            result = measure(_study_argv(subject, folder, work), REPO / "src", env, cap)
            row = {
                "subject": subject,
                "set": name,
                "reader": "shallowvision",
                "n": n,
                **result,
                "accuracy": _accuracy(subject, work),
            }
            _report(row)
            rows.append(row)
    return rows


# -- tables -----------------------------------------------------------------------------------
def decode_table(rows: list[dict]) -> str:
    out = []
    for r in rows:
        out.append(
            {
                "reader": f"`{r['reader']}`" if r["reader"] == "data info" else r["reader"],
                "images": r["set"],
                "files": f"{r['n']:,}",
                "wall s": round(r["wall_s"], 1),
                "CPU s": round(r["cpu_s"], 1),
                "peak RSS GiB": f"{r['peak_gib']:.2f}",
                "files/s": f"{r['files_per_s']:,.0f}",
                "files/s vs Pillow": f"{r['ratio']:.2f}x" if "ratio" in r else "",
            }
        )
    return table(out, list(out[0]))


_COMMANDS = {
    "load": "`data info` (cold decode)",
    "eda": "`eda`",
    "compare": "`compare -m fast,lr --test`",
    "run": "`run --preset quick`",
}


def study_table(rows: list[dict]) -> str:
    grey = {r["subject"]: r for r in rows if r["set"] == GREY}
    out = []
    for subject in _COMMANDS:
        for k, r in enumerate(r for r in rows if r["subject"] == subject):
            base = grey.get(subject)

            def ratio(key: str, r=r, base=base) -> str:
                if r["set"] == GREY or not base or not base[key]:
                    return ""
                return f"{r[key] / base[key]:.2f}x"

            out.append(
                {
                    "command": "" if k else _COMMANDS[subject],
                    "images": r["set"],
                    "status": r["status"],
                    "wall s": round(r["wall_s"], 1),
                    "CPU s": round(r["cpu_s"], 1),
                    "peak RSS GiB": f"{r['peak_gib']:.2f}",
                    "wall vs grey": ratio("wall_s"),
                    "CPU vs grey": ratio("cpu_s"),
                    "peak vs grey": ratio("peak_gib"),
                    "test accuracy": r.get("accuracy") or "",
                }
            )
    return table(out, list(out[0]) if out else [])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes", default=",".join(str(s) for s in SIDES), help="sides, e.g. 32,64"
    )
    parser.add_argument("--subjects", default=",".join(SUBJECTS))
    parser.add_argument("--n-files", type=int, default=50_000, help="files of the decode folder")
    parser.add_argument("--n-train", type=int, default=20_000, help="training images of the study")
    parser.add_argument(
        "--n-test", type=int, default=None, help="test images (default: 10,000, at most --n-train)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cap-gib", type=float, default=20.0, help="stop a command past this")
    parser.add_argument("--root", type=Path, default=_replicas.ROOT, help="where sets are built")
    parser.add_argument("--store", type=Path, default=_replicas.ROOT / "colour-results.jsonl")
    parser.add_argument("--build", choices=["decode", "study", "machine"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    sides = [int(s) for s in args.sizes.split(",") if s.strip()]
    subjects = [s.strip() for s in args.subjects.split(",") if s.strip()]
    unknown = set(subjects) - set(SUBJECTS)
    if unknown:
        parser.error(f"unknown subjects {sorted(unknown)}: one of {', '.join(SUBJECTS)}")
    n_test = min(10_000, args.n_train) if args.n_test is None else args.n_test
    cap = args.cap_gib * 2**30
    args.root.mkdir(parents=True, exist_ok=True)
    if args.build == "machine":
        from _harness import machine

        print(machine())
        return
    if args.build == "decode":
        print(decode_set(sides[0], args.n_files, args.seed, args.root))
        return
    if args.build == "study":
        print(
            json.dumps(
                {
                    k: str(v)
                    for k, v in study_sets(
                        sides, args.n_train, n_test, args.seed, args.root
                    ).items()
                }
            )
        )
        return
    common = ["--seed", str(args.seed), "--root", str(args.root)]
    ref = _head() + ("+" if _dirty() else "")
    began = time.perf_counter()
    print(f"machine: {_in_child(['--build', 'machine'])}")
    print(f"commit {ref}; load average before: {', '.join(f'{v:.1f}' for v in os.getloadavg())}")

    decode_rows: list[dict] = []
    if "decode" in subjects:
        for side in sides:
            start = time.perf_counter()
            build = ["--build", "decode", "--sizes", str(side), "--n-files", str(args.n_files)]
            folder = Path(_in_child([*build, *common]))
            print(f"set {folder} ready in {time.perf_counter() - start:.0f} s", flush=True)
            decode_rows += bench_decode(folder, side, args.n_files, cap)

    study_rows: list[dict] = []
    study = [s for s in subjects if s != "decode"]
    if study:
        start = time.perf_counter()
        build = ["--build", "study", "--sizes", args.sizes, "--n-train", str(args.n_train)]
        built = _in_child([*build, "--n-test", str(n_test), *common])
        sets = {name: Path(folder) for name, folder in json.loads(built).items()}
        print(f"study sets ready in {time.perf_counter() - start:.0f} s", flush=True)
        for name, folder in sets.items():
            study_rows += bench_study(name, folder, study, args.n_train, cap)

    with open(args.store, "a") as store:
        for row in decode_rows + study_rows:
            extra = {
                "ref": ref,
                "n_test": n_test,
                "load_average": os.getloadavg()[0],
                "when": time.time(),
            }
            store.write(json.dumps({**row, **extra}) + "\n")
    print()
    if decode_rows:
        print(decode_table(decode_rows))
        print()
    if study_rows:
        print(f"Study sets: {args.n_train:,} training and {n_test:,} test images.\n")
        print(study_table(study_rows))
        print()
    print(f"benchmark took {time.perf_counter() - began:.0f} s; rows appended to {args.store}")


if __name__ == "__main__":
    main()
