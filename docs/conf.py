"""Sphinx configuration: myst-nb renders the notebooks the test run executed (never executes them), the
pydata-sphinx-theme, autodoc/autosummary for the API, and flare_docs (docs/_ext) for the generated reference pages
and the checks before and after the build. Build with ``bash scripts/docs.sh``."""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the package, as checked out
sys.path.insert(0, str(HERE / "_ext"))

import flare_jupyter  # noqa: E402

project = "flare-jupyter"
author = "flare-jupyter contributors"
copyright = "flare-jupyter contributors"
release = flare_jupyter.__version__

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "flare_docs",
]
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
templates_path = ["_templates"]

# myst-nb: the notebooks come executed (outputs and widget state) from the test run: never execute them here.
nb_execution_mode = "off"
nb_output_stderr = "show"
myst_enable_extensions = ["colon_fence"]

# the API reference
autosummary_generate = True
autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "description"
napoleon_google_docstring = True
napoleon_numpy_docstring = False

html_theme = "pydata_sphinx_theme"
html_title = "flare-jupyter"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "footer_start": ["copyright"],
    "footer_end": [],
}
html_sidebars = {"**": ["sidebar-nav-bs"]}
html_show_sourcelink = False
html_static_path = ["_static"]
html_css_files = ["flare.css"]
