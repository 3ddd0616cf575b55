"""A bounded, per-process memory of nonces that accepted requests used.

Why 600 s: a request is accepted while its timestamp lies within ``window``
seconds of the server clock, in the past or the future. So a request with
timestamp ``t`` can arrive as early as ``t - window`` and as late as
``t + window``. A nonce first seen at any moment in between must therefore
be remembered for ``2 * window`` seconds (600 s for the 300 s window). Any
replay that the timestamp check still lets through is then stopped.

How: nonces live in two sets, the current generation and the previous one.
Every ``retention`` seconds the previous set is dropped and the current one
becomes the previous. A nonce is therefore kept for at least ``retention``
seconds, and is dropped by the first check that comes ``2 * retention`` or
more after it was added. Each check costs two set lookups instead of the
upkeep of an expiry time per nonce. A set entry is the single string
``key_id:nonce``: one string costs less to hash and store than a tuple of
two, and the garbage collector does not track it.

When full: once both sets contain ``capacity`` nonces together, new nonces are
rejected instead of forgetting one early, because forgetting a nonce still
inside its window would let that request be replayed. Only requests with a
valid signature reach the cache, so only a key holder can fill it, and the
rejection is a 503 that the client can retry after the next rotation.
"""

from __future__ import annotations

import logging

from imref.auth.errors import NonceCacheFullError, NonceReusedError

logger = logging.getLogger("imref.auth")


class NonceCache:
    """Remember ``(key id, nonce)`` pairs for ``retention`` to twice that, bounded.

    NOTE: the cache lives in one process. Behind several server processes a
    request replayed to another process is accepted, unless the nonces are
    kept in a shared store or each key id is routed to one process.
    """

    def __init__(self, *, retention: float = 600.0, capacity: int = 100_000):
        if retention <= 0:
            raise ValueError(f"retention {retention!r} must be positive seconds")
        if capacity < 1:
            raise ValueError(f"capacity {capacity!r} must be at least 1")
        self.retention = retention
        self.capacity = capacity
        self._current: set[str] = set()
        self._previous: set[str] = set()
        # Maximum size of the current set: the capacity minus the size of the
        # previous set, which changes only on rotation. Checking against it
        # costs one len() per check instead of two.
        self._current_capacity = capacity
        # The first check starts the first generation at its own clock time.
        self._rotate_at = float("-inf")

    def __len__(self) -> int:
        return len(self._current) + len(self._previous)

    def __repr__(self) -> str:
        return (
            f"NonceCache({len(self)}/{self.capacity} nonces, "
            f"retention {self.retention:g} s)"
        )

    def _rotate(self, now: float) -> None:
        if now >= self._rotate_at + self.retention:
            # A whole generation passed with no check: both sets expired.
            self._previous = set()
            self._rotate_at = now + self.retention
        else:
            self._previous = self._current
            self._rotate_at += self.retention
        self._current = set()
        self._current_capacity = self.capacity - len(self._previous)

    def check_and_add(self, key_id: str, nonce: str, now: float) -> None:
        """Record the nonce, or raise if it is in use or the cache is full.

        ``RequestVerifier.verify`` inlines the case where this only records
        the entry, so a change to the entry format or the checks here must be
        made there too.

        The verifier passes only a key id and a nonce that match their
        patterns, and neither pattern allows ``:``, so no two of its pairs
        share an entry. Other callers whose values contain ``:`` can only get
        a false ``NonceReusedError``, never an accepted replay.

        Raises:
            NonceReusedError: the pair was recorded less than ``retention``
                seconds ago (or up to twice that, see the module header).
            NonceCacheFullError: ``capacity`` nonces are stored.
        """
        if now >= self._rotate_at:
            self._rotate(now)
        entry = f"{key_id}:{nonce}"
        current = self._current
        if entry in current or entry in self._previous:
            raise NonceReusedError(
                f"nonce {nonce!r} of key id {key_id!r} was already used; "
                "send a fresh random nonce with every request"
            )
        if len(current) >= self._current_capacity:
            logger.error(
                "nonce cache full: %d nonces; rejecting key id %r",
                self.capacity,
                key_id,
            )
            raise NonceCacheFullError(
                f"the server's nonce cache is full with {self.capacity} nonces; retry "
                f"within {self._rotate_at - now:.0f} s"
            )
        current.add(entry)
