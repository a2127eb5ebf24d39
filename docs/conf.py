"""Sphinx configuration: the API reference from the numpydoc docstrings, and the Markdown pages.

Build with ``make docs`` (into build/docs, warnings as errors); tests/test_docs_build.py
runs the same build.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from msft_cli import __version__  # noqa: E402

project = "msft"
author = "the msft authors"
copyright = "the msft authors, MIT license"
version = release = __version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]

# Markdown: heading anchors for links such as FORMAT.md#provenance-attributes
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]

# numpydoc: the docstrings list their own members where it matters; the class pages
# document every public method with autodoc's :members:.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks = set()

autodoc_member_order = "bysource"
autodoc_typehints = "none"
autodoc_default_options = {"members": True}


html_theme = "alabaster"
html_title = f"msft {version}"
html_static_path = []
