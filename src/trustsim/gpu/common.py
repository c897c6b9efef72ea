"""What every GPU kernel shares: launch sizes, counters, reductions, ordered compaction, and the rules' device side.

Kernels are written with :func:`kernel` and call the model's rules (the ``njit``
functions of :mod:`trustsim.mechanisms`) directly. The rules' two target-specific
helpers, :func:`trustsim.scalar.product` and :func:`trustsim.scalar.tally`, get their
device implementations here: a multiplication the CUDA compiler may not fuse into an
FMA, and an atomic addition.

Integer counts are added with atomics: integer addition is associative, so the total
is the same in any order. Counters have ``COUNTER_ROWS`` rows (a block adds to row
``block mod COUNTER_ROWS``) so that a billion agents do not all wait on one address; the
host sums the rows. Floating-point sums are never atomic: each block reduces its
values in a fixed tree order into one partial, and one block then adds the partials
in a fixed order, so a sum is the same on every run of the same launch shape.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from types import CodeType, FunctionType
from typing import Any

import numba
import numpy as np
from numba import cuda
from numba.core.dispatcher import Dispatcher
from numba.core.extending import overload

from trustsim.rng import block_words, uniform
from trustsim.scalar import lesser, product, tally

SIMULATED = bool(numba.config.ENABLE_CUDASIM)
"""Whether numba's CUDA simulator stands in for a GPU (``NUMBA_ENABLE_CUDASIM=1``)."""

THREADS = 64 if SIMULATED else 256
"""Threads per block (the simulator runs each thread as a Python thread: fewer is quicker)."""

COUNTER_ROWS = 64
"""Rows of every integer counter (see the module docstring)."""


def kernel(function: Callable[..., Any]) -> Any:
    """``cuda.jit`` for a kernel that calls the model's rules (``numba.njit`` functions of :mod:`trustsim.mechanisms`).

    On a GPU (or when compiling PTX) numba compiles the rules for the device where the
    kernel calls them. Under the simulator, kernels run as Python and pass arrays that
    ``njit`` cannot type, so the kernel runs as its :func:`python_twin`, where every
    rule it calls (and every rule those call) runs as Python from the same source.
    """
    return _SimulatedKernel(function) if SIMULATED else cuda.jit(function)


class _SimulatedKernel:
    """A kernel under the simulator, made (once) from the kernel's twin at its first launch.

    Made at launch, not at import, so that the twin sees every name its module defines.
    """

    def __init__(self, function: Callable[..., Any]) -> None:
        self.py_func = function
        self._kernel: Any = None

    def __getitem__(self, launch: Any) -> Any:
        if self._kernel is None:
            self._kernel = cuda.jit(python_twin(self.py_func))
        return self._kernel[launch]


def python_twin(function: Callable[..., Any]) -> Callable[..., Any]:
    """A copy of ``function`` (a kernel, or an ``njit`` function's source) whose ``njit`` callees are twins too.

    The copy runs as plain Python, for numba's CUDA simulator, where kernels are Python.
    Philox (:func:`trustsim.rng.uniform`, :func:`trustsim.rng.block_words`) stays compiled:
    it takes scalars only, and it is defined by numba's wrapping 32-bit arithmetic, on
    which numpy scalars would warn (and as Python it is slow).
    """
    source = function.py_func if isinstance(function, Dispatcher) else function
    if source is uniform.py_func or source is block_words.py_func:
        return function
    if source not in _TWINS:
        namespace = dict(source.__globals__)
        _TWINS[source] = FunctionType(source.__code__, namespace, source.__name__, source.__defaults__,
                                      source.__closure__)  # fmt: skip
        for name in _names(source.__code__):
            if isinstance(namespace.get(name), Dispatcher):
                namespace[name] = python_twin(namespace[name])
    return _TWINS[source]


_TWINS: dict[Callable[..., Any], Callable[..., Any]] = {}


def _names(code: CodeType) -> set[str]:
    """Global names a function's code (nested functions included) may use."""
    names = set(code.co_names)
    for constant in code.co_consts:
        if isinstance(constant, CodeType):
            names |= _names(constant)
    return names


def to_device(record: Any) -> Any:
    """A named tuple of parameters or state with each numpy array copied to the device (once, not per launch)."""
    return type(record)(*(cuda.to_device(v) if isinstance(v, np.ndarray) else v for v in record))


def device_zeros(shape: Any, dtype: Any) -> Any:
    """A zeroed device array (the GPU's ``numpy.zeros`` for :meth:`trustsim.day.Day.allocate`)."""
    return cuda.to_device(np.zeros(shape, dtype=dtype))


def zero(array: Any) -> None:
    """Set a (small) device array, such as a counter, to zero: one copy from the host."""
    array.copy_to_device(np.zeros(array.shape, dtype=array.dtype))


def thread_safe_simulator() -> None:
    """Make numba's CUDA simulator safe for device functions called from another module's kernels.

    The simulator swaps a fake ``cuda`` module into a device function's module globals
    for each call and puts the real one back when the call returns. Its threads (one per
    CUDA thread) call concurrently, so the first to return restores the real module under
    the others, which then fail (``module 'numba.cuda' has no attribute 'blockIdx'``). This
    counts the calls in flight per module and restores only when the last returns.
    Called by :func:`trustsim.gpu.require_gpu` when the simulator is on; a no-op otherwise.
    """
    if not SIMULATED:
        return
    from numba.cuda.simulator import kernel

    if getattr(kernel.swapped_cuda_module, "thread_safe", False):
        return
    lock = threading.Lock()
    in_flight: dict[int, int] = {}
    originals: dict[int, dict[str, Any]] = {}

    @contextlib.contextmanager
    def swapped(fn: Any, fake_cuda_module: Any) -> Iterator[None]:
        namespace = fn.__globals__
        key = id(namespace)
        with lock:
            if in_flight.get(key, 0) == 0:
                originals[key] = {name: value for name, value in namespace.items() if value is cuda}
                namespace.update(dict.fromkeys(originals[key], fake_cuda_module))
            in_flight[key] = in_flight.get(key, 0) + 1
        try:
            yield
        finally:
            with lock:
                in_flight[key] -= 1
                if in_flight[key] == 0:
                    namespace.update(originals.pop(key))

    swapped.thread_safe = True  # type: ignore[attr-defined]
    kernel.swapped_cuda_module = swapped


def blocks(n_items: int) -> int:
    """Blocks of ``THREADS`` threads covering ``n_items`` (at least one)."""
    return max(1, (n_items + THREADS - 1) // THREADS)


@cuda.jit(device=True, inline=True)
def lane() -> int:
    """The counter row of the calling block."""
    return cuda.blockIdx.x % COUNTER_ROWS


BLOCK_COUNTERS = 512
"""Counters a block can total in shared memory before adding them to a global counter row."""


@cuda.jit(device=True)
def clear_block_counters(local: Any, n: int) -> None:
    """Zero the first ``n`` entries of a block's shared counters (every thread calls it)."""
    for k in range(cuda.threadIdx.x, n, THREADS):
        local[k] = 0
    cuda.syncthreads()


@cuda.jit(device=True)
def add_block_counters(local: Any, counts: Any, n: int, offset: int) -> None:
    """Add a block's shared counters ``local[offset : offset + n]`` to its row of ``counts`` (every thread calls it).

    Threads count into shared memory (fast atomics local to the block); one atomic per
    counter and block then reaches global memory, instead of one per agent.
    """
    cuda.syncthreads()
    row = lane()
    for k in range(cuda.threadIdx.x, n, THREADS):
        if local[offset + k] != 0:
            cuda.atomic.add(counts, (row, k), local[offset + k])


@cuda.jit(device=True)
def tree_sum(buffer: Any) -> None:
    """Add a block's ``THREADS`` shared values into ``buffer[0]``, pairwise in a fixed order (every thread calls it)."""
    t = cuda.threadIdx.x
    cuda.syncthreads()
    step = THREADS // 2
    while step > 0:
        if t < step:
            buffer[t] += buffer[t + step]
        cuda.syncthreads()
        step //= 2


@cuda.jit(device=True)
def block_sum(value: float, partial: Any) -> None:
    """Add ``value`` over the block in a fixed tree order into ``partial[block]``.

    Every thread of the block must call it (it synchronises the block).
    """
    buffer = cuda.shared.array(THREADS, numba.float64)
    t = cuda.threadIdx.x
    buffer[t] = value
    tree_sum(buffer)
    if t == 0:
        partial[cuda.blockIdx.x] = buffer[0]


@cuda.jit
def sum_partials(partial: Any, out: Any, slot: int) -> None:
    """``out[slot] = Σ partial`` in a fixed order (launch with one block of ``THREADS``)."""
    buffer = cuda.shared.array(THREADS, numba.float64)
    t = cuda.threadIdx.x
    total = 0.0
    for k in range(t, partial.shape[0], THREADS):
        total += partial[k]
    buffer[t] = total
    tree_sum(buffer)
    if t == 0:
        out[slot] = buffer[0]


@cuda.jit
def _count_flagged(values: Any, bits: int, per_block: Any) -> None:
    counts = cuda.shared.array(THREADS, numba.int64)
    i = cuda.grid(1)
    t = cuda.threadIdx.x
    counts[t] = 1 if i < values.shape[0] and (values[i] & bits) != 0 else 0
    tree_sum(counts)
    if t == 0:
        per_block[cuda.blockIdx.x] = counts[0]


@cuda.jit
def _exclusive_scan(per_block: Any, start: Any) -> None:
    # One block: thread t scans its contiguous run of blocks, then the runs are offset.
    run_total = cuda.shared.array(THREADS, numba.int64)
    t = cuda.threadIdx.x
    n = per_block.shape[0]
    length = (n + THREADS - 1) // THREADS
    lo, hi = lesser(n, t * length), lesser(n, (t + 1) * length)
    total = 0
    for k in range(lo, hi):
        total += per_block[k]
    run_total[t] = total
    cuda.syncthreads()
    if t == 0:
        running = 0
        for k in range(THREADS):
            running, run_total[k] = running + run_total[k], running
        start[n] = running
    cuda.syncthreads()
    running = run_total[t]
    for k in range(lo, hi):
        start[k] = running
        running += per_block[k]


@cuda.jit
def _write_flagged(values: Any, bits: int, start: Any, out: Any) -> None:
    # Inclusive scan of the block's flags (Hillis–Steele), so ids keep their order.
    scan = cuda.shared.array(THREADS, numba.int64)
    i = cuda.grid(1)
    t = cuda.threadIdx.x
    flag = 1 if i < values.shape[0] and (values[i] & bits) != 0 else 0
    scan[t] = flag
    cuda.syncthreads()
    step = 1
    while step < THREADS:
        add = scan[t - step] if t >= step else 0
        cuda.syncthreads()
        scan[t] += add
        cuda.syncthreads()
        step *= 2
    if flag:
        out[start[cuda.blockIdx.x] + scan[t] - 1] = i


def flagged(values: Any, bits: int) -> Any:
    """Device array of the ids ``i`` with ``values[i] & bits`` non-zero, ascending."""
    n_blocks = blocks(values.shape[0])
    per_block = cuda.device_array(n_blocks, dtype=np.int64)
    start = cuda.device_array(n_blocks + 1, dtype=np.int64)
    _count_flagged[n_blocks, THREADS](values, bits, per_block)
    _exclusive_scan[1, THREADS](per_block, start)
    total = int(start[n_blocks : n_blocks + 1].copy_to_host()[0])
    out = cuda.device_array(max(total, 1), dtype=np.int64)
    if total:
        _write_flagged[n_blocks, THREADS](values, bits, start, out)
    return out[:total]


if not SIMULATED:
    from numba.cuda import libdevice

    @overload(product, target="cuda")
    def _product_on_device(a, b):
        def rounded(a, b):
            # NVVM contracts x + a * b into one fused multiply-add by default (one rounding
            # instead of two); dmul_rn is a product rounded on its own, as the CPU rounds it.
            return libdevice.dmul_rn(a, b)

        return rounded

    @overload(tally, target="cuda")
    def _tally_on_device(counts, index, value):
        def add(counts, index, value):
            if value != 0:
                cuda.atomic.add(counts, index, value)

        return add
