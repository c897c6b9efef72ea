"""Sphinx configuration of trustsim's documentation site (``make docs`` writes ``site/``).

Pages are Markdown (MyST); tutorials are MyST notebooks executed at every build
(myst-nb), so their outputs are this version's. Reference pages (command line, scenario
keys, outputs) are generated from the code by ``_ext/reference_pages.py``. Nothing is
fetched from the network, at build time or when a page is read: plotly.js is served
from the site itself.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE / "_ext"))

# The tutorials' kernels run on this machine only (127.0.0.1): their start-up warning about
# unencrypted TCP says nothing about the site, so they get a profile that logs errors only,
# in a scratch folder (a kernel writes its history there).
_PROFILE = Path(tempfile.gettempdir()) / "trustsim-docs-ipython" / "profile_default"
_PROFILE.mkdir(parents=True, exist_ok=True)
(_PROFILE / "ipython_kernel_config.py").write_text('c.IPKernelApp.log_level = "ERROR"\n')
os.environ["IPYTHONDIR"] = str(_PROFILE.parent)

project = "trustsim"
author = "the trustsim developers"
copyright = "2026, the trustsim developers"

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "reference_pages",
    "plotly_offline",
]
source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb"}
root_doc = "index"
exclude_patterns = ["_build", "_ext", "**/.ipynb_checkpoints", "scenario.schema.json"]

# Markdown: headings get anchors that links such as model-choices.md#the-scores-memory use.
myst_heading_anchors = 4
myst_enable_extensions = ["colon_fence", "deflist"]  # no dollarmath: MathJax would load from a CDN

# Notebooks: executed at every build; a cell that raises fails the build.
nb_execution_mode = "force"
nb_execution_raise_on_error = True
nb_execution_timeout = 900
nb_execution_show_tb = True
nb_merge_streams = True

# The API reference: members in source order, type hints in the description.
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "undoc-members": False}

html_theme = "furo"
html_title = "trustsim"
html_static_path: list[str] = []
html_show_sourcelink = False
html_theme_options = {"navigation_with_keys": True}
suppress_warnings = ["myst.header"]
