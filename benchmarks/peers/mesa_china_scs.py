"""The reference scenario ``china_scs`` (docs/model.md §1–§10) written idiomatically in Mesa 3.

A peer implementation for benchmarking trustsim: one :class:`Citizen` (a ``mesa.Agent``)
per person, a :class:`SocialCreditModel` (a ``mesa.Model``) that steps one day at a time,
a networkx Watts–Strogatz graph for friendships, Mesa's seeded ``random.Random`` for the
daily draws and its ``numpy.random.Generator`` for the initial attributes, and a
``mesa.DataCollector`` for the daily metrics. It does *not* reproduce trustsim's
counter-based random numbers (docs/model.md §9): it is expected to agree with trustsim
statistically, not draw for draw.

Every parameter is read from trustsim's scenario object, so both sides run the same
scenario::

    from trustsim.scenario import load_scenario
    model = SocialCreditModel(load_scenario("china_scs", agents=10_000, days=100, seed=1))
    metrics = model.run()            # pandas DataFrame, one row per day

A day (:meth:`SocialCreditModel.step`) runs the phases of docs/model.md in order:

A+B. every citizen wakes up, behaves and is watched (``Citizen.step``, random order);
B.   the regions' reviewers go through today's camera candidates (``review_footage``);
C.   every score moves, synchronously from the start-of-day scores (``update_score``);
D.   courts, the list, its exits and sanctions (``face_consequences``);
E.   deterrence and chill (``take_stock``), unfriending (``unfriend_the_listed``),
     then opting out, advisers and emigration (``reconsider``).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter
from dataclasses import dataclass

import mesa
import networkx as nx
import numpy as np
import pandas as pd

from trustsim.mechanisms.rollout import schedule_value
from trustsim.scenario import CHANNELS, Scenario, load_scenario


@dataclass(frozen=True)
class BehaviourRule:
    """One behaviour of docs/model.md §3, as read from the scenario."""

    name: str
    channel: str
    points: float
    base_rate: float
    escalation: float | None
    outspoken_multiplier: float | None

    @property
    def negative(self) -> bool:
        """Whether the behaviour costs points (and so is deterred)."""
        return self.points < 0

    @property
    def chilled(self) -> bool:
        """Only dissent is subject to chill."""
        return self.name == "dissent"


@dataclass(frozen=True)
class SanctionRule:
    """One sanction of docs/model.md §6 item 6."""

    name: str
    applies_below: float | None
    applies_to_blacklisted: bool
    attempt_rate: float


def region_quotas(n_agents: int, shares: list[float]) -> list[int]:
    """Exact agents per region by the largest-remainder method (docs/model.md §1)."""
    ideal = [share * n_agents for share in shares]
    quotas = [int(x) for x in ideal]
    by_remainder = sorted(range(len(shares)), key=lambda r: (quotas[r] - ideal[r], r))
    for r in by_remainder[: n_agents - sum(quotas)]:
        quotas[r] += 1
    return quotas


class Citizen(mesa.Agent):
    """A person living under the social credit system (docs/model.md §1)."""

    def __init__(
        self,
        model: SocialCreditModel,
        node: int,
        region: int,
        income_decile: int,
        outspoken: bool,
        privacy_minded: bool,
        cashless: bool,
        frailty: dict[str, float],
    ) -> None:
        """A citizen with fixed attributes and the initial state of docs/model.md §1."""
        super().__init__(model)
        self.node = node  # the citizen's node in the friendship graph
        self.region = region
        self.income_decile = income_decile
        self.outspoken = outspoken
        self.privacy_minded = privacy_minded
        self.cashless = cashless
        self.frailty = frailty
        self.score = model.params.base_score
        self.wrongful = 0.0
        self.blacklisted = False
        self.court_listed = False
        self.listed_wrongly = False
        self.listed_day = -1
        self.days_above_exit = 0
        self.deterrence = {rule.name: 1.0 for rule in model.behaviours if rule.negative}
        self.chill = 1.0
        self.off_grid = False
        self.advised = False
        self.ever_sanctioned = False
        self.ever_wrongly_sanctioned = False
        # Today's ledger, reset each morning.
        self.score_start = self.score
        self.delta = 0.0
        self.delta_wrongful = 0.0
        self.received: set[str] = set()
        self.court_cases: list[BehaviourRule] = []
        self.entered = False
        self.sanctioned = False
        self.wrongly_sanctioned = False
        self.touched = False

    # -- helpers -------------------------------------------------------------------------

    def friends(self) -> list[Citizen]:
        """Active friends (emigrants' edges are cut, so all are alive)."""
        citizens = self.model.citizens
        return [citizens[j] for j in self.model.graph.adj[self.node]]

    def propensity(self, rule: BehaviourRule) -> float:
        """Today's probability of committing ``rule`` (docs/model.md §3)."""
        p = rule.base_rate * self.frailty[rule.name]
        if rule.negative:
            p *= self.deterrence[rule.name]
            if self.advised:
                p *= self.model.params.adviser_effect
        if self.outspoken and rule.outspoken_multiplier is not None:
            p *= rule.outspoken_multiplier
        if rule.chilled:
            p *= self.chill
        return min(p, 1.0)

    def receive(self, rule: BehaviourRule, wrongful: bool) -> None:
        """Book the points of an instance that stands (docs/model.md §4–§5)."""
        self.delta += rule.points
        if wrongful and rule.points < 0:
            self.delta_wrongful += rule.points
        self.received.add(rule.name)
        self.model.penalised[rule.name] += 1

    # -- phases A and B ------------------------------------------------------------------

    def step(self) -> None:
        """Start the day, then commit each behaviour with its propensity and face the watchers."""
        self.score_start = self.score
        self.delta = 0.0
        self.delta_wrongful = 0.0
        self.received = set()
        self.court_cases = []
        for rule in self.model.behaviours:
            if self.random.random() < self.propensity(rule):
                self.model.committed[rule.name] += 1
                self.model.watch(self, rule)

    # -- phase C ---------------------------------------------------------------------------

    def update_score(self) -> None:
        """Points, recovery towards the target and contagion from friends' start-of-day mean (docs/model.md §5)."""
        params = self.model.params
        friends = self.friends()
        s = self.score_start
        friends_mean = sum(f.score_start for f in friends) / len(friends) if friends else s
        target = params.off_grid_score if self.off_grid else params.base_score
        new = s + self.delta + params.rho * (target - s) + params.contagion * (friends_mean - s)
        self.score = min(max(new, params.score_min), params.score_max)
        self.wrongful = max(0.0, (1.0 - params.rho) * self.wrongful - self.delta_wrongful)

    # -- phase D ---------------------------------------------------------------------------

    def face_consequences(self) -> None:
        """Court, score listing, exit counter, exit, sanctions and wrongful sanctions (docs/model.md §6)."""
        model = self.model
        params = model.params
        today = model.day
        self.entered = False
        for rule in self.court_cases:  # 1. court
            if self.random.random() < rule.escalation:
                self.score = min(max(self.score - params.court_points, params.score_min), params.score_max)
                if not self.blacklisted:
                    model.entries_court += 1
                    self.listed_day = today
                    self.entered = True
                self.blacklisted = self.court_listed = True
                self.listed_wrongly = False
        if not self.blacklisted and self.score < params.blacklist_score:  # 2. score listing
            self.blacklisted = True
            self.listed_wrongly = self.score + self.wrongful >= params.blacklist_score
            self.listed_day = today
            self.entered = True
            model.entries_score += 1
        # 3. exit counter
        self.days_above_exit = self.days_above_exit + 1 if self.score >= params.blacklist_exit_score else 0
        if self.blacklisted and self.listed_day < today:  # 4. exit
            if self.court_listed:
                leaves = self.random.random() < params.court_exit_rate
            else:
                leaves = self.days_above_exit >= params.blacklist_exit_days
            if leaves:
                self.blacklisted = self.court_listed = self.listed_wrongly = False
                self.listed_day = -1
                model.exits += 1
        self.sanctioned = self.wrongly_sanctioned = False
        for sanction in model.sanctions:  # 6–7. sanctions
            by_score = sanction.applies_below is not None and self.score < sanction.applies_below
            by_list = sanction.applies_to_blacklisted and self.blacklisted
            if not (by_score or by_list):
                continue
            self.sanctioned = True
            if self.random.random() < sanction.attempt_rate:
                model.denials[sanction.name] += 1
            wrong_score = not by_score or sanction.applies_below <= self.score + self.wrongful
            wrong_list = not by_list or self.listed_wrongly
            if wrong_score and wrong_list:
                self.wrongly_sanctioned = True
        self.ever_sanctioned |= self.sanctioned
        self.ever_wrongly_sanctioned |= self.wrongly_sanctioned
        self.touched = self.entered or "dissent" in self.received

    # -- phase E ---------------------------------------------------------------------------

    def take_stock(self) -> None:
        """Deterrence by today's points, then chill by friends who got dissent points or were listed (§7.1–2)."""
        params = self.model.params
        for name, d in self.deterrence.items():
            if name in self.received:
                d = max(d * (1.0 - params.deterrence_step), params.deterrence_floor)
            self.deterrence[name] = d + params.deterrence_relax * (1.0 - d)
        friends = self.friends()
        share = sum(f.touched for f in friends) / len(friends) if friends else 0.0
        chill = self.chill * (1.0 - params.chill_step * share)
        self.chill = chill + params.chill_relax * (1.0 - chill)

    def reconsider(self) -> None:
        """Opt out of the connected life, hire an adviser, or emigrate (docs/model.md §7.4–6)."""
        params = self.model.params
        if (
            self.privacy_minded
            and not self.off_grid
            and self.model.coverage["camera"][self.region] >= params.opt_out_coverage
            and self.random.random() < params.opt_out_rate
        ):
            self.off_grid = True
        if (
            not self.advised
            and self.score < params.adviser_below
            and self.income_decile >= params.adviser_min_decile
            and self.random.random() < params.adviser_rate
        ):
            self.advised = True
        if (
            self.sanctioned
            and self.income_decile >= params.emigrate_min_decile
            and self.random.random() < params.emigrate_rate
        ):
            self.emigrate()

    def emigrate(self) -> None:
        """Leave the country: every friendship is cut and the citizen leaves the model."""
        self.model.graph.remove_edges_from(list(self.model.graph.edges(self.node)))
        self.model.emigrated += 1
        self.remove()


@dataclass(frozen=True)
class Parameters:
    """The scalar parameters of docs/model.md §3–§7, flattened from the scenario."""

    base_score: float
    score_min: float
    score_max: float
    off_grid_score: float
    rho: float
    contagion: float
    false_match: float
    false_non_match: float
    review_per_capita: float
    review_catch: float
    blacklist_score: float
    blacklist_exit_score: float
    blacklist_exit_days: int
    court_points: float
    court_exit_rate: float
    deterrence_step: float
    deterrence_floor: float
    deterrence_relax: float
    chill_step: float
    chill_relax: float
    unfriend_rate: float
    opt_out_coverage: float
    opt_out_rate: float
    adviser_below: float
    adviser_min_decile: int
    adviser_rate: float
    adviser_effect: float
    emigrate_min_decile: int
    emigrate_rate: float

    @classmethod
    def from_scenario(cls, scenario: Scenario) -> Parameters:
        """Read every scalar parameter from a trustsim scenario."""
        score, bl, obs, ad = scenario.score, scenario.blacklist, scenario.observation, scenario.adaptation
        half_life = score.recovery_half_life_days
        return cls(
            base_score=score.base_score,
            score_min=score.score_min,
            score_max=score.score_max,
            off_grid_score=score.off_grid_score,
            rho=0.0 if half_life is None else 1.0 - 2.0 ** (-1.0 / half_life),
            contagion=score.contagion,
            false_match=obs.false_match,
            false_non_match=obs.false_non_match,
            review_per_capita=obs.review_per_capita,
            review_catch=obs.review_catch,
            blacklist_score=bl.blacklist_score,
            blacklist_exit_score=bl.blacklist_exit_score,
            blacklist_exit_days=bl.blacklist_exit_days,
            court_points=bl.court_points,
            court_exit_rate=bl.court_exit_rate,
            deterrence_step=ad.deterrence_step,
            deterrence_floor=ad.deterrence_floor,
            deterrence_relax=ad.deterrence_relax,
            chill_step=ad.chill_step,
            chill_relax=ad.chill_relax,
            unfriend_rate=ad.unfriend_rate,
            opt_out_coverage=ad.opt_out_coverage,
            opt_out_rate=ad.opt_out_rate,
            adviser_below=ad.adviser_below,
            adviser_min_decile=ad.adviser_min_decile,
            adviser_rate=ad.adviser_rate,
            adviser_effect=ad.adviser_effect,
            emigrate_min_decile=ad.emigrate_min_decile,
            emigrate_rate=ad.emigrate_rate,
        )


class SocialCreditModel(mesa.Model):
    """A society under a social credit system: the scenario's citizens, their friendships and the state."""

    def __init__(self, scenario: Scenario) -> None:
        """Build the population (docs/model.md §1) and the friendship graph (§2) from the scenario's seed."""
        super().__init__(seed=scenario.run.seed)
        self.scenario = scenario
        self.params = Parameters.from_scenario(scenario)
        self.behaviours = [
            BehaviourRule(name, b.channel, b.points, b.base_rate, b.escalation, b.outspoken_multiplier)
            for name, b in scenario.behaviours.items()
        ]
        self.sanctions = [
            SanctionRule(name, s.applies_below, s.applies_to_blacklisted, s.attempt_rate)
            for name, s in scenario.sanctions.items()
        ]
        self.n_regions = len(scenario.regions)
        self.day = 0
        self.emigrated = 0
        self.observed_total = 0

        n = scenario.run.agents
        rng = self.rng
        regions = np.empty(n, dtype=np.int64)
        regions[rng.permutation(n)] = np.repeat(
            np.arange(self.n_regions), region_quotas(n, [r.share for r in scenario.regions])
        )
        cashless_share = np.array([r.cashless_share for r in scenario.regions])
        pop = scenario.population
        shape = pop.heterogeneity
        deciles = rng.integers(0, 10, n)
        outspoken = rng.random(n) < pop.outspoken_share
        privacy = rng.random(n) < pop.privacy_share
        cashless = rng.random(n) < cashless_share[regions]
        frailty = {rule.name: rng.gamma(shape, 1.0 / shape, n) for rule in self.behaviours}
        self.citizens = [
            Citizen(
                self,
                node=i,
                region=int(regions[i]),
                income_decile=int(deciles[i]),
                outspoken=bool(outspoken[i]),
                privacy_minded=bool(privacy[i]),
                cashless=bool(cashless[i]),
                frailty={name: float(values[i]) for name, values in frailty.items()},
            )
            for i in range(n)
        ]

        net = scenario.network
        if net.generator != "small_world":
            raise ValueError(f"this peer model builds only small_world networks, not {net.generator}")
        self.graph = nx.watts_strogatz_graph(n, net.k, net.p, seed=int(rng.integers(2**31)))

        reporters: dict[str, object] = {
            "day": "day",
            "alive": lambda m: len(m.agents),
            "score_mean": lambda m: m.agents.agg("score", statistics.fmean),
            "blacklisted": lambda m: m.agents.agg("blacklisted", sum),
            "wrongly_sanctioned": lambda m: m.agents.agg("wrongly_sanctioned", sum),
            "ever_wrongly_sanctioned": lambda m: m.agents.agg("ever_wrongly_sanctioned", sum),
            "ever_sanctioned": lambda m: m.agents.agg("ever_sanctioned", sum),
            "blacklist_entries_score": "entries_score",
            "blacklist_entries_court": "entries_court",
            "blacklist_exits": "exits",
            "off_grid": lambda m: m.agents.agg("off_grid", sum),
            "advised": lambda m: m.agents.agg("advised", sum),
            "emigrated": "emigrated",
            "active_edges": lambda m: m.graph.number_of_edges(),
            "review_backlog": "review_backlog",
        }
        for sanction in self.sanctions:
            reporters[f"denials_{sanction.name}"] = lambda m, s=sanction.name: m.denials[s]
        for rule in self.behaviours:
            for kind in ("committed", "observed", "misattributed", "caught", "penalised"):
                reporters[f"{kind}_{rule.name}"] = lambda m, k=kind, b=rule.name: getattr(m, k)[b]
        self.datacollector = mesa.DataCollector(model_reporters=reporters)
        self.start_day()

    # -- the state's view ------------------------------------------------------------------

    def watch(self, actor: Citizen, rule: BehaviourRule) -> None:
        """Observation, face recognition and attribution of one instance (docs/model.md §4)."""
        if rule.channel == "payment" and (actor.off_grid or not actor.cashless):
            return
        if rule.channel == "online" and actor.off_grid:
            return
        if self.random.random() >= self.coverage[rule.channel][actor.region]:
            return
        self.observed[rule.name] += 1
        if rule.channel != "camera":
            actor.receive(rule, wrongful=False)
            if rule.escalation is not None:
                actor.court_cases.append(rule)
            return
        p = self.params
        u = self.random.random()
        if u < p.false_non_match:
            return  # lost
        if u < p.false_non_match + p.false_match:
            roster = self.rosters[actor.region]
            if len(roster) < 2:
                return  # nobody else to blame: lost
            victim = actor
            while victim is actor:
                victim = self.random.choice(roster)
            self.misattributed[rule.name] += 1
            self.misattributions[actor.region].append((rule, victim))
        else:
            actor.receive(rule, wrongful=False)
            if rule.escalation is not None:
                actor.court_cases.append(rule)
        self.candidates[actor.region] += 1

    def review_footage(self) -> None:
        """Each region's reviewers go through today's camera candidates; caught misattributions are dropped."""
        p = self.params
        for region in range(self.n_regions):
            capacity = p.review_per_capita * len(self.rosters[region])
            candidates = self.candidates[region]
            self.review_backlog += max(0.0, candidates - capacity)
            reviewed_share = min(1.0, capacity / candidates) if candidates else 1.0
            for rule, victim in self.misattributions[region]:
                if self.random.random() < reviewed_share and self.random.random() < p.review_catch:
                    self.caught[rule.name] += 1
                else:
                    victim.receive(rule, wrongful=True)

    def unfriend_the_listed(self) -> None:
        """Each friendship with exactly one listed end is cut with ``unfriend_rate`` (docs/model.md §7.3)."""
        rate = self.params.unfriend_rate
        for citizen in self.agents.select(lambda a: a.blacklisted):
            for friend in citizen.friends():
                if not friend.blacklisted and self.random.random() < rate:
                    self.graph.remove_edge(citizen.node, friend.node)

    # -- the day ---------------------------------------------------------------------------

    def coverage_today(self, channel_name: str) -> list[float]:
        """Coverage of a channel in each region today (docs/model.md §8)."""
        channel = getattr(self.scenario.channels, channel_name)
        return [
            schedule_value(channel.region_schedules.get(region.name, channel.schedule), self.day)
            for region in self.scenario.regions
        ]

    def start_day(self) -> None:
        """Today's coverage, the regions' rosters of the alive, and empty event counters."""
        self.coverage = {name: self.coverage_today(name) for name in CHANNELS}
        self.rosters = [[] for _ in range(self.n_regions)]
        for citizen in self.agents:
            self.rosters[citizen.region].append(citizen)
        self.candidates = [0] * self.n_regions
        self.misattributions = [[] for _ in range(self.n_regions)]
        self.review_backlog = 0.0
        self.entries_score = self.entries_court = self.exits = 0
        self.committed: Counter[str] = Counter()
        self.observed: Counter[str] = Counter()
        self.misattributed: Counter[str] = Counter()
        self.caught: Counter[str] = Counter()
        self.penalised: Counter[str] = Counter()
        self.denials: Counter[str] = Counter()

    def step(self) -> None:
        """One day: phases A→E of docs/model.md in order, then the day's metrics row."""
        self.start_day()
        self.agents.shuffle_do("step")  # A, B: behave and be watched
        self.review_footage()  # B: human review of camera instances
        self.agents.do("update_score")  # C
        self.agents.do("face_consequences")  # D
        self.agents.do("take_stock")  # E1-2: deterrence, chill
        self.unfriend_the_listed()  # E3
        self.agents.shuffle_do("reconsider")  # E4-6: opt out, adviser, emigrate
        self.datacollector.collect(self)
        self.day += 1
        if self.day >= self.scenario.run.days:
            self.running = False

    def run(self) -> pd.DataFrame:
        """Simulate every day of the scenario; return one metrics row per day."""
        self.run_model()
        return self.datacollector.get_model_vars_dataframe()


def run_mesa(scenario: Scenario) -> pd.DataFrame:
    """Build and run the Mesa model of ``scenario``; its daily metrics."""
    return SocialCreditModel(scenario).run()


def main() -> None:
    """Command line: run the Mesa model once and print a few headline rows."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", default="china_scs")
    parser.add_argument("--agents", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    scenario = load_scenario(args.scenario, agents=args.agents, days=args.days, seed=args.seed)
    started = time.perf_counter()
    metrics = run_mesa(scenario)
    wall = time.perf_counter() - started
    cols = ["day", "score_mean", "blacklisted", "wrongly_sanctioned", "ever_wrongly_sanctioned", "ever_sanctioned"]
    print(metrics[cols].iloc[:: max(1, args.days // 10)].to_string(index=False))
    print(f"{wall:.1f} s, {args.agents * args.days / wall:,.0f} agent-steps/s")


if __name__ == "__main__":
    main()
