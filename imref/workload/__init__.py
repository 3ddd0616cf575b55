"""The recorded chat workload that every chapter runs on.

``load("tiny")`` or ``load("default")`` returns a ``Workload`` of six pandas
DataFrames: users, devices, friendships (single chats), groups, members and a
week of messages. ``data/README.md`` documents every column and where each
parameter comes from, and ``imref workload`` regenerates the files.
"""

from imref.workload.errors import WorkloadError
from imref.workload.generate import generate
from imref.workload.plots import (
    plot_devices_per_user,
    plot_group_sizes,
    plot_messages_per_hour,
)
from imref.workload.spec import SPECS, WorkloadSpec
from imref.workload.stats import (
    devices_per_user,
    group_size_counts,
    messages_per_day,
    messages_per_hour,
    messages_per_hour_of_day,
    peak_hour_of_day,
    quietest_hour_of_day,
    silent_friendship_share,
    top_conversation_share,
)
from imref.workload.tables import (
    SCHEMA,
    TABLES,
    Workload,
    csv_text,
    load,
    write_workload,
)

__all__ = [
    "SCHEMA",
    "SPECS",
    "TABLES",
    "Workload",
    "WorkloadError",
    "WorkloadSpec",
    "csv_text",
    "devices_per_user",
    "generate",
    "group_size_counts",
    "load",
    "messages_per_day",
    "messages_per_hour",
    "messages_per_hour_of_day",
    "peak_hour_of_day",
    "plot_devices_per_user",
    "plot_group_sizes",
    "plot_messages_per_hour",
    "quietest_hour_of_day",
    "silent_friendship_share",
    "top_conversation_share",
    "write_workload",
]
