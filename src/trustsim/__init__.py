"""trustsim: an agent-based simulator of societies under a social credit system.

Public API::

    trustsim.run(scenario, agents=..., days=..., seed=..., overrides=[...], out=...) -> Result
    trustsim.load_scenario(name_or_path, overrides=[...]) -> Scenario
    trustsim.load(run_dir) -> Result  # or an Experiment, for a compare, sweep or sensitivity directory
    result.plot(), result.plot("blacklist"), experiment.plot()  # the report's figures, for Jupyter
    trustsim.Simulation(scenario)  # step a society day by day, without writing files
    trustsim.save_simulation(simulation, out) -> Result  # ... and save it as a run directory

trustsim simulates synthetic people only. It never ingests data about real persons
and offers no operational scoring, eligibility or enforcement service.
"""

from trustsim.api import Experiment, Result, load, resume, run, save_simulation
from trustsim.engine import Simulation
from trustsim.errors import ScenarioError, TrustsimError
from trustsim.scenario import Scenario, load_scenario

__all__ = [
    "Experiment", "Result", "Scenario", "ScenarioError", "Simulation", "TrustsimError", "load", "load_scenario",
    "resume", "run", "save_simulation",
]  # fmt: skip
