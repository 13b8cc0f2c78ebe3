"""Sphinx configuration of shallowvision's documentation.

`make docs` builds it with warnings as errors (``sphinx-build -W``). Nothing is fetched
at build time: intersphinx is off, the theme's assets come with its package, and the
gallery's examples run on scikit-learn's embedded digits.
"""

import os
import sys
from pathlib import Path

import matplotlib
from sphinx.pycode import ModuleAnalyzer

# The gallery's examples draw off screen, whatever the machine has for a display.
matplotlib.use("Agg")

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
# The package documented is the one beside these docs, installed or not.
sys.path.insert(0, str(ROOT / "src"))

import shallowvision  # noqa: E402

project = "shallowvision"
author = "shallowvision developers"
copyright = "shallowvision developers"
version = release = shallowvision.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py"]
templates_path = ["_templates"]

# -- API reference ---------------------------------------------------------------------
# docs/api/*.rst list each subpackage's ``__all__`` by hand (tests/test_docs.py holds the
# lists and ``__all__`` equal); autosummary writes one page per name from those lists.
autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"members": True, "member-order": "bysource"}
# Signatures keep their annotations; the types are described in the docstrings.
autodoc_typehints = "signature"
# A method without a docstring of its own (say ``fit`` of a transformer) is shown
# without one rather than with scikit-learn's, whose cross-references point into
# scikit-learn's own documentation and would not resolve here.
autodoc_inherit_docstrings = False

# numpydoc: members are listed by the class template, not by numpydoc's own tables.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
# Validation is kept to what makes a docstring render wrongly: an unknown section header
# (GL06; its text would be dropped or misread) and sections out of numpydoc's order
# (GL07). Broken reStructuredText is an error anyway through -W. The style checks
# (every parameter documented, a one-line summary, "See Also" and "Examples" sections
# everywhere) are not demanded: the short docstrings of records and displays would all
# have to be rewritten, and the signatures already show every parameter with its type.
numpydoc_validation_checks = {"GL06", "GL07"}

# -- Example gallery -------------------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples" / "gallery"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    # Stop the build on an example that raises, as on any other warning.
    "abort_on_example_error": True,
    "only_warn_on_example_error": False,
    "download_all_examples": False,
    "remove_config_comments": True,
    "within_subsection_order": "FileNameSortKey",
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    "reset_modules": ("matplotlib",),
    "show_memory": False,
    "plot_gallery": os.environ.get("SHALLOWVISION_DOCS_PLOT", "True"),
    # Each API page ends with the examples that use its object (the templates'
    # ``minigallery``).
    "doc_module": ("shallowvision",),
    "backreferences_dir": "api/generated/backreferences",
}

# -- HTML ------------------------------------------------------------------------------
try:
    import pydata_sphinx_theme  # noqa: F401
except ImportError:  # the docs extra brings it; the default theme needs nothing
    html_theme = "alabaster"
else:
    html_theme = "pydata_sphinx_theme"
    html_theme_options = {
        "navigation_with_keys": False,
        "show_toc_level": 2,
        # The theme links no external assets and asks no server for versions.
        "check_switcher": False,
    }
html_title = f"shallowvision {release}"
html_static_path: list[str] = []
html_show_sourcelink = False


def _skip_metadata_requests(app, what, name, obj, skip, options):
    """Leave out scikit-learn's generated ``set_*_request`` methods.

    scikit-learn adds them to every estimator whose ``fit`` or ``score`` takes extra
    arguments; they are scikit-learn's API, documented there, and their docstrings refer
    to scikit-learn's own glossary.
    """
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return None


def _constant_comment(app, what, name, obj, options, lines):
    """Document a public constant with the ``#:`` comment where it is defined.

    The constants are re-exported from private modules, where autodoc does not look for
    their comments; without one it would show the docstring of the value's type
    ("Built-in immutable sequence ...").
    """
    if what != "data" or not name.startswith("shallowvision."):
        return
    attr = name.rpartition(".")[2]
    for module_name, module in sorted(sys.modules.items()):
        if module_name.startswith("shallowvision.") and getattr(module, attr, None) is obj:
            comments = ModuleAnalyzer.for_module(module_name).find_attr_docs()
            if ("", attr) in comments:
                lines[:] = list(comments[("", attr)])
                return
    lines[:] = []


def setup(app):
    app.connect("autodoc-skip-member", _skip_metadata_requests)
    app.connect("autodoc-process-docstring", _constant_comment)
