"""The same society, statistically: this engine against another checkout of trustsim, seed by seed.

A change of layout that changes which random numbers decide what (docs/model.md §9 leaves
the slot layout of the counter and the precision of the state to the project) cannot keep
results bit-identical; it must keep them *statistically* the same. This script runs
``china_scs`` (5,000 agents × 200 days by default) for 20 seeds on this tree and on the
tree given with ``--against`` (a checkout whose ``src/`` holds the other engine), each in a
fresh process, and compares every metric of docs/model.md §10 on the checked days: the two
means agree when they are within 4 combined standard errors,
``|m_new − m_old| ≤ 4 · sqrt(s_new² / n + s_old² / n)``; a metric constant over seeds in
both must be equal. Prints the least agreeing metrics and a verdict; exits 1 on any
disagreement.

    git worktree add /tmp/old_engine <commit>
    python benchmarks/agreement.py --against /tmp/old_engine
"""

from __future__ import annotations

import argparse
import io
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

CHILD = """
import io, sys
import trustsim
if not trustsim.__file__.startswith(sys.argv[6]):
    sys.exit(f"imported {trustsim.__file__}, not the engine of {sys.argv[6]}")
from trustsim.engine import Simulation
from trustsim.scenario import load_scenario
scenario_name, agents, days = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
checked = [int(d) for d in sys.argv[4].split(",")]
frames = []
for seed in [int(s) for s in sys.argv[5].split(",")]:
    metrics = Simulation(load_scenario(scenario_name, agents=agents, days=days, seed=seed)).run()
    rows = metrics[metrics["day"].isin(checked)].copy()
    rows["seed"] = seed
    frames.append(rows)
import pandas as pd
buffer = io.StringIO()
pd.concat(frames).to_csv(buffer, index=False)
sys.stdout.write(buffer.getvalue())
"""

THRESHOLD = 4.0
"""Combined standard errors within which two means agree."""


def metrics_of(tree: Path, scenario: str, agents: int, days: int, checked: list[int], seeds: list[int]) -> pd.DataFrame:
    """The metrics rows of the checked days of every seed, run by the engine in ``tree/src``."""
    out = subprocess.run(
        [sys.executable, "-c", CHILD, scenario, str(agents), str(days), ",".join(map(str, checked)),
         ",".join(map(str, seeds)), str(tree.resolve())],
        capture_output=True, text=True, check=True, env={**os.environ, "PYTHONPATH": str(tree / "src")},
    )  # fmt: skip
    return pd.read_csv(io.StringIO(out.stdout))


def compare(new: pd.DataFrame, old: pd.DataFrame, checked: list[int]) -> pd.DataFrame:
    """One row per metric and day: both means, the combined standard error, z and whether they agree."""
    rows = []
    columns = [c for c in new.columns if c not in ("day", "seed") and c in old.columns]
    for day in checked:
        a, b = new[new["day"] == day], old[old["day"] == day]
        for column in columns:
            x, y = a[column].to_numpy(dtype=float), b[column].to_numpy(dtype=float)
            se = math.sqrt(x.var(ddof=1) / x.size + y.var(ddof=1) / y.size)
            difference = x.mean() - y.mean()
            z = abs(difference) / se if se > 0.0 else (0.0 if difference == 0.0 else math.inf)
            rows.append({"metric": column, "day": day, "new": x.mean(), "old": y.mean(), "se": se, "z": z})
    table = pd.DataFrame(rows)
    table["agrees"] = table["z"] <= THRESHOLD
    return table


def main() -> None:
    """Run both engines over the seeds, compare, print, exit 1 on a disagreement."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--against", type=Path, required=True, help="a checkout of the other engine (with src/)")
    parser.add_argument("--scenario", default="china_scs")
    parser.add_argument("--agents", type=int, default=5000)
    parser.add_argument("--days", type=int, default=200)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--check", type=int, nargs="+", default=[49, 99, 199], help="days compared")
    args = parser.parse_args()
    if not (args.against / "src" / "trustsim").is_dir():
        sys.exit(f"--against {args.against}: no src/trustsim there; give a checkout of trustsim")
    here = Path(__file__).resolve().parents[1]
    seeds = list(range(1, args.seeds + 1))
    new = metrics_of(here, args.scenario, args.agents, args.days, args.check, seeds)
    old = metrics_of(args.against, args.scenario, args.agents, args.days, args.check, seeds)
    table = compare(new, old, args.check)
    print(f"{args.scenario}, {args.agents:,} agents x {args.days} days, {args.seeds} seeds each; "
          f"this tree against {args.against}")  # fmt: skip
    print(f"{len(table)} comparisons ({table['metric'].nunique()} metrics x {len(args.check)} days); "
          f"agree within {THRESHOLD:g} combined standard errors: {int(table['agrees'].sum())}")  # fmt: skip
    with pd.option_context("display.width", 120, "display.max_columns", 10, "display.float_format", "{:.4g}".format):
        print("\nthe 15 largest |new − old| / se:")
        print(table.sort_values("z", ascending=False).head(15).to_string(index=False))
        varied = table[table["se"] > 0]
        print(f"\nz over the {len(varied)} comparisons that vary: mean {varied['z'].mean():.2f}, share above 2: "
              f"{np.mean(varied['z'] > 2):.3f} (0.046 for independent normal z; less here, as both engines share "
              "every draw the layout left alone)")  # fmt: skip
    failing = table[~table["agrees"]]
    if len(failing):
        print(f"\nDISAGREE: {len(failing)}")
        print(failing.to_string(index=False))
        sys.exit(1)
    print("\nevery metric agrees")


if __name__ == "__main__":
    main()
