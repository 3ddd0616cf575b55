"""Figures for notebook 05: the live schema and fan-out costs by group size."""

from __future__ import annotations

import math
import sqlite3

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch

from imref.storage.tuning import UnitCosts, group_costs

_BOX_WIDTH = 3.0
_LINE_HEIGHT = 0.32


def schema_tables(path: str) -> dict[str, list[tuple[str, str | None]]]:
    """Return ``{table: [(column, referenced table or None), ...]}`` from a file."""
    tables = {}
    with sqlite3.connect(path) as conn:
        names = [
            name
            for (name,) in conn.execute(
                "SELECT name FROM sqlite_schema WHERE type = 'table' "
                "AND name NOT LIKE 'sqlite_%' ORDER BY rowid"
            )
        ]
        for name in names:
            references = {
                row[3]: row[2]
                for row in conn.execute(f"PRAGMA foreign_key_list({name})")
            }
            tables[name] = [
                (row[1], references.get(row[1]))
                for row in conn.execute(f"PRAGMA table_info({name})")
            ]
    return tables


def plot_schema(path: str, columns: int = 4) -> Figure:
    """Draw each table of a live database with its columns and foreign keys.

    Each table is a box listing its columns; an arrow joins a table to each
    other table that one of its columns references.
    """
    tables = schema_tables(path)
    rows = math.ceil(len(tables) / columns)
    tallest = max(len(cols) for cols in tables.values())
    box_height = (tallest + 1.5) * _LINE_HEIGHT
    fig, ax = plt.subplots(figsize=(3.4 * columns, 1.0 + rows * box_height * 0.9))
    anchors = {}
    for index, (name, cols) in enumerate(tables.items()):
        x = (index % columns) * (_BOX_WIDTH + 0.8)
        y = -(index // columns) * (box_height + 0.8)
        height = (len(cols) + 1.2) * _LINE_HEIGHT
        ax.add_patch(
            FancyBboxPatch(
                (x, y - height),
                _BOX_WIDTH,
                height,
                boxstyle="round,pad=0.05",
                facecolor="#eef3fb",
                edgecolor="#34568b",
                label=name,
            )
        )
        ax.text(x + 0.1, y - 0.3, name, fontweight="bold", va="center")
        for line, (column, target) in enumerate(cols, start=1):
            suffix = f" -> {target}" if target else ""
            ax.text(
                x + 0.2,
                y - 0.3 - line * _LINE_HEIGHT,
                column + suffix,
                fontsize=8,
                va="center",
            )
        anchors[name] = (x + _BOX_WIDTH / 2, y - height / 2)
    for name, cols in tables.items():
        for target in sorted({t for _, t in cols if t and t != name}):
            ax.annotate(
                "",
                xy=anchors[target],
                xytext=anchors[name],
                arrowprops={"arrowstyle": "->", "color": "#c0504d", "alpha": 0.5},
            )
    ax.set_xlim(-0.3, columns * (_BOX_WIDTH + 0.8))
    ax.set_ylim(-rows * (box_height + 0.8), 0.3)
    ax.set_axis_off()
    ax.set_title("imref.storage schema, read from the live database")
    fig.tight_layout()
    return fig


def plot_group_costs(
    workload,
    units: UnitCosts,
    *,
    syncs_per_user_per_day: float,
    threshold: int | None = None,
    title: str = "",
) -> Figure:
    """Plot each group's weekly cost on write and on read against its size.

    A vertical line marks ``threshold`` when given.
    """
    groups = group_costs(workload, units, syncs_per_user_per_day=syncs_per_user_per_day)
    fig, ax = plt.subplots(figsize=(7, 4.2))
    ax.scatter(
        groups["size"], groups["write_seconds"] * 1e3, s=10, alpha=0.6,
        label="fan-out on write", color="#c0504d",
    )  # fmt: skip
    ax.scatter(
        groups["size"], groups["read_seconds"] * 1e3, s=10, alpha=0.6,
        label="fan-out on read", color="#34568b",
    )  # fmt: skip
    if threshold is not None:
        ax.axvline(
            threshold, color="black", linestyle="--", label=f"threshold {threshold}"
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("group size (members)")
    ax.set_ylabel("modelled cost per week (ms)")
    ax.set_title(title or "Weekly cost of each group in the workload")
    ax.legend()
    fig.tight_layout()
    return fig


def plot_threshold_costs(costs: pd.DataFrame, chosen: int, title: str = "") -> Figure:
    """Plot the modelled weekly seconds of each hybrid threshold, marking ``chosen``."""
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(costs["threshold"], costs["total_seconds"], marker="o", label="total")
    ax.plot(costs["threshold"], costs["send_seconds"], marker=".", label="sends")
    ax.plot(costs["threshold"], costs["seek_seconds"], marker=".", label="sync seeks")
    best = costs.loc[costs["threshold"] == chosen, "total_seconds"]
    ax.scatter([chosen], best, s=120, facecolors="none", edgecolors="black", zorder=3)
    ax.set_xscale("log")
    ax.set_xlabel("hybrid threshold (members)")
    ax.set_ylabel("modelled seconds per week")
    ax.set_title(title or "Cost of each hybrid threshold on the workload")
    ax.set_xticks(np.array(costs["threshold"]))
    ax.set_xticklabels([str(t) for t in costs["threshold"]], rotation=45)
    ax.legend()
    fig.tight_layout()
    return fig
