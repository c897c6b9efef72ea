"""What every GPU kernel shares: launch sizes, counters, reductions and ordered compaction.

Integer counts are added with atomics: integer addition is associative, so the total
is the same in any order. Counters have ``LANES`` rows (a block adds to row
``block mod LANES``) so that a billion agents do not all wait on one address; the
host sums the rows. Floating-point sums are never atomic: each block reduces its
values in a fixed tree order into one partial, and one block then adds the partials
in a fixed order, so a sum is the same on every run of the same launch shape.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

import numba
import numpy as np
from numba import cuda

from trustsim.scalar import lesser

SIMULATED = bool(numba.config.ENABLE_CUDASIM)
"""Whether numba's CUDA simulator stands in for a GPU (``NUMBA_ENABLE_CUDASIM=1``)."""

THREADS = 64 if SIMULATED else 256
"""Threads per block (the simulator runs each thread as a Python thread: fewer is quicker)."""

LANES = 64
"""Rows of every integer counter (see the module docstring)."""


def shared(function: Callable[..., Any]) -> Callable[..., Any]:
    """A CPU helper (``numba.njit``) made callable from kernels, from the one source.

    On a GPU (or when compiling PTX), numba compiles the ``njit`` function for the
    device itself. Under the simulator, kernels are Python and see arrays that ``njit``
    cannot type, so the helper's Python source runs as a simulated device function.
    """
    if SIMULATED:
        return cuda.jit(device=True)(function.py_func)  # type: ignore[attr-defined]
    return function


if SIMULATED:

    @cuda.jit(device=True)
    def product(a: float, b: float) -> float:
        """``a * b`` rounded on its own (Python never fuses it with an addition)."""
        return a * b

else:
    from numba.cuda import libdevice

    @cuda.jit(device=True, inline=True)
    def product(a: float, b: float) -> float:
        """``a * b`` rounded on its own: the CUDA compiler cannot fuse it with an addition into an FMA.

        NVVM contracts ``x + a * b`` into one fused multiply-add by default (one rounding
        instead of two), which would move scores off the CPU's by an ulp and could flip a
        threshold; the CPU engine never fuses.
        """
        return libdevice.dmul_rn(a, b)


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
    return cuda.blockIdx.x % LANES


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


def upload_arrays(phase: object) -> None:
    """Replace every numpy array attribute of a phase's parameters by a device copy (once, not per launch)."""
    for name, value in list(vars(phase).items()):
        if isinstance(value, np.ndarray):
            setattr(phase, name, cuda.to_device(value))
