"""The social network of docs/model.md §2: the :class:`Network` container and one module per generator.

A network is an undirected simple graph over agents ``0 … N-1``. Its edges are
indexed ``e = 0 … E-1`` in lexicographic order of the sorted pairs
``(src, dst)`` with ``src < dst``; that index is fixed for the run. A small
world's ring lattice is held as two bits an edge (live, there) in a word per agent;
every other edge in CSR form, each agent's neighbours in increasing id order, a cut
edge's slots holding ``id | CUT`` (the sign bit is the cut flag, :func:`friend_of`).
An agent's *row* walks both (:func:`friend_at`); an edge's index is derived
(:func:`edge_index`). See :mod:`trustsim.network.graph`.

Every generator is a pure function of its parameters and the run's ``seed``: all
randomness comes from the counter-based generator ``U(seed, stream, t, k, slot)``
of :mod:`trustsim.rng`, so the same graph comes out on any machine, thread count
or backend. The streams and counters are

=====================  ==========  ===================  ==========================
stream                 ``t``       ``k``                ``slot``
=====================  ==========  ===================  ==========================
``net:sw_rewire``      ``j``       lattice node ``u``   0 (rewire if ``U < p``)
``net:sw_target``      ``j``       lattice node ``u``   attempt ``a`` (new end)
``net:ba``             attempt     new node ``source``  0
``net:sbm_within``     region      edge no. in region   ``2a``, ``2a+1``
``net:sbm_between``    0           edge no.             ``2a``, ``2a+1``
=====================  ==========  ===================  ==========================

where ``j = 1 … k/2`` is the lattice distance of a Watts–Strogatz edge, an
*attempt* counts rejected draws (self-loops, duplicates) from 0, and a uniform
``U`` picks index ``floor(U·n)`` out of ``n`` candidates.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trustsim.errors import ScenarioError
from trustsim.network.csr import from_edge_arrays
from trustsim.network.edge_file import edge_file
from trustsim.network.graph import (
    CUT,
    ID_BITS,
    MAX_LATTICE_HALF,
    NETWORK_ARRAYS,
    Links,
    Network,
    around,
    cut_at,
    cut_edge,
    cut_lattice,
    edge_at,
    edge_index,
    friend_at,
    friend_of,
    is_active,
    lattice_live,
    network_bytes,
    network_dtypes,
    row_length,
    row_start,
    twin_slot,
)
from trustsim.network.regional_sbm import regional_sbm
from trustsim.network.scale_free import scale_free
from trustsim.network.small_world import small_world

__all__ = [
    "CUT", "ID_BITS", "MAX_LATTICE_HALF", "NETWORK_ARRAYS", "Links", "Network", "around", "build_network", "cut_at",
    "cut_edge", "cut_lattice", "edge_at", "edge_file", "edge_index", "friend_at", "friend_of", "from_edge_arrays",
    "is_active", "lattice_half", "lattice_live", "network_bytes", "network_dtypes", "regional_sbm", "row_length",
    "row_start", "scale_free", "small_world", "twin_slot",
]  # fmt: skip


def lattice_half(spec: Any) -> int:
    """The lattice distances a scenario's network holds as bits: ``k/2`` for a small world no wider than
    :data:`MAX_LATTICE_HALF`, else 0 (every edge in CSR)."""
    if spec.generator == "small_world" and int(spec.k) // 2 <= MAX_LATTICE_HALF:
        return int(spec.k) // 2
    return 0


def build_network(spec: Any, region: np.ndarray, n_regions: int, seed: int) -> Network:
    """Build the scenario's network (docs/model.md §2) over ``len(region)`` agents.

    ``spec.generator`` is one of ``small_world`` (``k``, ``p``), ``scale_free``
    (``m``), ``regional_sbm`` (``mean_degree``, ``within_share``) or ``file``
    (``path``, already resolved against the scenario file).
    """
    n = len(region)
    generator = spec.generator
    try:
        if generator == "small_world":
            return small_world(n, int(spec.k), float(spec.p), seed)
        if generator == "scale_free":
            return scale_free(n, int(spec.m), seed)
        if generator == "regional_sbm":
            return regional_sbm(region, n_regions, float(spec.mean_degree), float(spec.within_share), seed)
        if generator == "file":
            return edge_file(spec.path, n)
    except ValueError as err:  # parameters that validate alone but not with this population
        raise ScenarioError([f"network: {err}"]) from None
    raise ValueError(f"unknown network generator {generator!r}; use small_world, scale_free, regional_sbm or file")
