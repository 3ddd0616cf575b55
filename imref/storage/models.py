"""The values that ``MessageStore`` returns: messages, sync results, counts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

# Content types a client may send. "recall" and "delete" are event rows that
# the store writes itself.
MESSAGE_TYPES = ("text", "image", "file", "audio", "video", "custom")
EVENT_TYPES = ("recall", "delete")


class Message(NamedTuple):
    """A stored message row: a sent message, a recall or a delete-for-me."""

    message_id: int
    conversation_id: int
    seq: int | None
    sender_id: int
    client_msg_id: str | None
    type: str
    content: str
    created_at: float


class Draft(NamedTuple):
    """A message to store with ``MessageStore.send_many``."""

    sender: int
    conversation: int
    content: str
    client_msg_id: str | None = None
    type: str = "text"


class SyncItem(NamedTuple):
    """One item of a sync result.

    ``type`` is a content type for a message, ``"recall"`` when the sender
    recalled the message at ``target_seq`` for everyone, or ``"delete"`` when
    this user deleted the message at ``target_seq`` on all their devices.
    ``seq`` is the conversation's sequence number, except for a delete, which
    is the user's own event and has ``seq`` None. The content of a message
    already recalled or deleted when it is synced is empty.
    """

    message_id: int
    type: str
    conversation_id: int
    seq: int | None
    sender_id: int
    content: str
    target_seq: int | None
    created_at: float
    client_msg_id: str | None


@dataclass(frozen=True, slots=True)
class SyncResult:
    """The items after a cursor, the cursor to pass next, and whether more wait."""

    items: tuple[SyncItem, ...]
    cursor: str
    complete: bool

    def __repr__(self) -> str:
        count = len(self.items)
        noun = "item" if count == 1 else "items"
        # The cursor's end is its signature, which differs between cursors.
        return (
            f"SyncResult({count} {noun}, complete={self.complete}, "
            f"cursor='...{self.cursor[-8:]}')"
        )


@dataclass(frozen=True, slots=True)
class UnreadCounts:
    """A user's unread message counts, in total and per conversation."""

    total: int
    by_conversation: Mapping[int, int] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (
            f"UnreadCounts(total={self.total}, "
            f"conversations={len(self.by_conversation)})"
        )
