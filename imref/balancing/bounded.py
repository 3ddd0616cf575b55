"""Consistent hashing with bounded loads (Mirrokni, Thorup and Zadimoghaddam).

Theory of operation: keys go round a hash ring as usual, but a node that
already has its cap of keys is skipped, and the key goes on to the next node
clockwise. With m keys already placed on n nodes the cap is
``ceil((1 + eps) * (m + 1) / n)``, so no node ever gets more than about
(1 + eps) times the mean. The price is that a key's node depends on the
live load, not only on the key and the membership: the same key may land
elsewhere when it reconnects, so another service must look it up rather
than compute it.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass

from imref.balancing.base import LoadAware, LoadCounter
from imref.balancing.errors import InvalidOptionError
from imref.balancing.hashing import HashFunction, key_bytes, unencodable_key_error
from imref.balancing.ring import HashRing, RingSnapshot

#: The largest ``eps``. A cap of ``1 + eps`` times the mean load no longer
#: binds once ``eps`` reaches ``n - 1``, so 100 already disables it for any
#: pool of up to 101 nodes. Larger values only risk an overflow in the cap.
MAX_EPS = 100.0


@dataclass(frozen=True, slots=True)
class _BoundedSnapshot:
    ring: RingSnapshot
    counters: dict[str, LoadCounter]
    counter_list: tuple[LoadCounter, ...]


class BoundedLoadRing(LoadAware, HashRing):
    """A hash ring whose nodes each hold at most ``ceil((1+eps)(m+1)/n)`` keys.

    Options: ``eps`` (default 0.25), and ``vnodes``, ``hash`` and
    ``hash_bits`` as for ``HashRing``. ``pick`` places a key and counts it;
    ``release(node)`` removes one. Weights are not supported.
    """

    name = "bounded_load"
    weighted = False

    def _configure(
        self,
        *,
        eps: float = 0.25,
        vnodes: int = 160,
        hash: str | HashFunction = "xxhash",
        hash_bits: int = 64,
    ) -> None:
        if isinstance(eps, bool) or not isinstance(eps, int | float):
            raise InvalidOptionError(f"eps must be a number, got {eps!r}")
        if not 0 < eps <= MAX_EPS:
            raise InvalidOptionError(
                f"eps must be above 0 and at most {MAX_EPS:g}, got {eps!r}; "
                "0.25 is usual"
            )
        self.eps = eps
        super()._configure(vnodes=vnodes, hash=hash, hash_bits=hash_bits)

    def _build(self, weights: dict[str, float]) -> _BoundedSnapshot:
        ring = super()._build(weights)
        counters = self._counters_for(weights)
        return _BoundedSnapshot(ring, counters, tuple(counters.values()))

    def cap(self) -> int:
        """Return the cap that the next placed key must respect."""
        counters = self._snapshot.counter_list
        placed = sum(counter.value for counter in counters)
        return math.ceil((1 + self.eps) * (placed + 1) / len(counters))

    def pick(self, key: str | bytes | None = None) -> str:
        """Place ``key`` on the first node clockwise that is below the cap.

        Raises:
            InvalidKeyError: if ``key`` is missing, is not str or bytes,
                or is a str that UTF-8 cannot encode.
        """
        snapshot = self._snapshot
        ring = snapshot.ring
        counters = snapshot.counters
        try:
            data = key.encode() if type(key) is str else key_bytes(key)
        except UnicodeEncodeError:
            raise unencodable_key_error(key) from None
        start = bisect_left(ring.positions, self._hash(data))
        placed = sum(counter.value for counter in snapshot.counter_list)
        cap = math.ceil((1 + self.eps) * (placed + 1) / len(snapshot.counter_list))

        # Walk clockwise from the key's position to the first node below the
        # cap. The n caps sum to more than m, so some node is always below.
        # NOTE: concurrent picks may read the same loads and overshoot the
        # cap by up to one key per thread; one thread never exceeds it.
        owners = ring.owners
        size = len(owners)
        for step in range(size):
            node = owners[(start + step) % size]
            counter = counters[node]
            if counter.value < cap:
                counter.increment()
                return node
        raise AssertionError(f"no node below the cap {cap}; loads {self.loads!r}")

    def pick_many(self, keys: Iterable[str | bytes]) -> list[str]:
        """Place every key in order, as repeated ``pick`` calls would.

        Raises:
            InvalidKeyError: if a key is not str or bytes, NumPy integers
                included, because placement depends on each key's hash.
        """
        return [self.pick(key) for key in keys]

    def points(self) -> list[tuple[int, str]]:
        """Return every ``(position, node)`` point, sorted by position then name."""
        return list(self._snapshot.ring.points)
