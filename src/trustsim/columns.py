"""What every column of every table a run writes means, and its unit: the outputs' data dictionary.

A column of a scenario's own names is written as a pattern: ``committed_<b>`` is a column
per behaviour ``b``, ``<s>`` a sanction, ``<tier>`` a tier. The documentation's outputs page
is generated from :data:`TABLES`, and ``tests/test_columns.py`` checks that every column
every shipped scenario writes matches exactly one entry, so the two cannot drift apart.
"""

from __future__ import annotations

from typing import NamedTuple

from trustsim.scenario import Scenario

AGENTS, INSTANCES, DAY, SHARE, POINTS = "agents", "instances", "day", "share of the alive", "points"
BYTES, FRIENDS, FLAG, ID = "bytes", "friends", "true/false", "id"


class Column(NamedTuple):
    """One column (or one per behaviour, sanction or tier): its name or pattern, meaning and unit."""

    name: str
    meaning: str
    unit: str

    def names(self, scenario: Scenario) -> list[str]:
        """The columns this entry stands for in a run of ``scenario``: one, or one per name of its pattern."""
        for placeholder, names in (("<b>", scenario.behaviours), ("<s>", scenario.sanctions),
                                   ("<tier>", [tier.name for tier in scenario.tiers])):  # fmt: skip
            if placeholder in self.name:
                return [self.name.replace(placeholder, name) for name in names]
        return [self.name]


class Table(NamedTuple):
    """A file of the run directory and its columns."""

    file: str
    about: str
    columns: tuple[Column, ...]

    def described(self, scenario: Scenario) -> dict[str, list[Column]]:
        """Each column name a run of ``scenario`` may write, with the entries that describe it (one, if
        the dictionary is sound)."""
        found: dict[str, list[Column]] = {}
        for column in self.columns:
            for name in column.names(scenario):
                found.setdefault(name, []).append(column)
        return found


METRICS = Table("metrics.parquet", "One row a day, taken at the end of the day (after phase E). Counts are of the "
                "agents alive at the end of the day unless said otherwise; a day's events (entries, instances, "
                "refusals) include agents who emigrate that day.", (
    Column("day", "the day, from 0", DAY),
    Column("alive", "agents not emigrated", AGENTS),
    Column("score_mean", "mean score of the alive", POINTS),
    Column("score_p10", "10th percentile of the alive agents' scores (linear interpolation)", POINTS),
    Column("score_p50", "median score of the alive", POINTS),
    Column("score_p90", "90th percentile of the alive agents' scores", POINTS),
    Column("tier_<tier>", "share of the alive in the tier", SHARE),
    Column("blacklisted", "agents on the blacklist", AGENTS),
    Column("blacklist_entries_score", "agents who entered the list today by their score", AGENTS),
    Column("blacklist_entries_court", "agents who entered the list today by a court's judgment", AGENTS),
    Column("blacklist_exits", "agents who left the list today", AGENTS),
    Column("committed_<b>", "instances of behaviour b committed today", INSTANCES),
    Column("observed_<b>", "instances of b the system observed today (own or misattributed)", INSTANCES),
    Column("misattributed_<b>", "camera instances of b pinned on somebody else by a false face match", INSTANCES),
    Column("caught_<b>", "misattributed instances of b caught by human review", INSTANCES),
    Column("penalised_<b>", "instances of b whose points landed on an agent (own or misattributed, not caught)",
           INSTANCES),
    Column("active_<s>", "agents with sanction s active at the end of the day", AGENTS),
    Column("denials_<s>", "today's refusals by sanction s (an attempt met by an active sanction)", "refusals"),
    Column("children_affected_<s>", "children barred by sanction s (a sanction with affects_children)", "children"),
    Column("children_wrongly_affected_<s>", "of them, those barred only by wrongful sanctions", "children"),
    Column("wrongly_sanctioned", "agents with a wrongful active sanction (one they would not have without points "
                                 "from misattributed instances)", AGENTS),
    Column("ever_wrongly_sanctioned", "agents ever wrongly sanctioned so far, emigrants included", AGENTS),
    Column("ever_sanctioned", "agents ever sanctioned so far, emigrants included", AGENTS),
    Column("dissent_committed", "instances of dissent committed today", INSTANCES),
    Column("dissent_unchilled", "dissent expected today with no chill: the sum of the alive agents' dissent "
                                "probability with chill 1; chilling effect = 1 − committed / unchilled", INSTANCES),
    Column("import_share", "imported purchases over all purchases today", SHARE),
    Column("active_edges", "friendships not cut", "edges"),
    Column("isolated", "alive agents with no active friend", AGENTS),
    Column("mean_degree_blacklisted", "mean active friends of the listed (not a number when none is listed)", FRIENDS),
    Column("mean_degree_others", "mean active friends of the other alive agents", FRIENDS),
    Column("off_grid", "alive agents who opted out of the connected life", AGENTS),
    Column("advised", "alive agents who hired a score adviser", AGENTS),
    Column("emigrated", "agents emigrated so far", AGENTS),
    Column("review_backlog", "camera candidates beyond the regions' review capacity today", INSTANCES),
    Column("stored_record_bytes", "every observed instance so far × accounting.bytes_per_record", BYTES),
    Column("stored_bytes", "the records, plus the camera footage kept (cameras × bytes a day × days retained)",
           BYTES),
))  # fmt: skip

STATE = (
    Column("score", "the social credit score", POINTS),
    Column("wrongful", "the part of the score's deficit owed to points the agent did not earn", POINTS),
    Column("chill", "factor of the dissent rate left by chilling (1: not chilled)", "multiplier"),
    Column("active_degree", "friends not cut", FRIENDS),
    Column("blacklisted", "on the blacklist", FLAG),
    Column("court_listed", "listed by a court's judgment", FLAG),
    Column("listed_wrongly", "listed, and would not be without misattributed points", FLAG),
    Column("off_grid", "opted out of the connected life", FLAG),
    Column("advised", "hired a score adviser", FLAG),
    Column("emigrated", "left the country (the state is frozen from that day)", FLAG),
)
"""An agent's state as both the agent table (at the end of the run) and the trace (each day) write it."""

AGENTS_TABLE = Table("agents.parquet", "The final state of every agent (or of a sample, by the run option "
                     "agents_out), one row each.", (
    Column("id", "the agent's id, 0 … N−1", ID),
    Column("region", "region, by position in the scenario's regions", ID),
    Column("income_decile", "income decile, 0 the poorest", "decile"),
    Column("outspoken", "posts criticism far more often", FLAG),
    Column("privacy_minded", "may opt out of the connected life", FLAG),
    Column("cashless", "pays by phone, so purchases are visible", FLAG),
    Column("frailty_<b>", "the agent's own multiplier of behaviour b's base rate (mean 1 over agents)",
           "multiplier"),
    *STATE,
    Column("counterfactual_score", "score + wrongful: the score without misattributed points", POINTS),
    Column("tier", "the tier the score is in", "name"),
    Column("ever_sanctioned", "ever under a sanction", FLAG),
    Column("ever_wrongly_sanctioned", "ever under a wrongful sanction", FLAG),
    Column("listed_day", "the day the agent was (first) listed; −1 if not listed", DAY),
    Column("days_above_exit", "consecutive days with a score at or above blacklist.blacklist_exit_score", "days"),
    Column("deterrence_<b>", "factor of behaviour b's rate left by deterrence (1: not deterred)", "multiplier"),
    Column("age", "age in years at the end of the run (scenarios with [ages])", "years"),
    Column("household", "the agent's household (scenarios with [households])", ID),
    Column("children", "children of the agent's household (scenarios with [households])", "children"),
))  # fmt: skip

TRACE = Table("trace.parquet", "The day-by-day story of a panel of agents (up to 1,024 outspoken ones): one row per "
              "traced agent and day.", (
    Column("day", "the day", DAY),
    Column("id", "the agent's id", ID),
    *STATE,
    Column("entered_blacklist", "entered the list today", FLAG),
    Column("sanctioned", "under at least one sanction today", FLAG),
    Column("wrongly_sanctioned", "under at least one wrongful sanction today", FLAG),
    Column("committed_<b>", "committed behaviour b today", FLAG),
    Column("recorded_<b>", "an own instance of b was observed and attributed to the agent today", FLAG),
    Column("misattributed_to_<b>", "somebody else's instance of b landed on the agent today", FLAG),
    Column("active_<s>", "sanction s active today", FLAG),
    Column("denied_<s>", "refused by sanction s today", FLAG),
))  # fmt: skip

GROUPS = Table("groups.parquet", "Who bears it: on every breakdown day and the last day, a row per group of each "
               "dimension (region, income quintile, outspoken, cashless, privacy-minded; age band with [ages]; "
               "has children with [households]).", (
    Column("day", "the day of the row", DAY),
    Column("dimension", "what splits the agents into groups", "name"),
    Column("group", "the group", "name"),
    Column("agents", "the group's agents, emigrants included", AGENTS),
    Column("alive", "the group's alive agents", AGENTS),
    Column("score_mean", "mean score of the group's alive agents", POINTS),
    Column("blacklisted", "listed, among the alive", AGENTS),
    Column("listed_wrongly", "listed only because of misattributed points, among the alive", AGENTS),
    Column("sanctioned", "under a sanction, among the alive", AGENTS),
    Column("wrongly_sanctioned", "under a wrongful sanction, among the alive", AGENTS),
    Column("ever_sanctioned", "ever sanctioned, among all the group's agents", AGENTS),
    Column("ever_wrongly_sanctioned", "ever wrongly sanctioned, among all the group's agents", AGENTS),
    Column("emigrated", "emigrated so far", AGENTS),
    Column("denials", "refusals since the previous row", "refusals"),
    Column("wrongful_points", "points from misattributed instances since the previous row (−Δw)", POINTS),
))  # fmt: skip

TABLES = (METRICS, AGENTS_TABLE, TRACE, GROUPS)
"""Every table of a run directory, in the order the documentation lists them."""
