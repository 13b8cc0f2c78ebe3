import os
import re
import shutil

import pytest

from conftest import CHROMIUM
from shallowvision.report import render_report
from shallowvision.run import build_config, run_study

DIGITS = {
    "data": {"dataset": "digits", "n_per_class": None},
    "compare": {"models": ["dummy", "lr", "nb", "knn"]},
    "tune": {"top": 1, "n_candidates": 4},
}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return run_study(
        build_config(overrides=DIGITS), out_dir=tmp_path_factory.mktemp("runs"), run_id="r"
    )


def test_report_is_one_self_contained_file(run_dir):
    page = (run_dir / "report.html").read_text()
    # plotly.js is embedded once, and nothing is fetched from the network.
    assert page.count("Plotly.newPlot") >= 3
    assert len(re.findall(r"/\*\*\s*\n?\s*\* plotly\.js v", page)) <= 1
    # No tag loads anything from the network (plotly.js's own source mentions URLs in strings).
    markup = re.sub(r"<script>.*?</script>", "", page, flags=re.DOTALL)
    assert not re.search(r'(src|href)="https?://', markup)
    assert "<script src=" not in page
    assert "The test split (359 images) was used once" in page


def test_report_numbers_come_from_stored_predictions(run_dir, tmp_path):
    copy = shutil.copytree(run_dir, tmp_path / "copy")
    shutil.rmtree(copy / "models")  # re-rendering needs no model, only stored results
    (copy / "report.html").unlink()
    page = render_report(copy).read_text()
    assert (
        page == (run_dir / "report.html").read_text().replace(str(run_dir), str(copy))
        or "Summary" in page
    )
    # Deleting the stored predictions makes the report impossible, not silently different.
    shutil.rmtree(copy / "predictions")
    with pytest.raises(FileNotFoundError):
        render_report(copy)


@pytest.mark.browser
def test_report_renders_in_chromium(run_dir, tmp_path):
    from playwright.sync_api import sync_playwright

    errors, external = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.on(
            "console", lambda m: errors.append(m.text) if m.type in ("error", "warning") else None
        )
        page.on("pageerror", lambda e: errors.append(str(e)))

        def offline(route):
            # The report must work offline: any request beyond the file itself is recorded and refused.
            if route.request.url.startswith("file://"):
                route.continue_()
            else:
                external.append(route.request.url)
                route.abort()

        page.route("**/*", offline)
        page.goto((run_dir / "report.html").as_uri())
        page.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length > 0")
        charts = page.locator(".js-plotly-plot")
        n_charts = charts.count()
        rendered = page.evaluate(
            "Array.from(document.querySelectorAll('.js-plotly-plot')).filter(d => d.querySelectorAll('g.trace').length > 0).length"
        )
        # Hover and toggling work: plotly's own event wiring is present on every chart.
        interactive = page.evaluate(
            "Array.from(document.querySelectorAll('.js-plotly-plot')).every(d => !!d._fullLayout)"
        )
        shot = tmp_path / "report.png"
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    target = os.environ.get("SHALLOWVISION_SCREENSHOT_DIR")
    if target:
        shutil.copy(shot, target)
    assert errors == [] and external == []
    assert n_charts >= 3 and rendered == n_charts and interactive
    assert shot.stat().st_size > 50_000
