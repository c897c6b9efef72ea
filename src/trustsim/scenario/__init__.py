"""Scenarios: the closed parameter set of docs/model.md, its validation and loading.

* :mod:`~trustsim.scenario.schema` — the parameters (pydantic models) and their JSON Schema;
* :mod:`~trustsim.scenario.loading` — files, ``extends``, overrides and one-line problems;
* :mod:`~trustsim.scenario.branching` — what a branch of a saved society may change.
"""

from trustsim.scenario.branching import SOCIETY, branch_problems, differences, leaves, society_changes
from trustsim.scenario.loading import (
    MISSING_HINT,
    SCENARIO_DIR,
    deep_merge,
    first_problem,
    load_scenario,
    parse_assignment,
    read_raw,
    resolve_source,
    scenario_from_raw,
    set_path,
    shipped_scenarios,
    validate,
    with_parent,
)
from trustsim.scenario.schema import (
    CAMERA,
    CHANNELS,
    MAX_SEED,
    ONLINE,
    PAYMENT,
    Scenario,
    SchedulePoint,
    json_schema,
)

__all__ = [
    "CAMERA", "CHANNELS", "MAX_SEED", "MISSING_HINT", "ONLINE", "PAYMENT", "SCENARIO_DIR", "SOCIETY", "Scenario",
    "SchedulePoint", "branch_problems", "deep_merge", "differences", "first_problem", "json_schema", "leaves",
    "load_scenario", "parse_assignment", "read_raw", "resolve_source", "scenario_from_raw", "set_path",
    "shipped_scenarios", "society_changes", "validate", "with_parent",
]  # fmt: skip
