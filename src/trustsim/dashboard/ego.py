"""An agent's ego network, read from the network of a running world, and its figure.

Rings: the agent (ring 0), every friend it ever had (ring 1: active and cut; at most
:data:`RING1_CAP`, the lowest ids, for a hub of a scale-free network), and up
to ``cap`` friends-of-friends (ring 2, the first met when walking ring 1 in id order,
each ring-1 row's active friends before its cut ones). Edges are those among the
shown agents; an edge is *active* until it is cut (see :func:`trustsim.network.cut_at`).
The layout is deterministic: concentric rings, ring 1 evenly spaced in id order,
each ring-2 agent placed next to the first ring-1 friend it was reached from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from trustsim.world import World

RING2_CAP = 60
"""Most friends-of-friends drawn: beyond that the picture is a smudge."""
RING1_CAP = 200
"""Most friends drawn (a hub may have thousands: reading and drawing them all would stall every redraw)."""


@dataclass(frozen=True)
class EgoNetwork:
    """The drawn neighbourhood of one agent (ids, rings, states and edges among them)."""

    agent: int
    nodes: np.ndarray  # int64 agent ids; nodes[0] is the agent
    ring: np.ndarray  # int8: 0, 1 or 2
    parent: np.ndarray  # int64 position in ``nodes`` of the ring-1 agent a ring-2 agent hangs from, else -1
    score: np.ndarray  # float64
    blacklisted: np.ndarray  # bool
    emigrated: np.ndarray  # bool
    edges: np.ndarray  # int64 (E, 2): positions in ``nodes``, each edge once
    active: np.ndarray  # bool (E,): still an active friendship
    ever_friends: int = 0  # friends it ever had, drawn or not (ring 1 shows at most RING1_CAP)

    @property
    def friends(self) -> int:
        """Active friends of the agent among those drawn (all of them unless ring 1 is capped)."""
        return int(np.sum(self.active[np.any(self.edges == 0, axis=1)]))


def _row(world: World, i: int) -> tuple[np.ndarray, np.ndarray]:
    """Agent ``i``'s neighbours and whether each friendship is active (active ones first).

    An edge to an adult of its own household is family, never a friendship (docs/model.md §14):
    it is left out, not drawn as a cut friendship.
    """
    ids, live = world.network.row(i)
    order = np.argsort(~live, kind="stable")  # active friends first, each part in id order
    neighbours, active = ids[order], live[order]
    member_of = world.households.member_of
    if member_of.shape[0]:
        friends = member_of[neighbours] != member_of[i]
        neighbours, active = neighbours[friends], active[friends]
    return neighbours, active


def _rings(world: World, agent: int, cap: int) -> tuple[list[int], list[int], list[int]]:
    """Nodes in drawing order, their ring and their ring-1 parent position (-1 for none)."""
    friends = sorted(int(v) for v in _row(world, agent)[0])[:RING1_CAP]
    nodes, ring, parent = [agent, *friends], [0] + [1] * len(friends), [-1] * (1 + len(friends))
    seen = set(nodes)
    for position, friend in enumerate(friends, start=1):
        for v in _row(world, friend)[0]:
            if len(nodes) - 1 - len(friends) >= cap:
                return nodes, ring, parent
            if int(v) not in seen:
                seen.add(int(v))
                nodes.append(int(v))
                ring.append(2)
                parent.append(position)
    return nodes, ring, parent


def _edges(world: World, nodes: list[int], ring: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Edges among ``nodes`` (not between two ring-2 agents), once each, with their active flag."""
    where = {v: k for k, v in enumerate(nodes)}
    pairs: list[tuple[int, int]] = []
    active: list[bool] = []
    for a, u in enumerate(nodes):
        if ring[a] == 2:
            continue
        neighbours, is_active = _row(world, u)
        for v, on in zip(neighbours.tolist(), is_active.tolist(), strict=True):
            b = where.get(v)
            if b is not None and (ring[b] == 2 or a < b):
                pairs.append((a, b))
                active.append(on)
    return np.array(pairs, dtype=np.int64).reshape(-1, 2), np.array(active, dtype=np.bool_)


def default_agent(world: World) -> int:
    """The listed agent with the lowest id still in the country, or agent 0 if nobody is listed."""
    pop = world.population
    listed = np.flatnonzero(pop.blacklisted & ~pop.emigrated)
    return int(listed[0]) if listed.size else 0


def ego_network(world: World, agent: int, cap: int = RING2_CAP) -> EgoNetwork:
    """The ego network of ``agent`` in ``world`` as it is now (read it between two days)."""
    n = world.population.n_agents
    if not 0 <= agent < n:
        raise ValueError(f"agent must be 0 to {n - 1} (got {agent})")
    nodes, ring, parent = _rings(world, agent, cap)
    edges, active = _edges(world, nodes, ring)
    ids = np.array(nodes, dtype=np.int64)
    pop = world.population
    ever = int(_row(world, agent)[0].shape[0])
    return EgoNetwork(
        agent=agent, nodes=ids, ring=np.array(ring, dtype=np.int8), parent=np.array(parent, dtype=np.int64),
        score=pop.score[ids].astype(np.float64), blacklisted=pop.blacklisted[ids].astype(np.bool_),
        emigrated=pop.emigrated[ids].astype(np.bool_), edges=edges, active=active, ever_friends=ever,
    )  # fmt: skip


def layout(ego: EgoNetwork) -> np.ndarray:
    """Deterministic (x, y) of every node: the agent at the centre, rings at radius 1 and 2."""
    xy = np.zeros((len(ego.nodes), 2))
    first = np.flatnonzero(ego.ring == 1)
    angle = np.zeros(len(ego.nodes))
    for k, position in enumerate(first):
        angle[position] = 2 * math.pi * k / max(len(first), 1)
    second = np.flatnonzero(ego.ring == 2)
    spread = 2 * math.pi / max(len(first), 1)
    for position in second:
        siblings = second[ego.parent[second] == ego.parent[position]]
        k, count = int(np.searchsorted(siblings, position)), len(siblings)
        angle[position] = angle[ego.parent[position]] + spread * 0.8 * ((k + 0.5) / count - 0.5)
    radius = ego.ring.astype(np.float64)
    xy[:, 0], xy[:, 1] = radius * np.cos(angle), radius * np.sin(angle)
    return xy


def _edge_trace(xy: np.ndarray, edges: np.ndarray, name: str, line: dict[str, object]) -> go.Scatter:
    """One line trace for a set of edges (segments separated by gaps)."""
    xs: list[float | None] = []
    ys: list[float | None] = []
    for a, b in edges.tolist():
        xs += [float(xy[a, 0]), float(xy[b, 0]), None]
        ys += [float(xy[a, 1]), float(xy[b, 1]), None]
    return go.Scatter(x=xs, y=ys, mode="lines", name=name, line=line, hoverinfo="skip")


def figure(ego: EgoNetwork, score_range: tuple[float, float], width: int = 500, height: int = 400) -> go.Figure:
    """Plotly figure of an ego network: nodes coloured by score, cut edges faint and dashed."""
    xy = layout(ego)
    cut = _edge_trace(xy, ego.edges[~ego.active], "cut friendship", {"color": "rgba(120,120,120,0.35)",
                      "width": 1, "dash": "dash"})  # fmt: skip
    kept = _edge_trace(xy, ego.edges[ego.active], "friendship", {"color": "rgba(60,60,60,0.8)", "width": 1.2})
    labels = [
        f"agent {v}<br>score {s:.0f}" + (" · listed" if b else "") + (" · emigrated" if e else "")
        for v, s, b, e in zip(ego.nodes.tolist(), ego.score.tolist(), ego.blacklisted, ego.emigrated, strict=True)
    ]
    nodes = go.Scatter(
        x=xy[:, 0], y=xy[:, 1], mode="markers", name="agents", text=labels, hoverinfo="text",
        marker={
            "size": np.where(ego.ring == 0, 18, np.where(ego.ring == 1, 11, 7)), "color": ego.score,
            "colorscale": "RdYlGn", "cmin": score_range[0], "cmax": score_range[1],
            "colorbar": {"title": {"text": "score"}, "thickness": 12},
            "line": {"color": np.where(ego.blacklisted, "black", "white"),
                     "width": np.where(ego.blacklisted, 2.5, 0.5)},
            "symbol": np.where(ego.emigrated, "x", "circle"),
        },
    )  # fmt: skip
    drawn = int(np.sum(ego.ring == 1))
    shown = f", {drawn} of {ego.ever_friends} friends drawn" if drawn < ego.ever_friends else ""
    title = f"Agent {ego.agent}: {ego.friends} active friends{shown} (black ring: listed)"
    return _styled(go.Figure([cut, kept, nodes]), title, width, height)


def empty_figure(width: int = 500, height: int = 400) -> go.Figure:
    """The ego network's frame before there is a society to draw."""
    return _styled(go.Figure(), "Ego network: drawn once the society is built", width, height)


def _styled(fig: go.Figure, title: str, width: int, height: int) -> go.Figure:
    fig.update_layout(
        title={"text": title, "font": {"size": 13}}, showlegend=False, width=width, height=height, autosize=False,
        margin={"l": 10, "r": 10, "t": 40, "b": 10}, xaxis={"visible": False, "scaleanchor": "y"},
        yaxis={"visible": False}, plot_bgcolor="white",
    )  # fmt: skip
    return fig
