"""The SQLite schema of the message store, its versions and its migrations.

``PRAGMA user_version`` stores the schema version. ``SCHEMA_V1`` is the
first version. Each later version is a list of statements in ``MIGRATIONS``
that upgrade the version before it, so a new database runs ``SCHEMA_V1`` and
then every migration, the same path an old file takes.

Foreign keys are declared so that readers and tools can see the relations,
but ``PRAGMA foreign_keys`` stays off: the store checks ids itself before it
writes, and enforcement would cost a lookup on every inserted row.
"""

from __future__ import annotations

import os
import sqlite3

SCHEMA_V1 = """
CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL
) WITHOUT ROWID;

CREATE TABLE users (
    user_id INTEGER PRIMARY KEY,
    name TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL
);

CREATE TABLE devices (
    device_id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (user_id),
    platform TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX devices_by_user ON devices (user_id);

CREATE TABLE conversations (
    conversation_id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('single', 'group')),
    title TEXT NOT NULL DEFAULT '',
    -- 'a:b' with a < b for a single chat, so that a pair has one chat.
    pair_key TEXT UNIQUE,
    member_count INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL
);

-- Version 3 rebuilds this table with one row per membership period.
CREATE TABLE members (
    conversation_id INTEGER NOT NULL REFERENCES conversations (conversation_id),
    user_id INTEGER NOT NULL REFERENCES users (user_id),
    -- The conversation's last seq when the user joined: sync and unread
    -- counts start after it.
    join_seq INTEGER NOT NULL,
    -- Messages with a seq above history_seq are readable through history():
    -- 0 when the member may read earlier history, else join_seq.
    history_seq INTEGER NOT NULL,
    -- The last seq the member may see after leaving, or NULL while a member.
    leave_seq INTEGER,
    read_seq INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (conversation_id, user_id)
) WITHOUT ROWID;
CREATE INDEX members_by_user ON members (user_id, conversation_id);

-- Each message body is stored once. Recalls and deletes-for-me are rows too,
-- so that sync can deliver them as new items: a recall takes the next
-- conversation seq, and a delete-for-me has no seq because only its user
-- sees it. message_id orders every row globally, in commit order. There is
-- no seq counter to update: the next seq is max(seq) + 1, read through the
-- UNIQUE (conversation_id, seq) index under the write lock.
CREATE TABLE messages (
    message_id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id INTEGER NOT NULL REFERENCES conversations (conversation_id),
    seq INTEGER,
    sender_id INTEGER NOT NULL REFERENCES users (user_id),
    client_msg_id TEXT,
    type TEXT NOT NULL,
    content TEXT NOT NULL,
    -- The message that a recall or delete-for-me removes.
    target_id INTEGER REFERENCES messages (message_id),
    -- 1 when the row was fanned out on write into inbox rows, 0 when members
    -- read it from the conversation's timeline.
    via_inbox INTEGER NOT NULL,
    created_at REAL NOT NULL,
    UNIQUE (conversation_id, seq),
    UNIQUE (sender_id, client_msg_id)
);
-- Fan-out on read scans each conversation's timeline rows after a message_id.
CREATE INDEX messages_timeline ON messages (conversation_id, via_inbox, message_id);

-- Fan-out on write: one row per member per message, in per-user seq order.
-- A user's next user_seq is max(user_seq) + 1, read through the primary key.
CREATE TABLE inbox (
    user_id INTEGER NOT NULL REFERENCES users (user_id),
    user_seq INTEGER NOT NULL,
    conversation_id INTEGER NOT NULL REFERENCES conversations (conversation_id),
    seq INTEGER,
    message_id INTEGER NOT NULL REFERENCES messages (message_id),
    PRIMARY KEY (user_id, user_seq)
) WITHOUT ROWID;

-- A recall (user_id 0: removed for everyone) or a delete-for-me.
CREATE TABLE removals (
    message_id INTEGER NOT NULL REFERENCES messages (message_id),
    user_id INTEGER NOT NULL,
    event_id INTEGER NOT NULL REFERENCES messages (message_id),
    PRIMARY KEY (message_id, user_id)
) WITHOUT ROWID;
"""

# MIGRATIONS[n] upgrades version n + 1 to version n + 2.
MIGRATIONS: list[list[str]] = [
    # Version 2: count unread inbox rows per conversation by range, not by
    # scanning every inbox row of the user.
    ["CREATE INDEX inbox_unread ON inbox (user_id, conversation_id, seq)"],
    # Version 3: one members row per membership period, keyed by its join_seq,
    # so that a user who leaves and is added back keeps the messages of the
    # earlier periods. SQLite cannot change a primary key in place, so the
    # table is rebuilt. NOTE: a version 2 file stored only the last period
    # of a re-added member, so its earlier periods cannot be recovered.
    [
        """
        CREATE TABLE members_v3 (
            conversation_id INTEGER NOT NULL
                REFERENCES conversations (conversation_id),
            user_id INTEGER NOT NULL REFERENCES users (user_id),
            -- The conversation's last seq when the period began: sync and
            -- unread counts take the messages after it.
            join_seq INTEGER NOT NULL,
            -- Messages with a seq above history_seq, up to leave_seq, are
            -- readable through history(): 0 when the period may read earlier
            -- history, else join_seq.
            history_seq INTEGER NOT NULL,
            -- The last seq of the period, or NULL while it lasts. At most one
            -- period of a user in a conversation has a NULL leave_seq.
            leave_seq INTEGER,
            -- The user's read position. mark_read() raises it in every period
            -- of the user, and unread counts take the messages above it.
            read_seq INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (conversation_id, user_id, join_seq)
        ) WITHOUT ROWID
        """,
        "INSERT INTO members_v3 (conversation_id, user_id, join_seq, history_seq, "
        "leave_seq, read_seq) SELECT conversation_id, user_id, join_seq, "
        "history_seq, leave_seq, read_seq FROM members",
        # Dropping the table drops its index members_by_user too.
        "DROP TABLE members",
        "ALTER TABLE members_v3 RENAME TO members",
        "CREATE INDEX members_by_user ON members (user_id, conversation_id)",
    ],
]

SCHEMA_VERSION = 1 + len(MIGRATIONS)


def split_statements(script: str) -> list[str]:
    """Split a SQL script into statements, keeping semicolons inside comments."""
    statements = []
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""
    if pending.strip():
        raise ValueError(f"incomplete SQL statement at the end: {pending!r}")
    return statements


def create_v1(conn: sqlite3.Connection) -> None:
    """Create the version 1 tables and a random cursor key in an empty database.

    The caller holds the write lock (``BEGIN IMMEDIATE``) and commits.
    """
    for statement in split_statements(SCHEMA_V1):
        conn.execute(statement)
    # The key that signs sync cursors, so that a cursor this database never
    # issued is detected. It is random per database file.
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('cursor_key', ?)", (os.urandom(32),)
    )
    conn.execute("PRAGMA user_version = 1")


def migrate(conn: sqlite3.Connection, from_version: int) -> None:
    """Upgrade the schema from ``from_version`` to ``SCHEMA_VERSION``.

    The caller holds the write lock (``BEGIN IMMEDIATE``) and commits.
    """
    for version in range(from_version, SCHEMA_VERSION):
        for statement in MIGRATIONS[version - 1]:
            conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {version + 1}")
