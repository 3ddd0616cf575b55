"""Chat storage with fan-out on write (写扩散), on read (读扩散) and a hybrid.

``MessageStore`` keeps users, devices, conversations, members and messages in
one SQLite file. ``sync(user, cursor=None, limit=100)`` is how a device pulls
what it missed; see ``imref.storage.store`` for how each mode works::

    store = MessageStore("chat.db", "hybrid")
    alice, bob = store.create_user(), store.create_user()
    chat = store.open_single(alice, bob)
    store.send(alice, chat, "hello", client_msg_id="a-1")
    result = store.sync(bob)            # a device's first sync
    later = store.sync(bob, result.cursor)  # then from its last cursor

Each ``SyncItem`` carries its ``conversation_id`` and that conversation's
``seq``; a device applies items in order and keeps ``result.cursor``.
"""

from imref.storage.errors import (
    ClientIdConflictError,
    DatabaseFileError,
    DatabaseLockedError,
    InvalidArgumentError,
    InvalidCursorError,
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
from imref.storage.schema import SCHEMA_VERSION
from imref.storage.store import (
    DEFAULT_HYBRID_THRESHOLD,
    FANOUT_MODES,
    MessageStore,
)

__all__ = [
    "DEFAULT_HYBRID_THRESHOLD",
    "EVENT_TYPES",
    "FANOUT_MODES",
    "MESSAGE_TYPES",
    "SCHEMA_VERSION",
    "ClientIdConflictError",
    "DatabaseFileError",
    "DatabaseLockedError",
    "Draft",
    "InvalidArgumentError",
    "InvalidCursorError",
    "InvalidMessageError",
    "Message",
    "MessageStore",
    "NotAMemberError",
    "NotPermittedError",
    "StorageError",
    "SyncItem",
    "SyncResult",
    "UnknownConversationError",
    "UnknownMessageError",
    "UnknownUserError",
    "UnreadCounts",
]
