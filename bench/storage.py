"""Benchmark the message store against bare sqlite3 on the same schema.

Three measurements, each against a baseline measured in the same run:

1. ``send`` in write mode against a bare loop that inserts the same message
   and inbox rows, one transaction per message, with the same pragmas
   (WAL, synchronous=NORMAL). Target: at least 0.5x the baseline's rate.
2. ``send_many`` of a batch against one ``executemany`` per table of the
   same rows in one transaction. Target: at least 0.5x.
3. The median time of ``sync`` returning 100 new messages spread over 10
   conversations, in each mode. Target: at most 2 ms.

Both comparisons alternate chunks of imref and of bare sqlite3, so that a
change in the load of a shared machine affects both alike.

Run from the repository root: ``python bench/storage.py``. It takes under a
minute on two cores and writes only to a temporary folder.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

from imref.storage import Draft, MessageStore

INSERT_MESSAGE = (
    "INSERT INTO messages (message_id, conversation_id, seq, sender_id, "
    "client_msg_id, type, content, target_id, via_inbox, created_at) "
    "VALUES (?, ?, ?, ?, ?, 'text', ?, NULL, 1, ?)"
)
INSERT_INBOX = (
    "INSERT INTO inbox (user_id, user_seq, conversation_id, seq, message_id) "
    "VALUES (?, ?, ?, ?, ?)"
)


def new_store(folder: Path, name: str, mode: str, members: int, chats: int):
    """Return a store with ``chats`` conversations of ``members`` users each."""
    store = MessageStore(folder / f"{name}.db", mode)
    conversations = []
    for _ in range(chats):
        users = [store.create_user() for _ in range(members)]
        if members == 2:
            conversations.append((store.open_single(*users), users))
        else:
            conversations.append((store.create_group(users[0], users[1:]), users))
    return store, conversations


def baseline_connection(folder: Path, name: str, members: int, chats: int):
    """Return a bare connection to a file with the store's schema and users."""
    store, conversations = new_store(folder, name, "write", members, chats)
    store.close()
    conn = sqlite3.connect(folder / f"{name}.db", isolation_level=None)
    conn.execute("PRAGMA synchronous = NORMAL")
    return conn, conversations


def planned_rows(conversations, count: int):
    """Return the message and inbox rows of ``count`` round-robin messages."""
    messages, inbox = [], []
    next_seq = {conversation: 1 for conversation, _ in conversations}
    user_seq = {user: 1 for _, users in conversations for user in users}
    for index in range(count):
        conversation, users = conversations[index % len(conversations)]
        message_id = index + 1
        seq = next_seq[conversation]
        next_seq[conversation] += 1
        messages.append(
            (message_id, conversation, seq, users[0], None, f"message {index}", 0.0)
        )
        rows = []
        for user in users:
            rows.append((user, user_seq[user], conversation, seq, message_id))
            user_seq[user] += 1
        inbox.append(rows)
    return messages, inbox


def bench_send(
    folder: Path, members: int, count: int, rounds: int
) -> tuple[float, float]:
    """Return (store sends per second, bare loop messages per second).

    The two alternate in ``rounds`` chunks, so that a change in the load of
    a shared machine affects both alike.
    """
    store, conversations = new_store(folder, f"send{members}", "write", members, 1)
    ((conversation, users),) = conversations
    conn, bare_conversations = baseline_connection(folder, f"bare{members}", members, 1)
    messages, inbox = planned_rows(bare_conversations, count)
    chunk = count // rounds
    store_seconds = bare_seconds = 0.0
    for round_index in range(rounds):
        indexes = range(round_index * chunk, (round_index + 1) * chunk)
        start = time.perf_counter()
        for index in indexes:
            store.send(users[0], conversation, f"message {index}")
        store_seconds += time.perf_counter() - start

        start = time.perf_counter()
        for index in indexes:
            conn.execute("BEGIN")
            conn.execute(INSERT_MESSAGE, messages[index])
            conn.executemany(INSERT_INBOX, inbox[index])
            conn.execute("COMMIT")
        bare_seconds += time.perf_counter() - start
    store.close()
    conn.close()
    sent = chunk * rounds
    return sent / store_seconds, sent / bare_seconds


def bench_send_many(
    folder: Path, members: int, count: int, rounds: int
) -> tuple[float, float]:
    """Return (send_many messages per second, executemany messages per second).

    Each of ``rounds`` batches goes first through ``send_many``, then
    through one ``executemany`` per table on the bare connection.
    """
    chats = 100
    store, conversations = new_store(folder, f"many{members}", "write", members, chats)
    conn, bare_conversations = baseline_connection(
        folder, f"manybare{members}", members, chats
    )
    messages, inbox = planned_rows(bare_conversations, count)
    chunk = count // rounds
    store_seconds = bare_seconds = 0.0
    for round_index in range(rounds):
        indexes = range(round_index * chunk, (round_index + 1) * chunk)
        drafts = [
            Draft(users[0], conversation, f"message {index}")
            for index in indexes
            for conversation, users in [conversations[index % chats]]
        ]
        start = time.perf_counter()
        store.send_many(drafts)
        store_seconds += time.perf_counter() - start

        message_rows = [messages[index] for index in indexes]
        inbox_rows = [row for index in indexes for row in inbox[index]]
        start = time.perf_counter()
        conn.execute("BEGIN")
        conn.executemany(INSERT_MESSAGE, message_rows)
        conn.executemany(INSERT_INBOX, inbox_rows)
        conn.execute("COMMIT")
        bare_seconds += time.perf_counter() - start
    store.close()
    conn.close()
    sent = chunk * rounds
    return sent / store_seconds, sent / bare_seconds


def bench_sync(folder: Path, mode: str, repeats: int) -> float:
    """Return the median seconds of a sync that returns 100 new messages."""
    store, conversations = new_store(folder, f"sync-{mode}", mode, 5, 10)
    reader = conversations[0][1][1]
    # The reader is in all ten groups, and old history precedes the cursor.
    for conversation, _ in conversations[1:]:
        store.add_member(conversation, reader)
    history = [
        Draft(users[0], conversation, f"old {index}")
        for index in range(2000)
        for conversation, users in [conversations[index % 10]]
    ]
    store.send_many(history)
    cursor = None
    while True:
        result = store.sync(reader, cursor, limit=1000)
        cursor = result.cursor
        if result.complete:
            break
    for index in range(100):
        conversation, users = conversations[index % 10]
        store.send(users[0], conversation, f"new {index}")

    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = store.sync(reader, cursor, limit=100)
        times.append(time.perf_counter() - start)
    if len(result.items) != 100:
        raise AssertionError(f"sync returned {len(result.items)} items, not 100")
    store.close()
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sends", type=int, default=5000, help="messages per send benchmark"
    )
    parser.add_argument(
        "--batch", type=int, default=50_000, help="messages in the send_many batches"
    )
    parser.add_argument("--repeats", type=int, default=300, help="timed syncs per mode")
    parser.add_argument(
        "--rounds",
        type=int,
        default=10,
        help="alternating chunks of imref and bare sqlite3 in each comparison",
    )
    args = parser.parse_args(argv)

    rows = []
    with tempfile.TemporaryDirectory(prefix="imref-bench-") as tmp:
        folder = Path(tmp)
        for members in (2, 20):
            store_rate, bare_rate = bench_send(folder, members, args.sends, args.rounds)
            rows.append(
                (
                    f"send, write mode, {members} members",
                    f"{store_rate:,.0f} msg/s",
                    f"{bare_rate:,.0f} msg/s",
                    f"{store_rate / bare_rate:.2f}x",
                    ">= 0.5x",
                )
            )
        for members in (2, 20):
            store_rate, bare_rate = bench_send_many(
                folder, members, args.batch, args.rounds
            )
            rows.append(
                (
                    f"send_many, write mode, {members} members",
                    f"{store_rate:,.0f} msg/s",
                    f"{bare_rate:,.0f} msg/s",
                    f"{store_rate / bare_rate:.2f}x",
                    ">= 0.5x",
                )
            )
        for mode in ("write", "read", "hybrid"):
            seconds = bench_sync(folder, mode, args.repeats)
            rows.append(
                (
                    f"sync of 100 new messages, {mode} mode",
                    f"{seconds * 1000:.2f} ms median",
                    "",
                    "",
                    "<= 2 ms",
                )
            )

    header = ("case", "imref", "bare sqlite3", "ratio", "target")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(5)]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print(
            " | ".join(
                cell.ljust(width) for cell, width in zip(row, widths, strict=True)
            )
        )
    print(f"Python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
