"""Sphinx configuration for skelcl (built with warnings as errors in CI)."""

import os
import sys

sys.path.insert(0, os.path.abspath(".."))

project = "skelcl"
author = "skelcl developers"
copyright = "2026, skelcl developers"
release = "0.1.0"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.doctest",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
]

autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": True}
autodoc_typehints = "description"
autodoc_member_order = "bysource"
autosummary_generate = False
napoleon_google_docstring = True
napoleon_numpy_docstring = True
napoleon_use_rtype = False
nitpicky = False
suppress_warnings = ["autodoc.import_object"]

doctest_global_setup = """
import os
import numpy as np
import torch
torch.manual_seed(0)
DATA_DIR = os.environ.get("SKELCL_DATA_DIR", os.path.join("..", "shared", "data"))
"""

templates_path = []
exclude_patterns = ["_build"]
html_theme = "alabaster"
html_static_path = []
