"""The GPU backend: the phases of docs/model.md as numba-cuda kernels calling the CPU's own rules.

Each module holds the kernels of one mechanism (``behaviour``, ``observation``,
``scoring``, ``sanctions``, ``adaptation``, ``metrics``): launches, thread indexing,
block counters and ordered reductions. The model itself is not written here: every
kernel calls the rules of :mod:`trustsim.mechanisms` (``njit`` functions that numba
compiles for the device) with the same parameter records, and the random numbers come
from the same Philox function (:func:`trustsim.rng.uniform`). :mod:`~trustsim.gpu.state`
holds the world on the device and :mod:`~trustsim.gpu.plan` the memory plan. The engine
(:class:`trustsim.engine.Simulation`) and its phase list are the same for both backends.

Without a GPU the kernels run under numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``),
which is how the tests check them against the CPU draw for draw.
"""

from __future__ import annotations

from numba import cuda

from trustsim.errors import Setting, TrustsimError
from trustsim.gpu.common import SIMULATED, thread_safe_simulator


class GpuUnavailableError(TrustsimError):
    """``--backend gpu`` on a machine without a usable CUDA GPU."""


def require_gpu() -> tuple[str, int]:
    """The GPU's name and free bytes; :class:`GpuUnavailableError` when there is none."""
    if SIMULATED:
        thread_safe_simulator()
        return "the CUDA simulator (NUMBA_ENABLE_CUDASIM=1)", 2**40
    try:
        available = cuda.is_available()
    except Exception:
        available = False
    if not available:
        raise GpuUnavailableError(
            "{0}: no CUDA GPU is usable here (no NVIDIA driver or device found); use {1}, or a machine with an "
            "NVIDIA GPU", Setting("backend", "gpu"), Setting("backend", "cpu"),
        )
    device = cuda.get_current_device()
    free, _ = cuda.current_context().get_memory_info()
    name = device.name.decode() if isinstance(device.name, bytes) else str(device.name)
    return name, int(free)
