"""Faults and bad input: injected exceptions, locked, corrupt and old files."""

import base64
import re
import sqlite3
import string

import pytest

from imref.storage import (
    SCHEMA_VERSION,
    DatabaseFileError,
    DatabaseLockedError,
    InvalidArgumentError,
    InvalidCursorError,
    InvalidMessageError,
    MessageStore,
    NotAMemberError,
    UnknownConversationError,
    UnknownMessageError,
    UnknownUserError,
)
from imref.storage.schema import MIGRATIONS, create_v1


class InjectedFault(RuntimeError):
    pass


class FailingFanoutStore(MessageStore):
    """A store whose fan-out raises after writing ``fail_after`` inbox rows."""

    fail_after = None

    def _inbox_rows(self, members, conversation, seq, message_id):
        rows = super()._inbox_rows(members, conversation, seq, message_id)
        for index, row in enumerate(rows):
            if index == self.fail_after:
                raise InjectedFault(f"fan-out stopped after {index} rows")
            yield row


def snapshot(path):
    """Return the row counts and counters that a failed send must not change."""
    with sqlite3.connect(path) as conn:
        return {
            "messages": conn.execute("SELECT count(*) FROM messages").fetchone(),
            "inbox": conn.execute("SELECT count(*) FROM inbox").fetchone(),
            "max_seq": conn.execute(
                "SELECT conversation_id, max(seq) FROM messages GROUP BY 1"
            ).fetchall(),
            "max_user_seq": conn.execute(
                "SELECT user_id, max(user_seq) FROM inbox GROUP BY 1"
            ).fetchall(),
            "sequence": conn.execute("SELECT * FROM sqlite_sequence").fetchall(),
        }


@pytest.fixture
def group_store(tmp_path):
    store = FailingFanoutStore(tmp_path / "chat.db", "write")
    users = [store.create_user() for _ in range(5)]
    group = store.create_group(users[0], users[1:])
    store.send(users[0], group, "before the fault")
    yield store, users, group
    store.close()


# Injected faults.


@pytest.mark.parametrize("fail_after", [0, 1, 3, 4])
def test_fault_in_fanout_leaves_nothing(group_store, fail_after):
    store, users, group = group_store
    cursor = store.sync(users[1]).cursor
    before = snapshot(store.path)

    store.fail_after = fail_after
    with pytest.raises(InjectedFault):
        store.send(users[0], group, "lost")

    assert snapshot(store.path) == before
    assert store.sync(users[1], cursor).items == ()
    store.fail_after = None
    assert store.send(users[0], group, "after the fault").seq == 2
    items = store.sync(users[1], cursor).items
    assert [(i.seq, i.content) for i in items] == [(2, "after the fault")]


def test_fault_in_recall_keeps_message(group_store):
    store, users, group = group_store
    message = store.send(users[0], group, "keep me")
    before = snapshot(store.path)

    store.fail_after = 2
    with pytest.raises(InjectedFault):
        store.recall(users[0], message.message_id)

    assert snapshot(store.path) == before
    assert store.unread(users[1]).total == 2
    store.fail_after = None
    assert store.recall(users[0], message.message_id).seq == 3


def test_failed_send_leaves_nothing(group_store):
    store, users, group = group_store
    outsider = store.create_user()
    before = snapshot(store.path)
    with pytest.raises(NotAMemberError):
        store.send(outsider, group, "not a member")
    with pytest.raises(InvalidMessageError):
        store.send(users[0], group, "")
    assert snapshot(store.path) == before


# Bad input: each error names the bad value.


@pytest.fixture
def store(tmp_path):
    store = MessageStore(tmp_path / "chat.db", "hybrid", hybrid_threshold=2)
    yield store
    store.close()


def test_unknown_ids_are_named(store):
    alice, bob = store.create_user(), store.create_user()
    chat = store.open_single(alice, bob)

    with pytest.raises(UnknownUserError, match="user 404 not found"):
        store.send(404, chat, "hi")
    with pytest.raises(UnknownConversationError, match="conversation 77 not found"):
        store.send(alice, 77, "hi")
    with pytest.raises(UnknownUserError, match="user 404 not found"):
        store.sync(404)
    with pytest.raises(UnknownUserError, match="user 404 not found"):
        store.unread(404)
    with pytest.raises(UnknownUserError, match="user 404 not found"):
        store.create_group(alice, [bob, 404])
    with pytest.raises(UnknownUserError, match="user 404 not found"):
        store.open_single(alice, 404)
    with pytest.raises(UnknownConversationError, match="conversation 77 not found"):
        store.mark_read(alice, 77, 0)
    with pytest.raises(UnknownMessageError, match="message 999 not found"):
        store.recall(alice, 999)
    with pytest.raises(UnknownConversationError, match="'chat'"):
        store.send(alice, "chat", "hi")


def test_non_member_is_named(store):
    alice, bob, carol = (store.create_user() for _ in range(3))
    chat = store.open_single(alice, bob)
    with pytest.raises(NotAMemberError, match=f"user {carol} is not a member"):
        store.send(carol, chat, "hi")
    with pytest.raises(NotAMemberError, match=f"user {carol} is not a member"):
        store.history(carol, chat)


@pytest.mark.parametrize(
    ("content", "message_type", "match"),
    [
        ("", "text", "content '' is empty"),
        ("  \n", "text", "is empty"),
        ("x" * 70_000, "text", "70000 bytes"),
        ("é" * 40_000, "text", "80000 bytes"),
        (b"bytes", "text", "is not a str"),
        (None, "text", "is not a str"),
        ("hi", "sticker", "type 'sticker'"),
        ("hi", "recall", "type 'recall'"),
    ],
)
def test_bad_content_is_named(store, content, message_type, match):
    alice, bob = store.create_user(), store.create_user()
    chat = store.open_single(alice, bob)
    with pytest.raises(InvalidMessageError, match=match):
        store.send(alice, chat, content, type=message_type)
    with pytest.raises(InvalidMessageError, match=match):
        store.send_many(
            [(alice, chat, "fine"), (alice, chat, content, None, message_type)]
        )
    assert store.sync(bob).items == ()


def test_content_at_limit_is_stored(tmp_path):
    with MessageStore(tmp_path / "chat.db", max_content_bytes=10) as store:
        alice, bob = store.create_user(), store.create_user()
        chat = store.open_single(alice, bob)
        assert store.send(alice, chat, "x" * 10).seq == 1
        with pytest.raises(InvalidMessageError, match="11 bytes"):
            store.send(alice, chat, "x" * 11)


def tamper(cursor):
    raw = bytearray(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    raw[10] ^= 1
    return base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()


def test_cursor_never_issued_is_named(tmp_path, store):
    alice, bob = store.create_user(), store.create_user()
    chat = store.open_single(alice, bob)
    store.send(alice, chat, "hi")
    cursor = store.sync(bob).cursor
    with MessageStore(tmp_path / "other.db") as other:
        for user in (alice, bob):
            other.create_user(user)
        foreign = other.sync(bob).cursor

    bad = [
        "not a cursor",
        "",
        cursor[:-2],
        cursor + "AA",
        tamper(cursor),
        foreign,
        store.sync(alice).cursor,
        42,
    ]
    for value in bad:
        with pytest.raises(InvalidCursorError, match="was not issued") as info:
            store.sync(bob, value)
        assert repr(value) in str(info.value)
    assert store.sync(bob, cursor).complete


def other_spellings(cursor):
    """Return strings that a lenient base64url decoder reads as ``cursor``."""
    alphabet = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"
    unused_bits = [
        cursor[:-1] + c
        for c in alphabet
        if c != cursor[-1]
        and base64.urlsafe_b64decode(cursor[:-1] + c + "===")
        == base64.urlsafe_b64decode(cursor + "===")
    ]
    return [
        cursor[:10] + "!!" + cursor[10:],
        cursor[:10] + " \n" + cursor[10:],
        cursor + "=",
        cursor + "===",
        cursor.replace("-", "+").replace("_", "/"),
        *unused_bits,
    ]


def test_cursor_other_spellings_are_rejected(store):
    alice, bob = store.create_user(), store.create_user()
    store.send(alice, store.open_single(alice, bob), "hi")
    cursor = store.sync(bob).cursor
    spellings = [s for s in other_spellings(cursor) if s != cursor]
    # 41 bytes take 55 characters, so the last one has 2 unused bits.
    assert len(spellings) >= 7

    for value in spellings:
        with pytest.raises(InvalidCursorError, match="was not issued"):
            store.sync(bob, value)
    assert store.sync(bob, cursor).complete


@pytest.mark.parametrize("limit", [0, -1, 1001, 2.5, "10"])
def test_sync_limit_out_of_range(store, limit):
    user = store.create_user()
    with pytest.raises(InvalidArgumentError, match=f"limit {limit!r}"):
        store.sync(user, limit=limit)


def test_bad_arguments_are_named(tmp_path, store):
    with pytest.raises(InvalidArgumentError, match="fanout 'both'"):
        MessageStore(tmp_path / "x.db", "both")
    with pytest.raises(InvalidArgumentError, match="hybrid_threshold 0"):
        MessageStore(tmp_path / "x.db", "hybrid", hybrid_threshold=0)
    with pytest.raises(InvalidArgumentError, match="':memory:'"):
        MessageStore(":memory:")
    user = store.create_user()
    with pytest.raises(InvalidArgumentError, match=f"user {user} exists already"):
        store.create_user(user)
    with pytest.raises(InvalidArgumentError, match="user id -3"):
        store.create_user(-3)
    with pytest.raises(InvalidArgumentError, match=f"not {user} twice"):
        store.open_single(user, user)


@pytest.mark.parametrize("bad_id", ["1", 1.0, True, None, 2**63, -(2**63) - 1])
def test_bad_ids_are_named(store, bad_id):
    alice, bob = store.create_user(), store.create_user()
    group = store.create_group(alice, [bob])
    sent = store.send(alice, group, "hi")
    bad = repr(bad_id)

    calls = [
        (UnknownUserError, lambda: store.sync(bad_id)),
        (UnknownUserError, lambda: store.unread(bad_id)),
        (UnknownUserError, lambda: store.devices(bad_id)),
        (UnknownUserError, lambda: store.add_device(bad_id, "ios")),
        (UnknownUserError, lambda: store.open_single(bad_id, bob)),
        (UnknownUserError, lambda: store.open_single(alice, bad_id)),
        (UnknownUserError, lambda: store.create_group(alice, [bad_id])),
        (UnknownUserError, lambda: store.add_member(group, bad_id)),
        (UnknownUserError, lambda: store.remove_member(group, bad_id)),
        (UnknownUserError, lambda: store.send(bad_id, group, "hi")),
        (UnknownUserError, lambda: store.send_many([(bad_id, group, "hi")])),
        (UnknownUserError, lambda: store.recall(bad_id, sent.message_id)),
        (UnknownUserError, lambda: store.delete_for_me(bad_id, sent.message_id)),
        (UnknownUserError, lambda: store.mark_read(bad_id, group, 1)),
        (UnknownUserError, lambda: store.history(bad_id, group)),
        (UnknownConversationError, lambda: store.members(bad_id)),
        (UnknownConversationError, lambda: store.add_member(bad_id, bob)),
        (UnknownConversationError, lambda: store.remove_member(bad_id, bob)),
        (UnknownConversationError, lambda: store.send(alice, bad_id, "hi")),
        (UnknownConversationError, lambda: store.mark_read(alice, bad_id, 1)),
        (UnknownConversationError, lambda: store.history(alice, bad_id)),
        (UnknownMessageError, lambda: store.recall(alice, bad_id)),
        (UnknownMessageError, lambda: store.delete_for_me(alice, bad_id)),
    ]
    for error, call in calls:
        with pytest.raises(error) as info:
            call()
        assert bad in str(info.value)
    assert [m.content for m in store.history(bob, group)] == ["hi"]


@pytest.mark.parametrize("bad_id", [2**63, "1", True])
def test_bad_new_ids_are_named(store, bad_id):
    with pytest.raises(InvalidArgumentError, match=re.escape(repr(bad_id))):
        store.create_user(bad_id)
    with pytest.raises(InvalidArgumentError, match=re.escape(repr(bad_id))):
        store.import_directory([bad_id], [], [])


def test_lone_surrogates_are_named(store):
    alice, bob = store.create_user(), store.create_user()
    chat = store.open_single(alice, bob)

    with pytest.raises(InvalidMessageError, match="lone surrogate at index 1"):
        store.send(alice, chat, "a\ud800b")
    with pytest.raises(InvalidMessageError, match="lone surrogate at index 1"):
        store.send_many([(alice, chat, "a\udfffb")])
    with pytest.raises(InvalidArgumentError, match="client_msg_id"):
        store.send(alice, chat, "hi", client_msg_id="\ud800")
    with pytest.raises(InvalidArgumentError, match="name"):
        store.create_user(name="\ud800")
    with pytest.raises(InvalidArgumentError, match="title"):
        store.create_group(alice, [bob], title="\ud800")
    with pytest.raises(InvalidArgumentError, match="platform"):
        store.add_device(alice, "\ud800")
    assert store.sync(bob).items == ()


@pytest.mark.parametrize("client_msg_id", [[1], 7, b"m-1"])
def test_bad_client_msg_id_is_named(store, client_msg_id):
    alice, bob = store.create_user(), store.create_user()
    chat = store.open_single(alice, bob)

    with pytest.raises(InvalidArgumentError, match="client_msg_id") as info:
        store.send(alice, chat, "hi", client_msg_id=client_msg_id)
    assert repr(client_msg_id) in str(info.value)
    with pytest.raises(InvalidArgumentError, match="client_msg_id"):
        store.send_many([(alice, chat, "hi", client_msg_id)])
    assert store.sync(bob).items == ()


@pytest.mark.parametrize("before_seq", ["x", 1.5, True])
def test_bad_before_seq_is_named(store, before_seq):
    alice, bob = store.create_user(), store.create_user()
    chat = store.open_single(alice, bob)
    with pytest.raises(InvalidArgumentError, match=re.escape(repr(before_seq))):
        store.history(alice, chat, before_seq=before_seq)


def test_history_before_seq_out_of_range(store):
    alice, bob = store.create_user(), store.create_user()
    chat = store.open_single(alice, bob)
    store.send(alice, chat, "hi")
    assert [m.content for m in store.history(alice, chat, before_seq=2**70)] == ["hi"]
    assert store.history(alice, chat, before_seq=-(2**70)) == []


# Locked, corrupt, foreign, newer and older database files.


def test_missing_folder_names_path(tmp_path):
    path = tmp_path / "missing" / "chat.db"
    with pytest.raises(DatabaseFileError, match="does not exist") as info:
        MessageStore(path)
    assert repr(str(path)) in str(info.value)
    assert repr(str(tmp_path / "missing")) in str(info.value)
    assert "create the folder" in str(info.value)
    assert not (tmp_path / "missing").exists()


def test_missing_cursor_key_names_path(tmp_path):
    path = tmp_path / "chat.db"
    MessageStore(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM meta WHERE key = 'cursor_key'")
    with pytest.raises(DatabaseFileError, match="no cursor key") as info:
        MessageStore(path)
    assert repr(str(path)) in str(info.value)


def test_locked_database_names_path(tmp_path):
    path = tmp_path / "chat.db"
    store = MessageStore(path, busy_timeout=0.2)
    alice, bob = store.create_user(), store.create_user()
    chat = store.open_single(alice, bob)
    store.send(alice, chat, "before the lock")

    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    with pytest.raises(DatabaseLockedError, match="is locked") as info:
        store.send(alice, chat, "while locked")
    assert repr(str(path)) in str(info.value)
    assert isinstance(info.value, TimeoutError)
    holder.execute("ROLLBACK")
    holder.close()

    assert store.send(alice, chat, "after the lock").seq == 2
    assert [i.content for i in store.sync(bob).items] == [
        "before the lock",
        "after the lock",
    ]
    store.close()


@pytest.mark.parametrize(
    "garbage",
    [
        b"this is not a database" * 100,
        bytes(range(256)) * 20,
        b"x",
        b"SQLite format 3\x00" + bytes(range(256)) * 20,
    ],
)
def test_garbage_file_names_path(tmp_path, garbage):
    path = tmp_path / "garbage.db"
    path.write_bytes(garbage)
    with pytest.raises(DatabaseFileError, match="corrupt or not a SQLite") as info:
        MessageStore(path)
    assert repr(str(path)) in str(info.value)
    assert path.read_bytes() == garbage


def test_damaged_header_names_path(tmp_path):
    path = tmp_path / "chat.db"
    with MessageStore(path) as store:
        store.create_user()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(path.read_bytes())
    data[:16] = b"garbage garbage!"
    path.write_bytes(bytes(data))
    with pytest.raises(DatabaseFileError, match=repr(str(path))):
        MessageStore(path)


def test_damaged_pages_name_path(tmp_path):
    path = tmp_path / "chat.db"
    with MessageStore(path) as store:
        alice, bob = store.create_user(), store.create_user()
        chat = store.open_single(alice, bob)
        store.send_many([(alice, chat, f"message {i}" * 20) for i in range(500)])
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    data = bytearray(path.read_bytes())
    # Overwrite the second half of the pages: message and inbox rows, but not
    # the schema, the cursor key and the users, which come first.
    pages = len(data) // page_size
    start = pages // 2 * page_size
    data[start:] = bytes(range(256)) * ((len(data) - start) // 256)
    path.write_bytes(bytes(data))

    with MessageStore(path) as store:
        with pytest.raises(DatabaseFileError, match=repr(str(path))):
            store.sync(bob)
        with pytest.raises(DatabaseFileError, match=repr(str(path))):
            store.send(alice, chat, "more")


def test_foreign_database_is_rejected(tmp_path):
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
    with pytest.raises(DatabaseFileError, match="no imref schema version"):
        MessageStore(path)


@pytest.mark.parametrize("journal_mode", ["delete", "truncate"])
def test_foreign_database_is_left_unchanged(tmp_path, journal_mode):
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA journal_mode = {journal_mode}")
    conn.execute("CREATE TABLE notes (body TEXT)")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    files_before = sorted(p.name for p in tmp_path.iterdir())

    with pytest.raises(DatabaseFileError, match="no imref schema version"):
        MessageStore(path)

    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == files_before


def test_newer_schema_is_left_unchanged(tmp_path):
    path = tmp_path / "chat.db"
    MessageStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = delete")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    before = path.read_bytes()

    with pytest.raises(DatabaseFileError, match="newer than"):
        MessageStore(path)

    assert path.read_bytes() == before


def test_newer_schema_is_rejected(tmp_path):
    path = tmp_path / "chat.db"
    MessageStore(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(DatabaseFileError, match="newer than") as info:
        MessageStore(path)
    assert repr(str(path)) in str(info.value)
    assert f"version {SCHEMA_VERSION + 1}" in str(info.value)


def test_v1_database_is_upgraded(tmp_path):
    path = tmp_path / "chat.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    create_v1(conn)
    conn.execute("COMMIT")
    conn.execute("INSERT INTO users (user_id, created_at) VALUES (1, 0), (2, 0)")
    conn.close()

    with MessageStore(path) as store:
        chat = store.open_single(1, 2)
        store.send(1, chat, "after the upgrade")
        assert store.unread(2).total == 1

    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        indexes = {name for (name,) in conn.execute("SELECT name FROM sqlite_schema")}
        assert "inbox_unread" in indexes
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_v2_database_keeps_members(tmp_path):
    path = tmp_path / "chat.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    create_v1(conn)
    for statement in MIGRATIONS[0]:
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 2")
    conn.execute("COMMIT")
    conn.executescript(
        """
        INSERT INTO users (user_id, created_at) VALUES (1, 0), (2, 0), (3, 0);
        INSERT INTO conversations (conversation_id, kind, member_count, created_at)
            VALUES (1, 'group', 2, 0);
        INSERT INTO messages (conversation_id, seq, sender_id, type, content,
            via_inbox, created_at)
            VALUES (1, 1, 1, 'text', 'one', 0, 0), (1, 2, 1, 'text', 'two', 0, 0);
        INSERT INTO members (conversation_id, user_id, join_seq, history_seq,
            leave_seq, read_seq)
            VALUES (1, 1, 0, 0, NULL, 0), (1, 2, 0, 0, NULL, 1),
                (1, 3, 0, 0, 1, 0);
        """
    )
    conn.close()

    with MessageStore(path, "read") as store:
        assert store.members(1) == [1, 2]
        assert store.unread(2).total == 1
        assert [m.content for m in store.history(3, 1)] == ["one"]
        store.add_member(1, 3)
        store.send(1, 1, "three")
        assert [i.content for i in store.sync(3).items] == ["one", "three"]

    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        periods = conn.execute(
            "SELECT join_seq, leave_seq FROM members WHERE user_id = 3 "
            "ORDER BY join_seq"
        ).fetchall()
        assert periods == [(0, 1), (2, None)]
        indexes = {name for (name,) in conn.execute("SELECT name FROM sqlite_schema")}
        assert {"members_by_user", "inbox_unread"} <= indexes
        assert "members_v3" not in indexes


def test_new_database_uses_wal(tmp_path):
    path = tmp_path / "chat.db"
    MessageStore(path).close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_import_directory_rejects_bad_ids(store):
    store.import_directory([1, 2, 3], [(10, 1, 2)], [(20, [1, 2, 3])])
    assert store.members(10) == [1, 2]
    assert store.members(20) == [1, 2, 3]

    with pytest.raises(InvalidArgumentError, match="id 0 is invalid"):
        store.import_directory([0], [], [])
    with pytest.raises(InvalidArgumentError, match="import failed"):
        store.import_directory([4], [(10, 1, 3)], [])
    assert store.sync(3).items == ()
    with pytest.raises(UnknownUserError, match="user 4 not found"):
        store.sync(4)


def test_devices_need_known_user(store):
    user = store.create_user()
    phone = store.add_device(user, "phone")
    laptop = store.add_device(user, "desktop")
    assert store.devices(user) == [(phone, "phone"), (laptop, "desktop")]
    with pytest.raises(UnknownUserError, match="user 404 not found"):
        store.add_device(404, "phone")


@pytest.mark.parametrize("draft", [(1, 2), (1, 2, "a", None, "text", "extra"), 5])
def test_bad_draft_is_named(store, draft):
    with pytest.raises(InvalidArgumentError, match="draft") as info:
        store.send_many([draft])
    assert repr(draft) in str(info.value)
