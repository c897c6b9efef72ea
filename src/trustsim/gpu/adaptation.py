"""Phase E on the GPU — adaptation (MODEL.md §7), items in order: three kernels.

1. ``_adapt`` (one thread per agent): deterrence, chilling, opting out, advisers and
   the emigration decision, as the CPU does them. For chilling, each agent counts its
   active friends flagged ``TOUCHED`` by phase D (a gather; the CPU scatters from the
   few touched agents instead: the same counts).
2. ``_unfriend`` (one thread per listed agent): each active edge to a friend who is not
   listed is cut when ``U(unf, t, e) < unfriend_rate``. An edge with exactly one listed
   end is visited by exactly one thread, so no edge is cut twice.
3. ``_emigrate``: an emigrant's edges are cut; an edge between two emigrants is cut by
   the one with the smaller id. Degrees and the region index's counts go down by
   integer atomics, exact in any order.
"""

from __future__ import annotations

from typing import Any

from numba import cuda

from trustsim.day import LEAVING, SANCTIONED, TOUCHED, has
from trustsim.gpu.common import THREADS, blocks, product, upload_arrays
from trustsim.gpu.state import DeviceDay, DeviceWorld
from trustsim.mechanisms.adaptation import AdaptationPhase
from trustsim.rng import uniform
from trustsim.scalar import greater
from trustsim.scenario import CAMERA, Scenario


class DeviceAdaptationPhase(AdaptationPhase):
    """People adapt (parameters as :class:`AdaptationPhase`)."""

    def __init__(self, scenario: Scenario) -> None:
        super().__init__(scenario)
        upload_arrays(self)

    def step(self, world: DeviceWorld, day: DeviceDay) -> None:  # type: ignore[override]
        """Run items 1–6; take emigrants out of the region index."""
        pop, net, index = world.population, world.network, world.regions
        launch = (blocks(world.n_agents), THREADS)
        _adapt[launch](
            world.seed, day.t, self.negative, self.rates, self.deciles, self.streams, world.coverage, CAMERA,
            pop.emigrated, day.attributed, day.wrongly_received, day.status, net.offsets, net.neighbours,
            net.active, world.degree, pop.region, pop.income_decile, pop.privacy_minded, pop.score,
            pop.deterrence, pop.chill, pop.off_grid, pop.advised,
        )  # fmt: skip
        if self.unfriend_rate > 0.0:
            _unfriend[launch](
                world.seed, day.t, self.unfriend_stream, self.unfriend_rate, pop.blacklisted, net.offsets,
                net.neighbours, net.edge_of_slot, net.active, world.degree,
            )  # fmt: skip
        _emigrate[launch](
            day.status, pop.emigrated, pop.region, net.offsets, net.neighbours, net.active, world.degree,
            index.start, index.position, index.tree, index.alive,
        )  # fmt: skip


@cuda.jit
def _adapt(
    seed: int, t: int, negative: Any, rates: Any, deciles: Any, streams: Any, coverage: Any, camera: int,
    emigrated: Any, attributed: Any, wrongly_received: Any, status: Any, offsets: Any, neighbours: Any,
    active: Any, degree: Any, region: Any, income_decile: Any, privacy_minded: Any, score: Any,
    deterrence: Any, chill: Any, off_grid: Any, advised: Any,
) -> None:  # fmt: skip
    i = cuda.grid(1)
    if i >= emigrated.shape[0] or emigrated[i]:
        return
    step, floor, relax, chill_step, chill_relax = rates[0], rates[1], rates[2], rates[3], rates[4]
    received = attributed[i] | wrongly_received[i]
    for b in range(negative.shape[0]):  # 1. deterrence
        if negative[b]:
            d = deterrence[b, i]
            if has(received, b):
                d = greater(product(d, 1.0 - step), floor)
            deterrence[b, i] = d + product(relax, 1.0 - d)
    touched = 0  # 2. chilling
    for slot in range(offsets[i], offsets[i + 1]):
        if active[slot] and status[neighbours[slot]] & TOUCHED:
            touched += 1
    share = 0.0
    if touched != 0:
        share = touched / degree[i]
    chill_today = product(chill[i], 1.0 - product(chill_step, share))
    chill[i] = chill_today + product(chill_relax, 1.0 - chill_today)
    # 4. opting out
    if privacy_minded[i] and not off_grid[i] and coverage[t, camera, region[i]] >= rates[5]:
        if uniform(seed, streams[0], t, i, 0) < rates[6]:
            off_grid[i] = True
    # 5. advisers
    if not advised[i] and score[i] < rates[7] and income_decile[i] >= deciles[0]:
        if uniform(seed, streams[1], t, i, 0) < rates[8]:
            advised[i] = True
    # 6. emigration decision (applied after unfriending)
    if (status[i] & SANCTIONED) and income_decile[i] >= deciles[1]:
        if uniform(seed, streams[2], t, i, 0) < rates[9]:
            status[i] |= LEAVING


@cuda.jit(device=True)
def _cut(u: int, slot: int, offsets: Any, neighbours: Any, active: Any, degree: Any) -> None:
    """Cut the active edge in ``u``'s ``slot``, on both ends."""
    v = neighbours[slot]
    active[slot] = 0
    for twin in range(offsets[v], offsets[v + 1]):
        if neighbours[twin] == u:
            active[twin] = 0
            break
    cuda.atomic.sub(degree, u, 1)
    cuda.atomic.sub(degree, v, 1)


@cuda.jit
def _unfriend(
    seed: int, t: int, stream: int, rate: float, blacklisted: Any, offsets: Any, neighbours: Any,
    edge_of_slot: Any, active: Any, degree: Any,
) -> None:  # fmt: skip
    u = cuda.grid(1)
    if u >= blacklisted.shape[0] or not blacklisted[u]:
        return
    for slot in range(offsets[u], offsets[u + 1]):
        if active[slot] and not blacklisted[neighbours[slot]]:
            if uniform(seed, stream, t, edge_of_slot[slot], 0) < rate:
                _cut(u, slot, offsets, neighbours, active, degree)


@cuda.jit
def _emigrate(
    status: Any, emigrated: Any, region: Any, offsets: Any, neighbours: Any, active: Any, degree: Any,
    start: Any, position: Any, tree: Any, alive: Any,
) -> None:  # fmt: skip
    i = cuda.grid(1)
    if i >= status.shape[0] or not status[i] & LEAVING:
        return
    emigrated[i] = True
    for slot in range(offsets[i], offsets[i + 1]):
        v = neighbours[slot]
        if active[slot] and not (status[v] & LEAVING and v < i):
            _cut(i, slot, offsets, neighbours, active, degree)
    # Out of the region index (the CPU's RegionIndex.remove).
    r = region[i]
    base, size = start[r] + r, start[r + 1] - start[r]
    j = position[i] + 1
    while j <= size:
        cuda.atomic.sub(tree, base + j, 1)
        j += j & -j
    cuda.atomic.sub(alive, r, 1)
