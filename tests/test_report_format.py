"""Stored runs and the report: a run folder written by an earlier shallowvision still renders
with the same text and numbers.

``data/run-format-1.tar.xz`` is a run folder as the first stage-file format left it
(written by ``shallowvision run digits --preset quick --n-per-class 20 -m dummy,lr,nb,knn
--set scale.max_images=100 --set robustness.n_images=50``; its models, report and
evaluation files left out, as the report reads none of them), and
``data/run-format-1.report.txt`` the digest of the report that version rendered from it.
"""

from __future__ import annotations

import html
import json
import re
import tarfile
from pathlib import Path

import pytest

from shallowvision.report import render_report
from shallowvision.report._records import STAGE_FORMAT, RunManifest, read_stage
from test_cli import cli
from test_hostile import one_error_line

DATA = Path(__file__).parent / "data"


def report_digest(page: str, run_dir: Path) -> str:
    """What a report shows, for comparing two renderings: each section's text, a line per
    paragraph or table row, and the data of the charts the report draws itself (the others
    are stored figures it copies). The run folder's path reads ``RUN``."""
    page = page.replace(str(run_dir), "RUN")
    out = []
    for key, body in re.findall(r'<section id="([a-z]+)">(.*?)</section>', page, re.DOTALL):
        body = re.sub(r"<script.*?</script>", "", body, flags=re.DOTALL)
        body = re.sub(r"</(p|tr|h2|h3|li|figcaption|summary)>|<br>", "\n", body)
        text = html.unescape(re.sub(r"<[^>]+>", " ", body))
        lines = (re.sub(r"\s+", " ", line).strip() for line in text.splitlines())
        out += [f"## {key}", *filter(None, lines)]
    decoder = json.JSONDecoder()
    for found in re.finditer(r'Plotly\.newPlot\(\s*"chart-([^"]+)",\s*', page):
        name = found.group(1)
        if not (run_dir / "figures" / f"{name}.json").is_file():
            traces, _ = decoder.raw_decode(page, found.end())
            out += [f"## chart {name}", json.dumps(traces, sort_keys=True)]
    return "\n".join(out) + "\n"


@pytest.fixture
def old_run(tmp_path: Path) -> Path:
    """A copy of the run folder in the first stage-file format."""
    with tarfile.open(DATA / "run-format-1.tar.xz") as tar:
        tar.extractall(tmp_path, filter="data")
    return tmp_path / "run-format-1"


def test_a_run_of_the_first_format_renders_the_report_it_had(old_run):
    page = render_report(old_run).read_text()
    expected = (DATA / "run-format-1.report.txt").read_text()
    assert report_digest(page, old_run) == expected


def test_every_stage_file_of_the_first_format_reads_as_the_same_results(old_run):
    paths = sorted((old_run / "stages").glob("*.json"))
    assert len(paths) == 13  # every stage of a study, report included
    for path in paths:
        stored = read_stage(path)
        assert stored is not None and stored.output is not None
        written = json.loads(path.read_text())
        assert "format" not in written
        assert stored.to_dict() == {"format": STAGE_FORMAT, **written}, path.name
    manifest = json.loads((old_run / "manifest.json").read_text())
    assert RunManifest.from_dict(manifest).to_dict() == manifest


def test_the_runner_reads_a_run_of_the_first_format(old_run):
    from shallowvision.report._records import DataOutput
    from shallowvision.run import RunContext, load_run_config
    from shallowvision.run._scale import subsamples

    ctx = RunContext(load_run_config(old_run), old_run)
    assert ctx.result(DataOutput).splits["train"].n_images == 200
    assert [c.name for c in ctx.candidates()][:4] == ["dummy", "lr", "nb", "knn"]
    # What the run took, worked out again from the converted records, is what it recorded.
    manifest = json.loads((old_run / "manifest.json").read_text())
    assert [s.to_dict() for s in subsamples(ctx)] == manifest["subsamples"]


def test_the_report_command_renders_a_run_of_the_first_format(old_run):
    out = cli("report", str(old_run))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"report: {old_run / 'report.html'}"


def test_a_first_format_file_that_does_not_fit_is_refused_in_one_line(old_run):
    path = old_run / "stages" / "eda.json"
    stored = json.loads(path.read_text())
    del stored["result"]["charts"]
    path.write_text(json.dumps(stored))
    line = one_error_line(cli("report", str(old_run)))
    assert line == (
        f"error: {path}: stage file of format 1 that this shallowvision cannot convert "
        "(eda: no 'charts'); `shallowvision run --resume` redoes the stage"
    )
    assert not (old_run / "report.html").exists()


def test_a_stage_file_of_a_later_format_is_refused_in_one_line(old_run):
    path = old_run / "stages" / "final.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "format": STAGE_FORMAT + 1}))
    line = one_error_line(cli("report", str(old_run)))
    assert line == (
        f"error: {path}: stage file of format {STAGE_FORMAT + 1}, newer than this shallowvision "
        f"reads (format {STAGE_FORMAT}); render the run with the shallowvision that wrote it, "
        "or `shallowvision run --resume` redoes the stage"
    )


def test_a_damaged_manifest_is_named_in_one_line(old_run):
    path = old_run / "manifest.json"
    manifest = json.loads(path.read_text())
    del manifest["stages"]
    path.write_text(json.dumps(manifest))
    line = one_error_line(cli("report", str(old_run)))
    assert line == (
        f"error: {path}: damaged manifest (no 'stages'); "
        "`shallowvision run --resume` writes it again"
    )


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"format": "2"}, "format '2'"),
        ({"format": 2, "result": {"models": []}}, "robustness: no 'evaluated_on'"),
        ({"format": 2, "stage": "errors"}, "it holds the stage 'errors'"),
    ],
)
def test_a_stage_file_that_does_not_fit_its_record_is_named(old_run, change, problem):
    from shallowvision import ConfigError

    path = old_run / "stages" / "robustness.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **change}))
    with pytest.raises(ConfigError) as error:
        read_stage(path)
    assert str(error.value) == (
        f"{path}: damaged stage file ({problem}); `shallowvision run --resume` redoes the stage"
    )


def test_comparison_rows_are_read_back_as_the_model_scores_they_were(old_run):
    from shallowvision.models import ModelScore

    rows = read_stage(old_run / "stages" / "compare.json").output.comparison.rows
    assert rows and all(type(row) is ModelScore for row in rows)
    assert [ModelScore.from_dict(row.to_dict()) for row in rows] == rows
    stored = json.loads((old_run / "stages" / "compare.json").read_text())
    assert [row.to_dict() for row in rows] == stored["result"]["comparison"]["rows"]


def test_a_value_that_does_not_fit_is_named_by_its_path(old_run):
    from shallowvision import ConfigError

    path = old_run / "stages" / "robustness.json"
    stored = json.loads(path.read_text())
    del stored["result"]["models"][0]["rows"][1]["drop"]
    path.write_text(json.dumps(stored))
    with pytest.raises(ConfigError, match=r"\(robustness\.models\[0\]\.rows\[1\]: no 'drop'\)"):
        read_stage(path)
    stored["result"]["models"] = {"lr": stored["result"]["models"][0]}
    path.write_text(json.dumps(stored))
    with pytest.raises(ConfigError, match=r"\(robustness\.models: a dict where a list belongs\)"):
        read_stage(path)
