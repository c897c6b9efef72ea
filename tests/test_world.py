"""The region index answers rank queries exactly as sorting the alive agents of a region would."""

from __future__ import annotations

import numba as nb
import numpy as np
import pytest

from trustsim.world import RegionIndex, alive_at_rank, alive_rank


@nb.njit(cache=True)
def _queries(index: RegionIndex, region: np.ndarray, agents: np.ndarray) -> np.ndarray:
    ranks = np.empty(agents.shape[0], dtype=np.int64)
    for k in range(agents.shape[0]):
        ranks[k] = alive_rank(agents[k], region[agents[k]], index)
    return ranks


@nb.njit(cache=True)
def _agent_at(index: RegionIndex, r: int, k: int) -> int:
    return alive_at_rank(k, r, index)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_ranks_match_sorted_alive_members_through_removals(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, n_regions = 3000, 5
    region = rng.integers(0, n_regions, n).astype(np.int32)
    region[:3] = 4  # region 4 also gets a member whatever the draw
    alive = rng.random(n) < 0.9
    emigrated = ~alive
    index = RegionIndex.build(region, emigrated, n_regions)
    for _ in range(4):
        for r in range(n_regions):
            members = np.flatnonzero(alive & (region == r))  # sorted by id
            assert index.alive[r] == members.shape[0]
            if members.shape[0]:
                ranks = _queries(index, region, members)
                assert np.array_equal(ranks, np.arange(members.shape[0]))
                for k in rng.integers(0, members.shape[0], 20):
                    assert _agent_at(index, r, int(k)) == members[k]
        leaving = rng.choice(np.flatnonzero(alive), 200, replace=False)
        emigrated[leaving] = True  # flagged first, as the engine does, then removed
        index.remove(np.sort(leaving), region)
        alive[leaving] = False


@pytest.mark.parametrize("size", [1, 15, 16, 17, 33, 64])
def test_ranks_hold_across_block_boundaries_as_agents_leave_one_by_one(size: int) -> None:
    """Regions whose member lists end inside, at and just past a block of the tree; everybody leaves in turn."""
    rng = np.random.default_rng(size)
    region = np.repeat(np.arange(3, dtype=np.int16), [size, 2 * size, 5])[rng.permutation(3 * size + 5)]
    emigrated = np.zeros(region.shape[0], dtype=np.bool_)
    index = RegionIndex.build(region, emigrated, 3)
    for leaving in rng.permutation(region.shape[0]):
        for r in range(3):
            members = np.flatnonzero(~emigrated & (region == r))
            assert index.alive[r] == members.shape[0]
            assert np.array_equal(_queries(index, region, members), np.arange(members.shape[0]))
            assert [_agent_at(index, r, k) for k in range(members.shape[0])] == members.tolist()
        emigrated[leaving] = True
        index.remove(np.array([leaving]), region)
    assert index.alive.sum() == 0 and index.tree.sum() == 0
