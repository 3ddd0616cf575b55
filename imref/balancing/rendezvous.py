"""Rendezvous hashing, also called highest random weight (HRW).

Every node scores every key with a hash of the pair, and the key goes to
the node with the highest score. Removing a node moves only its own keys,
and adding one takes about 1/(n + 1) of the keys. A pick costs one hash per
node. Weights use the logarithmic method of Schindelhauer and Schomaker:
the score is ``-weight / ln(u)`` for the pair's hash ``u`` scaled into
(0, 1), which gives each node a share of keys proportional to its weight.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import xxhash

from imref.balancing.base import Balancer
from imref.balancing.hashing import key_bytes, unencodable_key_error

_SCALE = 1.0 / 2.0**64


@dataclass(frozen=True, slots=True)
class _RendezvousSnapshot:
    # Sorted by name, so a tie goes to the least name.
    nodes: tuple[str, ...]
    seeds: tuple[int, ...]
    weights: tuple[float, ...]


class RendezvousHash(Balancer):
    """Highest random weight hashing with xxh3_64 and weighted scores."""

    name = "rendezvous"

    def _build(self, weights: dict[str, float]) -> _RendezvousSnapshot:
        names = tuple(sorted(weights))
        # Each node hashes keys with its own seed, the xxh3_64 of its name.
        seeds = tuple(xxhash.xxh3_64_intdigest(name.encode()) for name in names)
        return _RendezvousSnapshot(names, seeds, tuple(weights[n] for n in names))

    def scores(self, key: str | bytes) -> dict[str, float]:
        """Return every node's score for ``key``; the highest one wins."""
        snapshot = self._snapshot
        data = key_bytes(key)
        return {
            node: self._score(data, seed, weight)
            for node, seed, weight in zip(
                snapshot.nodes, snapshot.seeds, snapshot.weights, strict=True
            )
        }

    @staticmethod
    def _score(data: bytes, seed: int, weight: float) -> float:
        unit = (xxhash.xxh3_64_intdigest(data, seed) + 0.5) * _SCALE
        # unit is in (0, 1), so log is negative; guard the rounding to 1.0.
        return -weight / math.log(unit) if unit < 1.0 else math.inf

    def pick(self, key: str | bytes | None = None) -> str:
        """Return the node with the highest score for ``key``.

        Raises:
            InvalidKeyError: if ``key`` is missing, is not str or bytes,
                or is a str that UTF-8 cannot encode.
        """
        snapshot = self._snapshot
        try:
            data = key.encode() if type(key) is str else key_bytes(key)
        except UnicodeEncodeError:
            raise unencodable_key_error(key) from None
        best, best_score = 0, -1.0
        score = self._score
        for i, seed in enumerate(snapshot.seeds):
            value = score(data, seed, snapshot.weights[i])
            if value > best_score:
                best, best_score = i, value
        return snapshot.nodes[best]
