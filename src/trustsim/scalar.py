"""Scalar helpers shared by the CPU kernels and, compiled for the device, the GPU kernels."""

from __future__ import annotations

from typing import Any

import numba as nb


@nb.njit(inline="always", cache=True)
def lesser(a: Any, b: Any) -> Any:
    """``min(a, b)`` as Python computes it (``a`` unless ``b < a``).

    Kernels shared with the GPU call this instead of the builtin, which numba's CUDA
    target fails to compile in this numba version (caught by
    ``tests/test_gpu.py::test_kernels_compile_for_hopper``).
    """
    return b if b < a else a


@nb.njit(inline="always", cache=True)
def greater(a: Any, b: Any) -> Any:
    """``max(a, b)`` as Python computes it (``a`` unless ``b > a``)."""
    return b if b > a else a
