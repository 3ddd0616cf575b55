"""The recorded chat workload that every chapter runs on.

``load("tiny")`` or ``load("default")`` returns a ``Workload`` of six pandas
DataFrames: users, devices, friendships (single chats), groups, members and a
week of messages. ``data/README.md`` documents every column and where each
parameter comes from; ``imref workload`` regenerates the files.
"""

from imref.workload.generate import generate
from imref.workload.spec import SPECS, WorkloadSpec
from imref.workload.tables import (
    SCHEMA,
    TABLES,
    Workload,
    WorkloadError,
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
    "generate",
    "load",
    "write_workload",
]
