"""The one check before a run: what the chosen backend offers, and whether the run fits in memory.

:func:`preflight` is called before anything is built or written: by
:class:`trustsim.engine.Simulation` (and so by the dashboard), and by
:func:`trustsim.api.run` and :func:`trustsim.api.resume` before they create or touch a
run directory. Its errors name settings (``backend``, ``check``, ``run.agents``), which
each interface words its own way (:mod:`trustsim.errors`).
"""

from __future__ import annotations

from typing import Literal, get_args

from trustsim.errors import Setting, TrustsimError, literal
from trustsim.memory import MemoryEstimate, expected_csr_edges, expected_lattice_edges, require_memory
from trustsim.scenario import Scenario

Backend = Literal["cpu", "gpu"]
"""Where the phases run: numba kernels on the CPU, or numba-cuda kernels on an NVIDIA GPU."""
BACKENDS: tuple[Backend, ...] = get_args(Backend)


class BackendOptionError(TrustsimError):
    """An option the chosen backend does not offer."""


def require_backend(scenario: Scenario, backend: str, check: bool) -> None:
    """Refuse, in one line, a backend that does not exist or does not offer what the run asks for."""
    if backend not in BACKENDS:
        named = literal(repr(backend))
        raise BackendOptionError(f"{{0}}: {named} is not a backend; choose one of {', '.join(BACKENDS)}",
                                 Setting("backend"))  # fmt: skip
    if backend != "gpu":
        return
    if check:
        raise BackendOptionError(
            "{0} runs on the CPU backend only: drop {0} or use {1}", Setting("check"), Setting("backend", "cpu")
        )
    if scenario.score.expires:
        raise BackendOptionError(
            "score.memory = 'expiry' (a credit file) runs on the CPU backend only: use {0}", Setting("backend", "cpu")
        )


def preflight(
    scenario: Scenario,
    *,
    backend: str = "cpu",
    check: bool = False,
    edges: int | None = None,
    restoring: bool = False,
    table_agents: int | None = None,
) -> MemoryEstimate:
    """Refuse a run that the backend cannot do or that would not fit in memory; the memory it needs.

    ``edges`` (a checkpoint knows them), ``restoring`` (no network to generate) and
    ``table_agents`` (rows of ``agents.parquet``) are as for :func:`trustsim.memory.estimate`.
    A GPU run must also find a GPU whose memory holds it (:mod:`trustsim.gpu.plan`).
    """
    require_backend(scenario, backend, check)
    needed = require_memory(scenario, edges=edges, restoring=restoring, table_agents=table_agents)
    if backend == "gpu":
        from trustsim.gpu import require_gpu  # numba.cuda is loaded for GPU runs only
        from trustsim.gpu.metrics import require_countable
        from trustsim.gpu.plan import memory_plan

        require_countable(scenario)
        name, free = require_gpu()
        n = scenario.run.agents
        lattice = expected_lattice_edges(scenario, n)
        planned = expected_csr_edges(scenario, n) if edges is None else max(0, edges - lattice)
        memory_plan(scenario, planned, free, name).require()
    return needed
