"""HMAC-SHA256 tags and their standard Base64 form.

A str argument is always encoded as UTF-8, never with a platform default
charset, so the same text gives the same tag on every machine.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re

TAG_SIZE = 32  # bytes in an HMAC-SHA256 tag
BLOCK_SIZE = 64  # bytes in a SHA-256 input block

# HMAC pads the key to one block and XORs it with 0x36 for the inner hash and
# with 0x5c for the outer hash.
_INNER_PAD = bytes(byte ^ 0x36 for byte in range(256))
_OUTER_PAD = bytes(byte ^ 0x5C for byte in range(256))


def to_bytes(value: str | bytes | bytearray | memoryview, name: str) -> bytes:
    """Return ``value`` as bytes, encoding a str as UTF-8.

    Raises:
        TypeError: ``value`` is neither str nor a bytes-like object.
    """
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    raise TypeError(f"{name} must be str or bytes, not {type(value).__name__}")


def hmac_sha256(key: str | bytes, message: str | bytes) -> bytes:
    """Compute the 32-byte HMAC-SHA256 tag of ``message`` under ``key``."""
    return hmac.digest(to_bytes(key, "key"), to_bytes(message, "message"), "sha256")


def sign(secret: str | bytes, message: str | bytes) -> str:
    """Compute the HMAC-SHA256 tag of ``message`` as standard Base64 text."""
    return base64.b64encode(hmac_sha256(secret, message)).decode("ascii")


# The padded standard Base64 of 32 bytes: 43 characters and one "=". The
# 43rd character carries 2 unused bits that must be zero, so each tag has
# exactly one accepted spelling.
SIGNATURE_PATTERN = r"[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]="
_SIGNATURE = re.compile(SIGNATURE_PATTERN + r"\Z")


def decode_signature(signature: str | bytes) -> bytes | None:
    """Decode a standard Base64 tag, or return None if it is not one."""
    if isinstance(signature, bytes | bytearray):
        signature = bytes(signature).decode("latin-1")
    if not isinstance(signature, str) or not _SIGNATURE.match(signature):
        return None
    return binascii.a2b_base64(signature)


def verify(secret: str | bytes, message: str | bytes, signature: str | bytes) -> bool:
    """Check in constant time that ``signature`` is the Base64 tag of ``message``.

    Returns False for a wrong tag and for malformed Base64. It does not raise
    for any str or bytes ``signature``.
    """
    tag = decode_signature(signature)
    if tag is None:
        return False
    return hmac.compare_digest(hmac_sha256(secret, message), tag)


class HmacKey:
    """An HMAC-SHA256 key with its padded inner and outer hash states precomputed.

    Both states depend on the key only, so each tag costs two hash-state
    copies instead of a new HMAC set-up. The result equals
    ``hmac_sha256(key, message)``. The repr hides the key.
    """

    __slots__ = ("_inner_copy", "_outer_copy")

    def __init__(self, key: str | bytes):
        key = to_bytes(key, "key")
        if len(key) > BLOCK_SIZE:
            key = hashlib.sha256(key).digest()
        key = key.ljust(BLOCK_SIZE, b"\0")
        self._inner_copy = hashlib.sha256(key.translate(_INNER_PAD)).copy
        self._outer_copy = hashlib.sha256(key.translate(_OUTER_PAD)).copy

    def __repr__(self) -> str:
        return "HmacKey(<hidden>)"

    def digest(self, message: bytes) -> bytes:
        """Compute the 32-byte tag of ``message``.

        ``RequestVerifier.verify`` inlines these steps for a key id with one
        secret, so a change here must be made there too.
        """
        inner = self._inner_copy()
        inner.update(message)
        outer = self._outer_copy()
        outer.update(inner.digest())
        return outer.digest()


def sha256_hex(data: bytes) -> str:
    """Return the lowercase hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()
