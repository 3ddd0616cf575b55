"""Checks of caller input that ``MessageStore`` runs before it touches SQLite.

SQLite converts a text id such as ``"1"`` to the integer 1 when it compares
it with an INTEGER column. The ``sqlite3`` module raises ``OverflowError``
for an int outside SQLite's 64-bit range and ``UnicodeEncodeError`` for a
str with a lone surrogate. These checks turn such input into the store's own
errors, which name the value.
"""

from __future__ import annotations

from imref.storage.errors import (
    InvalidArgumentError,
    UnknownConversationError,
    UnknownMessageError,
    UnknownUserError,
)

# The range of a SQLite INTEGER.
MIN_INT64 = -(2**63)
MAX_INT64 = 2**63 - 1


def is_id(value: object) -> bool:
    """Return whether ``value`` is an int that SQLite can store, but not a bool."""
    return (
        isinstance(value, int)
        and not isinstance(value, bool)
        and MIN_INT64 <= value <= MAX_INT64
    )


def check_user_ids(*users: object) -> None:
    """Raise ``UnknownUserError`` for a user id that no row can have."""
    for user in users:
        if not is_id(user):
            raise UnknownUserError(
                f"user {user!r} not found; pass an int id that create_user() returned"
            )


def check_conversation_id(conversation: object) -> None:
    """Raise ``UnknownConversationError`` for an id that no row can have."""
    if not is_id(conversation):
        raise UnknownConversationError(
            f"conversation {conversation!r} not found; pass an int id that "
            "open_single() or create_group() returned"
        )


def check_message_id(message_id: object) -> None:
    """Raise ``UnknownMessageError`` for an id that no row can have."""
    if not is_id(message_id):
        raise UnknownMessageError(
            f"message {message_id!r} not found; pass a message_id that send() returned"
        )


def check_text(name: str, value: object, *, optional: bool = False) -> None:
    """Raise ``InvalidArgumentError`` unless ``value`` is a str SQLite can store.

    With ``optional``, None is accepted too.
    """
    if value is None and optional:
        return
    if not isinstance(value, str):
        expected = "a str or None" if optional else "a str"
        raise InvalidArgumentError(
            f"{name} {value!r:.60} is not a str; pass {expected}"
        )
    position = surrogate_position(value)
    if position is not None:
        raise InvalidArgumentError(
            f"{name} {value!r:.60} contains a lone surrogate at index {position}, "
            "which UTF-8 cannot encode; pass valid Unicode text"
        )


def surrogate_position(text: str) -> int | None:
    """Return the index of the first lone surrogate in ``text``, or None."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return exc.start
    return None
