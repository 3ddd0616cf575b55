"""Jump consistent hash (Lamping and Veach, 2014).

Theory of operation: a key drives a 64-bit linear congruential generator
that decides, bucket count by bucket count, where the key jumps next. Going
from n to n + 1 buckets moves exactly the keys that land on the new bucket,
about 1/(n + 1) of them, and needs no table at all. Buckets are numbered,
so only the last bucket can be removed without renumbering the others.
"""

from __future__ import annotations

import xxhash

from imref.balancing.base import Balancer
from imref.balancing.errors import (
    EmptyPoolError,
    InvalidKeyError,
    InvalidOptionError,
    UnsupportedOperationError,
)
from imref.balancing.hashing import key_bytes

_MASK64 = (1 << 64) - 1
# The multiplier of the generator in the paper's reference code.
_LCG_MULTIPLIER = 2862933555777941757


def jump_hash(key: int, num_buckets: int) -> int:
    """Return the bucket in ``range(num_buckets)`` for ``key``, taken mod 2**64.

    Raises:
        InvalidKeyError: if ``key`` is not an int.
        InvalidOptionError: if ``num_buckets`` is not an int.
        EmptyPoolError: if ``num_buckets`` is below 1.
    """
    if isinstance(key, bool) or not isinstance(key, int):
        raise InvalidKeyError(
            f"jump_hash takes an int key, got {type(key).__name__} {key!r}; "
            "hash a str first, as JumpHash.pick does"
        )
    if isinstance(num_buckets, bool) or not isinstance(num_buckets, int):
        raise InvalidOptionError(f"num_buckets must be an int, got {num_buckets!r}")
    if num_buckets < 1:
        raise EmptyPoolError(
            f"num_buckets must be at least 1, got {num_buckets!r}; "
            "there is no bucket to pick"
        )

    key &= _MASK64
    bucket, jump = -1, 0
    while jump < num_buckets:
        bucket = jump
        key = (key * _LCG_MULTIPLIER + 1) & _MASK64
        # Step: the next bucket this key would jump to as the count grows.
        jump = int((bucket + 1) * (float(1 << 31) / float((key >> 33) + 1)))
    return bucket


class JumpHash(Balancer):
    """Jump consistent hash over the nodes in order: bucket i is ``nodes[i]``.

    ``add`` appends a node as the new last bucket; ``remove`` takes only the
    last node, because removing another would renumber every bucket after
    it. Weights are not supported.
    """

    name = "jump"
    weighted = False
    membership_note = "only the last node can be removed"

    def _build(self, weights: dict[str, float]) -> tuple[str, ...]:
        return tuple(weights)

    def _check_remove(self, node: str) -> None:
        last = self._snapshot[-1]
        if node != last:
            raise UnsupportedOperationError(
                f"jump hash numbers its buckets, so only the last node {last!r} "
                f"can be removed, not {node!r}; remove {last!r} first or use a ring"
            )

    @staticmethod
    def hash_key(key: str | bytes | int) -> int:
        """Return the 64-bit jump key: xxh3_64 of a str's UTF-8 bytes, or an int."""
        if isinstance(key, int) and not isinstance(key, bool):
            return key & _MASK64
        return xxhash.xxh3_64_intdigest(key_bytes(key))

    def pick(self, key: str | bytes | int | None = None) -> str:
        """Return the node for ``key``.

        A str or bytes key is hashed to 64 bits with xxh3_64 (xxhash, seed 0)
        of its UTF-8 bytes. An int key is used directly, mod 2**64.

        Raises:
            InvalidKeyError: if ``key`` is missing, is not str, bytes or
                int, or is a str that UTF-8 cannot encode.
        """
        nodes = self._snapshot
        return nodes[jump_hash(self.hash_key(key), len(nodes))]
