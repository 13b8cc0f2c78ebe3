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
from shallowvision.report._records import ScoreRow, read_stage

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


def test_every_stage_file_reads_back_as_it_was_written(old_run):
    paths = sorted((old_run / "stages").glob("*.json"))
    assert len(paths) == 13  # every stage of a study, report included
    for path in paths:
        stored = read_stage(path)
        assert stored is not None and stored.output is not None
        assert stored.to_dict() == json.loads(path.read_text()), path.name


def test_comparison_rows_keep_every_field_of_the_model_scores():
    import dataclasses

    from shallowvision.models import ModelScore

    def defaults(kind):
        return {
            f.name: f.default if f.default_factory is dataclasses.MISSING else f.default_factory()
            for f in dataclasses.fields(kind)
        }

    assert defaults(ScoreRow) == defaults(ModelScore)
