"""Serve plotly.js from the site itself, so that the tutorials' figures draw with no network.

The tutorials' kernels render figures as a ``<div>`` and a call of ``Plotly.newPlot``
(``notebook_setup.py``); this extension copies the plotly.js of the installed plotly
package into the build and loads it on every page.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import plotly
from sphinx.application import Sphinx

SCRIPT = "plotly.min.js"


def _copy_plotly(app: Sphinx, exception: Exception | None) -> None:
    if exception is None and app.builder.format == "html":
        source = Path(plotly.__file__).parent / "package_data" / SCRIPT
        target = Path(app.outdir) / "_static" / SCRIPT
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)


def setup(app: Sphinx) -> dict[str, Any]:
    """Load plotly.js on every page (in the head, before a figure's script runs) and copy it into the build."""
    app.add_js_file(SCRIPT, priority=100)
    app.connect("build-finished", _copy_plotly)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
