"""Counts that describe a workload, as shown in notebook 00's figures."""

from __future__ import annotations

import numpy as np
import pandas as pd

from imref.workload.spec import WEEK_SECONDS
from imref.workload.tables import Workload, WorkloadError

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def group_size_counts(workload: Workload) -> pd.Series:
    """Count groups of each size, indexed by size in ascending order."""
    return workload.groups["size"].value_counts().sort_index().rename("groups")


def groups_with_at_least(workload: Workload) -> pd.Series:
    """Count, for each group size s, the groups with at least s members.

    This is the complementary cumulative distribution of group sizes, as
    counts, indexed by the sizes that occur in ascending order.
    """
    counts = group_size_counts(workload)
    return counts[::-1].cumsum()[::-1].rename("groups_with_at_least")


def group_size_slope(workload: Workload, max_size: int) -> float:
    """Fit the log-log slope of ``groups_with_at_least`` up to ``max_size``.

    For group sizes drawn from a power law with exponent a, the count of
    groups with at least s members falls as s ** (1 - a), so the slope is
    1 - a. The fit is least squares on the natural logs of size and count.

    Raises:
        WorkloadError: fewer than two distinct sizes are at most ``max_size``.
    """
    at_least = groups_with_at_least(workload)
    fitted = at_least[at_least.index <= max_size]
    if len(fitted) < 2:
        raise WorkloadError(
            f"max_size {max_size!r} is invalid: {len(fitted)} distinct group "
            "size(s) are at most it, and a slope needs two; pass a larger size"
        )
    sizes = np.log(fitted.index.to_numpy(dtype=float))
    counts = np.log(fitted.to_numpy(dtype=float))
    return float(np.polyfit(sizes, counts, 1)[0])


def messages_per_hour(workload: Workload) -> pd.Series:
    """Count messages in each of the 168 hours of the week, Monday 00:00 first."""
    hour = (workload.messages["sent_at"].to_numpy() // 3600).astype(np.int64)
    counts = np.bincount(hour, minlength=WEEK_SECONDS // 3600)
    return pd.Series(
        counts, index=pd.RangeIndex(len(counts), name="hour"), name="messages"
    )


def messages_per_day(workload: Workload) -> pd.Series:
    """Count messages on each day of the week, indexed Mon to Sun."""
    weekly = messages_per_hour(workload)
    daily = weekly.groupby(weekly.index // 24).sum()
    daily.index = pd.Index(DAYS, name="day")
    return daily


def silent_friendship_share(workload: Workload) -> float:
    """Return the share of single chats that carry no message in the week."""
    chats = workload.friendships["conversation_id"]
    return float((~chats.isin(workload.messages["conversation_id"])).mean())


def messages_per_hour_of_day(workload: Workload) -> pd.Series:
    """Count messages in each hour of the day (0 to 23), summed over the week."""
    weekly = messages_per_hour(workload)
    daily = weekly.groupby(weekly.index % 24).sum()
    return daily.rename_axis("hour_of_day")


def peak_hour_of_day(workload: Workload) -> int:
    """Return the hour of the day (0 to 23) with the most messages."""
    return int(messages_per_hour_of_day(workload).idxmax())


def quietest_hour_of_day(workload: Workload) -> int:
    """Return the hour of the day (0 to 23) with the fewest messages."""
    return int(messages_per_hour_of_day(workload).idxmin())


def devices_per_user(workload: Workload) -> pd.Series:
    """Count users by how many devices they have, indexed by device count."""
    per_user = workload.devices.groupby("user_id").size()
    per_user = per_user.reindex(workload.users["user_id"], fill_value=0)
    return per_user.value_counts().sort_index().rename_axis("devices").rename("users")


def top_conversation_share(workload: Workload, fraction: float) -> float:
    """Return the share of messages sent in the busiest ``fraction`` of conversations.

    Conversations are ranked by message count, and every conversation counts,
    including those with no message in the week.

    Raises:
        WorkloadError: ``fraction`` is not in (0, 1].
    """
    if not 0 < fraction <= 1:
        raise WorkloadError(
            f"fraction {fraction!r} is invalid; pass a share in (0, 1], such as 0.01"
        )
    counts = workload.messages["conversation_id"].value_counts().to_numpy()
    n_conversations = len(workload.friendships) + len(workload.groups)
    top = max(1, round(fraction * n_conversations))
    return float(np.sort(counts)[::-1][:top].sum() / len(workload.messages))
