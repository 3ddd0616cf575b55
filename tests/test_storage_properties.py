"""Random histories: every fan-out mode must store and deliver the same thing."""

import sqlite3
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from imref.storage import MessageStore, StorageError

USERS = 6
# Conversation 1 is a single chat, 2 a group of 3 and 3 a group of 5. With a
# threshold of 3, hybrid mode fans out on write for the first two only.
CONVERSATIONS = (1, 2, 3)

operations = st.lists(
    st.one_of(
        st.tuples(
            st.just("send"), st.integers(1, USERS), st.sampled_from(CONVERSATIONS)
        ),
        st.tuples(
            st.just("read"), st.integers(1, USERS), st.sampled_from(CONVERSATIONS)
        ),
        st.tuples(st.just("recall"), st.integers(0, 30), st.just(0)),
        st.tuples(st.just("delete"), st.integers(1, USERS), st.integers(0, 30)),
        st.tuples(st.just("join"), st.integers(1, USERS), st.sampled_from((2, 3))),
        st.tuples(st.just("leave"), st.integers(1, USERS), st.sampled_from((2, 3))),
        # A remove, a message from another member while the user is out, and
        # an add back, with or without earlier history.
        st.tuples(st.just("rejoin"), st.integers(1, USERS), st.sampled_from((2, 3))),
        st.tuples(
            st.just("rejoin_history"), st.integers(1, USERS), st.sampled_from((2, 3))
        ),
        st.tuples(st.just("sync"), st.integers(1, USERS), st.just(0)),
    ),
    max_size=40,
)


def sync_to_end(store, user, cursor, items):
    """Sync ``user`` from ``cursor`` until complete; append items, return cursor."""
    while True:
        result = store.sync(user, cursor, limit=4)
        items += [(i.conversation_id, i.seq, i.type, i.content) for i in result.items]
        cursor = result.cursor
        if result.complete:
            return cursor


def run(folder, mode, history):
    """Apply ``history`` to a new store; return unread counts, items and history.

    Syncs in the middle of ``history`` and at its end continue one cursor per
    user, so every user receives each item once.
    """
    store = MessageStore(Path(folder) / f"{mode}.db", mode, hybrid_threshold=3)
    for _ in range(USERS):
        store.create_user()
    store.open_single(1, 2)
    store.create_group(1, [2, 3])
    store.create_group(1, [2, 3, 4, 5])

    sent = []
    cursors = dict.fromkeys(range(1, USERS + 1))
    synced = {user: [] for user in range(1, USERS + 1)}
    for action, first, second in history:
        try:
            if action == "send":
                sent.append(store.send(first, second, f"m{len(sent)}"))
            elif action == "read":
                last = max([m.seq for m in sent if m.conversation_id == second] + [0])
                store.mark_read(first, second, last)
            elif action == "recall" and first < len(sent):
                store.recall(sent[first].sender_id, sent[first].message_id)
            elif action == "delete" and second < len(sent):
                store.delete_for_me(first, sent[second].message_id)
            elif action == "join":
                store.add_member(second, first)
            elif action == "leave":
                store.remove_member(second, first)
            elif action in ("rejoin", "rejoin_history"):
                store.remove_member(second, first)
                others = store.members(second)
                if others:
                    sent.append(store.send(others[0], second, f"m{len(sent)}"))
                store.add_member(second, first, see_history=action == "rejoin_history")
            elif action == "sync":
                cursors[first] = sync_to_end(
                    store, first, cursors[first], synced[first]
                )
        except StorageError:
            # The same invalid action fails the same way in every mode.
            pass

    unread = {user: store.unread(user).by_conversation for user in range(1, USERS + 1)}
    for user in range(1, USERS + 1):
        sync_to_end(store, user, cursors[user], synced[user])
    visible = {}
    for user in range(1, USERS + 1):
        for conversation in CONVERSATIONS:
            try:
                messages = store.history(user, conversation, limit=1000)
            except StorageError:
                continue
            visible[user, conversation] = [(m.seq, m.content) for m in messages]
    store.close()
    return unread, synced, visible


def direct_unread(path, user):
    """Count unread messages straight from the definition, over all rows."""
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            """
            SELECT m.conversation_id, count(*) FROM messages m
            JOIN members mb ON mb.conversation_id = m.conversation_id
            WHERE mb.user_id = ?1 AND m.sender_id != ?1 AND m.type = 'text'
            AND m.seq > max(mb.read_seq, mb.join_seq)
            AND m.seq <= coalesce(mb.leave_seq, m.seq)
            AND m.message_id NOT IN (
                SELECT message_id FROM removals WHERE user_id IN (0, ?1))
            GROUP BY 1
            """,
            (user,),
        )
        return dict(rows.fetchall())


def direct_delivered(path, user):
    """List ``(conversation, seq)`` of the events sent in ``user``'s periods."""
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            """
            SELECT m.conversation_id, m.seq FROM messages m
            JOIN members mb ON mb.conversation_id = m.conversation_id
            WHERE mb.user_id = ? AND m.seq > mb.join_seq
            AND m.seq <= coalesce(mb.leave_seq, m.seq)
            ORDER BY 1, 2
            """,
            (user,),
        )
        return rows.fetchall()


@settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(operations)
def test_modes_agree_on_random_histories(history):
    with tempfile.TemporaryDirectory() as folder:
        results = {
            mode: run(folder, mode, history) for mode in ("write", "read", "hybrid")
        }
        for user in range(1, USERS + 1):
            expected = direct_unread(Path(folder) / "write.db", user)
            assert results["write"][0][user] == expected
            delivered = sorted(
                (conversation, seq)
                for conversation, seq, _, _ in results["write"][1][user]
                if seq is not None
            )
            assert delivered == direct_delivered(Path(folder) / "write.db", user)
        assert results["read"] == results["write"]
        assert results["hybrid"] == results["write"]


@settings(
    max_examples=100,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(operations)
def test_sync_keeps_seq_order(history):
    with tempfile.TemporaryDirectory() as folder:
        _, synced, _ = run(folder, "hybrid", history)
    for items in synced.values():
        last = {}
        for conversation, seq, _, _ in items:
            if seq is None:
                continue
            assert seq > last.get(conversation, 0)
            last[conversation] = seq
