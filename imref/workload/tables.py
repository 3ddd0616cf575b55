"""The workload's tables: their columns, the ``Workload`` object, CSV files.

Each table is stored as ``data/<name>/<table>.csv.gz``. The files are
deterministic: floats have a fixed number of decimals, lines end in ``\\n``,
and the gzip header carries no file name and an mtime of 0, so generating the
same workload twice gives the same bytes with the same library versions.
"""

from __future__ import annotations

import gzip
import io
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from imref.workload.errors import WorkloadError
from imref.workload.spec import CONTENT_TYPES, KINDS, PLATFORMS, SPECS

logger = logging.getLogger("imref.workload")


def _category(values: tuple[str, ...]) -> pd.CategoricalDtype:
    return pd.CategoricalDtype(categories=list(values), ordered=False)


#: Columns and dtypes of each table, in file order.
SCHEMA: dict[str, dict[str, object]] = {
    "users": {"user_id": "int64", "activity": "float64"},
    "devices": {
        "device_id": "int64",
        "user_id": "int64",
        "platform": _category(PLATFORMS),
    },
    "friendships": {"conversation_id": "int64", "user_a": "int64", "user_b": "int64"},
    "groups": {
        "conversation_id": "int64",
        "group_id": "int64",
        "size": "int64",
        "is_large": "bool",
    },
    "members": {"group_id": "int64", "conversation_id": "int64", "user_id": "int64"},
    "messages": {
        "message_id": "int64",
        "sent_at": "float64",
        "conversation_id": "int64",
        "kind": _category(KINDS),
        "sender_id": "int64",
        "size_bytes": "int64",
        "content_type": _category(CONTENT_TYPES),
        "media_bytes": "int64",
    },
}

TABLES = tuple(SCHEMA)

#: printf format of the float columns of each table. ``activity`` keeps six
#: decimals, and ``sent_at`` is in whole milliseconds.
FLOAT_FORMAT = {"users": "%.6f", "messages": "%.3f"}


@dataclass(frozen=True)
class Workload:
    """One recorded workload: six tables that share user and conversation ids."""

    name: str
    users: pd.DataFrame
    devices: pd.DataFrame
    friendships: pd.DataFrame
    groups: pd.DataFrame
    members: pd.DataFrame
    messages: pd.DataFrame

    def __repr__(self) -> str:
        large = int(self.groups["is_large"].sum())
        return (
            f"Workload({self.name!r}: {len(self.users):,} users, "
            f"{len(self.devices):,} devices, {len(self.friendships):,} single chats, "
            f"{len(self.groups):,} groups ({large} large), "
            f"{len(self.messages):,} messages)"
        )

    def tables(self) -> dict[str, pd.DataFrame]:
        """Return the tables by name, in file order."""
        return {table: getattr(self, table) for table in TABLES}

    def conversations(self) -> pd.DataFrame:
        """Return one row per conversation: ``conversation_id``, ``kind``, ``size``.

        Single chats come first, then groups, in ``conversation_id`` order.
        """
        singles = pd.DataFrame(
            {
                "conversation_id": self.friendships["conversation_id"],
                "kind": "single",
                "size": np.int64(2),
            }
        )
        groups = self.groups[["conversation_id", "size"]].assign(kind="group")
        rows = pd.concat([singles, groups[singles.columns]], ignore_index=True)
        return rows.astype({"kind": SCHEMA["messages"]["kind"], "size": "int64"})

    def conversation_members(self) -> pd.DataFrame:
        """Return one row per member of each conversation, single chats included.

        Columns are ``conversation_id`` and ``user_id``, sorted by both, so a
        join with ``messages`` on ``conversation_id`` lists every recipient.
        """
        pairs = [
            self.friendships[["conversation_id", "user_a"]].rename(
                columns={"user_a": "user_id"}
            ),
            self.friendships[["conversation_id", "user_b"]].rename(
                columns={"user_b": "user_id"}
            ),
            self.members[["conversation_id", "user_id"]],
        ]
        rows = pd.concat(pairs, ignore_index=True)
        return rows.sort_values(["conversation_id", "user_id"], ignore_index=True)

    def summary(self) -> pd.DataFrame:
        """Return one row per table with its row count and columns."""
        rows = [
            {"table": table, "rows": len(frame), "columns": ", ".join(frame.columns)}
            for table, frame in self.tables().items()
        ]
        return pd.DataFrame(rows).set_index("table")


def csv_text(workload: Workload, table: str) -> str:
    """Render one table as the exact CSV text stored in its file."""
    buffer = io.StringIO()
    getattr(workload, table).to_csv(
        buffer, index=False, lineterminator="\n", float_format=FLOAT_FORMAT.get(table)
    )
    return buffer.getvalue()


def write_workload(workload: Workload, directory: Path) -> list[Path]:
    """Write every table of ``workload`` as gzip CSV into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for table in TABLES:
        path = directory / f"{table}.csv.gz"
        data = csv_text(workload, table).encode("utf-8")

        # An empty file name and mtime 0 keep the gzip header reproducible.
        with (
            open(path, "wb") as raw,
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz,
        ):
            gz.write(data)
        paths.append(path)
    logger.info("wrote workload %r to %s", workload.name, directory)
    return paths


def read_table(path: Path, table: str) -> pd.DataFrame:
    """Read one gzip CSV table with its documented dtypes.

    Raises:
        WorkloadError: the file is missing or its header differs from
            ``SCHEMA[table]``.
    """
    columns = SCHEMA[table]
    if not path.is_file():
        raise WorkloadError(
            f"workload file {str(path)!r} not found; regenerate it with "
            f"'imref workload {path.parent.name}'"
        )
    frame = pd.read_csv(path, dtype=columns)
    if list(frame.columns) != list(columns):
        raise WorkloadError(
            f"workload file {str(path)!r} has columns {list(frame.columns)!r}, "
            f"expected {list(columns)!r}; regenerate it with "
            f"'imref workload {path.parent.name}'"
        )
    return frame


def check_name(name: str) -> str:
    """Return ``name`` if it names a workload.

    Raises:
        WorkloadError: ``name`` is not one of the names in ``SPECS``.
    """
    if name not in SPECS:
        choices = ", ".join(repr(n) for n in SPECS)
        raise WorkloadError(f"unknown workload {name!r}; choose one of {choices}")
    return name


def load(name: str = "default", *, data_dir: Path | None = None) -> Workload:
    """Load the recorded workload ``name`` ("tiny" or "default") from ``data/``.

    Raises:
        WorkloadError: the name is unknown, or a file is missing or malformed.
    """
    from imref.tools.paths import DATA_DIR

    check_name(name)

    # NOTE: data/ sits in the checkout beside the package and is not installed
    # with it, so without an editable install pass data_dir explicitly.
    directory = (data_dir or DATA_DIR) / name
    frames = {
        table: read_table(directory / f"{table}.csv.gz", table) for table in TABLES
    }
    workload = Workload(name=name, **frames)
    logger.info("loaded %r", workload)
    return workload
