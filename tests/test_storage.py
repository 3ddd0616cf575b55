"""The behaviour every fan-out mode of ``MessageStore`` shares.

Each test runs once per mode on a real SQLite file. Hybrid mode uses a
threshold of 3 members, so single chats and groups of 3 fan out on write and
the larger groups here fan out on read.
"""

import sqlite3

import pytest

from imref.storage import (
    ClientIdConflictError,
    Draft,
    InvalidArgumentError,
    MessageStore,
    NotAMemberError,
    NotPermittedError,
    SyncResult,
)

MODES = ["write", "read", "hybrid"]
HYBRID_THRESHOLD = 3


def open_store(path, mode):
    return MessageStore(path, mode, hybrid_threshold=HYBRID_THRESHOLD)


@pytest.fixture(params=MODES)
def store(request, tmp_path):
    store = open_store(tmp_path / "chat.db", request.param)
    yield store
    store.close()


def make_users(store, count):
    return [store.create_user(name=f"user{i}") for i in range(count)]


def sync_all(store, user, cursor=None, limit=100):
    """Sync until complete; return every item and the last cursor."""
    items = []
    while True:
        result = store.sync(user, cursor, limit=limit)
        items.extend(result.items)
        cursor = result.cursor
        if result.complete:
            return items, cursor


def seqs_by_conversation(items):
    seqs = {}
    for item in items:
        if item.seq is not None:
            seqs.setdefault(item.conversation_id, []).append(item.seq)
    return seqs


def count_rows(store, table):
    with sqlite3.connect(store.path) as conn:
        return conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


# Sending and sequence numbers.


def test_send_numbers_each_conversation(store):
    alice, bob, carol = make_users(store, 3)
    chat = store.open_single(alice, bob)
    group = store.create_group(alice, [bob, carol])

    chat_seqs = [store.send(alice, chat, f"c{i}").seq for i in range(3)]
    group_seqs = [store.send(bob, group, f"g{i}").seq for i in range(2)]

    assert chat_seqs == [1, 2, 3]
    assert group_seqs == [1, 2]


def test_open_single_returns_same_chat(store):
    alice, bob = make_users(store, 2)
    assert store.open_single(alice, bob) == store.open_single(bob, alice)


def test_send_retry_returns_original(store):
    alice, bob = make_users(store, 2)
    chat = store.open_single(alice, bob)
    first = store.send(alice, chat, "hello", client_msg_id="m-1")

    retry = store.send(alice, chat, "hello", client_msg_id="m-1")
    after = store.send(alice, chat, "next")

    assert retry == first
    assert after.seq == 2
    assert count_rows(store, "messages") == 2


def test_send_retry_after_leaving(store):
    alice, bob, carol = make_users(store, 3)
    group = store.create_group(alice, [bob, carol])
    first = store.send(bob, group, "hello", client_msg_id="b-1")
    store.remove_member(group, bob)

    retry = store.send(bob, group, "hello", client_msg_id="b-1")

    assert retry == first
    assert store.send_many([Draft(bob, group, "hello", "b-1")]) == [first]
    with pytest.raises(ClientIdConflictError, match="'b-1'"):
        store.send(bob, group, "changed", client_msg_id="b-1")
    with pytest.raises(NotAMemberError, match=repr(bob)):
        store.send(bob, group, "hello", client_msg_id="b-2")
    assert count_rows(store, "messages") == 1


def test_send_same_client_id_other_sender(store):
    alice, bob = make_users(store, 2)
    chat = store.open_single(alice, bob)
    first = store.send(alice, chat, "hello", client_msg_id="m-1")
    second = store.send(bob, chat, "hello", client_msg_id="m-1")
    assert second.message_id != first.message_id
    assert second.seq == 2


def test_send_client_id_conflict(store):
    alice, bob, carol = make_users(store, 3)
    chat = store.open_single(alice, bob)
    other = store.open_single(alice, carol)
    store.send(alice, chat, "hello", client_msg_id="m-1")

    with pytest.raises(ClientIdConflictError, match="'m-1'"):
        store.send(alice, chat, "changed", client_msg_id="m-1")
    with pytest.raises(ClientIdConflictError, match="'m-1'"):
        store.send(alice, other, "hello", client_msg_id="m-1")

    assert store.send(alice, chat, "next").seq == 2
    assert store.send(alice, other, "first").seq == 1


def test_send_many_matches_sends(tmp_path, store):
    """A batch stores exactly the rows that the same sends one by one store."""
    reference = open_store(tmp_path / "reference.db", store.fanout)
    for target in (store, reference):
        users = make_users(target, 5)
        target.open_single(users[0], users[1])
        target.create_group(users[0], users[1:3])
        target.create_group(users[0], users[1:5])
    drafts = [
        Draft(1, 1, "a"),
        Draft(2, 2, "b", "id-b"),
        Draft(3, 3, "c"),
        Draft(1, 2, "d"),
        Draft(2, 2, "b", "id-b"),
        (5, 3, "e", "id-e", "image"),
    ]

    batch = store.send_many(drafts)
    single = [reference.send(*d[:3], client_msg_id=d[3], type=d[4]) for d in drafts]

    strip = [m._replace(created_at=0) for m in batch]
    assert strip == [m._replace(created_at=0) for m in single]
    assert batch[4] == batch[1]
    for table, order in [("messages", "message_id"), ("inbox", "user_id, user_seq")]:
        query = f"SELECT * FROM {table} ORDER BY {order}"
        with sqlite3.connect(store.path) as a, sqlite3.connect(reference.path) as b:
            rows_a = [r for r in a.execute(query)]
            rows_b = [r for r in b.execute(query)]
        if table == "messages":
            rows_a = [r[:-1] for r in rows_a]
            rows_b = [r[:-1] for r in rows_b]
        assert rows_a == rows_b, table
    reference.close()


def test_send_many_retries_stored_message(store):
    alice, bob = make_users(store, 2)
    chat = store.open_single(alice, bob)
    first = store.send(alice, chat, "hello", client_msg_id="m-1")

    batch = store.send_many([(alice, chat, "hello", "m-1"), (alice, chat, "new")])

    assert batch[0] == first
    assert batch[1].seq == 2


def test_send_many_is_all_or_nothing(store):
    alice, bob, carol = make_users(store, 3)
    chat = store.open_single(alice, bob)
    store.send(alice, chat, "before")
    before = (count_rows(store, "messages"), count_rows(store, "inbox"))

    with pytest.raises(NotAMemberError, match=repr(carol)):
        store.send_many([(alice, chat, "ok"), (carol, chat, "not a member")])
    with pytest.raises(ClientIdConflictError, match="'dup'"):
        store.send_many([(alice, chat, "one", "dup"), (alice, chat, "two", "dup")])

    assert (count_rows(store, "messages"), count_rows(store, "inbox")) == before
    assert store.send(alice, chat, "after").seq == 2


# Sync.


def test_sync_delivers_to_every_member(store):
    alice, bob, carol, dave = make_users(store, 4)
    group = store.create_group(alice, [bob, carol, dave])
    sent = [store.send(user, group, f"from {user}") for user in (alice, bob, carol)]

    for user in (alice, bob, carol, dave):
        items, _ = sync_all(store, user)
        assert [i.message_id for i in items] == [m.message_id for m in sent]
        assert [i.seq for i in items] == [1, 2, 3]
        assert [i.content for i in items] == [m.content for m in sent]
        assert all(i.conversation_id == group for i in items)


def test_sync_after_cursor_returns_new_items(store):
    alice, bob = make_users(store, 2)
    chat = store.open_single(alice, bob)
    store.send(alice, chat, "one")
    first = store.sync(bob)
    store.send(bob, chat, "two")
    store.send(alice, chat, "three")

    second = store.sync(bob, first.cursor)
    third = store.sync(bob, second.cursor)

    assert [i.content for i in first.items] == ["one"]
    assert [i.content for i in second.items] == ["two", "three"]
    assert second.complete
    assert third.items == ()
    assert third.complete


def test_sync_pages_by_limit(store):
    alice, bob, carol, dave = make_users(store, 4)
    chat = store.open_single(alice, bob)
    group = store.create_group(alice, [bob, carol, dave])
    for i in range(125):
        store.send(alice, chat if i % 2 else group, f"m{i}")

    pages = []
    cursor = None
    while True:
        result = store.sync(bob, cursor, limit=50)
        pages.append(result)
        cursor = result.cursor
        if result.complete:
            break

    assert [len(p.items) for p in pages] == [50, 50, 25]
    assert [p.complete for p in pages] == [False, False, True]
    items = [i for p in pages for i in p.items]
    assert [i.content for i in items] == [f"m{i}" for i in range(125)]
    seqs = seqs_by_conversation(items)
    assert seqs[group] == list(range(1, 64))
    assert seqs[chat] == list(range(1, 63))


def test_sync_limit_equal_to_remaining(store):
    alice, bob = make_users(store, 2)
    chat = store.open_single(alice, bob)
    for i in range(10):
        store.send(alice, chat, f"m{i}")
    result = store.sync(bob, limit=10)
    assert len(result.items) == 10
    assert result.complete


def test_sync_devices_keep_own_cursors(store):
    alice, bob = make_users(store, 2)
    chat = store.open_single(alice, bob)
    store.send(alice, chat, "one")
    phone = store.sync(bob)
    store.send(alice, chat, "two")
    laptop = store.sync(bob)

    assert [i.content for i in store.sync(bob, phone.cursor).items] == ["two"]
    assert [i.content for i in laptop.items] == ["one", "two"]
    assert store.sync(bob, laptop.cursor).items == ()


def test_sync_result_repr_is_one_line(store):
    alice, bob = make_users(store, 2)
    store.send(alice, store.open_single(alice, bob), "hi")
    result = store.sync(bob)
    assert isinstance(result, SyncResult)
    assert "\n" not in repr(result)
    assert repr(result).startswith("SyncResult(1 item, complete=True")
    assert result.cursor.endswith(repr(result)[-10:-2])


def test_sync_order_across_conversations(store):
    """Items arrive in commit order, so each conversation is in seq order."""
    users = make_users(store, 6)
    chat = store.open_single(users[0], users[1])
    small = store.create_group(users[0], users[1:3])
    large = store.create_group(users[0], users[1:6])
    conversations = [chat, small, large]
    sent = [store.send(users[0], conversations[i % 3], f"m{i}") for i in range(30)]

    items, _ = sync_all(store, users[1], limit=7)

    assert [i.message_id for i in items] == [m.message_id for m in sent]
    for seqs in seqs_by_conversation(items).values():
        assert seqs == list(range(1, 11))


# Membership, join and leave positions.


def test_new_member_syncs_from_join(store):
    alice, bob, carol = make_users(store, 3)
    group = store.create_group(alice, [bob])
    store.send(alice, group, "before")
    store.add_member(group, carol)
    store.send(alice, group, "after")

    items, _ = sync_all(store, carol)

    assert [i.content for i in items] == ["after"]
    assert store.unread(carol).total == 1
    assert [m.content for m in store.history(carol, group)] == ["after"]


def test_new_member_sees_history(store):
    alice, bob, carol = make_users(store, 3)
    group = store.create_group(alice, [bob])
    store.send(alice, group, "before")
    store.add_member(group, carol, see_history=True)
    store.send(alice, group, "after")

    assert [m.content for m in store.history(carol, group)] == ["before", "after"]
    assert store.unread(carol).total == 1


def test_removed_member_stops_receiving(store):
    alice, bob, carol = make_users(store, 3)
    group = store.create_group(alice, [bob, carol])
    store.send(alice, group, "kept")
    store.remove_member(group, carol)
    store.send(alice, group, "missed")

    items, _ = sync_all(store, carol)

    assert [i.content for i in items] == ["kept"]
    assert store.unread(carol).total == 1
    assert [m.content for m in store.history(carol, group)] == ["kept"]
    assert store.members(group) == sorted([alice, bob])
    with pytest.raises(NotAMemberError, match=repr(carol)):
        store.send(carol, group, "let me in")


def test_rejoined_member_starts_at_rejoin(store):
    alice, bob, carol = make_users(store, 3)
    group = store.create_group(alice, [bob, carol])
    store.remove_member(group, carol)
    store.send(alice, group, "while away")
    store.add_member(group, carol)
    store.send(alice, group, "back")

    assert store.unread(carol).by_conversation == {group: 1}
    assert [m.content for m in store.history(carol, group)] == ["back"]


def test_readded_member_keeps_earlier_period(store):
    alice, bob, carol = make_users(store, 3)
    group = store.create_group(alice, [bob, carol])
    store.send(alice, group, "first")
    store.send(alice, group, "second")
    store.remove_member(group, carol)
    store.send(alice, group, "while away")
    store.add_member(group, carol)
    store.send(alice, group, "back")

    items, _ = sync_all(store, carol)

    assert [i.content for i in items] == ["first", "second", "back"]
    assert store.unread(carol).by_conversation == {group: 3}
    assert [m.content for m in store.history(carol, group)] == [
        "first",
        "second",
        "back",
    ]
    store.mark_read(carol, group, 2)
    assert store.unread(carol).by_conversation == {group: 1}


def test_readded_member_syncs_after_partial_sync(store):
    alice, bob, carol = make_users(store, 3)
    group = store.create_group(alice, [bob, carol])
    store.send(alice, group, "synced")
    _, cursor = sync_all(store, carol)
    store.send(alice, group, "not yet synced")
    store.remove_member(group, carol)
    store.add_member(group, carol)
    store.send(alice, group, "back")

    items, _ = sync_all(store, carol, cursor)

    assert [i.content for i in items] == ["not yet synced", "back"]


def test_readded_member_with_history_reads_gap(store):
    alice, bob, carol = make_users(store, 3)
    group = store.create_group(alice, [bob, carol])
    store.send(alice, group, "first")
    store.remove_member(group, carol)
    store.send(alice, group, "while away")
    store.add_member(group, carol, see_history=True)
    store.send(alice, group, "back")

    items, _ = sync_all(store, carol)

    assert [i.content for i in items] == ["first", "back"]
    assert store.unread(carol).total == 2
    assert [m.content for m in store.history(carol, group)] == [
        "first",
        "while away",
        "back",
    ]
    assert [m.content for m in store.history(carol, group, before_seq=3)] == [
        "first",
        "while away",
    ]


def test_readd_without_gap_continues_period(store):
    alice, bob, carol = make_users(store, 3)
    group = store.create_group(alice, [bob, carol])
    store.send(alice, group, "first")
    store.remove_member(group, carol)
    store.add_member(group, carol)
    store.send(alice, group, "second")

    items, _ = sync_all(store, carol)

    assert [i.content for i in items] == ["first", "second"]
    assert store.members(group) == sorted([alice, bob, carol])
    with sqlite3.connect(store.path) as conn:
        periods = conn.execute(
            "SELECT count(*) FROM members WHERE conversation_id = ? AND user_id = ?",
            (group, carol),
        ).fetchone()[0]
    assert periods == 1


def test_single_chat_members_are_fixed(store):
    alice, bob, carol = make_users(store, 3)
    chat = store.open_single(alice, bob)
    with pytest.raises(NotPermittedError, match=repr(chat)):
        store.add_member(chat, carol)
    with pytest.raises(NotPermittedError, match=repr(chat)):
        store.remove_member(chat, bob)


# Recall and delete-for-me.


def test_recall_reaches_synced_devices(store):
    alice, bob, carol, dave = make_users(store, 4)
    group = store.create_group(alice, [bob, carol, dave])
    message = store.send(alice, group, "oops")
    before = store.sync(bob)

    event = store.recall(alice, message.message_id)
    after = store.sync(bob, before.cursor)

    assert event.seq == 2
    assert [(i.type, i.seq, i.target_seq) for i in after.items] == [("recall", 2, 1)]
    assert store.unread(bob).total == 0
    assert store.history(bob, group) == []


def test_recall_before_sync_hides_content(store):
    alice, bob = make_users(store, 2)
    chat = store.open_single(alice, bob)
    message = store.send(alice, chat, "secret")
    store.recall(alice, message.message_id)

    items, _ = sync_all(store, bob)

    assert [(i.type, i.content) for i in items] == [("text", ""), ("recall", "")]


def test_recall_rules(store):
    alice, bob = make_users(store, 2)
    chat = store.open_single(alice, bob)
    message = store.send(alice, chat, "hi")
    with pytest.raises(NotPermittedError, match=repr(bob)):
        store.recall(bob, message.message_id)
    event = store.recall(alice, message.message_id)
    with pytest.raises(NotPermittedError, match="recalled already"):
        store.recall(alice, message.message_id)
    with pytest.raises(NotPermittedError, match="recall event"):
        store.recall(alice, event.message_id)


def test_delete_for_me_reaches_own_devices(store):
    alice, bob, carol, dave = make_users(store, 4)
    group = store.create_group(alice, [bob, carol, dave])
    message = store.send(alice, group, "hello")
    bob_before = store.sync(bob)
    carol_before = store.sync(carol)

    event = store.delete_for_me(bob, message.message_id)
    again = store.delete_for_me(bob, message.message_id)
    bob_after = store.sync(bob, bob_before.cursor)
    carol_after = store.sync(carol, carol_before.cursor)

    assert again == event
    assert [(i.type, i.seq, i.target_seq) for i in bob_after.items] == [
        ("delete", None, 1)
    ]
    assert carol_after.items == ()
    assert store.unread(bob).total == 0
    assert store.unread(carol).total == 1
    assert store.history(bob, group) == []
    assert len(store.history(carol, group)) == 1


def test_delete_for_me_needs_visibility(store):
    alice, bob, carol = make_users(store, 3)
    chat = store.open_single(alice, bob)
    message = store.send(alice, chat, "private")
    with pytest.raises(NotPermittedError, match=repr(carol)):
        store.delete_for_me(carol, message.message_id)


# Read positions and unread counts.


def test_unread_counts_and_mark_read(store):
    alice, bob, carol = make_users(store, 3)
    chat = store.open_single(alice, bob)
    group = store.create_group(alice, [bob, carol])
    for i in range(3):
        store.send(alice, chat, f"c{i}")
    store.send(bob, chat, "own message")
    for i in range(4):
        store.send(carol, group, f"g{i}")

    assert store.unread(bob).by_conversation == {chat: 3, group: 4}
    assert store.unread(bob).total == 7
    assert store.unread(alice).by_conversation == {chat: 1, group: 4}

    store.mark_read(bob, group, 3)
    store.mark_read(bob, group, 1)
    assert store.unread(bob).by_conversation == {chat: 3, group: 1}
    store.mark_read(bob, chat, 4)
    assert store.unread(bob).by_conversation == {group: 1}


def test_mark_read_rejects_bad_seq(store):
    alice, bob = make_users(store, 2)
    chat = store.open_single(alice, bob)
    store.send(alice, chat, "hi")
    with pytest.raises(InvalidArgumentError, match="seq 2 "):
        store.mark_read(bob, chat, 2)
    with pytest.raises(InvalidArgumentError, match="seq -1 "):
        store.mark_read(bob, chat, -1)


def run_scenario(store):
    """Run one mixed history and return every user's unread counts and sync."""
    users = make_users(store, 7)
    chat = store.open_single(users[0], users[1])
    small = store.create_group(users[0], users[1:3])
    large = store.create_group(users[0], users[1:6])
    messages = []
    for i in range(40):
        sender = users[i % 3]
        conversation = [chat, small, large][i % 3]
        if sender == users[2] and conversation == chat:
            sender = users[1]
        messages.append(store.send(sender, conversation, f"m{i}"))
    store.add_member(large, users[6])
    store.remove_member(large, users[5])
    store.send_many([(users[2], large, f"late{i}") for i in range(5)])
    store.recall(messages[2].sender_id, messages[2].message_id)
    store.delete_for_me(users[1], messages[5].message_id)
    store.mark_read(users[1], large, 8)
    store.mark_read(users[2], small, 10)
    unread = {user: store.unread(user).by_conversation for user in users}
    synced = {}
    for user in users:
        items, _ = sync_all(store, user, limit=9)
        synced[user] = [(i.conversation_id, i.seq, i.type, i.content) for i in items]
    return unread, synced


def test_modes_agree_on_unread_and_sync(tmp_path):
    results = {mode: run_scenario(open_store(tmp_path / mode, mode)) for mode in MODES}

    unread, synced = results["write"]
    assert sum(sum(c.values()) for c in unread.values()) > 0
    for mode in ("read", "hybrid"):
        assert results[mode][0] == unread, mode
        assert results[mode][1] == synced, mode


def test_unread_matches_a_direct_count(store):
    """The unread count equals a count by its definition over the messages."""
    unread, _ = run_scenario(store)
    with sqlite3.connect(store.path) as conn:
        for user, counts in unread.items():
            expected = dict(
                conn.execute(
                    """
                    SELECT m.conversation_id, count(*) FROM messages m
                    JOIN members mb ON mb.conversation_id = m.conversation_id
                    WHERE mb.user_id = ?1 AND m.sender_id != ?1
                    AND m.type = 'text' AND m.seq > mb.read_seq
                    AND m.seq > mb.join_seq
                    AND m.seq <= coalesce(mb.leave_seq, m.seq)
                    AND m.message_id NOT IN (
                        SELECT message_id FROM removals WHERE user_id IN (0, ?1))
                    GROUP BY 1
                    """,
                    (user,),
                )
            )
            assert counts == expected, user


# How each mode stores a message.


@pytest.mark.parametrize(
    ("mode", "members", "inbox_rows"),
    [
        ("write", 5, 5),
        ("read", 5, 0),
        ("hybrid", HYBRID_THRESHOLD, HYBRID_THRESHOLD),
        ("hybrid", HYBRID_THRESHOLD + 1, 0),
    ],
)
def test_fanout_rows_per_message(tmp_path, mode, members, inbox_rows):
    store = open_store(tmp_path / "chat.db", mode)
    users = make_users(store, members)
    group = store.create_group(users[0], users[1:])

    store.send(users[0], group, "one")

    assert count_rows(store, "messages") == 1
    assert count_rows(store, "inbox") == inbox_rows
    store.close()


@pytest.mark.parametrize("grow", [True, False])
def test_hybrid_group_crosses_threshold(tmp_path, grow):
    """A group that crosses the threshold keeps its seq order in sync."""
    store = open_store(tmp_path / "chat.db", "hybrid")
    users = make_users(store, HYBRID_THRESHOLD + 2)
    small, large = users[:HYBRID_THRESHOLD], users[: HYBRID_THRESHOLD + 1]
    group = store.create_group(users[0], small if grow else large)
    cursor = None
    items = []
    for step in range(4):
        store.send(users[0], group, f"before {step}")
        if step == 1:
            changed = users[HYBRID_THRESHOLD]
            if grow:
                store.add_member(group, changed)
            else:
                store.remove_member(group, changed)
        store.send(users[1], group, f"after {step}")
        result = store.sync(users[1], cursor, limit=3)
        items.extend(result.items)
        cursor = result.cursor
    rest, _ = sync_all(store, users[1], cursor)
    items.extend(rest)

    assert [i.seq for i in items] == list(range(1, 9))
    with sqlite3.connect(store.path) as conn:
        paths = [
            v
            for (v,) in conn.execute(
                "SELECT via_inbox FROM messages ORDER BY message_id"
            )
        ]
    # The membership changes after the third message.
    assert paths == ([1] * 3 + [0] * 5 if grow else [0] * 3 + [1] * 5)
    store.close()


def test_store_reopens_in_another_mode(tmp_path):
    path = tmp_path / "chat.db"
    with open_store(path, "write") as store:
        alice, bob = make_users(store, 2)
        chat = store.open_single(alice, bob)
        store.send(alice, chat, "by inbox")
        first = store.sync(bob)
    with open_store(path, "read") as store:
        store.send(alice, chat, "by timeline")
        items, _ = sync_all(store, bob, first.cursor)
        assert [(i.seq, i.content) for i in items] == [(2, "by timeline")]
        assert store.unread(bob).total == 2
