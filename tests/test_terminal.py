"""What the command line prints: numbers in a few characters, tables that never cut a number."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from rich.console import Console

from trustsim.terminal import number, print_frame


@pytest.mark.parametrize(
    ("value", "shown"),
    [(8551, "8,551"), (17_460_000, "17,460,000"), (129_000_005_150_000, "1.29e+14"), (0.333333, "0.3333"),
     (12_345.6, "12,346"),
     (-0.0200231, "-0.02002"), (283.33333, "283.3"), (1_234_567.5, "1.235e+06"), (float("nan"), "–"), (0, "0")],
)  # fmt: skip
def test_numbers_take_a_few_significant_figures(value: float, shown: str) -> None:
    assert number(value) == shown


def comparison(rows: int) -> pd.DataFrame:
    """A frame shaped like compare's table, with numbers of every size."""
    generator = np.random.default_rng(3)
    values = lambda: generator.normal(0, 1, rows) * 10.0 ** generator.integers(-3, 9, rows)  # noqa: E731
    counts = lambda: generator.integers(2, 5000, rows)  # noqa: E731
    return pd.DataFrame({"metric": [f"denials_property_purchase_ban_{k}" for k in range(rows)], "mean_a": values(),
                         "mean_b": values(), "difference": values(), "ci_low": values(), "ci_high": values(),
                         "n_a": counts(), "n_b": counts()})  # fmt: skip


def printed(frame: pd.DataFrame, width: int, **options: object) -> str:
    out = Console(file=io.StringIO(), width=width, color_system=None)
    print_frame(frame, "B − A", list(frame.columns), out=out, **options)
    return out.file.getvalue()


@pytest.mark.parametrize("width", [60, 80, 120, 250])
@pytest.mark.parametrize("name", ["denials_property_purchase_ban", "children_wrongly_affected_private_school_ban"])
def test_a_narrow_terminal_leaves_out_columns_but_never_cuts_a_number(width: int, name: str) -> None:
    frame = comparison(12).assign(metric=lambda f: [f"{name}_{k}" for k in range(len(f))])
    text = printed(frame, width, dispensable=[("n_a", "n_b"), ("mean_a", "mean_b"), ("ci_low", "ci_high")])
    assert "…" not in text
    assert all(len(line) <= width for line in text.splitlines())
    note = " ".join(text.split("not shown, for the terminal's width: ")[1:]).replace("\n", " ")
    left_out = [name.strip() for name in " ".join(note.split()).split(" (widen")[0].split(",")] if note else []
    for column in frame.columns:
        header = column.replace("_", " ")
        cells = [number(v) if column != "metric" else v for v in frame[column]]
        if header in left_out:
            continue
        assert all(cell in text for cell in cells), column  # every value of a shown column, whole
    assert "metric" not in left_out
    if width >= 80:  # the difference goes last of all
        assert "difference" not in left_out
    for group in ({"n a", "n b"}, {"mean a", "mean b"}, {"ci low", "ci high"}):  # a group goes whole or stays
        assert group <= set(left_out) or not group & set(left_out)
    if "mean a" in left_out:  # after the less needed group
        assert {"n a", "n b"} <= set(left_out)
    if "ci low" in left_out:
        assert {"mean a", "n a"} <= set(left_out)
    if width >= 250:
        assert not left_out


def test_a_name_in_square_brackets_is_printed_as_written() -> None:
    frame = pd.DataFrame({"metric": ["[bold]x[/bold]"], "value": [1.5]})
    text = printed(frame, 80)
    assert "[bold]x[/bold]" in text and "1.5" in text
