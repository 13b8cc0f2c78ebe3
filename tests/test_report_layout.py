"""The report's layout, measured in Chromium on the report of a small real run.

Every section is photographed (into pytest's temporary folder, and into
``$SHALLOWVISION_SCREENSHOT_DIR/<run>/`` when that is set, for a person to look at), and
its geometry read from the DOM at the same moment; the checks run on both:

- no two text boxes of a section (chart titles, axis titles, tick labels, annotations
  such as gallery captions, colour bar labels, legends, menus) intersect, and none is
  cut off by the edge of its chart;
- image mosaics show each image at least 56 CSS pixels wide and high, and no caption
  runs into an image;
- the plotly mode bar covers no title or text of its chart;
- no chart has more than a fifth of its height empty (see :func:`empty_share`);
- printed, the report hides its navigation and controls, keeps charts and table rows
  whole, starts every section on a new page, fits the page's width without clipping
  anything, and makes a PDF of several pages.

``SHALLOWVISION_REPORT_RUN=<run folder>`` runs the same checks on another run's report
too (the quick Fashion-MNIST study, say), and checks that it stays under 8 MB.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conftest import launch_chromium

pytestmark = pytest.mark.browser

#: Thumbnails in a mosaic are at least this many CSS pixels on each side.
MIN_TILE = 56
#: Two boxes intersect when they overlap by more than this (CSS pixels) in every
#: direction: a glyph's box includes the font's ascent and descent, so boxes of text on
#: neighbouring lines may touch where the letters do not.
TOLERANCE = 1.0
#: The largest share of a chart's height that may be empty.
MAX_EMPTY = 0.2
#: The report is laid out on a screen of this size.
VIEWPORT = {"width": 1400, "height": 900}
#: The printed page's content box in CSS pixels: A4 landscape less 10 mm margins
#: (the report's ``@page`` rule).
PRINT_VIEWPORT = {"width": round(277 / 25.4 * 96), "height": round(190 / 25.4 * 96)}
#: The largest report the quick Fashion-MNIST study may write.
MAX_REPORT_BYTES = 8_000_000

# Mode bars show on hover only; the screenshots show them all, as hovering would.
_SHOW_MODE_BARS = (
    ".js-plotly-plot .plotly .modebar--hover > :not(.watermark) { opacity: 1 !important; }"
)

_GEOMETRY = """
() => {
  // An SVG element's own box on the page as four corners, through its transforms: a
  // rotated tick label stays a rotated box, not the larger upright box around it.
  const quad = (el) => {
    const b = el.getBBox();
    const m = el.getScreenCTM();
    if (!m || b.width <= 0 || b.height <= 0) return null;
    return [[b.x, b.y], [b.x + b.width, b.y], [b.x + b.width, b.y + b.height], [b.x, b.y + b.height]]
      .map(([x, y]) => [m.a * x + m.c * y + m.e + scrollX, m.b * x + m.d * y + m.f + scrollY]);
  };
  const rect = (el) => {
    const r = el.getBoundingClientRect();
    return [r.left + scrollX, r.top + scrollY, r.right + scrollX, r.bottom + scrollY];
  };
  const corners = ([x0, y0, x1, y1]) => [[x0, y0], [x1, y0], [x1, y1], [x0, y1]];
  const shown = (el) => el.checkVisibility({ opacityProperty: true, visibilityProperty: true });
  const kind = (el) => {
    const inside = (s) => el.closest(s) !== null;
    if (inside('.g-gtitle')) return 'title';
    if (inside('.xtick, .ytick, [class*="tick"]')) return 'tick label';
    if (inside('.infolayer [class$="title"], .g-xtitle, .g-ytitle')) return 'axis title';
    if (inside('.annotation')) return 'annotation';
    if (inside('.colorbar')) return 'colour bar';
    if (inside('.updatemenu-container')) return 'menu';
    return 'text';
  };
  return Array.from(document.querySelectorAll('main section')).map((section) => ({
    id: section.id,
    rect: rect(section),
    charts: Array.from(section.querySelectorAll('.js-plotly-plot')).map((gd) => {
      const full = gd._fullLayout;
      const box = gd.getBoundingClientRect();
      const texts = Array.from(gd.querySelectorAll('svg text'))
        .filter((t) => !t.closest('.hoverlayer, .legend') && t.textContent.trim() !== '' && shown(t))
        .map((t) => ({ kind: kind(t), text: t.textContent.trim(), quad: quad(t) }))
        .filter((t) => t.quad !== null);
      // A legend is one box: its entries never overlap each other, and nothing else may
      // overlap any part of it.
      for (const legend of gd.querySelectorAll('.legend .bg')) {
        if (shown(legend)) {
          const entries = legend.closest('.legend').textContent.trim();
          texts.push({ kind: 'legend', text: entries, quad: corners(rect(legend)) });
        }
      }
      const bar = gd.querySelector('.modebar');
      // Plot areas of visible axes: what is drawn inside them is data, however sparse.
      const plots = Object.values(full._plots || {})
        .filter((p) => p.xaxis.visible || p.yaxis.visible)
        .map((p) => [box.top + scrollY + p.yaxis._offset, box.top + scrollY + p.yaxis._offset + p.yaxis._length]);
      const tiles = full.meta && full.meta.tiles;
      let tileRects = [];
      if (tiles) {
        const xa = full.xaxis, ya = full.yaxis;
        const [h, w] = tiles.size;
        tileRects = tiles.corners.map(([top, left]) => {
          const xs = [left - 0.5, left + w - 0.5].map((v) => box.left + scrollX + xa._offset + xa.l2p(v));
          const ys = [top - 0.5, top + h - 0.5].map((v) => box.top + scrollY + ya._offset + ya.l2p(v));
          return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
        });
      }
      return {
        id: gd.id,
        title: (full.title && full.title.text) || '',
        rect: rect(gd),
        paper: full.paper_bgcolor,
        modebar: bar && shown(bar) ? rect(bar) : null,
        texts,
        plots,
        tiles: tileRects,
      };
    }),
  }));
}
"""


@dataclass
class Chart:
    id: str
    title: str
    rect: list[float]
    paper: str
    modebar: list[float] | None
    texts: list[dict[str, Any]]
    plots: list[list[float]]
    tiles: list[list[float]]


@dataclass
class LaidOutSection:
    id: str
    rect: list[float]
    charts: list[Chart]
    screenshot: Path

    def pixels(self) -> np.ndarray:
        from PIL import Image

        with Image.open(self.screenshot) as image:
            return np.asarray(image.convert("RGB"))


@dataclass
class LaidOut:
    """A report as Chromium laid it out: its sections with their screenshots."""

    name: str
    report: Path
    sections: list[LaidOutSection]


# -- geometry ---------------------------------------------------------------------------------
def overlap(a: list[list[float]], b: list[list[float]]) -> float:
    """How deep two convex quadrilaterals overlap (CSS pixels); 0 or less when apart.

    The separating axis test: the quads are apart when their shadows on the normal of
    some edge do not meet; otherwise the least overlap of the shadows is how deep they
    overlap.
    """
    pa, pb = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    depth = np.inf
    for quad in (pa, pb):
        edges = np.roll(quad, -1, axis=0) - quad
        for dx, dy in edges:
            length = np.hypot(dx, dy)
            if length == 0:
                continue
            normal = np.array([-dy, dx]) / length
            sa, sb = pa @ normal, pb @ normal
            depth = min(depth, min(sa.max(), sb.max()) - max(sa.min(), sb.min()))
    return float(depth)


def _rect_quad(rect: list[float]) -> list[list[float]]:
    x0, y0, x1, y1 = rect
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]


def intersecting(boxes: list[dict[str, Any]]) -> list[tuple[dict, dict, float]]:
    """Pairs of boxes (dicts with a ``quad``) overlapping by more than :data:`TOLERANCE`."""
    if len(boxes) < 2:
        return []
    quads = np.asarray([b["quad"] for b in boxes], dtype=float)
    lo, hi = quads.min(axis=1), quads.max(axis=1)
    # Upright bounds first (fast), the exact test only where they meet.
    meet = (np.minimum(hi[:, None], hi[None]) - np.maximum(lo[:, None], lo[None]) > TOLERANCE).all(
        axis=2
    )
    pairs = []
    for i, j in zip(*np.nonzero(np.triu(meet, k=1)), strict=True):
        depth = overlap(boxes[i]["quad"], boxes[j]["quad"])
        if depth > TOLERANCE:
            pairs.append((boxes[i], boxes[j], depth))
    return pairs


def _describe(box: dict[str, Any]) -> str:
    return f"{box['kind']} {box['text'][:40]!r}"


def empty_share(chart: Chart, section: LaidOutSection, pixels: np.ndarray) -> float:
    """The share of a chart's height that is empty, measured on the section's screenshot.

    A row of the chart is empty when every pixel of it in the screenshot is the chart's
    background colour (within 3 levels, for anti-aliasing) and it crosses nothing the
    chart lays out: not the plot area of a visible axis (a box plot's or a scatter's
    sparse marks leave background rows inside their axes, and those rows are data
    space), not a text box (a title's line, with its ascent and descent), not the legend
    or the mode bar (shown in the screenshots, as on hover). What remains is the space a
    reader sees wasted: bands around a mosaic of images (whose axes are hidden), too
    much room for captions, an oversized margin or gap.
    """
    x0, y0, x1, y1 = (round(v) for v in chart.rect)
    ox, oy = (round(v) for v in section.rect[:2])
    crop = pixels[y0 - oy : y1 - oy, x0 - ox : x1 - ox].astype(int)
    background = np.asarray(_rgb(chart.paper))
    blank = (np.abs(crop - background).max(axis=2) <= 3).all(axis=1)
    rows = np.arange(y0, y0 + len(blank)) + 0.5
    used = list(chart.plots)
    if chart.modebar is not None:
        used.append([chart.modebar[1], chart.modebar[3]])
    used += [[min(y for _, y in t["quad"]), max(y for _, y in t["quad"])] for t in chart.texts]
    for top, bottom in used:
        blank &= ~((rows >= top) & (rows <= bottom))
    return float(blank.mean()) if len(blank) else 0.0


def _rgb(colour: str) -> tuple[int, int, int]:
    colour = colour.strip().lower()
    names = {"white": (255, 255, 255)}
    if colour in names:
        return names[colour]
    if colour.startswith("#"):
        digits = colour[1:]
        if len(digits) == 3:
            digits = "".join(c * 2 for c in digits)
        return (int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16))
    numbers = re.findall(r"[\d.]+", colour)
    return (int(float(numbers[0])), int(float(numbers[1])), int(float(numbers[2])))


# -- fixtures ---------------------------------------------------------------------------------
_GIVEN = os.environ.get("SHALLOWVISION_REPORT_RUN")


@pytest.fixture(scope="module", params=["digits"] + (["given"] if _GIVEN else []))
def run_folder(request) -> Path:
    """The digits run's folder, and the one ``SHALLOWVISION_REPORT_RUN`` names (if any)."""
    if request.param == "given":
        return Path(_GIVEN).resolve()  # type: ignore[arg-type]
    return request.getfixturevalue("digits_run")


def _name(run_folder: Path) -> str:
    """The screenshots' folder name: the run's id, and its folder's name above it."""
    return f"{run_folder.parent.name}-{run_folder.name}"


def _screenshot_folder(name: str, tmp: Path) -> Path:
    folder = tmp / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _publish(folder: Path, name: str) -> None:
    """Copy the screenshots where a person can look at them, if they asked."""
    target = os.environ.get("SHALLOWVISION_SCREENSHOT_DIR")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copytree(folder, Path(target) / name, dirs_exist_ok=True)


def lay_out(report: Path, folder: Path) -> list[LaidOutSection]:
    """Open ``report`` in Chromium on a screen, read every section's geometry and
    photograph it into ``folder``."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page(viewport=VIEWPORT)
        page.goto(report.as_uri())
        page.wait_for_function(
            "document.querySelectorAll('.js-plotly-plot').length > 0 && "
            "Array.from(document.querySelectorAll('.js-plotly-plot')).every(d => d._fullLayout)"
        )
        page.add_style_tag(content=_SHOW_MODE_BARS)
        geometry = page.evaluate(_GEOMETRY)
        sections = []
        for s in geometry:
            shot = folder / f"{s['id']}.png"
            page.locator(f"section#{s['id']}").screenshot(path=str(shot))
            sections.append(
                LaidOutSection(s["id"], s["rect"], [Chart(**c) for c in s["charts"]], shot)
            )
        browser.close()
    return sections


@pytest.fixture(scope="module")
def laid_out(run_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> LaidOut:
    """The report on screen: each section's geometry and screenshot."""
    report = run_folder / "report.html"
    name = _name(run_folder)
    folder = _screenshot_folder(name, tmp_path_factory.mktemp("screen"))
    sections = lay_out(report, folder)
    _publish(folder, name)
    return LaidOut(name, report, sections)


# -- on screen --------------------------------------------------------------------------------
def overlapping_text(sections: list[LaidOutSection]) -> list[str]:
    """Text boxes of a section that intersect (across its charts, too)."""
    found = []
    for s in sections:
        boxes = [dict(t, chart=c.id) for c in s.charts for t in c.texts]
        for a, b, depth in intersecting(boxes):
            found.append(
                f"{s.id}: {a['chart']} {_describe(a)} and {b['chart']} {_describe(b)} "
                f"overlap by {depth:.1f} px"
            )
    return found


def cut_off_text(sections: list[LaidOutSection]) -> list[str]:
    """Text boxes reaching past the edge of their chart (the chart cuts them off)."""
    found = []
    for s in sections:
        for c in s.charts:
            x0, y0, x1, y1 = c.rect
            for t in c.texts:
                q = np.asarray(t["quad"])
                out = max(
                    x0 - q[:, 0].min(), q[:, 0].max() - x1, y0 - q[:, 1].min(), q[:, 1].max() - y1
                )
                if out > TOLERANCE:
                    found.append(f"{s.id}: {c.id} {_describe(t)} sticks out by {out:.1f} px")
    return found


def small_thumbnails(sections: list[LaidOutSection]) -> list[str]:
    """Mosaics whose smallest image is under :data:`MIN_TILE` pixels wide or high."""
    found = []
    for s in sections:
        for c in s.charts:
            if c.tiles:
                side = min(min(x1 - x0, y1 - y0) for x0, y0, x1, y1 in c.tiles)
                if side < MIN_TILE:
                    found.append(f"{s.id}: {c.id} shows images {side:.1f} px wide")
    return found


def captions_on_images(sections: list[LaidOutSection]) -> list[str]:
    """Text of a mosaic that covers one of its images."""
    found = []
    for s in sections:
        for c in s.charts:
            for t in c.texts:
                depth = max((overlap(t["quad"], _rect_quad(r)) for r in c.tiles), default=0.0)
                if depth > TOLERANCE:
                    found.append(f"{s.id}: {c.id} {_describe(t)} covers an image by {depth:.1f} px")
    return found


def covered_by_mode_bar(sections: list[LaidOutSection]) -> list[str]:
    """Titles and other text of a chart that its mode bar covers."""
    found = []
    for s in sections:
        for c in s.charts:
            if c.modebar is None:
                found.append(f"{s.id}: {c.id} has no mode bar")
                continue
            for t in c.texts:
                if overlap(_rect_quad(c.modebar), t["quad"]) > 0:
                    found.append(f"{s.id}: {c.id}'s mode bar covers {_describe(t)}")
    return found


def empty_charts(sections: list[LaidOutSection]) -> list[str]:
    """Charts more than :data:`MAX_EMPTY` of whose height is empty."""
    found = []
    for s in sections:
        pixels = s.pixels()
        for c in s.charts:
            share = empty_share(c, s, pixels)
            if share > MAX_EMPTY:
                found.append(
                    f"{s.id}: {c.id} ({c.rect[3] - c.rect[1]:.0f} px) is {share:.0%} empty"
                )
    return found


def test_every_section_is_photographed(laid_out):
    from PIL import Image

    assert [s.id for s in laid_out.sections][:2] == ["summary", "data"]
    for s in laid_out.sections:
        with Image.open(s.screenshot) as image:
            width, height = image.size
        # The screenshot is the section, whole: the geometry's coordinates apply to it.
        assert abs(width - (s.rect[2] - s.rect[0])) < 2, s.id
        assert abs(height - (s.rect[3] - s.rect[1])) < 2, s.id
    assert sum(len(s.charts) for s in laid_out.sections) >= 20


def test_no_two_text_boxes_intersect(laid_out):
    assert overlapping_text(laid_out.sections) == []


def test_no_text_is_cut_off_by_its_chart(laid_out):
    assert cut_off_text(laid_out.sections) == []


def test_thumbnails_are_at_least_56_px(laid_out):
    assert sum(bool(c.tiles) for s in laid_out.sections for c in s.charts) >= 5
    assert small_thumbnails(laid_out.sections) == []


def test_captions_never_run_into_images(laid_out):
    assert captions_on_images(laid_out.sections) == []


def test_mode_bar_covers_no_title_or_text(laid_out):
    assert covered_by_mode_bar(laid_out.sections) == []


def test_no_chart_is_more_than_a_fifth_empty(laid_out):
    assert empty_charts(laid_out.sections) == []


def test_report_is_under_8_mb(laid_out):
    assert laid_out.report.stat().st_size < MAX_REPORT_BYTES


# -- printed ----------------------------------------------------------------------------------
_PRINT_GEOMETRY = """
() => {
  // Drawn, with a box: SVG elements hidden by CSS still pass checkVisibility.
  const visible = (el) => {
    const r = el.getBoundingClientRect();
    return el.checkVisibility({ opacityProperty: true, visibilityProperty: true }) && r.width > 0 && r.height > 0;
  };
  const all = Array.from(document.querySelectorAll('body *'));
  const clipped = all.filter((el) => {
    const style = getComputedStyle(el);
    const clips = (v) => v !== 'visible' && v !== 'clip';
    return visible(el) && !el.closest('.js-plotly-plot')
      && ((clips(style.overflowX) && el.scrollWidth > el.clientWidth + 1)
        || (clips(style.overflowY) && el.scrollHeight > el.clientHeight + 1));
  }).map((el) => el.tagName.toLowerCase() + (el.className ? '.' + el.className : ''));
  // Inside a chart, the SVG's own viewport clips what its groups reach past (points off an
  // axis's range): the chart's cell is checked as a whole, and below, its drawing against it.
  const wide = all.filter((el) => visible(el) && !el.closest('.js-plotly-plot')
      && el.getBoundingClientRect().right > innerWidth + 1)
    .map((el) => (el.id || el.tagName.toLowerCase() + '.' + el.getAttribute('class'))
      + ' in ' + (el.closest('.js-plotly-plot') || {}).id + ' ' + Math.round(el.getBoundingClientRect().right));
  // A chart drawn wider than its cell would run into the next one.
  const spilling = Array.from(document.querySelectorAll('.chart')).filter((cell) => {
    const drawn = cell.querySelector('.svg-container');
    return drawn && drawn.getBoundingClientRect().right > cell.getBoundingClientRect().right + 1;
  }).map((cell) => cell.querySelector('.js-plotly-plot').id);
  const style = (sel, prop) => Array.from(document.querySelectorAll(sel)).map((el) => getComputedStyle(el)[prop]);
  return {
    page: document.documentElement.scrollWidth,
    clipped,
    wide: wide.slice(0, 20),
    spilling,
    controls: Array.from(document.querySelectorAll('nav, .modebar-container, .updatemenu-container')).filter(visible).length,
    sectionBreaks: style('main section', 'breakBefore'),
    keptWhole: style('.chart, .card, figure, tr, pre', 'breakInside'),
    headings: style('h2, h3', 'breakAfter'),
    colours: getComputedStyle(document.body).printColorAdjust,
    details: Array.from(document.querySelectorAll('details pre')).map((el) => el.getBoundingClientRect().height),
  };
}
"""


@pytest.fixture(scope="module")
def printed(run_folder: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The report as printed: its print layout on a page-wide viewport, section
    screenshots of it, and a PDF (from a screen-sized window, as a reader prints it)."""
    from playwright.sync_api import sync_playwright

    report = run_folder / "report.html"
    name = f"{_name(run_folder)}-print"
    folder = _screenshot_folder(name, tmp_path_factory.mktemp("print"))
    with sync_playwright() as p:
        browser = launch_chromium(p)
        page = browser.new_page(viewport=VIEWPORT)
        page.goto(report.as_uri())
        page.wait_for_function(
            "Array.from(document.querySelectorAll('.js-plotly-plot')).every(d => d._fullLayout)"
        )
        pdf = folder / "report.pdf"
        page.pdf(path=str(pdf), prefer_css_page_size=True, print_background=True)
        page.emulate_media(media="print")
        page.set_viewport_size(PRINT_VIEWPORT)
        # Plotly redraws its charts for the new width: wait until every one has.
        page.wait_for_function(
            "Array.from(document.querySelectorAll('.js-plotly-plot'))"
            ".every(d => Math.abs(d._fullLayout.width - d.clientWidth) < 1)"
        )
        geometry = page.evaluate(_PRINT_GEOMETRY)
        sections = []
        for s in page.evaluate(_GEOMETRY):
            shot = folder / f"{s['id']}.png"
            page.locator(f"section#{s['id']}").screenshot(path=str(shot))
            sections.append(
                LaidOutSection(s["id"], s["rect"], [Chart(**c) for c in s["charts"]], shot)
            )
        browser.close()
    _publish(folder, name)
    return {"geometry": geometry, "pdf": pdf, "sections": sections}


def test_print_hides_navigation_and_controls(printed):
    g = printed["geometry"]
    assert g["controls"] == 0
    assert g["colours"] == "exact"


def test_print_keeps_charts_whole_and_starts_sections_on_a_page(printed):
    g = printed["geometry"]
    assert g["sectionBreaks"][0] != "page" and set(g["sectionBreaks"][1:]) == {"page"}
    assert g["keptWhole"] and set(g["keptWhole"]) == {"avoid"}
    assert set(g["headings"]) == {"avoid"}
    # The effective configuration, folded away on screen, is printed.
    assert g["details"] and min(g["details"]) > 100


def test_print_keeps_text_apart_and_whole(printed):
    # Plotly redraws the charts for the page's width: their text must still fit.
    assert overlapping_text(printed["sections"]) == []
    assert cut_off_text(printed["sections"]) == []


def test_print_fits_the_page_without_hiding_anything(printed):
    g = printed["geometry"]
    assert g["clipped"] == []
    assert g["wide"] == [] and g["page"] <= PRINT_VIEWPORT["width"]
    assert g["spilling"] == []


def test_print_makes_a_pdf_of_pages(printed, laid_out):
    data = printed["pdf"].read_bytes()
    assert data.startswith(b"%PDF-")
    pages = len(re.findall(rb"/Type\s*/Page(?!s)", data))
    # Every section starts on a page of its own.
    assert pages >= len(laid_out.sections)
