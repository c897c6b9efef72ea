"""The Python API: run a scenario and get its results, as a notebook user expects.

* :mod:`~trustsim.api.runs` — :func:`run`, :func:`resume`, :func:`save_simulation`;
* :mod:`~trustsim.api.results` — :class:`Result`, a run directory opened in Python;
* :mod:`~trustsim.api.loading` — :func:`load`, a run or an experiment directory opened in Python;
* :mod:`~trustsim.api.options` — :class:`RunOptions`, how a run is carried out;
* :mod:`~trustsim.api.manifest` and :mod:`~trustsim.api.stopping` — what a run records,
  and Ctrl-C.
"""

from trustsim.api.loading import Experiment, load
from trustsim.api.manifest import peak_memory_bytes, trustsim_version
from trustsim.api.options import RunOptions
from trustsim.api.results import Result
from trustsim.api.runs import resume, run, save_simulation
from trustsim.store import read_manifest

__all__ = [
    "Experiment", "Result", "RunOptions", "load", "peak_memory_bytes", "read_manifest", "resume", "run",
    "save_simulation", "trustsim_version",
]  # fmt: skip
