"""Figures for the load-balancing chapter.

Every function returns a matplotlib Figure and draws nothing else, so a
notebook cell only calls one and shows it, and the tests check what was drawn.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from imref.balancing.analysis import (
    MaxLoadCurve,
    arc_lengths,
    ideal_moved_on_add,
    ideal_moved_on_remove,
    load_stats,
)

#: Radius of the circle that carries the points, and of the key ticks.
_POINT_RADIUS = 1.0
_TICK_INNER = 1.12
_TICK_OUTER = 1.25


def node_colors(nodes: Sequence[Any]) -> dict:
    """Map each node to a colour, the same one in every figure for the same list."""
    palette = plt.get_cmap("tab20").colors
    return {node: palette[index % len(palette)] for index, node in enumerate(nodes)}


def plot_ring_points(
    points: Sequence[tuple[int, str]],
    ring_size: int,
    *,
    key_positions: Iterable[int] = (),
    nodes: Sequence[str] | None = None,
    title: str | None = None,
) -> Figure:
    """Draw a hash ring as a polar plot: points coloured by node, keys as ticks.

    Position 0 is at the top and positions grow clockwise, the direction in
    which a key looks for its node. A band inside the circle shows which node
    owns each arc. ``nodes`` fixes the colour order, so that a node keeps its
    colour when others join or leave.
    """
    owners = [node for _, node in points]
    order = list(nodes) if nodes is not None else sorted(set(owners))
    colors = node_colors(order)
    angles = np.array([2 * math.pi * int(p) / ring_size for p, _ in points])
    arcs = np.array(arc_lengths(points, ring_size), dtype=float) if points else []

    figure = plt.figure(figsize=(6, 6))
    ax = figure.add_subplot(projection="polar")
    ax.set_theta_zero_location("N")
    ax.set_theta_direction(-1)

    # Ownership band: each point owns the arc that ends at it.
    if len(points):
        widths = 2 * math.pi * arcs / ring_size
        ax.bar(
            angles - widths / 2,
            0.25,
            width=widths,
            bottom=0.6,
            color=[colors[node] for node in owners],
            alpha=0.45,
            linewidth=0,
        )

    for node in order:
        mine = [i for i, owner in enumerate(owners) if owner == node]
        ax.scatter(
            angles[mine] if mine else [],
            np.full(len(mine), _POINT_RADIUS),
            s=12,
            color=colors[node],
            label=f"{node} ({len(mine)} point{'' if len(mine) == 1 else 's'})",
            zorder=3,
        )

    key_angles = [2 * math.pi * int(p) / ring_size for p in key_positions]
    ax.vlines(
        key_angles, _TICK_INNER, _TICK_OUTER, color="black", linewidth=0.5, label="keys"
    )

    ax.set_ylim(0, 1.3)
    ax.set_yticks([])
    ax.set_xticks([])
    ax.spines["polar"].set_visible(False)
    ax.set_title(title or f"{len(order)} nodes, {len(points)} points on the ring")
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize="small")
    figure.tight_layout()
    return figure


def plot_load_per_server(
    assignments: Mapping[str, Sequence[Any]],
    nodes: Sequence[str],
    *,
    columns: int = 4,
    title: str | None = None,
) -> Figure:
    """Draw one bar chart of load per node for each strategy, with the mean marked.

    ``assignments`` maps a strategy name to the node each key landed on. Each
    panel's title gives the strategy and its max/mean load.
    """
    names = list(assignments)
    rows = max(1, math.ceil(len(names) / columns))
    columns = min(columns, max(1, len(names)))
    figure, axes = plt.subplots(
        rows,
        columns,
        figsize=(3.2 * columns, 2.4 * rows),
        sharey=True,
        squeeze=False,
    )
    colors = node_colors(nodes)
    labels = [str(node) for node in nodes]
    for ax, name in zip(axes.flat, names, strict=False):
        stats = load_stats(assignments[name], nodes)
        heights = [stats.counts[node] for node in nodes]
        ax.bar(labels, heights, color=[colors[node] for node in nodes])
        ax.axhline(stats.mean, color="black", linestyle="--", linewidth=1)
        ax.set_title(f"{name}: max/mean {stats.max_over_mean:.2f}", fontsize="small")
        ax.tick_params(axis="x", labelrotation=90, labelsize="x-small")
    for ax in axes.flat[len(names) :]:
        ax.remove()
    for ax in axes[:, 0]:
        ax.set_ylabel("keys")
    figure.suptitle(title or "Load per node (dashed line: mean)")
    figure.tight_layout()
    return figure


def plot_keys_moved(table: Any, n: int, *, baseline: str = "mod_n") -> Figure:
    """Draw the fraction of keys each strategy moves when a node joins or leaves.

    ``table`` is the DataFrame from ``keys_moved_table``: one row per strategy
    with the columns ``on_add`` and ``on_remove``. Vertical lines mark the
    ideals 1/(n+1) for a join and 1/n for a leave, and the ``baseline`` row is
    hatched.
    """
    names = list(table.index)
    y = np.arange(len(names))
    height = 0.38
    figure, ax = plt.subplots(figsize=(7, 0.45 * len(names) + 1.5))
    joined = ax.barh(
        y - height / 2, table["on_add"], height, color="tab:blue", label="a node joins"
    )
    left = ax.barh(
        y + height / 2,
        table["on_remove"],
        height,
        color="tab:orange",
        label="a node leaves",
    )
    for bars in (joined, left):
        for bar, name in zip(bars, names, strict=True):
            if name == baseline:
                bar.set_hatch("//")
                bar.set_edgecolor("black")
    ax.axvline(
        ideal_moved_on_add(n),
        color="tab:blue",
        linestyle="--",
        label=f"ideal on join, 1/(n+1) = 1/{n + 1}",
    )
    ax.axvline(
        ideal_moved_on_remove(n),
        color="tab:orange",
        linestyle=":",
        label=f"ideal on leave, 1/n = 1/{n}",
    )
    ax.set_yticks(y, names)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("fraction of keys that changed node")
    ax.set_title(f"Keys moved when one of {n} nodes joins or leaves")
    ax.legend(
        loc="upper center", bbox_to_anchor=(0.5, -0.18), ncols=2, fontsize="small"
    )
    figure.tight_layout()
    return figure


def plot_max_load(curve: MaxLoadCurve) -> Figure:
    """Draw max load against requests for one and two random choices, with theory.

    The left panel shows max/mean, which tends to 1 for both. The right panel
    shows the excess max - mean on log axes: one choice grows like sqrt(m),
    two choices stay flat. Each panel's legend names the formula it plots,
    and an excess of 0 has no place on a log axis, so it is left out.
    """
    m = curve.requests
    mean = curve.mean
    figure, (ratio_ax, excess_ax) = plt.subplots(1, 2, figsize=(11, 4))

    # Each series: values, colour, style, label on the left, label on the right.
    series = [
        (curve.one_choice, "tab:red", "o-", "one choice, simulated", None),
        (
            curve.one_choice_theory,
            "tab:red",
            "--",
            "one choice, m/n + sqrt(2 (m/n) ln n)",
            "one choice, sqrt(2 (m/n) ln n)",
        ),
        (curve.two_choices, "tab:green", "s-", "two choices, simulated", None),
        (
            curve.two_choices_theory,
            "tab:green",
            "--",
            "two choices, m/n + ln ln n / ln 2",
            "two choices, ln ln n / ln 2",
        ),
    ]
    for values, color, style, ratio_label, excess_label in series:
        ratio_ax.plot(
            m, values / mean, style, color=color, label=ratio_label, markersize=4
        )
        excess = np.asarray(values - mean, dtype=float)
        excess = np.where(excess > 0, excess, np.nan)
        excess_ax.plot(
            m,
            excess,
            style,
            color=color,
            label=excess_label or ratio_label,
            markersize=4,
        )
    ratio_ax.set_xscale("log")
    ratio_ax.set_xlabel("requests m")
    ratio_ax.set_ylabel("max load / mean load")
    ratio_ax.set_title(f"Relative imbalance on n = {curve.n} servers")
    ratio_ax.axhline(1, color="grey", linewidth=0.8)
    ratio_ax.legend(fontsize="small")
    excess_ax.set_xscale("log")
    excess_ax.set_yscale("log")
    excess_ax.set_xlabel("requests m")
    excess_ax.set_ylabel("max load - mean load")
    excess_ax.set_title("Excess over the mean")
    excess_ax.legend(fontsize="small")
    figure.tight_layout()
    return figure


def plot_ring(
    ring: Any,
    keys: Iterable[str | bytes] = (),
    *,
    nodes: Sequence[str] | None = None,
    title: str | None = None,
) -> Figure:
    """Draw a ring balancer's points and where ``keys`` hash to.

    ``ring`` is a ``HashRing`` or any balancer with ``points()``,
    ``RING_SIZE`` and ``hash_key(key)``. ``nodes`` fixes the colour order, and
    defaults to the ring's own nodes.
    """
    key_positions = [ring.hash_key(key) for key in keys]
    return plot_ring_points(
        ring.points(),
        ring.RING_SIZE,
        key_positions=key_positions,
        nodes=list(ring.nodes) if nodes is None else nodes,
        title=title,
    )
