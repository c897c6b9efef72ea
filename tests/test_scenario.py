"""Scenario files: the reference values, validation messages, overrides and the committed schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trustsim.errors import ScenarioError
from trustsim.scenario import json_schema, load_scenario, read_raw, shipped_scenarios
from trustsim.terminal import flag_words

ROOT = Path(__file__).resolve().parents[1]


def test_china_scs_is_exactly_model_section_11() -> None:
    s = load_scenario("china_scs")
    table = {
        "jaywalk": ("camera", -5, 0.02, None, None),
        "late_payment": ("finance", -50, 0.002, 0.02, None),
        "dissent": ("online", -50, 0.002, 0.02, 15),
        "imported_purchase": ("payment", -1, 0.05, None, None),
        "gaming_binge": ("payment", -3, 0.005, None, None),
        "volunteer": ("civic", 30, 0.004, None, None),
    }
    got = {n: (b.channel, b.points, b.base_rate, b.escalation, b.outspoken_multiplier) for n, b in s.behaviours.items()}
    assert got == table
    assert [(r.share, r.cashless_share) for r in s.regions] == [(0.25, 0.8)] * 4
    assert (s.score.base_score, s.score.score_min, s.score.score_max, s.score.off_grid_score) == (1000, 0, 1300, 800)
    assert (s.score.recovery_half_life_days, s.score.contagion) == (365, 0.01)
    bl = s.blacklist
    assert (bl.court_points, bl.blacklist_score, bl.blacklist_exit_score, bl.blacklist_exit_days) == (500, 600, 750, 30)
    assert bl.court_exit_rate == pytest.approx(1 / 180, rel=1e-15)
    assert [(t.name, t.min_score) for t in s.tiers] == [
        ("AAA", 1050), ("AA", 1030), ("A", 960), ("B", 850), ("C", 600), ("D", None)
    ]  # fmt: skip
    coverage = {c: getattr(s.channels, c).schedule for c in ("camera", "payment", "online", "finance", "civic")}
    assert {c: [(p.day, p.coverage) for p in v] for c, v in coverage.items()} == {
        "camera": [(0, 0.4)], "payment": [(0, 1.0)], "online": [(0, 0.5)], "finance": [(0, 0.9)], "civic": [(0, 0.6)]
    }  # fmt: skip
    o = s.observation
    assert (o.false_match, o.false_non_match, o.review_per_capita, o.review_catch) == (0.01, 0.05, 0.002, 0.9)
    p = s.population
    assert (p.outspoken_share, p.privacy_share, p.heterogeneity) == (0.01, 0.05, 2)
    assert (s.network.generator, s.network.k, s.network.p) == ("small_world", 10, 0.1)
    a = s.adaptation
    assert (a.deterrence_step, a.deterrence_floor, a.deterrence_relax, a.chill_step, a.chill_relax) == (
        0.3, 0.05, 0.002, 0.5, 0.01
    )  # fmt: skip
    assert (a.unfriend_rate, a.opt_out_coverage, a.opt_out_rate) == (0.01, 0.3, 0.001)
    assert (a.adviser_below, a.adviser_min_decile, a.adviser_rate, a.adviser_effect) == (850, 5, 0.01, 0.5)
    assert (a.emigrate_min_decile, a.emigrate_rate) == (9, 0.0005)
    acc = s.accounting
    assert (acc.purchases_per_day, acc.bytes_per_record, acc.cameras_per_capita) == (0.5, 1000, 0.43)
    assert (acc.camera_bytes_per_day, acc.footage_retention_days) == (5e9, 30)
    sanctions = {n: (x.applies_below, x.applies_to_blacklisted, x.attempt_rate) for n, x in s.sanctions.items()}
    assert sanctions == {
        "flight_ban": (None, True, 0.005), "rail_ban": (None, True, 0.0016),
        "property_purchase_ban": (None, True, 0.0003), "private_school_ban": (None, True, 0.0005),
        "rental_ban": (600, False, 0.001), "loan_denial": (850, False, 0.002),
        "internet_throttle": (850, False, 1.0), "hospital_delay": (850, False, 0.003),
        "dating_demotion": (960, False, 0.01),
    }  # fmt: skip


def test_china_family_is_exactly_model_section_12() -> None:
    """china_scs with households, ages and dependants, every value as docs/model.md §12 gives it."""
    s, ref = load_scenario("china_family"), load_scenario("china_scs")
    h = s.households
    assert h.adults == [0.28, 0.45, 0.18, 0.09]
    assert h.children == [0.58, 0.30, 0.11, 0.01]
    assert (h.family_weight, h.emigrate_with_household) == (1.0, True)
    assert [(b.min_age, b.share) for b in s.ages.age_bands] == [(18, 0.19), (30, 0.27), (45, 0.30), (60, 0.24)]
    assert s.ages.max_age == 90
    multipliers = {name: b.age_multiplier for name, b in s.behaviours.items() if b.age_multiplier is not None}
    assert multipliers == {"late_payment": [2.0, 1.2, 0.8, 0.5], "dissent": [1.5, 1.0, 1.0, 0.7]}
    barring = [name for name, sanction in s.sanctions.items() if sanction.affects_children]
    assert barring == ["private_school_ban", "rental_ban"]
    # Everything else is china_scs's.
    family = s.model_dump(exclude={"name", "description", "households", "ages", "behaviours", "sanctions"})
    assert family == ref.model_dump(exclude={"name", "description", "households", "ages", "behaviours", "sanctions"})
    assert list(s.behaviours) == list(ref.behaviours) and list(s.sanctions) == list(ref.sanctions)
    for name, b in s.behaviours.items():
        assert b.model_dump(exclude={"age_multiplier"}) == ref.behaviours[name].model_dump(exclude={"age_multiplier"})
    for name, x in s.sanctions.items():
        assert x.model_dump(exclude={"affects_children"}) == ref.sanctions[name].model_dump(
            exclude={"affects_children"}
        )
    assert ref.households is None and ref.ages is None


def test_baseline_is_the_reference_society_with_no_coverage() -> None:
    ref, base = load_scenario("china_scs"), load_scenario("baseline")
    assert base.model_dump(exclude={"name", "description", "channels"}) == ref.model_dump(
        exclude={"name", "description", "channels"}
    )
    for channel in ("camera", "payment", "online", "finance", "civic"):
        assert [p.coverage for p in getattr(base.channels, channel).schedule] == [0.0]


def test_committed_json_schema_matches_the_code() -> None:
    committed = (ROOT / "docs" / "scenario.schema.json").read_text()
    assert committed == json_schema(), "regenerate with: trustsim schema > docs/scenario.schema.json"


def test_every_key_has_a_meaning_and_a_unit() -> None:
    """The scenario keys page of the documentation is generated from these: a new key must say what it is."""
    schema = json.loads(json_schema())
    models = {"the top level": schema, **schema["$defs"]}
    bare = [f"{model}.{key}" for model, spec in models.items() for key, field in spec.get("properties", {}).items()
            if not field.get("description") or not field.get("unit")]  # fmt: skip
    assert not bare, bare


@pytest.mark.parametrize("name", sorted(shipped_scenarios()))
def test_every_shipped_scenario_file_validates_against_the_committed_schema(name: str) -> None:
    import jsonschema

    schema = json.loads((ROOT / "docs" / "scenario.schema.json").read_text())
    jsonschema.validate(read_raw(name), schema)  # the file as written, its `extends` merged


def test_the_committed_schema_refuses_what_the_loader_refuses() -> None:
    import jsonschema

    schema = json.loads((ROOT / "docs" / "scenario.schema.json").read_text())
    raw = read_raw("uk_credit")
    raw["score"]["memory"] = "forgetful"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(raw, schema)


def test_every_shipped_scenario_validates() -> None:
    assert {"china_scs", "baseline"} <= set(shipped_scenarios())
    for name in shipped_scenarios():
        assert load_scenario(name).name == name


def test_overrides_by_dotted_path_and_run_settings() -> None:
    s = load_scenario(
        "china_scs",
        overrides=["score.contagion=0", "tiers.0.min_score=1100", "channels.camera.schedule=[{day=10, coverage=0.7}]"],
        agents=123, days=4, seed=99,
    )  # fmt: skip
    assert s.score.contagion == 0 and s.tiers[0].min_score == 1100
    assert s.channels.camera.schedule[0].day == 10
    assert (s.run.agents, s.run.days, s.run.seed) == (123, 4, 99)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("behaviours.jaywalk.base_rate=1.5", "behaviours.jaywalk.base_rate: must be between 0 and 1 (got 1.5)"),
        ("score.bogus=1", "score.bogus: unknown key"),
        ("small_world=1", "small_world: unknown key"),  # a top-level key named like a network generator
        ("accounting.purchases_per_day=5e-324", "accounting.purchases_per_day: input should be greater than or equal"),
        ("run.seed=-3", "run.seed: input should be greater than or equal to 0 (got -3)"),
        ("score.contagion=nan", "score.contagion: input should be a finite number"),
        ("observation.false_match=0.99", "observation: false_match + false_non_match must be at most 1"),
        ("network.k=7", "network: k must be even (got 7)"),
        ("regions.0.share=0.5", "regions: shares must sum to 1 (got 1.25)"),
        ("tiers.1.min_score=2000", "tiers: min_score must strictly decrease"),
        ("sanctions.flight_ban.applies_to_blacklisted=false", "sanctions.flight_ban: set applies_below"),
        ("behaviours.new.base_rate=0.1",
         "--set behaviours.new.base_rate: china_scs has no behaviour 'new'; its behaviours are jaywalk, late_payment"),
        ("sanctions.none.attempt_rate=0.1", "--set sanctions.none.attempt_rate: china_scs has no sanction 'none'; its "
                                            "sanctions are flight_ban, rail_ban"),
        ("behaviours.new={base_rate=0.1}", "behaviours.new.channel: missing"),  # a new entry given whole
        ("behaviours.jaywalk.channel='radio'", "behaviours.jaywalk.channel: input should be 'camera'"),
        ("score.base_score='high'", "score.base_score: input should be a valid number (got 'high')"),
        ("channels.camera.schedule=[{day=5, coverage=0.1}, {day=5, coverage=0.2}]", "strictly increase"),
        ("tiers.9.min_score=1", "--set tiers.9: index must be 0 to 5"),
        ("novalue", "--set 'novalue': expected KEY=VALUE"),
    ],
)
def test_bad_values_name_the_dotted_path(override: str, message: str) -> None:
    with pytest.raises(ScenarioError) as caught:
        load_scenario("china_scs", overrides=[override])
    worded = caught.value.lines(flag_words)  # as the command line prints them (an override is --set)
    assert any(problem.startswith(message) or message in problem for problem in worded), worded


def test_a_whole_new_behaviour_may_be_set() -> None:
    scenario = load_scenario("rongcheng", overrides=['behaviours.late_payment={channel="payment", points=-5, '
                                                     'base_rate=0.01}'])  # fmt: skip
    assert list(scenario.behaviours)[-1] == "late_payment" and scenario.behaviours["late_payment"].points == -5


def test_several_problems_give_one_line_each() -> None:
    with pytest.raises(ScenarioError) as caught:
        load_scenario("china_scs", overrides=["score.contagion=2", "adaptation.opt_out_rate=-1", "x=1"])
    assert len(caught.value.problems) == 3


def test_files_that_cannot_be_read(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="no such shipped scenario"):
        load_scenario("chinas_scs")
    with pytest.raises(ScenarioError, match="file not found"):
        load_scenario(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = [")
    with pytest.raises(ScenarioError, match="not valid TOML"):
        load_scenario(bad)
    bad.write_bytes(b"name = '\xff\xfe'")
    with pytest.raises(ScenarioError, match="not UTF-8"):
        load_scenario(bad)
    loop = tmp_path / "loop.toml"
    loop.write_text('extends = "loop.toml"\n')
    with pytest.raises(ScenarioError, match="extends itself"):
        load_scenario(loop)


def test_extends_a_shipped_scenario_from_a_user_file(tmp_path: Path) -> None:
    path = tmp_path / "variant.toml"
    path.write_text('extends = "china_scs"\nname = "variant"\ndescription = "d"\n[score]\ncontagion = 0.0\n')
    s = load_scenario(path)
    assert s.name == "variant" and s.score.contagion == 0 and s.score.base_score == 1000


def test_extending_with_another_network_generator_replaces_the_table(tmp_path: Path) -> None:
    edges = tmp_path / "edges.csv"
    edges.write_text("a,b\n0,1\n1,2\n")
    path = tmp_path / "variant.toml"
    path.write_text(
        'extends = "china_scs"\nname = "v"\ndescription = "d"\n[network]\ngenerator = "file"\npath = "edges.csv"\n'
    )
    s = load_scenario(path)
    assert s.network.generator == "file" and s.network.path == str(edges.resolve())


def test_network_parameters_that_cannot_fit_the_population_are_a_scenario_error() -> None:
    from trustsim.engine import Simulation

    s = load_scenario(
        "china_scs",
        overrides=["network={generator='regional_sbm', mean_degree=10.0, within_share=0.5}",
                   "regions=[{name='only', share=1.0, cashless_share=0.8}]"],
        agents=100,
    )  # fmt: skip
    with pytest.raises(ScenarioError, match=r"^network: "):
        Simulation(s)


def test_reserved_and_oversized_values_are_rejected() -> None:
    with pytest.raises(ScenarioError, match="'edges' is reserved"):
        load_scenario("china_scs", overrides=["sanctions.edges={applies_below=900.0, attempt_rate=0.1}"])
    with pytest.raises(ScenarioError, match=r"run\.agents"):
        load_scenario("china_scs", agents=10**20)
