"""Opaque sync cursors, signed so that a cursor never issued is detected.

A cursor stores two positions for one user: the last per-user inbox seq
delivered (fan-out on write) and the last timeline ``message_id`` delivered
(fan-out on read). It is the base64url text of a version byte, the user id,
both positions and a truncated HMAC-SHA256 of those fields. The HMAC key is
random per database, so a cursor from another database, another user or a
typo fails verification.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct

from imref.storage.errors import InvalidCursorError

_FORMAT = struct.Struct(">BqQQ")
_VERSION = 1
_MAC_BYTES = 16


def encode_cursor(key: bytes, user: int, inbox_seq: int, timeline_id: int) -> str:
    """Encode and sign the positions of ``user`` as an opaque cursor string."""
    payload = _FORMAT.pack(_VERSION, user, inbox_seq, timeline_id)
    mac = hmac.new(key, payload, hashlib.sha256).digest()[:_MAC_BYTES]
    return _b64url(payload + mac)


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_cursor(key: bytes, user: int, cursor: object) -> tuple[int, int]:
    """Return ``(inbox_seq, timeline_id)`` from a cursor issued to ``user``.

    Raises:
        InvalidCursorError: the cursor is malformed, was signed by another
            database, or was issued to another user.
    """
    positions = _verify(key, user, cursor)
    if positions is None:
        raise InvalidCursorError(
            f"cursor {cursor!r} was not issued to user {user!r} by this database; "
            "pass the cursor from this user's last sync result, or None to sync "
            "from the start"
        )
    return positions


def _verify(key: bytes, user: int, cursor: object) -> tuple[int, int] | None:
    if not isinstance(cursor, str) or not cursor.isascii():
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError):
        return None
    if len(raw) != _FORMAT.size + _MAC_BYTES:
        return None
    # The decoder skips characters outside the base64url alphabet and ignores
    # the unused low bits of the last character, so several strings decode to
    # the same bytes. Only the string that encode_cursor() writes is accepted.
    if _b64url(raw) != cursor:
        return None

    payload, mac = raw[: _FORMAT.size], raw[_FORMAT.size :]
    expected = hmac.new(key, payload, hashlib.sha256).digest()[:_MAC_BYTES]
    if not hmac.compare_digest(mac, expected):
        return None
    version, cursor_user, inbox_seq, timeline_id = _FORMAT.unpack(payload)
    if version != _VERSION or cursor_user != user:
        return None
    return inbox_seq, timeline_id
