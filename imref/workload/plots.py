"""Figures of a workload: group sizes, messages per hour, devices per user.

Each function draws into a new pyplot figure and returns it, so a notebook
cell ends with ``plt.show()`` and a test can inspect what was drawn.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from imref.workload.spec import PLATFORMS, SPECS
from imref.workload.stats import (
    DAYS,
    devices_per_user,
    groups_with_at_least,
    messages_per_hour,
)
from imref.workload.tables import Workload


def plot_group_sizes(workload: Workload) -> Figure:
    """Plot how many groups have at least each size, on log-log axes.

    This count (the complementary cumulative distribution) of a power law
    p(k) ~ k**-a is close to a straight line of slope -(a - 1), which a dotted
    line shows from the smallest size when the workload's spec is known. Raw
    counts per size would flatten at one group per size in the tail. Ordinary
    and large groups get one scatter each, and a dashed vertical line marks the
    ordinary-group cap.
    """
    at_least = groups_with_at_least(workload)
    large_sizes = set(workload.groups.loc[workload.groups["is_large"], "size"])
    is_large = at_least.index.isin(list(large_sizes))
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.scatter(at_least.index[~is_large], at_least[~is_large], s=12, label="ordinary")
    ax.scatter(
        at_least.index[is_large], at_least[is_large], s=30, marker="D", label="large"
    )
    spec = SPECS.get(workload.name)
    if spec is not None:
        sizes = np.geomspace(spec.group_size_min, spec.group_size_cap, 50)
        slope = spec.group_size_exponent - 1
        reference = at_least.iloc[0] * (sizes / spec.group_size_min) ** -slope
        ax.plot(
            sizes,
            reference,
            color="black",
            linestyle=":",
            label=f"power law, slope -{slope:g}",
        )
        ax.axvline(
            spec.group_size_cap,
            color="grey",
            linestyle="--",
            label=f"cap ({spec.group_size_cap})",
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("group size s (members)")
    ax.set_ylabel("groups with at least s members")
    ax.set_title(f"Group sizes in workload {workload.name!r}")
    ax.legend()
    fig.tight_layout()
    return fig


def plot_messages_per_hour(workload: Workload) -> Figure:
    """Plot messages per hour over the week as stairs, one tick per day."""
    counts = messages_per_hour(workload)
    fig, ax = plt.subplots(figsize=(9, 3.5))
    ax.stairs(counts.to_numpy(), range(len(counts) + 1))
    ax.set_xticks(range(0, len(counts), 24), labels=DAYS)
    ax.set_xlim(0, len(counts))
    ax.grid(axis="x", linestyle=":")
    ax.set_xlabel("hour of the week (ticks at 00:00)")
    ax.set_ylabel("messages per hour")
    ax.set_title(f"Messages per hour in workload {workload.name!r}")
    fig.tight_layout()
    return fig


def plot_devices_per_user(workload: Workload) -> Figure:
    """Plot users by device count (left) and devices by platform (right)."""
    per_user = devices_per_user(workload)
    platforms = workload.devices["platform"].value_counts().reindex(list(PLATFORMS))
    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3.5))
    left.bar(per_user.index.astype(str), per_user.to_numpy())
    left.set_xlabel("devices per user")
    left.set_ylabel("users")
    right.bar(platforms.index.astype(str), platforms.to_numpy(), color="tab:orange")
    right.set_xlabel("platform")
    right.set_ylabel("devices")
    fig.suptitle(f"Devices in workload {workload.name!r}")
    fig.tight_layout()
    return fig
