"""A cost model of fan-out on write and on read, in rows and statements.

The model counts what ``MessageStore`` does, without running it:

- A send writes one message row. Fan-out on write adds one inbox row per
  member, the sender included, so a group of g members writes 1 + g rows.
  Fan-out on read writes only the message row.
- A send runs ``BEGIN``, the membership and seq check, the message insert and
  ``COMMIT``. Fan-out on write adds the query for the members' next inbox
  seqs and one insert per member: 5 + g statements, against 4.
- A sync runs ``BEGIN``, the inbox query, the timeline query and ``COMMIT``
  in every mode. Fan-out on write reads the user's inbox range: one index
  seek, then one inbox row and one message row per item. Fan-out on read
  seeks once into every conversation the user is in, whether or not it has
  new messages, then reads one message row per item.
- Delivering a message to online devices is the same in both modes: every
  online device of every member is notified once.

``imref.storage.simulate`` replays the workload through the real store and
compares its counts with these functions.
"""

from __future__ import annotations

from dataclasses import dataclass

from imref.storage.errors import InvalidArgumentError

# Statements of a send that every mode runs: BEGIN, the membership and seq
# check, the message insert and COMMIT.
SEND_BASE_STATEMENTS = 4
# Statements of a sync in every mode: BEGIN, the inbox query, the timeline
# query and COMMIT.
SYNC_STATEMENTS = 4


@dataclass(frozen=True, slots=True)
class SendCost:
    """The cost of one send: rows written and SQLite statements run."""

    rows_written: int
    inbox_rows: int
    statements: int


@dataclass(frozen=True, slots=True)
class SyncCost:
    """The cost of one sync: index seeks, rows read and statements run."""

    index_seeks: int
    rows_read: int
    statements: int


def uses_inbox(mode: str, group_size: int, threshold: int | None = None) -> bool:
    """Return whether a message to ``group_size`` members fans out on write.

    Raises:
        InvalidArgumentError: an unknown mode, or hybrid without a threshold.
    """
    if mode == "write":
        return True
    if mode == "read":
        return False
    if mode == "hybrid" and threshold is not None:
        return group_size <= threshold
    raise InvalidArgumentError(
        f"mode {mode!r} with threshold {threshold!r} is invalid; pass 'write', "
        "'read', or 'hybrid' with a member count threshold"
    )


def send_cost(mode: str, group_size: int, threshold: int | None = None) -> SendCost:
    """Return the rows and statements of one send to ``group_size`` members."""
    if not uses_inbox(mode, group_size, threshold):
        return SendCost(rows_written=1, inbox_rows=0, statements=SEND_BASE_STATEMENTS)
    return SendCost(
        rows_written=1 + group_size,
        inbox_rows=group_size,
        statements=SEND_BASE_STATEMENTS + 1 + group_size,
    )


def sync_cost(mode: str, conversations: int, messages: int) -> SyncCost:
    """Return the seeks and rows of one sync that fetches ``messages`` items.

    ``conversations`` counts the conversations the user is in that fan out
    on read; in write mode it does not matter.
    """
    if mode == "write":
        # NOTE: the store also runs the timeline query in write mode, and it
        # seeks once into each membership period of the user even though no
        # message there fans out on read. This count leaves those seeks out.
        return SyncCost(
            index_seeks=1, rows_read=2 * messages, statements=SYNC_STATEMENTS
        )
    if mode == "read":
        return SyncCost(
            index_seeks=conversations, rows_read=messages, statements=SYNC_STATEMENTS
        )
    raise InvalidArgumentError(
        f"mode {mode!r} is invalid for a sync cost; pass 'write' or 'read', and "
        "add the two for a hybrid user"
    )


def notifications(group_size: int, online_devices_per_member: float) -> float:
    """Return the device notifications one message causes, in any fan-out mode."""
    return group_size * online_devices_per_member
