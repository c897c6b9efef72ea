"""Barabási–Albert preferential attachment (docs/model.md §2), with networkx ``barabasi_albert_graph`` semantics."""

from __future__ import annotations

import numba as nb
import numpy as np

from trustsim.network.csr import check_seed, from_keys, pick_index
from trustsim.network.graph import Network
from trustsim.rng import stream_id, uniform


@nb.njit(cache=True)
def _ba_edges(n: int, m: int, seed: int, stream: int) -> np.ndarray:
    """Keys ``target·n + source`` of the Barabási–Albert edges, grown as networkx does.

    The list ``repeated`` holds every endpoint of every edge so far (the star's
    centre ``m`` times, then ``1 … m``); node ``source`` draws targets
    ``repeated[floor(U(net:ba, t=attempt, k=source, 0)·len)]`` until it has ``m``
    distinct ones, then appends its targets (in draw order) and ``m`` copies of itself.
    """
    n_edges = m + m * (n - m - 1)
    keys = np.empty(n_edges, dtype=np.int64)
    repeated = np.empty(2 * n_edges, dtype=np.int32)
    for i in range(m):
        keys[i] = i + 1
        repeated[i] = 0
        repeated[m + i] = i + 1
    length = 2 * m
    e = m
    targets = np.empty(m, dtype=np.int32)
    for source in range(m + 1, n):
        found = 0
        attempt = 0
        while found < m:
            x = repeated[pick_index(uniform(seed, stream, attempt, source, 0), length)]
            attempt += 1
            fresh = True
            for i in range(found):
                fresh = fresh and targets[i] != x
            if fresh:
                targets[found] = x
                found += 1
        for i in range(m):
            keys[e] = targets[i] * np.int64(n) + source
            e += 1
            repeated[length + i] = targets[i]
            repeated[length + m + i] = source
        length += 2 * m
    return keys


def scale_free(n: int, m: int, seed: int) -> Network:
    """Barabási–Albert preferential attachment with networkx ``barabasi_albert_graph`` semantics.

    Starts from the star on ``m + 1`` nodes (node 0 joined to ``1 … m``); each new
    node ``m+1 … n-1`` joins ``m`` distinct existing nodes drawn uniformly from the
    list of all edge endpoints so far (networkx's ``_random_subset``), using
    ``U(net:ba, t=attempt, k=node, slot=0)``. The graph has ``m·(n-m)`` edges and
    every node has degree at least ``m``. Needs ``1 ≤ m < n``.
    """
    seed = check_seed(seed)
    if not 1 <= m < n:
        raise ValueError(f"scale_free needs 1 <= m < n (got m={m}, n={n}); pick a smaller m")
    return from_keys(n, _ba_edges(n, m, seed, stream_id("net:ba")))
