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
    index = RegionIndex.build(region, alive, n_regions)
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
        index.remove(np.sort(leaving), region)
        alive[leaving] = False
