"""Small live experiments that notebook 05 shows, each returning a table."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd

from imref.storage.costs import sync_cost
from imref.storage.store import MessageStore


def _count(path: str, table: str) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def one_message_example(
    folder: str | Path,
    group_size: int = 500,
    devices_per_member: int = 2,
    other_chats: int = 20,
) -> pd.DataFrame:
    """Send one message to a new group in each mode and count what it wrote and reads.

    Returns one row per mode: message and inbox rows written, SQLite
    statements run by the send, and what one member's next sync returns and
    seeks by the cost model. That member is also in ``other_chats`` quiet
    single chats. Each member has ``devices_per_member`` devices, which
    change none of the counts.
    """
    rows = []
    for mode in ("write", "read"):
        path = Path(folder) / f"example-{mode}-{group_size}-{devices_per_member}.db"
        path.unlink(missing_ok=True)
        with MessageStore(path, mode) as store:
            users = [store.create_user() for _ in range(group_size)]
            for user in users:
                for platform in ("phone", "desktop", "tablet")[:devices_per_member]:
                    store.add_device(user, platform)
            group = store.create_group(users[0], users[1:], title="example")
            member = users[-1]
            for other in users[1 : other_chats + 1]:
                store.open_single(member, other)
            cursor = store.sync(member).cursor
            statements = []
            store._connection().set_trace_callback(statements.append)
            store.send(users[0], group, "hello, group")
            store._connection().set_trace_callback(None)
            synced = store.sync(member, cursor)
            rows.append(
                {
                    "mode": mode,
                    "message_rows": _count(store.path, "messages"),
                    "inbox_rows": _count(store.path, "inbox"),
                    "statements": len(statements),
                    "member_sync_items": len(synced.items),
                    "member_sync_seeks": sync_cost(
                        mode, 1 + other_chats, len(synced.items)
                    ).index_seeks,
                }
            )
    return pd.DataFrame(rows).set_index("mode")


def skewed_clock_example(folder: str | Path) -> pd.DataFrame:
    """Send two messages stamped by two servers whose clocks differ by 1.8 s.

    The second message is sent later but stamped earlier, so ordering by
    ``created_at`` swaps them, while ``seq`` keeps the order of sending.
    """
    times = iter([100.0, 100.0, 100.0, 100.5, 98.7])
    path = Path(folder) / "skewed-clocks.db"
    path.unlink(missing_ok=True)
    with MessageStore(path, clock=lambda: next(times)) as store:
        alice, bob = store.create_user(), store.create_user()
        chat = store.open_single(alice, bob)
        first = store.send(alice, chat, "sent first, by server A")
        second = store.send(bob, chat, "sent second, by server B")
    return pd.DataFrame(
        [
            {"content": m.content, "seq": m.seq, "created_at": m.created_at}
            for m in (first, second)
        ]
    )
