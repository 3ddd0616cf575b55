"""Hash functions and key normalisation shared by the hashing strategies.

A key is a ``str`` or ``bytes``; a ``str`` is hashed as its UTF-8 bytes, so
``"user:1"`` and ``b"user:1"`` always pick the same node.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Callable

import mmh3
import numpy as np
import xxhash

from imref.balancing.errors import (
    InvalidKeyError,
    InvalidOptionError,
    UnencodableKeyError,
)

HashFunction = Callable[[bytes], int]


def _md5_64(data: bytes) -> int:
    return int.from_bytes(hashlib.md5(data).digest()[:8], "big")


def _murmur3_64(data: bytes) -> int:
    return mmh3.hash64(data, signed=False)[0]


#: Named hash functions: name -> (function of bytes, bits of output).
HASH_FUNCTIONS: dict[str, tuple[HashFunction, int]] = {
    "xxhash": (xxhash.xxh3_64_intdigest, 64),
    "md5": (_md5_64, 64),
    "crc32": (zlib.crc32, 32),
    "murmur3": (_murmur3_64, 64),
}


def resolve_hash(hash: str | HashFunction, bits: int = 64) -> tuple[HashFunction, int]:
    """Return ``(function, bits)`` for a hash name or a callable.

    Raises:
        InvalidOptionError: for an unknown name or a bit width outside 8..64.
    """
    if callable(hash):
        if not isinstance(bits, int) or not 8 <= bits <= 64:
            raise InvalidOptionError(
                f"hash_bits must be an int from 8 to 64, got {bits!r}"
            )
        return hash, bits
    try:
        return HASH_FUNCTIONS[hash]
    except (KeyError, TypeError):
        raise InvalidOptionError(
            f"unknown hash {hash!r}; use one of {sorted(HASH_FUNCTIONS)!r} "
            "or a function of bytes that returns an int"
        ) from None


def key_bytes(key: object) -> bytes:
    """Return the bytes that a key is hashed as: UTF-8 for a str.

    Raises:
        InvalidKeyError: if ``key`` is None or not str or bytes-like.
        UnencodableKeyError: if a str key contains a lone surrogate.
    """
    if isinstance(key, str):
        try:
            return key.encode()
        except UnicodeEncodeError:
            raise unencodable_key_error(key) from None
    if isinstance(key, bytes | bytearray | memoryview):
        return bytes(key)
    if key is None:
        raise InvalidKeyError(
            "this strategy hashes the key, so pick needs one, such as 'user:42'"
        )
    raise InvalidKeyError(
        f"key must be str or bytes, got {type(key).__name__} {key!r}; "
        f"format it first, for example f'user:{{user_id}}'"
    )


def unencodable_key_error(key: str) -> UnencodableKeyError:
    """Return the error for a str key that has no UTF-8 encoding."""
    return UnencodableKeyError(
        f"key {key!r} has no UTF-8 encoding because it contains a lone "
        "surrogate; decode the key with errors='strict' or pass its bytes"
    )


def splitmix64(values: np.ndarray) -> np.ndarray:
    """Hash integers to uint64 with the splitmix64 finaliser, vectorised.

    Integers are taken mod 2**64 first. This is not the hash that the str
    path applies, so ``pick_many(np.array([7]))`` need not agree with
    ``pick("7")``.
    """
    if values.dtype.kind == "i":
        z = values.astype(np.int64).view(np.uint64)
    else:
        z = values.astype(np.uint64)
    z = z + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))
