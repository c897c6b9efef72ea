"""One self-contained HTML page: sections of text, figures and tables, plotly.js embedded once.

The page makes no network request: plotly.js is inlined (from the installed plotly
package), styles are inline, and figures are drawn from JSON in the page. Under every
figure, PNG and SVG buttons export it (plotly.js renders the file in the browser).
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from pandas.api.types import is_numeric_dtype
from plotly.offline import get_plotlyjs

FIGURE_CONFIG = {"displaylogo": False, "responsive": True, "toImageButtonOptions": {"format": "png", "scale": 2}}

_STYLE = """
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d2733;
       max-width: 1100px; margin: 0 auto; padding: 24px; background: #fbfbfc; }
h1 { font-size: 26px; margin-bottom: 4px; } h2 { font-size: 20px; margin-top: 40px;
       border-bottom: 1px solid #dde3ea; padding-bottom: 4px; }
.subtitle { color: #5b6b7c; margin-top: 0; } .note { color: #5b6b7c; font-size: 13px; }
.figure { background: white; border: 1px solid #e4e9ef; border-radius: 6px; margin: 16px 0; padding: 6px; }
.export { text-align: right; } .export button { font-size: 12px; margin-left: 6px; cursor: pointer;
       border: 1px solid #c9d3de; background: #f4f7fa; border-radius: 4px; padding: 2px 8px; }
.table { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; margin: 12px 0; font-size: 14px; background: white; }
th, td { border: 1px solid #e4e9ef; padding: 4px 10px; text-align: right; }
thead th { overflow-wrap: anywhere; min-width: 4em; }
th:first-child, td:first-child { text-align: left; } thead th { background: #f1f4f8; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 16px 0; }
.card { background: white; border: 1px solid #e4e9ef; border-radius: 6px; padding: 10px 14px; min-width: 160px; }
table.facts td { text-align: left; }
.card .value { font-size: 22px; font-weight: 600; } .card .label { color: #5b6b7c; font-size: 13px; }
footer { margin-top: 48px; color: #8593a3; font-size: 12px; }
"""

_EXPORT_SCRIPT = """
document.querySelectorAll('.export button').forEach(function (button) {
  button.addEventListener('click', function () {
    var id = button.getAttribute('data-figure');
    Plotly.downloadImage(document.getElementById(id),
      {format: button.getAttribute('data-format'), filename: id, width: 1100, height: 500});
  });
});
"""


@dataclass
class Section:
    """A titled part of the page: paragraphs (plain text), headline cards, figures and tables, in that order."""

    title: str
    paragraphs: list[str] = field(default_factory=list)
    cards: list[tuple[str, str]] = field(default_factory=list)  # (value, label)
    figures: list[tuple[str, go.Figure]] = field(default_factory=list)  # (id, figure)
    tables: list[tuple[str, pd.DataFrame]] = field(default_factory=list)  # (caption, table)


def section_figures(sections: list[Section]) -> dict[str, go.Figure]:
    """Every figure of ``sections`` by its id, in the page's order."""
    return {figure_id: figure for section in sections for figure_id, figure in section.figures}


def figure_html(figure_id: str, figure: go.Figure) -> str:
    """A figure's div (drawn by the page's plotly.js) with its PNG and SVG export buttons."""
    div = pio.to_html(figure, full_html=False, include_plotlyjs=False, div_id=figure_id, config=FIGURE_CONFIG)
    buttons = "".join(
        f'<button data-figure="{figure_id}" data-format="{fmt}">{fmt.upper()}</button>' for fmt in ("png", "svg")
    )
    return f'<div class="figure" data-figure-id="{figure_id}">{div}<div class="export">export {buttons}</div></div>'


def table_html(caption: str, table: pd.DataFrame) -> str:
    """A table with a caption; numbers get thousands separators, a table of text is left-aligned."""
    text = not any(is_numeric_dtype(kind) for kind in table.dtypes)
    body = table.to_html(border=0, float_format=lambda v: f"{v:,.4g}" if abs(v) < 1000 else f"{v:,.0f}",
                         na_rep="–", escape=True, classes="facts" if text else None,
                         index=not isinstance(table.index, pd.RangeIndex))  # fmt: skip
    return f"<p class='note'>{html.escape(caption)}</p><div class='table'>{body}</div>"  # a wide table scrolls


def section_html(section: Section) -> str:
    """A section's HTML."""
    parts = [f"<h2>{html.escape(section.title)}</h2>"]
    # Plain text, escaped: names, descriptions and errors come from the user's files and commands.
    parts += [f"<p>{html.escape(text)}</p>" for text in section.paragraphs if text]
    if section.cards:
        cards = "".join(
            f'<div class="card"><div class="value">{html.escape(value)}</div>'
            f'<div class="label">{html.escape(label)}</div></div>'
            for value, label in section.cards
        )
        parts.append(f'<div class="cards">{cards}</div>')
    parts += [figure_html(figure_id, figure) for figure_id, figure in section.figures]
    parts += [table_html(caption, table) for caption, table in section.tables]
    return "\n".join(parts)


def render(title: str, subtitle: str, sections: list[Section], footer: str) -> str:
    """The whole page."""
    made = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    body = "\n".join(section_html(s) for s in sections)
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style>"
        f"<script>{get_plotlyjs()}</script></head><body>"
        f"<h1>{html.escape(title)}</h1><p class='subtitle'>{html.escape(subtitle)}</p>{body}"
        f"<footer>{html.escape(footer)} Report made {made}. Synthetic people only.</footer>"
        f"<script>{_EXPORT_SCRIPT}</script></body></html>\n"
    )

