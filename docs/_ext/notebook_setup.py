"""Run first, hidden, in every tutorial's kernel: figures as HTML for a site that loads plotly.js itself, tables
that fit the page, and a scratch folder for the runs a tutorial writes (the documentation is not written into)."""

import os
import tempfile

import pandas as pd
import plotly.io as pio
from plotly.io.base_renderers import MimetypeRenderer

from trustsim.terminal import number


class SiteRenderer(MimetypeRenderer):
    """A figure as a div and a ``Plotly.newPlot`` call; plotly.js and no MathJax come with the page.

    The theme loads scripts at the end of the page, after the figures, so a figure's call
    waits for the page to be parsed (``DOMContentLoaded``).
    """

    def to_mimebundle(self, fig_dict: dict) -> dict:
        html = pio.to_html(fig_dict, full_html=False, include_plotlyjs=False, include_mathjax=False,
                           config={"displaylogo": False, "responsive": True})
        start, end = html.index("<script>") + len("<script>"), html.rindex("</script>")
        deferred = f'window.addEventListener("DOMContentLoaded", function () {{{html[start:end]}}});'
        return {"text/html": html[:start] + deferred + html[end:]}


pio.renderers["site"] = SiteRenderer()
pio.renderers.default = "site"
pd.set_option("display.max_columns", 12)
pd.set_option("display.float_format", number)  # a few significant figures, as the command line prints them
os.chdir(tempfile.mkdtemp(prefix="trustsim-tutorial-"))
