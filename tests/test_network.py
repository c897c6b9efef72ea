"""Tests of trustsim.network: CSR invariants, generator semantics and edge files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import networkx as nx
import numba
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from trustsim.errors import InputFileError
from trustsim.network import (
    ID_BITS,
    NETWORK_ARRAYS,
    Network,
    build_network,
    cut_at,
    edge_file,
    friend_at,
    from_edge_arrays,
    network_bytes,
    network_dtypes,
    regional_sbm,
    row_length,
    row_start,
    scale_free,
    small_world,
)
from trustsim.network.graph import split_counts
from trustsim.network.small_world import small_world_by_sorting
from trustsim.rng import stream_id, uniform

# --------------------------------------------------------------------------- helpers


def test_network_bytes_count_a_neighbour_per_slot_two_row_starts_and_a_lattice_word_per_agent() -> None:
    assert network_dtypes() == {"ring": np.uint16, "row_base": np.int64, "offsets": np.uint32, "neighbours": np.int32,
                                "edge_base": np.int64, "edge_start": np.uint32}  # fmt: skip
    assert network_bytes(10, 5) == 2 * 5 * 4 + 11 * (4 + 4) + 1 * (8 + 8)
    assert network_bytes(130, 5, 3, lattice=True) == 2 * 2 * 4 + 131 * (4 + 4) + 3 * (8 + 8) + 130 * 2
    assert network_bytes(130, 5, 0, lattice=True) == network_bytes(130, 5) + 130 * 2  # every lattice edge rewired
    for net in (small_world(1000, 10, 0.1, 1), small_world(30, 4, 1.0, 1), scale_free(1000, 3, 1)):
        held = sum(getattr(net, name).nbytes for name in NETWORK_ARRAYS)
        assert held == network_bytes(net.n_agents, net.n_edges, net.lattice_edges, lattice=net.half > 0)
    assert small_world(1000, 10, 0.1, 1).lattice_edges > 4000 and scale_free(1000, 3, 1).lattice_edges == 0


def check_network(net: Network) -> None:
    """Every structural invariant of a Network (docs/model.md §2 edge order, rows, derived edge indices)."""
    n, e = net.n_agents, net.n_edges
    src, dst = net.edge_ends()
    assert src.dtype == np.int32 and dst.dtype == np.int32 and src.shape == (e,)
    assert net.offsets.dtype == np.uint32 and net.offsets.shape == (n + 1,)
    assert net.row_base.dtype == np.int64 and net.row_base.shape == (n // 64 + 1,)
    assert net.neighbours.dtype == np.int32 and net.neighbours.shape == (2 * net.csr_edges,)
    assert net.ring.dtype == np.uint16 and net.ring.shape == ((n,) if net.half else (0,))
    assert net.edge_start.dtype == np.uint32 and net.edge_start.shape == (n + 1,)
    assert net.edge_base.dtype == np.int64 and net.edge_base.shape == (n // 64 + 1,)
    assert np.all(net.neighbours >= 0)  # no edge is cut yet
    assert net.edge_active().all()
    assert net.is_consistent()
    assert np.all(src < dst), "self-loop or unnormalised pair"
    assert src.min(initial=0) >= 0 and dst.max(initial=0) < n
    keys = src.astype(np.int64) * n + dst
    assert np.all(np.diff(keys) > 0), "edges not in strict lexicographic order (or duplicated)"
    degree = np.bincount(src, minlength=n) + np.bincount(dst, minlength=n)
    np.testing.assert_array_equal(net.degree(), degree)
    np.testing.assert_array_equal(net.active_degree(), degree)
    np.testing.assert_array_equal(net.first_edges(), np.concatenate(([0], np.cumsum(np.bincount(src, minlength=n)))))
    seen = np.zeros(e, dtype=np.int64)
    for i in range(n):  # every row lists its neighbours once, increasing, each edge's index derived from its ends
        ids, live = net.row(i)
        assert ids.shape == (degree[i],) and live.all()
        assert np.all(np.diff(ids) > 0), "row not strictly increasing"
        for v in ids.tolist():
            edge = net.edge_of(i, v)
            assert (src[edge], dst[edge]) == (min(i, v), max(i, v)), "derived edge index names another edge"
            seen[edge] += 1
    np.testing.assert_array_equal(seen, np.full(e, 2))


def edge_set(net: Network) -> set[tuple[int, int]]:
    """The edges as a set of (min, max) pairs."""
    return set(zip(net.src.tolist(), net.dst.tolist(), strict=False))


def assert_same(a: Network, b: Network) -> None:
    """Two networks have the same indexed edges, the same rows and the same degrees."""
    for name in ("src", "dst", "edge_start"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    np.testing.assert_array_equal(a.degree(), b.degree())
    for i in range(a.n_agents):
        for x, y in zip(a.row(i), b.row(i), strict=True):
            np.testing.assert_array_equal(x, y)


def ref_small_world(n: int, k: int, p: float, seed: int) -> set[tuple[int, int]]:
    """networkx's watts_strogatz_graph loop, line by line, with the documented draws."""
    s_rew, s_tgt = stream_id("net:sw_rewire"), stream_id("net:sw_target")
    adj: dict[int, set[int]] = {u: set() for u in range(n)}
    for j in range(1, k // 2 + 1):
        for u in range(n):
            adj[u].add((u + j) % n)
            adj[(u + j) % n].add(u)
    for j in range(1, k // 2 + 1):
        for u in range(n):
            v = (u + j) % n
            if uniform(seed, s_rew, j, u, 0) < p:
                a = 0
                w = int(uniform(seed, s_tgt, j, u, a) * n)
                while w == u or w in adj[u]:
                    a += 1
                    w = int(uniform(seed, s_tgt, j, u, a) * n)
                    if len(adj[u]) >= n - 1:
                        break
                else:
                    adj[u].discard(v)
                    adj[v].discard(u)
                    adj[u].add(w)
                    adj[w].add(u)
    return {(min(u, w), max(u, w)) for u in adj for w in adj[u]}


def ref_scale_free(n: int, m: int, seed: int) -> set[tuple[int, int]]:
    """networkx's barabasi_albert_graph with the documented draws (targets appended in draw order)."""
    stream = stream_id("net:ba")
    edges = {(0, i) for i in range(1, m + 1)}
    repeated = [0] * m + list(range(1, m + 1))
    for source in range(m + 1, n):
        targets: list[int] = []
        attempt = 0
        while len(targets) < m:
            x = repeated[int(uniform(seed, stream, attempt, source, 0) * len(repeated))]
            attempt += 1
            if x not in targets:
                targets.append(x)
        edges |= {(t, source) for t in targets}
        repeated += targets + [source] * m
    return edges


def ref_sbm(region: np.ndarray, n_regions: int, deg: float, share: float, seed: int) -> set[tuple[int, int]]:
    """The documented regional SBM draws, in plain Python."""
    n = len(region)
    sizes = np.bincount(region, minlength=n_regions)
    members = np.argsort(region, kind="stable")
    start = np.concatenate(([0], np.cumsum(sizes)))
    s_in, s_out = stream_id("net:sbm_within"), stream_id("net:sbm_between")
    edges: set[tuple[int, int]] = set()
    for r in range(n_regions):
        for c in range(round(share * deg * sizes[r] / 2)):
            a = 0
            while True:
                i = members[start[r] + int(uniform(seed, s_in, r, c, 2 * a) * sizes[r])]
                j = members[start[r] + int(uniform(seed, s_in, r, c, 2 * a + 1) * sizes[r])]
                a += 1
                if i != j and (min(i, j), max(i, j)) not in edges:
                    break
            edges.add((int(min(i, j)), int(max(i, j))))
    for c in range(round((1 - share) * deg * n / 2)):
        a = 0
        while True:
            i = int(uniform(seed, s_out, 0, c, 2 * a) * n)
            r = region[i]
            pos = int(uniform(seed, s_out, 0, c, 2 * a + 1) * (n - sizes[r]))
            j = members[pos if pos < start[r] else pos + sizes[r]]
            a += 1
            if (min(i, j), max(i, j)) not in edges:
                break
        edges.add((int(min(i, j)), int(max(i, j))))
    return edges


def lattice(n: int, k: int) -> set[tuple[int, int]]:
    """The Watts–Strogatz ring lattice."""
    return {(min(u, (u + j) % n), max(u, (u + j) % n)) for u in range(n) for j in range(1, k // 2 + 1)}


# --------------------------------------------------------------------------- from_edge_arrays


def test_from_edge_arrays_normalises_sorts_and_builds_csr() -> None:
    net = from_edge_arrays(5, np.array([3, 1, 4, 2, 0]), np.array([0, 2, 1, 0, 1]))
    check_network(net)
    np.testing.assert_array_equal(net.src, [0, 0, 0, 1, 1])
    np.testing.assert_array_equal(net.dst, [1, 2, 3, 2, 4])
    np.testing.assert_array_equal(net.row_starts(), [0, 3, 6, 8, 9, 10])
    np.testing.assert_array_equal(net.neighbours, [1, 2, 3, 0, 2, 4, 0, 1, 0, 1])
    starts = net.row_starts()
    slots = [net.edge_of(u, int(v)) for u in range(5) for v in net.neighbours[starts[u] : starts[u + 1]]]
    assert slots == [0, 1, 2, 0, 3, 4, 1, 3, 2, 4]
    np.testing.assert_array_equal(net.first_edges(), [0, 3, 5, 5, 5, 5])
    assert net.n_edges == 5
    np.testing.assert_array_equal(net.degree(), [3, 3, 2, 1, 1])


def test_from_edge_arrays_random_graph_matches_sorted_pairs() -> None:
    g = nx.gnm_random_graph(3000, 12000, seed=3)
    pairs = np.array(list(g.edges()))
    flip = np.random.default_rng(0).random(len(pairs)) < 0.5
    u = np.where(flip, pairs[:, 1], pairs[:, 0])
    v = np.where(flip, pairs[:, 0], pairs[:, 1])
    net = from_edge_arrays(3000, u, v)
    check_network(net)
    expected = np.array(sorted((min(a, b), max(a, b)) for a, b in pairs))
    np.testing.assert_array_equal(np.column_stack([net.src, net.dst]), expected)


def test_empty_network() -> None:
    net = from_edge_arrays(4, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    check_network(net)
    np.testing.assert_array_equal(net.degree(), [0, 0, 0, 0])


# --------------------------------------------------------------------------- small world


def test_small_world_p0_is_exactly_the_ring_lattice() -> None:
    net = small_world(1000, 8, 0.0, seed=5)
    check_network(net)
    assert edge_set(net) == lattice(1000, 8)
    assert np.all(net.degree() == 8)


# (11, 8, 1.0, 0) and (10, 6, 1.0, 0) reach networkx's "degree(u) >= n-1: skip" branch
@pytest.mark.parametrize(
    ("n", "k", "p", "seed"), [(60, 6, 0.4, 1), (200, 4, 0.9, 2), (7, 4, 1.0, 3), (11, 8, 1.0, 0), (10, 6, 1.0, 0)]
)
def test_small_world_follows_networkx_loop_with_documented_draws(n: int, k: int, p: float, seed: int) -> None:
    net = small_world(n, k, p, seed)
    check_network(net)
    assert edge_set(net) == ref_small_world(n, k, p, seed)


@pytest.mark.parametrize(
    ("n", "k", "p", "seed"),
    [(5, 2, 0.5, 1), (7, 4, 1.0, 3), (10, 8, 0.3, 2), (11, 10, 1.0, 5), (1000, 10, 0.1, 7), (3001, 20, 0.5, 11)],
)
def test_small_world_built_from_the_lattice_equals_the_general_build(n: int, k: int, p: float, seed: int) -> None:
    """The row-by-row build (no sort of all keys) gives the arrays the sort of every edge key gives, wraps included."""
    assert_same(small_world(n, k, p, seed), small_world_by_sorting(n, k, p, seed))


@pytest.mark.parametrize("build", [lambda: small_world(200, 6, 0.3, 4), lambda: scale_free(200, 3, 4)])
def test_cutting_an_edge_flags_it_for_both_ends_and_keeps_every_index(build: Callable[[], Network]) -> None:
    net = build()
    n = net.n_agents
    src, dst = net.edge_ends()
    degree = net.degree().astype(np.int32)
    rows = [net.row(i)[0] for i in range(n)]
    cut = set()
    rng = np.random.default_rng(1)
    for u in rng.choice(n, 40, replace=False).tolist():
        live = [q for q in range(row_length(net.links, u)) if friend_at(net.links, u, q)[1]]
        if live:
            q = live[int(rng.integers(len(live)))]
            v = int(friend_at(net.links, u, q)[0])
            cut_at(net.links, u, q, degree)
            cut.add((min(u, v), max(u, v)))
    assert len(cut) > 10
    assert net.is_consistent()  # both ends of every edge agree
    for i in range(n):  # a cut edge still names its friend, rows never move, each end sees the cut
        ids, live = net.row(i)
        np.testing.assert_array_equal(ids, rows[i])
        assert [(min(i, v), max(i, v)) in cut for v in ids.tolist()] == (~live).tolist()
    np.testing.assert_array_equal(net.src, src)
    np.testing.assert_array_equal(net.dst, dst)  # indices never move
    np.testing.assert_array_equal(net.active_degree(), degree)
    assert {(int(src[e]), int(dst[e])) for e in np.flatnonzero(~net.edge_active())} == cut
    a, b = next(iter(sorted(cut)))
    if net.csr_edges and net.half == 0:  # undone on one end of a CSR edge
        starts = net.row_starts()
        slot = starts[a] + np.searchsorted(net.neighbours[starts[a] : starts[a + 1]] & ID_BITS, b)
        net.neighbours[slot] = b
        assert not net.is_consistent()


def test_a_lattice_edge_live_but_not_there_is_inconsistent() -> None:
    net = small_world(300, 6, 0.3, 4)
    there = (net.ring >> 8) & 0b111
    u = int(np.flatnonzero(there != 0b111)[0])  # a node with a lattice edge rewired away
    j = next(d for d in (1, 2, 3) if not there[u] >> (d - 1) & 1)
    net.ring[u] |= np.uint16(1 << (j - 1))
    assert not net.is_consistent()
    net.ring[u] &= np.uint16(~(1 << (j - 1)) & 0xFFFF)
    assert net.is_consistent()
    net.ring[u] |= np.uint16(1 << 5)  # a bit beyond half = 3
    assert not net.is_consistent()


def test_small_world_complete_lattice_cannot_rewire() -> None:
    net = small_world(5, 4, 1.0, seed=9)
    assert edge_set(net) == {(a, b) for a in range(5) for b in range(a + 1, 5)}


def test_small_world_counts_degree_and_rewired_fraction() -> None:
    n, k, p = 40_000, 10, 0.1
    net = small_world(n, k, p, seed=11)
    check_network(net)
    assert net.n_edges == n * k // 2
    assert net.degree().mean() == k
    d = (net.dst.astype(np.int64) - net.src) % n
    in_lattice = (d <= k // 2) | (n - d <= k // 2)
    rewired = 1.0 - in_lattice.mean()
    # binomial(E, p) rewirings: sd = sqrt(p(1-p)/E) ~ 0.0006; 5 sd, plus a tiny bias from
    # rewired edges landing back on a lattice pair (probability ~ k/n).
    assert abs(rewired - p) < 5 * np.sqrt(p * (1 - p) / net.n_edges) + 0.001


def test_small_world_clustering_matches_networkx() -> None:
    net = small_world(4000, 10, 0.1, seed=2)
    ours = nx.Graph(list(zip(net.src.tolist(), net.dst.tolist(), strict=False)))
    theirs = nx.watts_strogatz_graph(4000, 10, 0.1, seed=2)
    # C ~ 0.49 with a seed-to-seed sd below 0.005
    assert abs(nx.average_clustering(ours) - nx.average_clustering(theirs)) < 0.025


def test_small_world_determinism() -> None:
    a, b = small_world(5000, 6, 0.2, seed=123), small_world(5000, 6, 0.2, seed=123)
    assert_same(a, b)
    c = small_world(5000, 6, 0.2, seed=124)
    assert edge_set(a) != edge_set(c)
    assert len(edge_set(a) ^ edge_set(c)) > 1000


@pytest.mark.parametrize(("n", "k", "p"), [(10, 3, 0.1), (10, 10, 0.1), (10, 0, 0.1), (10, 12, 0.1), (10, 4, 1.5)])
def test_small_world_rejects_bad_parameters(n: int, k: int, p: float) -> None:
    with pytest.raises(ValueError, match="small_world"):
        small_world(n, k, p, seed=0)


def test_seed_range_is_checked() -> None:
    with pytest.raises(ValueError, match="seed"):
        small_world(10, 2, 0.1, seed=2**32)


# --------------------------------------------------------------------------- scale free


@pytest.mark.parametrize(("n", "m", "seed"), [(300, 1, 1), (300, 3, 2), (50, 5, 3), (6, 5, 4)])
def test_scale_free_follows_networkx_with_documented_draws(n: int, m: int, seed: int) -> None:
    net = scale_free(n, m, seed)
    check_network(net)
    assert edge_set(net) == ref_scale_free(n, m, seed)


def test_scale_free_counts_degrees_and_tail() -> None:
    n, m = 30_000, 3
    net = scale_free(n, m, seed=7)
    check_network(net)
    assert net.n_edges == m * (n - m)  # star (m edges) + m per added node, as networkx:
    assert nx.barabasi_albert_graph(200, m, seed=1).number_of_edges() == m * (200 - m)
    deg = net.degree()
    assert deg.min() >= m
    assert deg.max() > 20 * deg.mean()  # hubs: max ~ m·sqrt(n) ~ 500 vs mean ~ 6
    theirs = np.array([d for _, d in nx.barabasi_albert_graph(n, m, seed=7).degree()])
    # P(degree = m) -> 2/(m+2) = 0.4; sampling sd ~ 0.003
    assert abs((deg == m).mean() - (theirs == m).mean()) < 0.02
    assert abs((deg >= 20).mean() - (theirs >= 20).mean()) < 0.01


def test_scale_free_determinism_and_errors() -> None:
    assert_same(scale_free(2000, 2, 5), scale_free(2000, 2, 5))
    assert edge_set(scale_free(2000, 2, 5)) != edge_set(scale_free(2000, 2, 6))
    for m in (0, 10):
        with pytest.raises(ValueError, match="scale_free"):
            scale_free(10, m, seed=0)


# --------------------------------------------------------------------------- regional SBM


def test_regional_sbm_follows_documented_draws() -> None:
    region = np.random.default_rng(1).integers(0, 3, 150)
    net = regional_sbm(region, 3, 6.0, 0.7, seed=8)
    check_network(net)
    assert edge_set(net) == ref_sbm(region, 3, 6.0, 0.7, 8)


def test_regional_sbm_edge_counts_and_shares() -> None:
    sizes = np.array([4000, 8000, 12000])
    region = np.random.default_rng(2).permutation(np.repeat(np.arange(3), sizes))
    n, deg, share = len(region), 10.0, 0.75
    net = regional_sbm(region, 3, deg, share, seed=3)
    check_network(net)
    rs, rd = region[net.src], region[net.dst]
    within = rs == rd
    for r in range(3):
        assert np.sum(within & (rs == r)) == round(share * deg * sizes[r] / 2)
    n_between = round((1 - share) * deg * n / 2)
    assert np.sum(~within) == n_between
    assert net.n_edges == n_between + sum(round(share * deg * s / 2) for s in sizes)
    assert abs(within.mean() - share) < 1e-3
    assert abs(net.degree().mean() - deg) < 1e-3
    # between pairs {r, s}: probability n_r n_s (1/(N-n_r) + 1/(N-n_s)) / N; 5 sd tolerance
    for r, s in ((0, 1), (0, 2), (1, 2)):
        prob = sizes[r] * sizes[s] * (1 / (n - sizes[r]) + 1 / (n - sizes[s])) / n
        got = np.sum(((rs == r) & (rd == s)) | ((rs == s) & (rd == r)))
        assert abs(got - prob * n_between) < 5 * np.sqrt(n_between * prob * (1 - prob))


def test_regional_sbm_equal_regions_give_each_node_the_shares() -> None:
    region = np.arange(20_000) % 4
    net = regional_sbm(region, 4, 8.0, 0.6, seed=4)
    within = region[net.src] == region[net.dst]
    w_deg = np.bincount(net.src[within], minlength=20_000) + np.bincount(net.dst[within], minlength=20_000)
    assert abs(w_deg.mean() - 0.6 * 8) < 1e-9
    b_deg = net.degree() - w_deg
    for r in range(4):
        assert abs(b_deg[region == r].mean() - 0.4 * 8) < 0.1  # sd of a region's mean ~ 0.03


def test_regional_sbm_determinism_and_errors() -> None:
    region = np.arange(3000) % 3
    assert_same(regional_sbm(region, 3, 6, 0.8, 1), regional_sbm(region, 3, 6, 0.8, 1))
    assert edge_set(regional_sbm(region, 3, 6, 0.8, 1)) != edge_set(regional_sbm(region, 3, 6, 0.8, 2))
    lonely = np.array([0] * 50 + [1])
    with pytest.raises(ValueError, match="region 1 has 1 member"):
        regional_sbm(lonely, 2, 4.0, 0.5, seed=0)
    with pytest.raises(ValueError, match="more agents"):
        regional_sbm(np.arange(12) % 2, 2, 8.0, 0.9, seed=0)
    with pytest.raises(ValueError, match="between-region"):
        regional_sbm(np.arange(12) % 2, 2, 8.0, 0.0, seed=0)
    with pytest.raises(ValueError, match="region ids"):
        regional_sbm(np.array([0, 1, 5]), 2, 1.0, 0.5, seed=0)


def test_regional_sbm_between_edges_always_cross_regions() -> None:
    # ~20 between draws land on each region boundary of the "outside my region" index
    region = np.random.default_rng(5).permutation(np.arange(2000) % 4)
    net = regional_sbm(region, 4, 40.0, 0.0, seed=6)
    check_network(net)
    assert net.n_edges == 40_000
    assert np.all(region[net.src] != region[net.dst])


def test_regional_sbm_allows_empty_region_without_within_edges() -> None:
    net = regional_sbm(np.arange(1000) % 2, 3, 4.0, 0.5, seed=0)
    check_network(net)
    assert net.n_edges == 2000


# --------------------------------------------------------------------------- edge files


@pytest.fixture
def edges() -> tuple[np.ndarray, np.ndarray]:
    g = nx.gnm_random_graph(500, 2000, seed=1)
    pairs = np.array(list(g.edges()))
    return pairs[::-1, 1].copy(), pairs[::-1, 0].copy()  # reversed order and orientation


def test_edge_file_round_trip_parquet_and_csv(tmp_path: Path, edges: tuple[np.ndarray, np.ndarray]) -> None:
    u, v = edges
    expected = from_edge_arrays(500, u, v)
    pq.write_table(pa.table({"from": u, "to": v}), tmp_path / "e.parquet")
    (tmp_path / "e.csv").write_text("a,b\n" + "".join(f"{a},{b}\n" for a, b in zip(u, v, strict=False)))
    for name in ("e.parquet", "e.csv"):
        net = edge_file(tmp_path / name, 500)
        check_network(net)
        assert_same(net, expected)
    net = edge_file(str(tmp_path / "e.csv"), 600)  # isolated agents 500 … 599 are fine
    assert net.n_agents == 600 and net.degree()[500:].sum() == 0


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("e.txt", "a,b\n0,1\n", "unknown edge-file extension"),
        ("e.csv", "a,b,c\n0,1,2\n", "exactly two integer columns"),
        ("e.csv", "a\n0\n", "exactly two integer columns"),
        ("e.csv", "a,b\n0,1.5\n", "'b' has type double"),
        ("e.csv", "a,b\n0,x\n", "'b' has type string"),
        ("e.csv", "a,b\n0,1\n2,\n", "missing value"),
        ("e.csv", "a,b\n0,1\n2,10\n-1,3\n", "2 edge(s) name agents outside 0 … 9, e.g. data row 2: (2, 10)"),
        ("e.csv", "a,b\n0,1\n4,4\n", "self-loop(s), e.g. data row 2: (4, 4)"),
        ("e.csv", "a,b\n0,1\n2,3\n1,0\n", "1 duplicate edge(s)"),
        ("e.csv", "a,b\n5,6\n5,6\n", "data rows 1 (5, 6) and 2 (5, 6)"),
        ("e.csv", 'a,b\n"1,2\n', "not a readable CSV"),
        ("e.parquet", "this is not parquet", "not a readable Parquet file"),
    ],
)
def test_edge_file_errors(tmp_path: Path, name: str, content: str, message: str) -> None:
    path = write_csv(tmp_path / name, content)
    with pytest.raises(InputFileError) as info:
        edge_file(path, 10)
    text = str(info.value)
    assert message in text and str(path) in text and "\n" not in text


def test_edge_file_missing(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="not found"):
        edge_file(tmp_path / "nope.parquet", 10)


def test_edge_file_parquet_float_column(tmp_path: Path) -> None:
    pq.write_table(pa.table({"a": [0, 1], "b": [1.0, 2.0]}), tmp_path / "f.parquet")
    with pytest.raises(InputFileError, match="'b' has type double"):
        edge_file(tmp_path / "f.parquet", 10)


# --------------------------------------------------------------------------- threads


def test_same_graph_on_one_thread_and_all() -> None:
    region = np.arange(30_000) % 7
    build = {
        "sw": lambda: small_world(30_000, 6, 0.2, 3),
        "ba": lambda: scale_free(30_000, 2, 3),
        "sbm": lambda: regional_sbm(region, 7, 6.0, 0.8, 3),
    }
    many = {name: f() for name, f in build.items()}
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        for name, f in build.items():
            assert_same(f(), many[name])
    finally:
        numba.set_num_threads(threads)


# --------------------------------------------------------------------------- dispatch


def test_build_network_dispatch(tmp_path: Path) -> None:
    region = np.arange(600) % 3
    sw = build_network(SimpleNamespace(generator="small_world", k=4, p=0.2), region, 3, 9)
    assert_same(sw, small_world(600, 4, 0.2, 9))
    ba = build_network(SimpleNamespace(generator="scale_free", m=2), region, 3, 9)
    assert_same(ba, scale_free(600, 2, 9))
    sbm = build_network(SimpleNamespace(generator="regional_sbm", mean_degree=6.0, within_share=0.5), region, 3, 9)
    assert_same(sbm, regional_sbm(region, 3, 6.0, 0.5, 9))
    write_csv(tmp_path / "e.csv", "x,y\n0,599\n")
    f = build_network(SimpleNamespace(generator="file", path=str(tmp_path / "e.csv")), region, 3, 9)
    assert f.n_edges == 1 and f.n_agents == 600
    with pytest.raises(ValueError, match="unknown network generator"):
        build_network(SimpleNamespace(generator="lattice"), region, 3, 9)


def test_row_starts_and_first_edges_are_kept_as_32_bit_counts_from_a_base_per_64_agents() -> None:
    """The split is exact across blocks (bases at multiples of 64), and a block too dense for 32 bits is refused."""
    counts = np.concatenate(([0], np.cumsum(np.full(200, 50_000_000, dtype=np.int64))))  # past 2**32 in total
    base, relative = split_counts(counts)
    assert base.dtype == np.int64 and relative.dtype == np.uint32 and base.shape == (201 // 64 + 1,)
    np.testing.assert_array_equal(base, counts[::64])
    np.testing.assert_array_equal(relative.astype(np.int64) + np.repeat(base, 64)[:201], counts)
    with pytest.raises(ValueError, match="too dense"):
        split_counts(np.array([0, 2**31, 2**32 + 5], dtype=np.int64))
    net = small_world(1000, 10, 0.3, 2)  # the kernels' row_start reads the same counts
    starts = net.row_starts()
    assert [row_start(net.links, i) for i in (0, 63, 64, 65, 999, 1000)] == starts[[0, 63, 64, 65, 999, 1000]].tolist()
