"""Phase E on the GPU — adaptation (docs/model.md §7), items in order: three kernels calling the rules of
:mod:`trustsim.mechanisms.adaptation`.

1. ``_adapt`` (one thread per agent): :func:`~trustsim.mechanisms.adaptation.adapt`
   (deterrence, chilling, opting out, advisers, the emigration decision). For chilling,
   each agent counts its active friends flagged ``TOUCHED`` by phase D (a gather; the
   CPU scatters from the few touched agents instead: the same counts), and its family.
2. ``_unfriend``: each active edge with exactly one listed end is cut when
   :func:`~trustsim.mechanisms.adaptation.unfriends` says so. A CSR edge is visited by
   the thread of its listed end, a lattice edge by the thread of its owner (its lower
   end on the ring, whose word holds its bits): by exactly one thread, so none is cut twice.
3. ``_leave_together`` (with households that leave together) and ``_emigrate``: an
   emigrant's edges are cut; a CSR edge between two emigrants is cut by the one with the
   smaller id, a lattice edge by its owner. Degrees and the region index's counts go down
   by integer atomics, exact in any order.

Cut edges are flagged in place. A CSR edge's two slots get their sign bit set (``id | CUT``,
:func:`trustsim.network.friend_of`), each slot written by one thread only; a thread's
binary search for a twin may read entries another thread is flagging, and it compares
ids, which flagging leaves unchanged. A lattice edge loses its live bit in its owner's
word, which only the owner's thread writes (16-bit words have no atomics).
"""

from __future__ import annotations

from typing import Any

from numba import cuda

from trustsim.day import LEAVING, TOUCHED, Day
from trustsim.gpu.common import THREADS, blocks, kernel, to_device
from trustsim.gpu.state import DeviceWorld
from trustsim.mechanisms.adaptation import (
    AdaptationParams,
    adapt,
    chilling_share,
    family_touched,
    leaves_with_household,
    unfriends,
)
from trustsim.network import (
    CUT,
    around,
    cut_lattice,
    edge_index,
    friend_at,
    is_active,
    lattice_live,
    row_length,
    row_start,
    twin_slot,
)
from trustsim.scalar import greater, lesser
from trustsim.scenario import CAMERA, Scenario
from trustsim.world import leave_index


class DeviceAdaptationPhase:
    """People adapt: deterrence, chill, unfriending, opting out, advisers, emigration."""

    def __init__(self, scenario: Scenario) -> None:
        self.params = to_device(AdaptationParams.from_scenario(scenario))
        self.unfriending = scenario.adaptation.unfriend_rate > 0.0
        self.together = scenario.households is not None and scenario.households.emigrate_with_household

    def step(self, world: DeviceWorld, day: Day) -> None:
        """Run items 1–6; take emigrants out of the region index."""
        pop, net, out = world.population, world.network, day.outcomes
        launch = (blocks(world.n_agents), THREADS)
        _adapt[launch](world.seed, day.t, self.params, world.coverage[day.t, CAMERA], pop, out, net, world.degree,
                       world.households)  # fmt: skip
        if self.unfriending:
            _unfriend[launch](world.seed, day.t, self.params, pop.blacklisted, net, world.degree)
        if self.together:
            _leave_together[launch](self.params, world.households, pop.emigrated, out.status)
        _emigrate[launch](out.status, pop.emigrated, pop.region, net, world.degree, world.regions)


@kernel
def _adapt(
    seed: int, t: int, params: Any, camera_coverage: Any, pop: Any, out: Any, links: Any, degree: Any,
    households: Any,
) -> None:  # fmt: skip
    i = cuda.grid(1)
    if i >= pop.emigrated.shape[0] or pop.emigrated[i]:
        return
    touched = 0
    for q in range(row_length(links, i)):
        friend, live = friend_at(links, i, q)
        if live and out.status[friend] & TOUCHED:
            touched += 1
    received = out.attributed[i] | out.wrongly_received[i]
    share = chilling_share(params, touched, degree[i], family_touched(households, i, out.status, pop.emigrated))
    adapt(params, seed, t, i, received, share, camera_coverage[pop.region[i]], pop, out.status)


@kernel
def _leave_together(params: Any, households: Any, emigrated: Any, status: Any) -> None:
    # Reads and writes of LEAVING race only within a household, and every LEAVING there
    # comes from a member's own draw: whatever the order, the same members leave.
    i = cuda.grid(1)
    if i < emigrated.shape[0] and not emigrated[i] and leaves_with_household(params, households, i, status):
        status[i] |= LEAVING


@cuda.jit(device=True)
def _cut(u: int, v: int, slot: int, twin: int, neighbours: Any, degree: Any) -> None:
    """Cut the active edge ``(u, v)`` in ``u``'s ``slot`` and ``v``'s ``twin`` slot.

    (The kernel finds the twin: under the simulator only a kernel's own calls of the
    model's rules run as Python, see :func:`trustsim.gpu.common.kernel`.)
    """
    neighbours[slot] = v | CUT
    neighbours[twin] = u | CUT
    cuda.atomic.sub(degree, u, 1)
    cuda.atomic.sub(degree, v, 1)


@kernel
def _unfriend(seed: int, t: int, params: Any, blacklisted: Any, links: Any, degree: Any) -> None:
    u = cuda.grid(1)
    if u >= blacklisted.shape[0]:
        return
    n = blacklisted.shape[0]
    for j in range(1, links.half + 1):  # the lattice edges u owns, listed at one end
        v = around(u + j, n)
        if (lattice_live(links.ring, u, j) and blacklisted[u] != blacklisted[v]
                and unfriends(params, seed, t, edge_index(links, lesser(u, v), greater(u, v)))):  # fmt: skip
            cut_lattice(links.ring, u, j)
            cuda.atomic.sub(degree, u, 1)
            cuda.atomic.sub(degree, v, 1)
    if not blacklisted[u]:
        return
    neighbours = links.neighbours
    for slot in range(row_start(links, u), row_start(links, u + 1)):
        v = neighbours[slot]
        if (is_active(v) and not blacklisted[v]
                and unfriends(params, seed, t, edge_index(links, lesser(u, v), greater(u, v)))):  # fmt: skip
            _cut(u, v, slot, twin_slot(links, v, u), neighbours, degree)


@kernel
def _emigrate(status: Any, emigrated: Any, region: Any, links: Any, degree: Any, index: Any) -> None:
    i = cuda.grid(1)
    if i >= status.shape[0]:
        return
    n = status.shape[0]
    for j in range(1, links.half + 1):  # the lattice edges i owns, an emigrant at one end
        v = around(i + j, n)
        if lattice_live(links.ring, i, j) and (status[i] & LEAVING or status[v] & LEAVING):
            cut_lattice(links.ring, i, j)
            cuda.atomic.sub(degree, i, 1)
            cuda.atomic.sub(degree, v, 1)
    if not status[i] & LEAVING:
        return
    emigrated[i] = True
    neighbours = links.neighbours
    for slot in range(row_start(links, i), row_start(links, i + 1)):
        v = neighbours[slot]  # an emigrant of smaller id may be flagging it: then it stays for that one to cut
        if is_active(v) and not (status[v] & LEAVING and v < i):
            _cut(i, v, slot, twin_slot(links, v, i), neighbours, degree)
    leave_index(i, region[i], index)
