"""``MessageStore``: chat history in SQLite with fan-out on write, on read, or both.

Theory of operation.

Every message body is stored once in ``messages`` with the next sequence
number (seq) of its conversation. Allocating that seq, inserting the row and
any inbox rows happen in one ``BEGIN IMMEDIATE`` transaction, so writers to a
file are serialized and a reader never sees seq n + 1 before seq n. Because
writers are serialized, ``message_id`` (an AUTOINCREMENT rowid) also grows in
commit order, across all conversations.

How a member learns of a message depends on the fan-out mode:

- Fan-out on write (写扩散): the send also writes one ``inbox`` row per
  member, each with that member's next per-user inbox seq. A group of g
  members costs g inbox rows, and a user syncs by reading one inbox range.
- Fan-out on read (读扩散): the send writes the message row only. A user
  syncs by reading, in every conversation they are a member of, the timeline
  rows after the last ``message_id`` they received.
- Hybrid: fan-out on write for conversations with at most
  ``hybrid_threshold`` members, on read above.

Each message row records which path it took (``via_inbox``), so a file keeps
working when a group crosses the threshold or is opened in another mode.
``sync`` reads both paths inside one read transaction (one WAL snapshot) and
merges them by ``message_id``, which keeps every conversation in seq order.
A recall takes the conversation's next seq and travels like a message. A
delete-for-me has no seq and reaches only its user, through their inbox.

Each thread uses its own connection (``threading.local``), because a SQLite
connection must not run two transactions at once.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager

from imref.storage import queries as sql
from imref.storage.checks import (
    MAX_INT64,
    check_conversation_id,
    check_message_id,
    check_text,
    check_user_ids,
    is_id,
    surrogate_position,
)
from imref.storage.cursor import decode_cursor, encode_cursor
from imref.storage.errors import (
    ClientIdConflictError,
    DatabaseFileError,
    DatabaseLockedError,
    InvalidArgumentError,
    InvalidMessageError,
    NotAMemberError,
    NotPermittedError,
    StorageError,
    UnknownConversationError,
    UnknownMessageError,
    UnknownUserError,
)
from imref.storage.models import (
    EVENT_TYPES,
    MESSAGE_TYPES,
    Draft,
    Message,
    SyncItem,
    SyncResult,
    UnreadCounts,
)
from imref.storage.schema import SCHEMA_VERSION, create_v1, migrate

# Opening, closing and membership changes log at INFO. send, sync and
# mark_read run once per message or per device, so they log at DEBUG.
logger = logging.getLogger("imref.storage")

FANOUT_MODES = ("write", "read", "hybrid")
# The cheapest threshold that `imref storage measure` found for this store on
# the default workload. Single chats fan out on write and every group on
# read, because on one SQLite file a timeline seek costs about a tenth of an
# inbox row write. NOTE: it assumes 24 syncs per user per day. With a remote
# timeline read as costly as an inbox write, the same model picks 50.
DEFAULT_HYBRID_THRESHOLD = 2
DEFAULT_MAX_CONTENT_BYTES = 64 * 1024
MAX_SYNC_LIMIT = 1000
# Row values (sender_id, client_msg_id) per query when send_many looks up
# retries: 2 variables each, below SQLite's default limit of 32766 variables.
_LOOKUP_CHUNK = 500

# The first 16 bytes of every SQLite 3 database file.
_SQLITE_HEADER = b"SQLite format 3\x00"


def _clamp_seq(before_seq: int | None) -> int:
    """Return ``before_seq`` as a bound that SQLite can bind, None as no bound."""
    if before_seq is None:
        return MAX_INT64
    return max(min(before_seq, MAX_INT64), -MAX_INT64)


class MessageStore:
    """Chat history in one SQLite file, fanned out on write, on read or both.

    ``fanout`` is ``"write"``, ``"read"`` or ``"hybrid"``; in hybrid mode a
    conversation with at most ``hybrid_threshold`` members fans out on write.
    The file is created on first use. Use one store per process; it opens one
    connection per thread that calls it.

    Raises:
        DatabaseFileError: the file is corrupt, is not an imref database,
            has a newer schema version than this imref supports, or cannot
            be created because its folder does not exist.
        DatabaseLockedError: another connection held the write lock for
            longer than ``busy_timeout`` seconds while the schema was created
            or upgraded.
        InvalidArgumentError: an unknown mode or a threshold below 1.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        fanout: str = "write",
        *,
        hybrid_threshold: int = DEFAULT_HYBRID_THRESHOLD,
        busy_timeout: float = 5.0,
        max_content_bytes: int = DEFAULT_MAX_CONTENT_BYTES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if fanout not in FANOUT_MODES:
            raise InvalidArgumentError(
                f"fanout {fanout!r} is not one of {FANOUT_MODES}; pick one of them"
            )
        if not isinstance(hybrid_threshold, int) or hybrid_threshold < 1:
            raise InvalidArgumentError(
                f"hybrid_threshold {hybrid_threshold!r} is invalid; pass a member "
                "count of at least 1"
            )
        self.path = os.fspath(path)
        if self.path == ":memory:" or self.path.startswith("file:"):
            raise InvalidArgumentError(
                f"path {self.path!r} is not a file path; each thread opens its own "
                "connection, so pass the path of a database file"
            )
        folder = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(folder):
            raise DatabaseFileError(
                f"database file {self.path!r} cannot be created because its folder "
                f"{folder!r} does not exist; create the folder or pass another path"
            )
        self.fanout = fanout
        self.hybrid_threshold = hybrid_threshold
        self.busy_timeout = busy_timeout
        self.max_content_bytes = max_content_bytes
        self._clock = clock
        # A message to a conversation with at most this many members fans
        # out on write.
        self._inbox_max_members = {
            "write": float("inf"),
            "read": -1,
            "hybrid": hybrid_threshold,
        }[fanout]
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()

        self._check_header()
        try:
            self._cursor_key = self._prepare_schema(self._connection())
        except sqlite3.Error as exc:
            self.close()
            raise self._translate(exc) or exc from exc
        except StorageError:
            self.close()
            raise
        logger.info(
            "opened %s with fan-out on %s, schema version %d",
            self.path,
            fanout,
            SCHEMA_VERSION,
        )

    def __repr__(self) -> str:
        return f"MessageStore({self.path!r}, fanout={self.fanout!r})"

    def __enter__(self) -> MessageStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every connection that this store opened, in any thread."""
        with self._connections_lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()
        self._local = threading.local()
        if connections:
            logger.info("closed %s", self.path)

    # Connections, transactions and errors.

    def _connection(self) -> sqlite3.Connection:
        try:
            return self._local.conn
        except AttributeError:
            pass
        conn = sqlite3.connect(
            self.path,
            timeout=self.busy_timeout,
            isolation_level=None,
            check_same_thread=False,
            cached_statements=256,
        )
        try:
            # WAL is a property of the file, set when the schema is created.
            # synchronous=NORMAL in WAL mode survives an application crash;
            # a power loss may drop the last commits.
            conn.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.Error as exc:
            conn.close()
            raise self._translate(exc) or exc from exc
        # NOTE: a thread's connection stays open until close(), even after
        # the thread ends, so a caller that keeps starting new threads should
        # use a thread pool.
        with self._connections_lock:
            self._connections.append(conn)
        self._local.conn = conn
        return conn

    def _check_header(self) -> None:
        """Raise unless the file is missing, empty or starts as SQLite files do.

        SQLite itself would take a file shorter than its 100-byte header for
        an empty database and overwrite it.
        """
        try:
            with open(self.path, "rb") as file:
                header = file.read(len(_SQLITE_HEADER))
        except FileNotFoundError:
            return
        except OSError as exc:
            raise DatabaseFileError(
                f"database file {self.path!r} cannot be read ({exc}); check the "
                "path and its permissions"
            ) from exc
        if header and header != _SQLITE_HEADER:
            raise DatabaseFileError(
                f"database file {self.path!r} is corrupt or not a SQLite database "
                "(its header is wrong); restore it from a backup or pass another path"
            )

    def _prepare_schema(self, conn: sqlite3.Connection) -> bytes:
        """Create or upgrade the schema if needed and return the cursor key."""
        # Check the version and the tables before any statement that writes,
        # so that a file this imref rejects is left unchanged. One statement
        # reads both from one snapshot: as two statements, another process
        # could commit a new schema between them, and this one would see its
        # tables without its version.
        version, tables = conn.execute(
            "SELECT user_version, (SELECT count(*) FROM sqlite_schema) "
            "FROM pragma_user_version"
        ).fetchone()
        if version > SCHEMA_VERSION:
            raise self._newer_schema_error(version)
        if version == 0 and tables:
            raise self._no_version_error()

        if version < SCHEMA_VERSION:
            self._switch_to_wal(conn)
            with self._write():
                # Another process may have created or upgraded the schema
                # while this one waited for the lock.
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                if version > SCHEMA_VERSION:
                    raise self._newer_schema_error(version)
                if version == 0:
                    self._require_no_tables(conn)
                    create_v1(conn)
                    version = 1
                if version < SCHEMA_VERSION:
                    migrate(conn, version)
                    logger.info(
                        "upgraded %s from schema version %d to %d",
                        self.path,
                        version,
                        SCHEMA_VERSION,
                    )

        row = conn.execute("SELECT value FROM meta WHERE key = 'cursor_key'").fetchone()
        if row is None or not isinstance(row[0], bytes):
            raise DatabaseFileError(
                f"database file {self.path!r} has no cursor key in its meta table, "
                "so it is damaged; restore it from a backup or pass another path"
            )
        return row[0]

    def _switch_to_wal(self, conn: sqlite3.Connection) -> None:
        """Set WAL mode, retrying while other connections keep the file busy."""
        # Switching the journal mode needs an exclusive lock. While another
        # process creates the same new file, SQLite 3.40 returns SQLITE_BUSY
        # for the switch at once, without waiting for the busy timeout, so
        # this loop waits instead, up to the same timeout.
        deadline = time.monotonic() + self.busy_timeout
        delay = 0.001
        while True:
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                busy = getattr(exc, "sqlite_errorname", "").startswith("SQLITE_BUSY")
                if not busy or time.monotonic() >= deadline:
                    raise
            time.sleep(delay)
            delay = min(2 * delay, 0.05)

    def _require_no_tables(self, conn: sqlite3.Connection) -> None:
        """Raise unless a file without a schema version is empty."""
        tables = conn.execute("SELECT count(*) FROM sqlite_schema")
        if tables.fetchone()[0]:
            raise self._no_version_error()

    def _no_version_error(self) -> DatabaseFileError:
        return DatabaseFileError(
            f"database file {self.path!r} has tables but no imref schema "
            "version; pass the path of an imref database or of a new file"
        )

    def _newer_schema_error(self, version: int) -> DatabaseFileError:
        return DatabaseFileError(
            f"database file {self.path!r} has schema version {version}, newer than "
            f"version {SCHEMA_VERSION} that this imref supports; upgrade imref or "
            "pass another path"
        )

    def _translate(self, exc: sqlite3.Error) -> StorageError | None:
        """Return the storage error for a locked or damaged file, else None."""
        name = getattr(exc, "sqlite_errorname", "")
        if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
            return DatabaseLockedError(
                f"database file {self.path!r} is locked: another connection held "
                f"the write lock for more than {self.busy_timeout} s; retry later "
                "or raise busy_timeout"
            )
        if name.startswith("SQLITE_CANTOPEN"):
            return DatabaseFileError(
                f"database file {self.path!r} cannot be opened ({exc}); check that "
                "its folder exists and that this process may read and write both"
            )
        if name.startswith(("SQLITE_NOTADB", "SQLITE_CORRUPT")):
            return DatabaseFileError(
                f"database file {self.path!r} is corrupt or not a SQLite database "
                f"({exc}); restore it from a backup or pass another path"
            )
        return None

    def _write(self) -> AbstractContextManager[sqlite3.Connection]:
        """Run the block in one ``BEGIN IMMEDIATE`` transaction, or roll it back."""
        return self._transaction("BEGIN IMMEDIATE")

    def _read(self) -> AbstractContextManager[sqlite3.Connection]:
        """Run the block in one read transaction, so that it reads one snapshot."""
        return self._transaction("BEGIN")

    @contextmanager
    def _transaction(self, begin: str) -> Iterator[sqlite3.Connection]:
        conn = self._connection()
        try:
            conn.execute(begin)
            yield conn
            conn.execute("COMMIT")
        except BaseException as exc:
            # A failed BEGIN leaves no transaction, which _rollback skips.
            self._rollback(conn)
            if isinstance(exc, sqlite3.Error):
                translated = self._translate(exc)
                if translated is not None:
                    raise translated from exc
            raise

    def _rollback(self, conn: sqlite3.Connection) -> None:
        """Roll back the open transaction, if any, while an error propagates."""
        if not conn.in_transaction:
            return
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error as exc:
            # A damaged file can fail the rollback too. The caller raises the
            # first error, which names the cause.
            logger.error("rollback on %s failed: %s", self.path, exc)

    # Checks that raise a clear error naming the bad value.

    def _require_user(self, conn: sqlite3.Connection, user: int) -> None:
        if conn.execute("SELECT 1 FROM users WHERE user_id = ?", (user,)).fetchone():
            return
        raise UnknownUserError(
            f"user {user!r} not found; create it with create_user() first"
        )

    def _require_conversation(self, conn: sqlite3.Connection, conversation: int) -> str:
        row = conn.execute(
            "SELECT kind FROM conversations WHERE conversation_id = ?",
            (conversation,),
        ).fetchone()
        if row is None:
            raise UnknownConversationError(
                f"conversation {conversation!r} not found; create it with "
                "open_single() or create_group() first"
            )
        return row[0]

    def _membership_error(
        self, conn: sqlite3.Connection, user: int, conversation: int
    ) -> StorageError:
        """Return why ``user`` cannot act in ``conversation``."""
        try:
            self._require_conversation(conn, conversation)
            self._require_user(conn, user)
        except StorageError as exc:
            return exc
        return NotAMemberError(
            f"user {user!r} is not a member of conversation {conversation!r}; "
            "add the user with add_member() first"
        )

    def _check_draft(
        self,
        sender: object,
        conversation: object,
        content: object,
        client_msg_id: object,
        type: str,
    ) -> None:
        check_user_ids(sender)
        check_conversation_id(conversation)
        self._check_content(content, type)
        check_text("client_msg_id", client_msg_id, optional=True)

    def _check_content(self, content: object, type: str) -> None:
        if type not in MESSAGE_TYPES:
            raise InvalidMessageError(
                f"message type {type!r} is not one of {MESSAGE_TYPES}; pick one"
            )
        if not isinstance(content, str):
            raise InvalidMessageError(
                f"message content {content!r:.60} is not a str; encode the payload "
                "as text, for example JSON"
            )
        if not content.strip():
            raise InvalidMessageError(
                f"message content {content!r} is empty; send at least one "
                "visible character"
            )
        position = surrogate_position(content)
        if position is not None:
            raise InvalidMessageError(
                f"message content {content!r:.60} contains a lone surrogate at "
                f"index {position}, which UTF-8 cannot encode; send valid Unicode "
                "text"
            )
        size = len(content.encode("utf-8"))
        if size > self.max_content_bytes:
            raise InvalidMessageError(
                f"message content {content[:20]!r}... is {size} bytes, more than "
                f"the maximum of {self.max_content_bytes}; store large payloads "
                "elsewhere and send a reference"
            )

    # Users, devices, conversations and members.

    def create_user(self, user_id: int | None = None, *, name: str = "") -> int:
        """Create a user and return its id, chosen by the database if None.

        Raises:
            InvalidArgumentError: ``user_id`` exists already or is not a
                positive int, or ``name`` is not text.
        """
        if user_id is not None and (not is_id(user_id) or user_id < 1):
            raise InvalidArgumentError(
                f"user id {user_id!r} is invalid; pass an int from 1 to 2**63 - 1, "
                "or None"
            )
        check_text("name", name)
        try:
            with self._write() as conn:
                cursor = conn.execute(
                    "INSERT INTO users (user_id, name, created_at) VALUES (?, ?, ?)",
                    (user_id, name, self._clock()),
                )
        except sqlite3.IntegrityError:
            raise InvalidArgumentError(
                f"user {user_id!r} exists already; pass another id or None"
            ) from None
        logger.debug("created user %d", cursor.lastrowid)
        return cursor.lastrowid

    def add_device(self, user: int, platform: str) -> int:
        """Register a device of ``user`` and return the device id.

        Raises:
            UnknownUserError: ``user`` does not exist.
            InvalidArgumentError: ``platform`` is not text.
        """
        check_user_ids(user)
        check_text("platform", platform)
        with self._write() as conn:
            self._require_user(conn, user)
            cursor = conn.execute(
                "INSERT INTO devices (user_id, platform, created_at) VALUES (?, ?, ?)",
                (user, platform, self._clock()),
            )
        return cursor.lastrowid

    def devices(self, user: int) -> list[tuple[int, str]]:
        """Return ``(device_id, platform)`` for each device of ``user``."""
        check_user_ids(user)
        conn = self._connection()
        self._require_user(conn, user)
        rows = conn.execute(
            "SELECT device_id, platform FROM devices WHERE user_id = ? "
            "ORDER BY device_id",
            (user,),
        )
        return rows.fetchall()

    def open_single(self, user_a: int, user_b: int) -> int:
        """Return the single chat between two users, creating it on first use.

        Raises:
            UnknownUserError: either user does not exist.
            InvalidArgumentError: both ids are the same user.
        """
        check_user_ids(user_a, user_b)
        if user_a == user_b:
            raise InvalidArgumentError(
                f"a single chat needs two different users, not {user_a!r} twice"
            )
        low, high = sorted((user_a, user_b))
        pair_key = f"{low}:{high}"
        with self._write() as conn:
            self._require_user(conn, user_a)
            self._require_user(conn, user_b)
            row = conn.execute(
                "SELECT conversation_id FROM conversations WHERE pair_key = ?",
                (pair_key,),
            ).fetchone()
            if row is not None:
                return row[0]
            conversation = conn.execute(
                "INSERT INTO conversations (kind, pair_key, member_count, created_at) "
                "VALUES ('single', ?, 2, ?)",
                (pair_key, self._clock()),
            ).lastrowid
            conn.executemany(
                "INSERT INTO members (conversation_id, user_id, join_seq, history_seq) "
                "VALUES (?, ?, 0, 0)",
                [(conversation, low), (conversation, high)],
            )
        logger.info("opened single chat %d between %d and %d", conversation, low, high)
        return conversation

    def create_group(
        self, owner: int, members: Iterable[int] = (), *, title: str = ""
    ) -> int:
        """Create a group of ``owner`` and ``members`` and return its id.

        Raises:
            UnknownUserError: a user does not exist.
            InvalidArgumentError: ``title`` is not text.
        """
        # Check before removing repeats, because 1.0 and True equal the id 1.
        users = [owner, *members]
        check_user_ids(*users)
        users = list(dict.fromkeys(users))
        check_text("title", title)
        with self._write() as conn:
            for user in users:
                self._require_user(conn, user)
            conversation = conn.execute(
                "INSERT INTO conversations (kind, title, member_count, created_at) "
                "VALUES ('group', ?, ?, ?)",
                (title, len(users), self._clock()),
            ).lastrowid
            conn.executemany(
                "INSERT INTO members (conversation_id, user_id, join_seq, history_seq) "
                "VALUES (?, ?, 0, 0)",
                [(conversation, user) for user in users],
            )
        logger.info("created group %d with %d members", conversation, len(users))
        return conversation

    def add_member(
        self, conversation: int, user: int, *, see_history: bool = False
    ) -> None:
        """Add ``user`` to a group; with ``see_history`` they may read earlier messages.

        Each membership is a period from the seq at which the user joins to
        the seq at which they leave. Sync and unread counts take the messages
        of every period of the user, whichever ``see_history`` is, so a user
        who is added back keeps the messages of earlier periods and misses
        those sent while they were out. ``history()`` also returns the
        messages before a period when it began with ``see_history``. Adding a
        current member does nothing.

        Raises:
            UnknownConversationError, UnknownUserError: an id does not exist.
            NotPermittedError: the conversation is a single chat.
        """
        check_conversation_id(conversation)
        check_user_ids(user)
        with self._write() as conn:
            self._require_group(conn, conversation)
            self._require_user(conn, user)
            last_period = conn.execute(
                "SELECT join_seq, leave_seq FROM members "
                "WHERE conversation_id = ? AND user_id = ? "
                "ORDER BY join_seq DESC LIMIT 1",
                (conversation, user),
            ).fetchone()
            if last_period is not None and last_period[1] is None:
                return
            conn.execute(
                "UPDATE conversations SET member_count = member_count + 1 "
                "WHERE conversation_id = ?",
                (conversation,),
            )
            last_seq = conn.execute(sql.LAST_SEQ, (conversation,)).fetchone()[0]
            history_seq = 0 if see_history else last_seq
            if last_period is not None and last_period[1] == last_seq:
                # No message was sent while the user was out, so the last
                # period goes on. A new row would repeat its join_seq key.
                conn.execute(
                    "UPDATE members SET leave_seq = NULL, "
                    "history_seq = min(history_seq, ?) "
                    "WHERE conversation_id = ? AND user_id = ? AND join_seq = ?",
                    (history_seq, conversation, user, last_period[0]),
                )
            else:
                conn.execute(
                    "INSERT INTO members "
                    "(conversation_id, user_id, join_seq, history_seq, read_seq) "
                    "VALUES (?1, ?2, ?3, ?4, ?3)",
                    (conversation, user, last_seq, history_seq),
                )
        logger.info("added user %d to group %d at seq %d", user, conversation, last_seq)

    def remove_member(self, conversation: int, user: int) -> None:
        """Remove ``user`` from a group; they keep what they saw until now.

        Raises:
            UnknownConversationError, UnknownUserError: an id does not exist.
            NotPermittedError: the conversation is a single chat.
            NotAMemberError: the user is not a current member.
        """
        check_conversation_id(conversation)
        check_user_ids(user)
        with self._write() as conn:
            self._require_group(conn, conversation)
            cursor = conn.execute(
                "UPDATE members SET leave_seq = ("
                "SELECT coalesce(max(seq), 0) FROM messages "
                "WHERE conversation_id = ?1) "
                "WHERE conversation_id = ?1 AND user_id = ?2 AND leave_seq IS NULL",
                (conversation, user),
            )
            if cursor.rowcount != 1:
                raise self._membership_error(conn, user, conversation)
            conn.execute(
                "UPDATE conversations SET member_count = member_count - 1 "
                "WHERE conversation_id = ?",
                (conversation,),
            )
        logger.info("removed user %d from group %d", user, conversation)

    def import_directory(
        self,
        users: Iterable[int],
        single_chats: Iterable[tuple[int, int, int]],
        groups: Iterable[tuple[int, Iterable[int]]],
    ) -> None:
        """Insert users, single chats and groups with given ids in one transaction.

        ``single_chats`` contains ``(conversation_id, user_a, user_b)`` tuples
        and ``groups`` contains ``(conversation_id, member ids)`` pairs. This
        is the bulk path for replaying a recorded workload, so ids must be
        positive and new, and the store does not check that members exist.

        Raises:
            InvalidArgumentError: an id exists already or is not positive.
        """
        created_at = self._clock()
        user_rows = [(user, created_at) for user in users]
        conversation_rows = []
        member_rows = []
        for conversation, user_a, user_b in single_chats:
            low, high = sorted((user_a, user_b))
            conversation_rows.append(
                (conversation, "single", f"{low}:{high}", 2, created_at)
            )
            member_rows += [(conversation, low), (conversation, high)]
        for conversation, members in groups:
            members = list(dict.fromkeys(members))
            conversation_rows.append(
                (conversation, "group", None, len(members), created_at)
            )
            member_rows += [(conversation, user) for user in members]
        ids = [row[0] for row in user_rows] + [row[0] for row in conversation_rows]
        if any(not is_id(i) or i < 1 for i in ids):
            bad = next(i for i in ids if not is_id(i) or i < 1)
            raise InvalidArgumentError(
                f"id {bad!r} is invalid; users and conversations need positive ints"
            )
        try:
            with self._write() as conn:
                conn.executemany(
                    "INSERT INTO users (user_id, created_at) VALUES (?, ?)", user_rows
                )
                conn.executemany(
                    "INSERT INTO conversations "
                    "(conversation_id, kind, pair_key, member_count, created_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    conversation_rows,
                )
                conn.executemany(
                    "INSERT INTO members (conversation_id, user_id, join_seq, "
                    "history_seq) VALUES (?, ?, 0, 0)",
                    member_rows,
                )
        except sqlite3.IntegrityError as exc:
            raise InvalidArgumentError(
                f"import failed ({exc}); import into a new database, with each "
                "user, conversation and pair of users once"
            ) from exc
        logger.info(
            "imported %d users and %d conversations",
            len(user_rows),
            len(conversation_rows),
        )

    def _require_group(self, conn: sqlite3.Connection, conversation: int) -> None:
        if self._require_conversation(conn, conversation) != "group":
            raise NotPermittedError(
                f"conversation {conversation!r} is a single chat, whose members "
                "are fixed; create a group to add or remove members"
            )

    def members(self, conversation: int) -> list[int]:
        """Return the ids of the current members of ``conversation``."""
        check_conversation_id(conversation)
        conn = self._connection()
        self._require_conversation(conn, conversation)
        rows = conn.execute(
            "SELECT user_id FROM members WHERE conversation_id = ? "
            "AND leave_seq IS NULL ORDER BY user_id",
            (conversation,),
        )
        return [user for (user,) in rows]

    # Sending.

    def send(
        self,
        sender: int,
        conversation: int,
        content: str,
        *,
        client_msg_id: str | None = None,
        type: str = "text",
    ) -> Message:
        """Store a message with the conversation's next seq and fan it out.

        A retry (the same ``client_msg_id`` from the same sender, with the
        same conversation, type and content) returns the original message.

        Raises:
            InvalidMessageError: the content is empty, too large or not text,
                or the type is unknown.
            UnknownUserError, UnknownConversationError: an id does not exist.
            NotAMemberError: the sender is not a current member.
            ClientIdConflictError: the sender used ``client_msg_id`` for a
                different message.
            DatabaseLockedError: the write lock stayed busy too long.
        """
        self._check_draft(sender, conversation, content, client_msg_id, type)
        created_at = self._clock()
        try:
            with self._write() as conn:
                message = self._insert_event(
                    conn,
                    sender,
                    conversation,
                    type,
                    content,
                    client_msg_id,
                    None,
                    created_at,
                )
        except sqlite3.IntegrityError:
            # When the UNIQUE (sender_id, client_msg_id) constraint failed, the
            # rollback returned the seq, and this is a retry or a conflict.
            original = self._stored_retry(
                sender, conversation, content, client_msg_id, type
            )
            if original is None:
                raise
            return original
        except NotAMemberError:
            # A retry returns the stored message even if the sender has left
            # since, as in send_many(), which looks retries up before it
            # checks membership. Only a rejected send pays for this lookup.
            original = self._stored_retry(
                sender, conversation, content, client_msg_id, type
            )
            if original is None:
                raise
            return original
        logger.debug(
            "stored message %d seq %d in conversation %d",
            message.message_id,
            message.seq,
            conversation,
        )
        return message

    def _insert_event(
        self,
        conn: sqlite3.Connection,
        sender: int,
        conversation: int,
        type: str,
        content: str,
        client_msg_id: str | None,
        target_id: int | None,
        created_at: float,
    ) -> Message:
        """Allocate the next seq, insert the row and fan it out on write if due."""
        row = conn.execute(sql.SEND_CHECK, (conversation, sender)).fetchone()
        if row is None:
            raise self._membership_error(conn, sender, conversation)
        member_count, seq = row
        via_inbox = member_count <= self._inbox_max_members
        message_id = conn.execute(
            sql.INSERT_MESSAGE,
            (
                None,
                conversation,
                seq,
                sender,
                client_msg_id,
                type,
                content,
                target_id,
                via_inbox,
                created_at,
            ),
        ).lastrowid
        if via_inbox:
            members = conn.execute(sql.MEMBER_INBOX_SEQS, (conversation,)).fetchall()
            conn.executemany(
                sql.INSERT_INBOX,
                self._inbox_rows(members, conversation, seq, message_id),
            )
        return Message(
            message_id,
            conversation,
            seq,
            sender,
            client_msg_id,
            type,
            content,
            created_at,
        )

    def _inbox_rows(
        self,
        members: list[tuple[int, int]],
        conversation: int,
        seq: int,
        message_id: int,
    ) -> Iterator[tuple[int, int, int, int, int]]:
        """Yield one inbox row per ``(user_id, user_seq)`` of the members."""
        for user_id, user_seq in members:
            yield (user_id, user_seq, conversation, seq, message_id)

    def _stored_retry(
        self,
        sender: int,
        conversation: int,
        content: str,
        client_msg_id: str | None,
        type: str,
    ) -> Message | None:
        """Return the stored message that this send repeats, or None.

        Raises:
            ClientIdConflictError: the stored message differs from this one.
        """
        original = self._original(sender, client_msg_id)
        if original is None:
            return None
        self._check_retry(original, sender, conversation, content, client_msg_id, type)
        logger.debug("returned message %d for a retry", original.message_id)
        return original

    def _original(self, sender: int, client_msg_id: str | None) -> Message | None:
        """Return the stored message of ``sender`` with ``client_msg_id``, if any."""
        if client_msg_id is None:
            return None
        row = (
            self._connection()
            .execute(
                f"SELECT {sql.MESSAGE_COLUMNS} FROM messages "
                "WHERE sender_id = ? AND client_msg_id = ?",
                (sender, client_msg_id),
            )
            .fetchone()
        )
        return None if row is None else Message._make(row)

    @staticmethod
    def _check_retry(
        original: Message,
        sender: int,
        conversation: int,
        content: str,
        client_msg_id: str,
        type: str,
    ) -> None:
        if (original.conversation_id, original.type, original.content) == (
            conversation,
            type,
            content,
        ):
            return
        raise ClientIdConflictError(
            f"client message id {client_msg_id!r} of user {sender!r} already "
            f"names message {original.message_id} in conversation "
            f"{original.conversation_id} with other content; a retry must repeat "
            "the conversation, type and content, and a new message needs a new "
            "client message id"
        )

    def send_many(self, drafts: Iterable[Draft | tuple]) -> list[Message]:
        """Store a batch of messages in one transaction and return them in order.

        Each draft is a ``Draft`` or a tuple of its fields. The batch is all
        or nothing: one bad draft stores none of them. Retries behave as in
        ``send``, also within the batch.

        Raises:
            The errors of ``send``, for the first bad draft.
            InvalidArgumentError: a draft is neither a Draft nor a tuple of
                its fields.
        """
        batch = []
        for draft in drafts:
            if isinstance(draft, Draft):
                batch.append(draft)
                continue
            try:
                batch.append(Draft(*draft))
            except TypeError:
                raise InvalidArgumentError(
                    f"draft {draft!r} is invalid; pass a Draft or a tuple of "
                    "(sender, conversation, content[, client_msg_id[, type]])"
                ) from None
        for draft in batch:
            self._check_draft(*draft)
        created_at = self._clock()
        with self._write() as conn:
            messages = self._insert_batch(conn, batch, created_at)
        logger.debug("stored a batch of %d messages", len(messages))
        return messages

    def _insert_batch(
        self, conn: sqlite3.Connection, batch: list[Draft], created_at: float
    ) -> list[Message]:
        """Insert a batch with one seq allocation per conversation.

        Seqs, message ids and per-user inbox seqs are assigned in draft
        order, so the batch reads exactly as the same sends one by one.
        """
        # 1. Resolve retries of stored messages and repeats within the batch.
        stored = self._stored_by_client_id(conn, batch)
        first_of: dict[tuple[int, str], int] = {}
        new: list[int] = []  # indexes of drafts to insert
        repeat_of: dict[int, int] = {}  # draft index -> index of its first copy
        results: list[Message | None] = [None] * len(batch)
        for index, draft in enumerate(batch):
            key = (draft.sender, draft.client_msg_id)
            if draft.client_msg_id is not None and key in stored:
                self._check_retry(stored[key], *draft)
                results[index] = stored[key]
            elif draft.client_msg_id is not None and key in first_of:
                first = batch[first_of[key]]
                original = Message(
                    0,
                    first.conversation,
                    0,
                    first.sender,
                    first.client_msg_id,
                    first.type,
                    first.content,
                    created_at,
                )
                self._check_retry(original, *draft)
                repeat_of[index] = first_of[key]
            else:
                if draft.client_msg_id is not None:
                    first_of[key] = index
                new.append(index)

        # 2. Check membership once per (conversation, sender), in draft order,
        # and read each conversation's next seq.
        next_seq: dict[int, int] = {}
        via_inbox: dict[int, bool] = {}
        pairs = dict.fromkeys((batch[i].conversation, batch[i].sender) for i in new)
        for conversation, sender in pairs:
            row = conn.execute(sql.SEND_CHECK, (conversation, sender)).fetchone()
            if row is None:
                raise self._membership_error(conn, sender, conversation)
            member_count, next_seq[conversation] = row
            via_inbox[conversation] = member_count <= self._inbox_max_members

        # 3. Assign message ids after the AUTOINCREMENT counter, in draft order.
        last_id = conn.execute(
            "SELECT max(coalesce((SELECT seq FROM sqlite_sequence "
            "WHERE name = 'messages'), 0), coalesce(max(message_id), 0)) "
            "FROM messages"
        ).fetchone()[0]
        message_rows = []
        for message_id, index in enumerate(new, start=last_id + 1):
            draft = batch[index]
            seq = next_seq[draft.conversation]
            next_seq[draft.conversation] = seq + 1
            message = Message(
                message_id,
                draft.conversation,
                seq,
                draft.sender,
                draft.client_msg_id,
                draft.type,
                draft.content,
                created_at,
            )
            results[index] = message
            message_rows.append(
                (
                    message_id,
                    draft.conversation,
                    seq,
                    draft.sender,
                    draft.client_msg_id,
                    draft.type,
                    draft.content,
                    None,
                    via_inbox[draft.conversation],
                    created_at,
                )
            )
        conn.executemany(sql.INSERT_MESSAGE, message_rows)

        # 4. Fan out on write: reserve each member's inbox seqs in one update,
        # then hand them out in message order.
        fanned = [results[i] for i in new if via_inbox[batch[i].conversation]]
        if fanned:
            self._insert_batch_inbox(conn, fanned)

        for index, first in repeat_of.items():
            results[index] = results[first]
        return results  # type: ignore[return-value]

    def _insert_batch_inbox(
        self, conn: sqlite3.Connection, messages: list[Message]
    ) -> None:
        """Insert the inbox rows of a batch, in message order for each user."""
        members: dict[int, list[int]] = {}
        next_user_seq: dict[int, int] = {}
        for message in messages:
            if message.conversation_id in members:
                continue
            rows = conn.execute(sql.MEMBER_INBOX_SEQS, (message.conversation_id,))
            members[message.conversation_id] = []
            for user, user_seq in rows:
                members[message.conversation_id].append(user)
                next_user_seq[user] = user_seq
        rows = []
        for message in messages:
            for user in members[message.conversation_id]:
                user_seq = next_user_seq[user]
                next_user_seq[user] = user_seq + 1
                rows.append(
                    (
                        user,
                        user_seq,
                        message.conversation_id,
                        message.seq,
                        message.message_id,
                    )
                )
        conn.executemany(sql.INSERT_INBOX, rows)

    def _stored_by_client_id(
        self, conn: sqlite3.Connection, batch: list[Draft]
    ) -> dict[tuple[int, str], Message]:
        keys = list(
            {(d.sender, d.client_msg_id) for d in batch if d.client_msg_id is not None}
        )
        stored = {}
        for start in range(0, len(keys), _LOOKUP_CHUNK):
            chunk = keys[start : start + _LOOKUP_CHUNK]
            values = ", ".join(["(?, ?)"] * len(chunk))
            rows = conn.execute(
                f"SELECT {sql.MESSAGE_COLUMNS} FROM messages "
                f"WHERE (sender_id, client_msg_id) IN (VALUES {values})",
                [value for key in chunk for value in key],
            )
            for row in rows:
                message = Message._make(row)
                stored[(message.sender_id, message.client_msg_id)] = message
        return stored

    # Recall and delete-for-me.

    def recall(self, user: int, message_id: int) -> Message:
        """Recall a message for everyone and return the recall event.

        The recall takes the conversation's next seq, so members learn of it
        in their next sync, and the message no longer counts as unread.

        Raises:
            UnknownMessageError: ``message_id`` does not exist.
            NotPermittedError: ``user`` is not its sender, it is not a
                content message, or it was recalled already.
            NotAMemberError: the sender has left the conversation.
        """
        check_user_ids(user)
        check_message_id(message_id)
        with self._write() as conn:
            target = self._require_message(conn, message_id)
            if target.sender_id != user:
                raise NotPermittedError(
                    f"user {user!r} cannot recall message {message_id!r}: only its "
                    f"sender, user {target.sender_id}, can"
                )
            recalled = conn.execute(
                "SELECT 1 FROM removals WHERE message_id = ? AND user_id = 0",
                (message_id,),
            ).fetchone()
            if recalled:
                raise NotPermittedError(
                    f"message {message_id!r} was recalled already; nothing to do"
                )
            event = self._insert_event(
                conn,
                user,
                target.conversation_id,
                "recall",
                "",
                None,
                message_id,
                self._clock(),
            )
            conn.execute(
                "INSERT INTO removals (message_id, user_id, event_id) VALUES (?, 0, ?)",
                (message_id, event.message_id),
            )
        logger.info("user %d recalled message %d", user, message_id)
        return event

    def delete_for_me(self, user: int, message_id: int) -> Message:
        """Delete a message for ``user`` on all their devices; return the event.

        Deleting the same message twice returns the first event.

        Raises:
            UnknownMessageError: ``message_id`` does not exist.
            NotPermittedError: ``user`` cannot see the message, or it is not a
                content message.
        """
        check_user_ids(user)
        check_message_id(message_id)
        with self._write() as conn:
            target = self._require_message(conn, message_id)
            visible = conn.execute(
                "SELECT 1 FROM members WHERE conversation_id = ?1 AND user_id = ?2 "
                "AND ?3 > history_seq AND (leave_seq IS NULL OR ?3 <= leave_seq)",
                (target.conversation_id, user, target.seq),
            ).fetchone()
            if visible is None:
                raise NotPermittedError(
                    f"user {user!r} cannot delete message {message_id!r}: it is not "
                    f"visible to them in conversation {target.conversation_id}"
                )
            earlier = conn.execute(
                f"SELECT {sql.MESSAGE_COLUMNS} FROM messages WHERE message_id = ("
                "SELECT event_id FROM removals WHERE message_id = ? AND user_id = ?)",
                (message_id, user),
            ).fetchone()
            if earlier is not None:
                return Message._make(earlier)

            # A delete-for-me is the user's own event: no conversation seq,
            # and one inbox row, in every fan-out mode.
            created_at = self._clock()
            event_id = conn.execute(
                sql.INSERT_MESSAGE,
                (
                    None,
                    target.conversation_id,
                    None,
                    user,
                    None,
                    "delete",
                    "",
                    message_id,
                    True,
                    created_at,
                ),
            ).lastrowid
            user_seq = conn.execute(sql.NEXT_INBOX_SEQ, (user,)).fetchone()[0]
            conn.execute(
                sql.INSERT_INBOX,
                (user, user_seq, target.conversation_id, None, event_id),
            )
            conn.execute(
                "INSERT INTO removals (message_id, user_id, event_id) VALUES (?, ?, ?)",
                (message_id, user, event_id),
            )
        logger.info("user %d deleted message %d for themselves", user, message_id)
        return Message(
            event_id, target.conversation_id, None, user, None, "delete", "", created_at
        )

    def _require_message(self, conn: sqlite3.Connection, message_id: int) -> Message:
        row = conn.execute(
            f"SELECT {sql.MESSAGE_COLUMNS} FROM messages WHERE message_id = ?",
            (message_id,),
        ).fetchone()
        if row is None:
            raise UnknownMessageError(
                f"message {message_id!r} not found; pass a message_id that send() "
                "returned"
            )
        message = Message._make(row)
        if message.type in EVENT_TYPES:
            raise NotPermittedError(
                f"message {message_id!r} is a {message.type} event, not a message; "
                "pass the id of the message itself"
            )
        return message

    # Reading.

    def sync(
        self, user: int, cursor: str | None = None, limit: int = 100
    ) -> SyncResult:
        """Return up to ``limit`` items for ``user`` after ``cursor``, and a new cursor.

        Pass None the first time, then the ``cursor`` of the last result;
        call again while ``complete`` is False. Items are in seq order within
        each conversation. A device keeps its own cursor.

        Raises:
            UnknownUserError: ``user`` does not exist.
            InvalidCursorError: this database never issued ``cursor`` to ``user``.
            InvalidArgumentError: ``limit`` is not between 1 and 1000.
        """
        check_user_ids(user)
        if not isinstance(limit, int) or not 1 <= limit <= MAX_SYNC_LIMIT:
            raise InvalidArgumentError(
                f"limit {limit!r} is invalid; pass an int from 1 to {MAX_SYNC_LIMIT}"
            )
        if cursor is None:
            inbox_after, timeline_after = 0, 0
        else:
            inbox_after, timeline_after = decode_cursor(self._cursor_key, user, cursor)

        with self._read() as conn:
            if cursor is None:
                self._require_user(conn, user)
            # One row more than the limit from each path shows whether more wait.
            inbox = conn.execute(
                sql.SYNC_INBOX, {"user": user, "after": inbox_after, "limit": limit + 1}
            ).fetchall()
            timelines = conn.execute(
                sql.SYNC_TIMELINES,
                {"user": user, "after": timeline_after, "limit": limit + 1},
            ).fetchall()

        # Merge both paths by message_id, which grows in commit order.
        items = []
        i = j = 0
        while len(items) < limit and (i < len(inbox) or j < len(timelines)):
            if j == len(timelines) or (
                i < len(inbox) and inbox[i][1] < timelines[j][0]
            ):
                inbox_after = inbox[i][0]
                items.append(SyncItem._make(inbox[i][1:]))
                i += 1
            else:
                timeline_after = timelines[j][0]
                items.append(SyncItem._make(timelines[j]))
                j += 1
        complete = i == len(inbox) and j == len(timelines)
        result = SyncResult(
            tuple(items),
            encode_cursor(self._cursor_key, user, inbox_after, timeline_after),
            complete,
        )
        logger.debug("synced %d items for user %d", len(items), user)
        return result

    def mark_read(self, user: int, conversation: int, seq: int) -> None:
        """Mark every message of ``conversation`` up to ``seq`` read by ``user``.

        The read position only moves forward; a lower ``seq`` changes nothing.

        Raises:
            UnknownUserError, UnknownConversationError: an id does not exist.
            NotAMemberError: ``user`` was never a member.
            InvalidArgumentError: ``seq`` is negative or above the last seq.
        """
        check_conversation_id(conversation)
        check_user_ids(user)
        with self._write() as conn:
            self._require_conversation(conn, conversation)
            last_seq = conn.execute(sql.LAST_SEQ, (conversation,)).fetchone()[0]
            if not isinstance(seq, int) or not 0 <= seq <= last_seq:
                raise InvalidArgumentError(
                    f"seq {seq!r} is invalid for conversation {conversation!r}; "
                    f"pass a seq from 0 to its last seq, {last_seq}"
                )
            cursor = conn.execute(
                "UPDATE members SET read_seq = max(read_seq, ?) "
                "WHERE conversation_id = ? AND user_id = ?",
                (seq, conversation, user),
            )
            if cursor.rowcount == 0:
                raise self._membership_error(conn, user, conversation)
        logger.debug("user %d read conversation %d up to %d", user, conversation, seq)

    def unread(self, user: int) -> UnreadCounts:
        """Count the messages ``user`` has not read, per conversation.

        A message counts when another member sent it during one of the
        user's membership periods, its seq is above the user's read position,
        and it is neither recalled nor deleted for the user. Messages fanned
        out on write are counted from the inbox, the rest from the timelines.

        Raises:
            UnknownUserError: ``user`` does not exist.
        """
        check_user_ids(user)
        counts: Counter[int] = Counter()
        with self._read() as conn:
            self._require_user(conn, user)
            for query in (sql.UNREAD_INBOX, sql.UNREAD_TIMELINES):
                for conversation, count in conn.execute(query, {"user": user}):
                    counts[conversation] += count
        return UnreadCounts(sum(counts.values()), dict(sorted(counts.items())))

    def history(
        self,
        user: int,
        conversation: int,
        *,
        before_seq: int | None = None,
        limit: int = 50,
    ) -> list[Message]:
        """Return up to ``limit`` messages before ``before_seq``, oldest first.

        Only messages visible to ``user`` are returned: in one of their
        membership periods, or before a period that began with
        ``see_history``, and neither recalled nor deleted for them.

        Raises:
            UnknownUserError, UnknownConversationError: an id does not exist.
            NotAMemberError: ``user`` was never a member.
            InvalidArgumentError: ``limit`` is not between 1 and 1000, or
                ``before_seq`` is not an int.
        """
        check_user_ids(user)
        check_conversation_id(conversation)
        if not isinstance(limit, int) or not 1 <= limit <= MAX_SYNC_LIMIT:
            raise InvalidArgumentError(
                f"limit {limit!r} is invalid; pass an int from 1 to {MAX_SYNC_LIMIT}"
            )
        if before_seq is not None and (
            not isinstance(before_seq, int) or isinstance(before_seq, bool)
        ):
            raise InvalidArgumentError(
                f"before_seq {before_seq!r} is invalid; pass a seq as an int, or "
                "None for the latest messages"
            )
        with self._read() as conn:
            member = conn.execute(
                "SELECT 1 FROM members WHERE conversation_id = ? AND user_id = ?",
                (conversation, user),
            ).fetchone()
            if member is None:
                raise self._membership_error(conn, user, conversation)
            rows = conn.execute(
                sql.HISTORY,
                {
                    "conversation": conversation,
                    "user": user,
                    "before": _clamp_seq(before_seq),
                    "limit": limit,
                },
            ).fetchall()
        return [Message._make(row) for row in reversed(rows)]
