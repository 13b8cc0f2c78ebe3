"""``report --compare``: stored runs side by side, with the intervals of their differences."""

from __future__ import annotations

import html
import re
import tarfile
from pathlib import Path

import numpy as np
import pytest

from shallowvision.evaluation import bootstrap_ci, paired_bootstrap
from shallowvision.exceptions import ConfigError
from shallowvision.report import compare_runs
from shallowvision.run import build_config, run_study
from test_cli import cli
from test_hostile import one_error_line

DATA = Path(__file__).parent / "data"

#: Small digits runs: the stages that choose and score a model, none of the analyses.
LEAN = {
    "data": {"dataset": "digits", "n_per_class": None},
    "eda": {"enabled": False},
    "tune": {"enabled": False},
    "ensemble": {"enabled": False},
    "select": {"enabled": False},
    "explain": {"enabled": False},
    "robustness": {"enabled": False},
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Three runs: ``a`` the reference; ``b`` on the same images with other models; ``c``
    on fewer training and test images."""
    out = tmp_path_factory.mktemp("runs")
    settings = {
        "a": {"compare": {"models": ["dummy", "lr", "nb"]}},
        "b": {"compare": {"models": ["dummy", "nb", "knn"]}},
        "c": {
            "compare": {"models": ["dummy", "lr"]},
            "data": {"n_per_class": 60, "test_n_per_class": 20},
        },
    }
    return {
        run_id: run_study(
            build_config(overrides={**LEAN, **extra, "data": LEAN["data"] | extra.get("data", {})}),
            out_dir=out,
            run_id=run_id,
        )
        for run_id, extra in settings.items()
    }


def text_of(page: str) -> str:
    """The page's text, a line per paragraph, heading and table row."""
    body = re.sub(r"</(p|tr|h2|h3)>", "\n", page.split("<main>", 1)[1])
    text = html.unescape(re.sub(r"<[^>]+>", " ", body))
    return "\n".join(
        filter(None, (re.sub(r"\s+", " ", line).strip() for line in text.splitlines()))
    )


def table_after(page: str, marker: str) -> dict[str, list[str]]:
    """The body rows of the first table after ``marker`` in the page, by their first cell."""
    after = page[page.index(marker) :]
    body = after[after.index("<tbody>") : after.index("</tbody>")]
    rows = {}
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body):
        cells = [html.unescape(c) for c in re.findall(r"<td>(.*?)</td>", row)]
        rows[cells[0]] = cells[1:]
    return rows


def test_two_runs_on_the_same_images_compare_paired(runs, tmp_path):
    page_path = compare_runs([runs["a"], runs["b"]])
    # By default the page goes next to the first run, never into it.
    assert page_path == runs["a"].parent / "comparison.html"
    page = page_path.read_text()
    text = text_of(page)
    assert "a is the reference" in text
    assert re.search(r"^b /\S+/b digits quick 0 ", text, re.M)
    # The configuration keys that differ, with the preset, the seed and the dataset; no
    # key that is equal.
    assert 'compare.models ["dummy", "lr", "nb"] ["dummy", "nb", "knn"] yes' in text
    assert "seed 0 0 no" in text and 'data.dataset "digits" "digits" no' in text
    assert "differ in 1 key;" in text
    assert "data.validation_size" not in text and "tune.enabled" not in text
    # Stage rows, side by side, with ratios; stages that did not run say so.
    # Seconds, then memory as format_bytes writes it (MB, or GB in a large process).
    memory = r"[\d.]+ [MG]B"
    assert re.search(rf"^compare [\d.,]+ {memory} [\d.,]+ ×[\d.]+ {memory} ×[\d.]+$", text, re.M)
    assert "tune disabled – disabled" in text
    assert re.search(rf"^total [\d.,]+ {memory} [\d.,]+ ×", text, re.M)
    # The test difference is the paired bootstrap of the two recommended models' stored
    # test predictions, with the reference run's seed.
    ref_model = re.search(r"^a /\S+ digits quick 0 \S+ (\S+)$", text, re.M).group(1)
    run_model = re.search(r"^b /\S+ digits quick 0 \S+ (\S+)$", text, re.M).group(1)
    assert ref_model != run_model

    def predictions(run, name, split):
        with np.load(runs[run] / "predictions" / f"{name}.{split}.npz") as data:
            return {k: data[k] for k in data.files}

    for split in ("validation", "test"):
        ref = predictions("a", ref_model, split)
        other = predictions("b", run_model, split)
        np.testing.assert_array_equal(ref["y_true"], other["y_true"])
        expected = paired_bootstrap(
            ref["y_true"], other["labels"], ref["labels"], metric="accuracy", n_classes=10
        )
        assert expected.low <= expected.estimate <= expected.high
        assert expected.estimate != 0
        marker = f"<b>{split}</b>: paired on the same {len(ref['y_true']):,} images"
        assert table_after(page, marker)["accuracy"] == [
            f"{expected.value_b:.4f}",
            f"{expected.value_a:.4f}",
            f"{expected.estimate:+.4f}",
            f"[{expected.low:+.4f}, {expected.high:+.4f}]",
            "yes" if not expected.low <= 0 <= expected.high else "no",
        ]
    # Models both runs offered: validation side by side, paired (same images).
    common = table_after(page, 'id="common"')
    assert {"dummy", "nb"} <= set(common) and "lr" not in common and "knn" not in common
    # The same model fitted with the same seed on the same images: no difference at all.
    assert common["nb"][2:] == ["+0.0000", "[+0.0000, +0.0000]"]
    # Offline: nothing is fetched, and no plotly.js is embedded (the page draws no chart;
    # its one script unfolds the folded sections for print).
    assert not re.search(r"https?://", page)
    assert page.count("<script") == 1 and "Plotly" not in page
    assert len(page) < 100_000


def test_runs_on_different_images_are_not_paired(runs, tmp_path):
    out = compare_runs([runs["a"], runs["c"]], tmp_path / "ac.html", n_resamples=200)
    assert out == tmp_path / "ac.html"
    text = text_of(out.read_text())
    assert "test : not paired, the runs scored different test images" in text
    assert "validation : not paired, the runs scored different validation images" in text
    assert "test same as reference" not in text and re.search(r"^test .* no$", text, re.M)
    # Each run's own interval, from its own stored predictions.
    model = re.search(r"^c /\S+ digits quick 0 \S+ (\S+)$", text, re.M).group(1)
    with np.load(runs["c"] / "predictions" / f"{model}.test.npz") as data:
        y_true, labels = data["y_true"], data["labels"]
    assert len(y_true) == 200  # 20 test images per class
    own = bootstrap_ci(y_true, labels, n_classes=10, n_resamples=200)
    row = table_after(out.read_text(), "<b>test</b>: not paired")["accuracy"]
    assert row[2:] == [
        f"{own.accuracy.estimate:.4f}",
        f"[{own.accuracy.low:.4f}, {own.accuracy.high:.4f}]",
        f"{own.accuracy.estimate - float(row[0]):+.4f}",
    ]
    assert "Not paired: the runs scored different validation images." in text


def test_three_runs_each_compare_with_the_first(runs, tmp_path):
    text = text_of(compare_runs([runs["a"], runs["b"], runs["c"]], tmp_path).read_text())
    assert (tmp_path / "comparison.html").is_file()
    assert text.count("b against a") == 2 and text.count("c against a") == 2
    assert "c against b" not in text


def test_a_run_of_the_first_format_compares(runs, tmp_path):
    with tarfile.open(DATA / "run-format-1.tar.xz") as tar:
        tar.extractall(tmp_path, filter="data")
    text = text_of(compare_runs([tmp_path / "run-format-1", runs["a"]], tmp_path).read_text())
    assert "tiny is the reference" in text  # the id its manifest records
    # It measured no memory: no peak and no ratio, rather than a ratio of 0.
    assert re.search(r"^total [\d.,]+ – [\d.,]+ ×[\d.]+ [\d.]+ [MG]B –$", text, re.M)
    text = text_of(compare_runs([runs["a"], tmp_path / "run-format-1"], tmp_path).read_text())
    assert re.search(r"^total [\d.,]+ [\d.]+ [MG]B [\d.,]+ ×[\d.]+ – –$", text, re.M)
    # Fewer training images, but the dataset's whole test split, as run a.
    assert "validation : not paired, the runs scored different validation images" in text
    assert "test : paired on the same 359 images" in text


def test_bad_inputs_are_refused_in_one_line(runs, tmp_path):
    with pytest.raises(ConfigError, match="at least two run folders, got 1"):
        compare_runs([runs["a"]])
    line = one_error_line(cli("report", "--compare", str(runs["a"])))
    assert line == "error: comparing needs at least two run folders, got 1"
    line = one_error_line(cli("report", "--compare", str(runs["a"]), str(tmp_path)))
    assert line == f"error: {tmp_path}: not a run folder (no stages/)"
    line = one_error_line(cli("report", str(runs["a"]), str(runs["b"])))
    assert "only with --compare" in line
    assert not (tmp_path / "comparison.html").exists()


def test_the_command_writes_the_page_where_asked(runs, tmp_path):
    out = cli(
        "report", "--compare", str(runs["a"]), str(runs["b"]), "--out", str(tmp_path / "x.html")
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("x.html")
    assert "b against a" in text_of((tmp_path / "x.html").read_text())
    # A run's own report is still rendered by `report RUN_DIR`.
    assert cli("report", str(runs["a"])).stdout.startswith("report: ")
