"""Compile recorded kernels to PTX for sm_90 without a GPU (run by test_gpu.py in a subprocess).

numba asks the current device for its compute capability when it compiles a device
function; with no GPU there is none, so this script answers (9, 0) for it.
"""

from __future__ import annotations

import importlib
import pickle
import re
import sys
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from numba import cuda
from numba.cuda import dispatcher

HOPPER = (9, 0)
PARAMETER_BYTES = 4096
"""Kernel parameters every CUDA version takes (12.1 and later take more): records of arrays add up."""


def main(path: str) -> None:
    """Compile every ``(module, kernel) -> argument types`` of the pickle at ``path``."""
    with open(path, "rb") as file:
        launches = pickle.load(file)  # written by the test itself
    dispatcher.get_current_device = lambda: SimpleNamespace(compute_capability=HOPPER)
    failed = []
    first_ptx: dict[str, str] = {}  # each kernel's PTX for its first signature
    for (module, name), signatures in sorted(launches.items()):
        kernel = getattr(importlib.import_module(module), name)
        for types in signatures:
            try:
                ptx, _ = cuda.compile_ptx(kernel.py_func, types, cc=HOPPER)
            except Exception as err:  # report every kernel that fails, not only the first
                failed.append(f"{module}.{name}{types}: {str(err).strip().splitlines()[-1]}")
                continue
            assert ".target sm_90" in ptx, f"{module}.{name}"
            first_ptx.setdefault(name, ptx)
            size = _parameter_bytes(ptx)
            if size > PARAMETER_BYTES:
                failed.append(f"{module}.{name}: {size:,} bytes of kernel parameters, over {PARAMETER_BYTES:,}")
            print(f"{module}.{name}: {len(ptx):,} characters of PTX, {size:,} bytes of parameters")
    # No fused multiply-add in the score, wrongful, deterrence and chill formulas: the CPU
    # rounds the product and the sum apart. Only Philox's uniform (integers below 2**53,
    # where fusing is exact) and the log2 that guesses a gap's code (the tables then decide
    # it, population.gap_code) may contain them; _adapt draws three uniforms and encodes two gaps.
    # (From the PTX compiled above: a kernel that failed is reported below, not compiled again.)
    fma = {name: ptx.count("fma.rn.f64") for name, ptx in first_ptx.items()}
    if fma.get("_update", 0) or fma.get("_adapt", 0) > 3 * _uniform_fmas() + 2 * _gap_code_fmas():
        failed.append(f"fused multiply-adds where the CPU rounds twice: {fma}")
    if failed:
        sys.exit("\n".join(["kernels that do not compile:", *failed]))
    print(f"compiled {sum(map(len, launches.values()))} kernel signatures")


def _parameter_bytes(ptx: str) -> int:
    """Bytes of the kernel parameters declared by the ``.entry`` of a kernel's PTX."""
    entry = ptx[ptx.index(".entry") :]
    declared = re.findall(r"\.param \.[a-z]+(\d+)", entry[: entry.index(")")])
    return sum(int(bits) // 8 for bits in declared)


def _fmas(kernel: Callable[..., None], signature: tuple[Any, ...]) -> int:
    """Fused multiply-adds in the PTX of ``kernel`` compiled for ``signature``."""
    return cuda.compile_ptx(kernel, signature, cc=HOPPER)[0].count("fma.rn.f64")


def _uniform_fmas() -> int:
    """Fused multiply-adds in the PTX of one draw of :func:`trustsim.rng.uniform`."""
    from numba import float64, int64

    from trustsim.rng import uniform

    def one_draw(out: Any, t: Any) -> None:
        out[0] = uniform(1, 2, t, 3, 0)

    return _fmas(one_draw, (float64[:], int64))


def _gap_code_fmas() -> int:
    """Fused multiply-adds in the PTX of one :func:`trustsim.population.gap_code` (its log2 guess)."""
    from numba import float64, uint16

    from trustsim.population import gap_code

    def one_code(out: Any, gap: Any) -> None:
        out[0] = gap_code(gap)

    return _fmas(one_code, (uint16[:], float64))


if __name__ == "__main__":
    main(sys.argv[1])
