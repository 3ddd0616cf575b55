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
import os
import zlib
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
    """Write every table of ``workload`` as gzip CSV into ``directory``.

    Raises:
        WorkloadError: ``directory`` or a file in it cannot be created or
            written, for example because a path component is a file.
    """
    paths = []
    try:
        directory.mkdir(parents=True, exist_ok=True)
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
    except OSError as error:
        raise WorkloadError(
            f"cannot write workload {workload.name!r} to {str(directory)!r}: "
            f"{error.strerror or error}; choose a folder that you can write to"
        ) from error
    logger.info("wrote workload %r to %s", workload.name, directory)
    return paths


def _regenerate_hint(path: Path) -> str:
    return f"regenerate it with 'imref workload {path.parent.name}'"


def read_table_bytes(path: Path) -> bytes:
    """Return the decompressed CSV bytes of one gzip table file.

    Raises:
        WorkloadError: the file is missing, cannot be read, is not gzip,
            is truncated, or is not UTF-8 text.
    """
    if not path.is_file():
        raise WorkloadError(
            f"workload file {str(path)!r} not found; {_regenerate_hint(path)}"
        )
    try:
        compressed = path.read_bytes()
    except OSError as error:
        raise WorkloadError(
            f"workload file {str(path)!r} cannot be read: {error.strerror or error}; "
            f"check its permissions or {_regenerate_hint(path)}"
        ) from error
    try:
        data = gzip.decompress(compressed)
        data.decode("utf-8")
    except (gzip.BadGzipFile, EOFError, zlib.error) as error:
        reason = f"is not a complete gzip file ({error})"
    except UnicodeDecodeError as error:
        reason = f"is not UTF-8 text ({error})"
    else:
        return data
    raise WorkloadError(
        f"workload file {str(path)!r} {reason}; {_regenerate_hint(path)}"
    )


def _line(data: bytes, number: int) -> str:
    """Return line ``number`` of ``data``, where line 1 is the header."""
    return data.split(b"\n", number)[number - 1].decode("utf-8")


def _check_field_counts(path: Path, data: bytes, columns: list[str]) -> None:
    """Raise unless every line of ``data`` has exactly one field per column.

    pandas does not check this itself: it turns the extra leading fields of
    a long first row into an index and pads a short row with NaN.
    """
    header = _line(data, 1)
    found = header.split(",") if header else []
    if found != columns:
        raise WorkloadError(
            f"workload file {str(path)!r} has columns {found!r}, "
            f"expected {columns!r}; {_regenerate_hint(path)}"
        )

    # Count the commas of every line at once: each comma belongs to the line
    # of the first newline at or after it. The fields are numbers and
    # category names, which never contain a comma or a quote, so counting
    # commas counts fields.
    array = np.frombuffer(data, dtype=np.uint8)
    line_ends = np.flatnonzero(array == ord("\n"))
    if not data.endswith(b"\n"):
        line_ends = np.append(line_ends, len(array))
    line_of_comma = np.searchsorted(line_ends, np.flatnonzero(array == ord(",")))
    commas = np.bincount(line_of_comma, minlength=len(line_ends))
    wrong = np.flatnonzero(commas != len(columns) - 1)
    if len(wrong):
        number = int(wrong[0]) + 1
        fields = int(commas[wrong[0]]) + 1
        raise WorkloadError(
            f"workload file {str(path)!r} line {number} has {fields} "
            f"field{'' if fields == 1 else 's'}, expected {len(columns)}: "
            f"{_line(data, number)[:80]!r}; {_regenerate_hint(path)}"
        )


def read_table(path: Path, table: str) -> pd.DataFrame:
    """Read one gzip CSV table with its documented dtypes.

    Raises:
        WorkloadError: the file is missing or unreadable, or its header
            differs from ``SCHEMA[table]``. Also when a row has another
            number of fields, a value is missing or does not parse as its
            column's dtype, or a category value is not one of the categories.
    """
    columns = SCHEMA[table]
    data = read_table_bytes(path)
    _check_field_counts(path, data, list(columns))

    # Step 1: parse. Category columns take the categories found in the file,
    # because pandas would silently turn an unknown value into NaN.
    parse_types = {
        column: "category" if isinstance(dtype, pd.CategoricalDtype) else dtype
        for column, dtype in columns.items()
    }
    try:
        frame = pd.read_csv(io.BytesIO(data), dtype=parse_types, index_col=False)
    except (ValueError, OverflowError) as error:
        raise WorkloadError(
            f"workload file {str(path)!r} has a value that is not of its "
            f"column's type ({error}); {_regenerate_hint(path)}"
        ) from error

    # Step 2: reject a missing value, or a category value outside the
    # documented categories. The generator writes neither.
    for position, (column, dtype) in enumerate(columns.items()):
        values = frame[column]
        invalid = values.isna()
        expected = "a value"
        if isinstance(dtype, pd.CategoricalDtype):
            unknown = set(values.cat.categories) - set(dtype.categories)
            invalid |= values.isin(unknown)
            expected = f"one of {list(dtype.categories)!r}"
        if invalid.any():
            number = int(invalid.to_numpy().argmax()) + 2
            value = _line(data, number).split(",")[position]
            raise WorkloadError(
                f"workload file {str(path)!r} line {number} has "
                f"{column}={value!r}, expected {expected}; {_regenerate_hint(path)}"
            )
        if isinstance(dtype, pd.CategoricalDtype):
            frame[column] = values.cat.set_categories(dtype.categories)
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


def load(
    name: str = "default", *, data_dir: str | os.PathLike[str] | None = None
) -> Workload:
    """Load the recorded workload ``name`` ("tiny" or "default") from ``data/``.

    ``data_dir`` is the folder with one subfolder per workload, as a str or
    a path.

    Raises:
        WorkloadError: the name is unknown, ``data_dir`` is not a path, or a
            file is missing or malformed.
    """
    from imref.tools.paths import DATA_DIR

    check_name(name)
    if data_dir is not None and not isinstance(data_dir, str | os.PathLike):
        raise WorkloadError(
            f"data_dir must be a str or a path, got {type(data_dir).__name__} "
            f"{data_dir!r}; pass the folder that contains {name!r}"
        )

    # NOTE: data/ sits in the checkout beside the package and is not installed
    # with it, so without an editable install pass data_dir explicitly.
    directory = (DATA_DIR if data_dir is None else Path(data_dir)) / name
    frames = {
        table: read_table(directory / f"{table}.csv.gz", table) for table in TABLES
    }
    workload = Workload(name=name, **frames)
    logger.info("loaded %r", workload)
    return workload
