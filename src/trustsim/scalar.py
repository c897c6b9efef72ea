"""Scalar helpers of the model's rules, with one meaning on the CPU and on the GPU.

The per-agent rules of every mechanism (``trustsim.mechanisms``) are ``numba.njit``
functions that the CPU drivers call and that numba compiles for the device when a GPU
kernel calls them. Two operations must be spelled differently on the two targets to
mean the same thing, so the rules call them through these helpers:

* :func:`product` — a multiplication rounded on its own. The CUDA compiler contracts
  ``x + a * b`` into one fused multiply-add (one rounding instead of two) unless told
  not to; the CPU never fuses. A product that feeds an addition in a rule goes through
  :func:`product` so that both backends round it the same way.
* :func:`tally` — add to a counter. On the CPU each chunk of agents has counters of
  its own, so a plain addition is safe; on the GPU the threads of a block share theirs,
  so it is an atomic addition (integer addition is exact in any order).

Each helper is a plain Python function (what numba's CUDA simulator runs) with a CPU
implementation registered here by ``numba.extending.overload`` and a CUDA one registered
by :mod:`trustsim.gpu.common`, which every GPU module imports (so a CPU run never loads
``numba.cuda``).
"""

from __future__ import annotations

import threading
from typing import Any

import numba as nb
from numba.core.extending import overload


@nb.njit(inline="always", cache=True)
def lesser(a: Any, b: Any) -> Any:
    """``min(a, b)`` as Python computes it (``a`` unless ``b < a``).

    Rules call this instead of the builtin, which numba's CUDA target fails to compile
    in this numba version (caught by ``tests/test_gpu.py::test_kernels_compile_for_hopper``).
    """
    return b if b < a else a


@nb.njit(inline="always", cache=True)
def greater(a: Any, b: Any) -> Any:
    """``max(a, b)`` as Python computes it (``a`` unless ``b > a``)."""
    return b if b > a else a


@nb.njit(inline="always", cache=True)
def pick(flag: Any, when_true: Any, when_false: Any) -> Any:
    """``when_true`` if ``flag`` else ``when_false``: a select of two values already computed.

    Both values are evaluated before the choice, so the compiler emits a select rather
    than a branch, and loops of such choices vectorise; a constant ``flag`` folds away.
    """
    return when_true if flag else when_false


def product(a: float, b: float) -> float:
    """``a * b``, rounded on its own even where an addition follows (see the module doc)."""
    return a * b


def tally(counts: Any, index: Any, value: Any) -> None:
    """``counts[index] += value``: plain on the CPU (per-chunk counters), atomic on the GPU (see the module doc)."""
    with _SIMULATED_THREADS:  # numba's CUDA simulator runs a block's threads as Python threads
        counts[index] += value


_SIMULATED_THREADS = threading.Lock()


# The CPU implementations carry no ``inline`` option: numba's IR inlining of an overload
# ignores its target, so an inlined CPU version would also be taken on the GPU. LLVM
# inlines these one-liners all the same. (numba requires an implementation's parameters,
# annotations included, to match its typing function's: hence none here.)
@overload(product, target="cpu")
def _product_on_cpu(a, b):
    return lambda a, b: a * b


@overload(tally, target="cpu")
def _tally_on_cpu(counts, index, value):
    def add(counts, index, value):
        counts[index] += value

    return add

