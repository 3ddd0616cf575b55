"""Errors that ``imref.storage`` raises on purpose.

Bad caller input (an unknown id, a non-member sending, an empty message, a
forged cursor) derives from ``ValueError``. A database file that another
connection keeps locked derives from ``TimeoutError``. A file that is not an
imref database, or is damaged, raises ``DatabaseFileError`` naming the path.
"""

from imref.errors import ImrefError


class StorageError(ImrefError):
    """Base class of every error that ``imref.storage`` raises on purpose."""


class UnknownUserError(StorageError, ValueError):
    """A user id that the database does not contain."""


class UnknownConversationError(StorageError, ValueError):
    """A conversation id that the database does not contain."""


class NotAMemberError(StorageError, ValueError):
    """A user who is not a current member acted in a conversation."""


class InvalidMessageError(StorageError, ValueError):
    """Message content that is empty, too large or of an unknown type."""


class ClientIdConflictError(StorageError, ValueError):
    """A client message id reused by its sender for a different message."""


class InvalidCursorError(StorageError, ValueError):
    """A sync cursor that this database never issued to this user."""


class DatabaseLockedError(StorageError, TimeoutError):
    """Another connection held the write lock beyond the busy timeout."""


class DatabaseFileError(StorageError):
    """A database file that is corrupt, foreign or from a newer imref."""


class UnknownMessageError(StorageError, ValueError):
    """A message id that the database does not contain."""


class NotPermittedError(StorageError, ValueError):
    """An action that the user may not take on this message."""


class InvalidArgumentError(StorageError, ValueError):
    """An argument outside its documented range, such as a limit or a seq."""
