"""Day-by-day histories of a panel of agents: the stories behind the daily counts.

The metrics of :mod:`trustsim.metrics` count everybody; a trace follows a few agents
closely, so a report can tell one person's year: what they did, what the system saw
and pinned on them, their score, listings, the sanctions in force and the refusals
they met. Recording it changes nothing in the simulation (it reads the state after
phase E and draws no random number of its own).

The panel is chosen from the society alone: by default up to :data:`DEFAULT_PANEL`
*outspoken* agents at evenly spaced places among the outspoken ids (attributes are
drawn independently per id, so this is a sample of them), or evenly spaced agents
when nobody is outspoken. The same society therefore gets the same panel, whatever
the policy, which lets two scenarios be compared person by person.

Per-agent refusals are not kept by the engine (it counts them per chunk); the trace
recomputes them from the same counter-based draw ``U(att:<s>, t, i)`` that phase D
compared with the attempt rate, so they are the refusals the run counted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numba as nb
import numpy as np
import pandas as pd

from trustsim.day import ENTERED, SANCTIONED, WRONGLY_SANCTIONED, Day
from trustsim.mechanisms.sanctions import SanctionsParams, sanction_outcome
from trustsim.population import FLAGS, flag_values, gap_values
from trustsim.scenario import Scenario
from trustsim.world import World

DEFAULT_PANEL = 1024
"""Agents traced by default: enough that some outspoken agent is usually listed in a year."""

_STATE = {"score": np.float64, "wrongful": np.float64, "chill": np.float64, "active_degree": np.int32}
_FLAGS = ("blacklisted", "court_listed", "listed_wrongly", "off_grid", "advised", "emigrated")
_STATUS = {"entered_blacklist": ENTERED, "sanctioned": SANCTIONED, "wrongly_sanctioned": WRONGLY_SANCTIONED}
# committed_<b>: did it today; recorded_<b>: an own instance was observed and attributed to the agent
# (Outcomes.attributed, not docs/model.md's "observed", which counts camera sightings before face recognition);
# misattributed_to_<b>: somebody else's instance landed on the agent.
_EVENTS = {"committed": "committed", "recorded": "attributed", "misattributed_to": "wrongly_received"}


def choose_panel(outspoken: np.ndarray, size: int) -> np.ndarray:
    """Ids of the traced agents: up to ``size`` outspoken agents evenly spaced by id (see module doc)."""
    pool = np.flatnonzero(outspoken)
    if pool.size == 0:
        pool = np.arange(outspoken.shape[0])
    if size <= 0 or pool.size == 0:
        return np.zeros(0, dtype=np.int64)
    if pool.size <= size:
        return pool.astype(np.int64)
    return pool[np.unique(np.linspace(0, pool.size - 1, size).round().astype(np.int64))].astype(np.int64)


def trace_columns(scenario: Scenario) -> dict[str, type[np.generic]]:
    """Every traced quantity with its dtype, in the order of ``trace.parquet``."""
    cols: dict[str, type[np.generic]] = dict(_STATE)
    cols |= {name: np.bool_ for name in (*_FLAGS, *_STATUS)}
    for kind in _EVENTS:
        cols |= {f"{kind}_{b}": np.bool_ for b in scenario.behaviours}
    for s in scenario.sanctions:
        cols |= {f"active_{s}": np.bool_, f"denied_{s}": np.bool_}
    return cols


def _flag_of(pop: Any, flag: str, take: Callable[[Any], np.ndarray]) -> np.ndarray:
    """The panel's ``flag`` (bool), from its own array or from the byte of flags that holds it."""
    if flag not in FLAGS:
        return take(getattr(pop, flag))
    holder, bit = FLAGS[flag]
    return flag_values(take(getattr(pop, holder)), bit)


class Trace:
    """Preallocated ``(days, panel)`` arrays, one per traced quantity; row ``t`` is written after day ``t``."""

    def __init__(self, scenario: Scenario, agents: np.ndarray) -> None:
        self.agents = np.asarray(agents, dtype=np.int64)
        self.dtypes = trace_columns(scenario)
        shape = (scenario.run.days, self.agents.shape[0])
        self.values = {name: np.zeros(shape, dtype=dtype) for name, dtype in self.dtypes.items()}
        self.behaviours = list(scenario.behaviours)
        self.sanctions = list(scenario.sanctions)
        self.sanction_params = SanctionsParams.from_scenario(scenario)

    def record(self, world: World, day: Day) -> None:
        """Write row ``day.t`` from the state at the end of the day."""
        ids, t, pop, row = self.agents, day.t, world.population, {}
        if ids.size == 0:
            return
        take = world.panel_reader(ids)  # the panel's entries of an array of the world or the day
        row["score"], row["wrongful"] = take(pop.score), take(pop.wrongful)
        row["chill"] = 1.0 - gap_values(take(pop.chill_gap))  # stored as the code of 1 − chill
        row["active_degree"] = take(world.degree)
        row |= {flag: _flag_of(pop, flag, take) for flag in _FLAGS}
        status = take(day.outcomes.status)
        row |= {name: (status & bit) != 0 for name, bit in _STATUS.items()}
        for kind, source in _EVENTS.items():
            masks = take(getattr(day.outcomes, source)).astype(np.uint64)
            for b, name in enumerate(self.behaviours):
                row[f"{kind}_{name}"] = (masks >> np.uint64(b)) & np.uint64(1) != 0
        # Phase D's rule, on the same draws (an emigrant left after today's sanctions:
        # its status still says whether it was sanctioned today).
        sanctioned_today = ~row["emigrated"] | ((status & SANCTIONED) != 0)
        active, denied = _panel_sanctions(
            self.sanction_params, world.seed, t, ids, row["score"], row["wrongful"], row["blacklisted"],
            row["listed_wrongly"], sanctioned_today,
        )  # fmt: skip
        for k, name in enumerate(self.sanctions):
            row[f"active_{name}"], row[f"denied_{name}"] = active[k], denied[k]
        for name, values in row.items():
            self.values[name][t] = values

    def restore(self, saved: dict[str, np.ndarray], days: int) -> None:
        """Put back the first ``days`` rows of a saved trace (from :meth:`saved`)."""
        for name, values in self.values.items():
            values[:days] = saved[name]

    def saved(self, days: int) -> dict[str, np.ndarray]:
        """The panel and the first ``days`` rows, for a checkpoint (arrays shared, not copied)."""
        return {"agents": self.agents} | {name: values[:days] for name, values in self.values.items()}

    def frame(self, days: int) -> pd.DataFrame:
        """The first ``days`` rows in long form: one row per (day, agent), ``day`` then ``id`` first."""
        n = self.agents.shape[0]
        data: dict[str, Any] = {
            "day": np.repeat(np.arange(days, dtype=np.int64), n),
            "id": np.tile(self.agents, days),
        }
        data |= {name: values[:days].reshape(-1) for name, values in self.values.items()}
        return pd.DataFrame(data)


def trace_problems(saved: dict[str, np.ndarray], scenario: Scenario, days: int) -> list[str]:
    """Why ``saved`` cannot be a trace of ``scenario`` after ``days`` days (empty if it can)."""
    expected = trace_columns(scenario)
    agents = saved.get("agents")
    if agents is None or agents.dtype != np.int64 or agents.ndim != 1:
        return ["the traced agents' ids are missing or not int64"]
    if agents.size and (agents.min() < 0 or agents.max() >= scenario.run.agents):
        return ["a traced agent's id is outside the population"]
    if set(saved) - {"agents"} != set(expected):
        return [f"trace columns differ from the scenario's: {sorted((set(saved) - {'agents'}) ^ set(expected))[:4]}"]
    for name, dtype in expected.items():
        if saved[name].dtype != dtype or saved[name].shape != (days, agents.size):
            return [f"trace column {name} is not {np.dtype(dtype)}[{days}, {agents.size}]"]
    return []


@nb.njit(cache=True)
def _panel_sanctions(
    params: SanctionsParams, seed: int, t: int, ids: np.ndarray, score: np.ndarray, wrongful: np.ndarray,
    listed: np.ndarray, listed_wrongly: np.ndarray, sanctioned_today: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Which sanctions were active for each traced agent today, and which of them refused it something."""
    active = np.zeros((params.attempt_rate.shape[0], ids.shape[0]), dtype=np.bool_)
    denied = np.zeros_like(active)
    for j in range(ids.shape[0]):
        if sanctioned_today[j]:
            for k in range(params.attempt_rate.shape[0]):
                on, refused, _ = sanction_outcome(params, k, seed, t, ids[j], score[j], wrongful[j], listed[j],
                                                  listed_wrongly[j])  # fmt: skip
                active[k, j], denied[k, j] = on != 0, refused != 0
    return active, denied
