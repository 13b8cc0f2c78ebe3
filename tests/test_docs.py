"""The API reference names exactly the public API, and the gallery's examples are well-formed.

The public API is the ``__all__`` of each public subpackage. docs/api/<name>.rst lists
those names in autosummary directives, one page per subpackage; these tests hold the
lists and ``__all__`` equal both ways, so a name added to, renamed in or removed from a
package cannot be forgotten by the reference, and the reference cannot document a name
that is not public. They read the files only; `make docs` runs Sphinx.
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "shallowvision"
API = ROOT / "docs" / "api"
GALLERY = ROOT / "examples" / "gallery"

# The command line is documented in the user guide (docs/guide/cli.md), command by
# command; its Python names (the Typer app and its entry point) are not a library API.
NOT_IN_REFERENCE = {"cli"}


def public_subpackages() -> list[str]:
    """Every public package and module directly under shallowvision, found on disk."""
    names = [
        path.stem if path.is_file() else path.name
        for path in PACKAGE.iterdir()
        if not path.name.startswith("_")
        and ((path.is_dir() and (path / "__init__.py").exists()) or path.suffix == ".py")
    ]
    return sorted(set(names) - NOT_IN_REFERENCE)


def reference_names(text: str) -> list[str]:
    """The names an API page lists in its ``autosummary`` directives, in order."""
    names: list[str] = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.strip() != ".. autosummary::":
            continue
        for entry in lines[i + 1 :]:
            if entry and not entry.startswith(" "):
                break  # the directive's body ends at the first unindented line
            item = entry.strip()
            if item and not item.startswith(":"):
                names.append(item)
    return names


def drift(package: str, text: str) -> tuple[list[str], list[str], list[str]]:
    """Names of ``package``'s ``__all__`` missing from the page, names on the page outside
    it, and names the page lists more than once."""
    public = set(importlib.import_module(f"shallowvision.{package}").__all__)
    listed = reference_names(text)
    duplicated = sorted({name for name in listed if listed.count(name) > 1})
    return sorted(public - set(listed)), sorted(set(listed) - public), duplicated


def test_every_public_subpackage_has_one_page_in_the_reference():
    pages = sorted(path.stem for path in API.glob("*.rst") if path.stem != "index")
    assert pages == public_subpackages()
    index = (API / "index.rst").read_text(encoding="utf-8")
    toctree = re.findall(r"^   (\w+)$", index, flags=re.MULTILINE)
    assert sorted(toctree) == pages


@pytest.mark.parametrize("package", public_subpackages())
def test_reference_lists_exactly_the_public_names(package):
    text = (API / f"{package}.rst").read_text(encoding="utf-8")
    assert f".. currentmodule:: shallowvision.{package}\n" in text
    missing, extra, duplicated = drift(package, text)
    assert missing == [], f"add to docs/api/{package}.rst: {missing}"
    assert extra == [], f"not in shallowvision.{package}.__all__: {extra}"
    assert duplicated == [], f"listed twice in docs/api/{package}.rst: {duplicated}"


def test_drift_is_found_both_ways():
    text = (API / "report.rst").read_text(encoding="utf-8")
    assert reference_names(text)  # the parser finds the listed names at all
    with_bogus = text.replace("   render_report\n", "   render_report\n   not_a_public_name\n")
    assert drift("report", with_bogus) == ([], ["not_a_public_name"], [])
    without = text.replace("   render_report\n", "")
    assert drift("report", without) == (["render_report"], [], [])


@pytest.mark.parametrize("path", sorted(GALLERY.glob("plot_*.py")), ids=lambda p: p.name)
def test_gallery_examples_have_a_title_and_use_the_package(path):
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source)
    docstring = ast.get_docstring(tree, clean=False) or ""
    lines = docstring.strip().splitlines()
    # sphinx-gallery takes the example's title from an underlined first line.
    assert len(lines) >= 3, path
    assert set(lines[1]) == {"="} and len(lines[1]) >= len(lines[0]), lines[:2]
    imported = {
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module is not None
    }
    assert any(module.startswith("shallowvision.") for module in imported)
    # Examples run offline during the build: on the digits inside scikit-learn only.
    assert '"digits"' in source


def test_gallery_has_examples():
    assert len(sorted(GALLERY.glob("plot_*.py"))) >= 3
    assert (GALLERY / "README.rst").exists()
