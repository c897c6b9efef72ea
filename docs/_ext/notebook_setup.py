"""Run first, hidden, in every tutorial's kernel: figures as HTML for a site that loads plotly.js itself, and a
scratch folder for the runs a tutorial writes (the documentation is not written into). Nothing else: what the
site shows is what a reader who runs the tutorial sees."""

import os
import tempfile

import plotly.io as pio
from plotly.io.base_renderers import MimetypeRenderer


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
os.chdir(tempfile.mkdtemp(prefix="trustsim-tutorial-"))
