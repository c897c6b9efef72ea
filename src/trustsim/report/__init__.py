"""Reports: one self-contained HTML file per run or experiment directory (plotly.js embedded, offline).

``write_report(directory)`` writes ``report.html`` into a run directory (``manifest.json``)
or an experiment directory (``experiment.json``) and returns its path. The report only
reads the directory's files; the core never imports this package.
"""

from trustsim.report.build import build_report, write_report

__all__ = ["build_report", "write_report"]
