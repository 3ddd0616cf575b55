"""Chat storage with fan-out on write (写扩散), on read (读扩散) and a hybrid.

``MessageStore`` keeps users, devices, conversations, members and messages in
one SQLite file. ``sync(user, cursor=None, limit=100)`` is how a device pulls
what it missed; see ``imref.storage.store`` for how each mode works.
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
