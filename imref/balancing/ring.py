"""A consistent hash ring with virtual nodes and pluggable hash functions.

Theory of operation: every node puts ``round(vnodes * weight)`` points on a
ring of ``RING_SIZE`` positions, at the hash of ``f"{node}#{i}"``. A key goes
to the first point at or after the key's hash, wrapping past the end to the
first point. When points of two nodes share a position, the node whose name
sorts first owns it. So every client computes the same owner whatever order
it learnt the nodes in, and removing a node gives its shared points to the
next name at the same position.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from imref.balancing.base import Balancer
from imref.balancing.errors import (
    InvalidOptionError,
    InvalidWeightError,
    WeightTooSmallError,
)
from imref.balancing.hashing import (
    HashFunction,
    key_bytes,
    resolve_hash,
    splitmix64,
    unencodable_key_error,
)

#: Upper bound on the points of one ring, which keeps a huge weight from
#: exhausting memory.
MAX_POINTS = 5_000_000


@dataclass(frozen=True, slots=True)
class RingSnapshot:
    """The immutable state that ``pick`` reads."""

    nodes: tuple[str, ...]
    points: tuple[tuple[int, str], ...]
    positions: list[int]
    owners: list[str]
    # The owners followed by the first owner again, so that an index equal
    # to len(positions) wraps round the ring without a branch.
    wrapped_owners: list[str]
    # For pick_many: the positions followed by a sentinel 2**64 - 1, the
    # owner of each (the sentinel's is the first owner, so the ring wraps),
    # and for each bucket of the ring the index of its first position.
    position_array: np.ndarray
    owner_index: np.ndarray
    owner_names: np.ndarray
    bucket_start: np.ndarray
    bucket_shift: np.uint64


def build_ring_snapshot(
    points: Iterable[tuple[int, str]],
    nodes: tuple[str, ...],
    tie_break: Callable[[str], Any] | None = None,
    ring_bits: int = 64,
) -> RingSnapshot:
    """Sort ``points`` and give each distinct position one owner.

    Points at one position are ordered by ``tie_break(node)``, by default the
    node name, and the first of them owns the position. ``ring_bits`` is the
    width of a position.
    """
    rank = tie_break or (lambda node: node)
    ordered = tuple(sorted(set(points), key=lambda point: (point[0], rank(point[1]))))

    # Step 1: the first point at each position owns it.
    positions: list[int] = []
    owners: list[str] = []
    for position, node in ordered:
        if positions and positions[-1] == position:
            continue
        positions.append(position)
        owners.append(node)

    # Step 2: arrays for the vectorised pick_many, with the wrap-around
    # sentinel at the end.
    index_of = {node: i for i, node in enumerate(nodes)}
    wrapped = [*owners, owners[0]]
    owner_index = np.array([index_of[node] for node in wrapped], dtype=np.intp)
    owner_names = np.array(wrapped, dtype=object)
    position_array = np.array([*positions, 2**64 - 1], dtype=np.uint64)

    # Step 3: split the ring into about four buckets per position, so that a
    # lookup starts at most a few positions before its result.
    bucket_bits = min(ring_bits, 22, max(1, (4 * len(positions)).bit_length()))
    shift = np.uint64(ring_bits - bucket_bits)
    bucket_low = np.arange(2**bucket_bits, dtype=np.uint64) << shift
    bucket_start = np.searchsorted(position_array[:-1], bucket_low, side="left")
    return RingSnapshot(
        nodes,
        ordered,
        positions,
        owners,
        wrapped,
        position_array,
        owner_index,
        owner_names,
        bucket_start,
        shift,
    )


def lookup_slots(snapshot: RingSnapshot, hashes: np.ndarray) -> np.ndarray:
    """Return the index of the first position at or after each hash, vectorised.

    An index equal to the number of positions is the sentinel, whose owner
    is the first point's owner.
    """
    slots = snapshot.bucket_start[hashes >> snapshot.bucket_shift]
    # Advance every slot that is still behind its hash. Each pass moves at
    # least one slot, and with about four buckets per position a bucket
    # rarely contains more than a few positions.
    while True:
        behind = snapshot.position_array[slots] < hashes
        if not behind.any():
            return slots
        slots += behind


class HashRing(Balancer):
    """Consistent hash ring with virtual nodes, xxhash by default.

    Options: ``vnodes`` (points per unit of weight, default 160), ``hash``
    (``"xxhash"``, ``"md5"``, ``"crc32"``, ``"murmur3"`` or a function of
    bytes returning an int) and ``hash_bits`` (the output width of a custom
    function, default 64). ``RING_SIZE`` is ``2**hash_bits`` on an instance.
    """

    name = "ring"
    RING_SIZE = 2**64

    def _configure(
        self,
        *,
        vnodes: int = 160,
        hash: str | HashFunction = "xxhash",
        hash_bits: int = 64,
    ) -> None:
        if isinstance(vnodes, bool) or not isinstance(vnodes, int) or vnodes < 1:
            raise InvalidOptionError(
                f"vnodes must be a positive int, got {vnodes!r}; 100 to 200 is usual"
            )
        function, bits = resolve_hash(hash, hash_bits)
        self.vnodes = vnodes
        self.hash_name = (
            hash if isinstance(hash, str) else getattr(hash, "__name__", "custom")
        )
        self.RING_SIZE = 1 << bits
        if callable(hash):
            mask = self.RING_SIZE - 1

            def masked(data: bytes, _function: HashFunction = function) -> int:
                return _function(data) & mask

            self._hash = masked
        else:
            self._hash = function
        self._bits = bits

    def _point_count(self, node: str, weight: float) -> int:
        count = round(self.vnodes * weight)
        if count < 1:
            raise WeightTooSmallError(
                f"weight {weight!r} of node {node!r} gives it no point on the ring "
                f"(vnodes={self.vnodes}); use a weight of at least "
                f"{0.5 / self.vnodes:g} or more vnodes"
            )
        return count

    def _node_points(self, node: str, weight: float) -> list[tuple[int, str]]:
        hash_function = self._hash
        return [
            (hash_function(f"{node}#{i}".encode()), node)
            for i in range(self._point_count(node, weight))
        ]

    def _build(self, weights: dict[str, float]) -> RingSnapshot:
        total = sum(self._point_count(node, weight) for node, weight in weights.items())
        if total > MAX_POINTS:
            raise InvalidWeightError(
                f"weights {weights!r} with vnodes={self.vnodes} need {total} points, "
                f"above the limit of {MAX_POINTS}; use smaller weights"
            )
        points = []
        for node, weight in weights.items():
            points.extend(self._node_points(node, weight))
        return build_ring_snapshot(points, tuple(weights), ring_bits=self._bits)

    def hash_key(self, key: str | bytes) -> int:
        """Return the ring position of ``key``."""
        return self._hash(key_bytes(key))

    def pick(self, key: str | bytes | None = None) -> str:
        """Return the owner of the first point at or after the key's hash.

        Raises:
            InvalidKeyError: if ``key`` is missing, is not str or bytes,
                or is a str that UTF-8 cannot encode.
        """
        snapshot = self._snapshot
        try:
            data = key.encode() if type(key) is str else key_bytes(key)
        except UnicodeEncodeError:
            raise unencodable_key_error(key) from None
        slot = bisect_left(snapshot.positions, self._hash(data))
        return snapshot.wrapped_owners[slot]

    def pick_many(self, keys: Iterable[str | bytes] | np.ndarray) -> Any:
        """Pick a node for every key at once.

        For str or bytes keys, return a list of node names equal to
        ``[pick(k) for k in keys]``. For a NumPy integer array, hash each
        integer (taken mod 2**64) with the splitmix64 finaliser and return
        an array of indices into ``nodes``. This integer hash differs from
        the str path, so ``pick_many(np.array([7]))`` need not match
        ``pick("7")``.

        Raises:
            InvalidKeyError: if a key is not str or bytes, or is a str that
                UTF-8 cannot encode.
        """
        snapshot = self._snapshot
        if isinstance(keys, np.ndarray) and keys.dtype.kind in "iu":
            hashes = splitmix64(keys.ravel()) >> np.uint64(64 - self._bits)
            slots = lookup_slots(snapshot, hashes)
            return snapshot.owner_index[slots].reshape(keys.shape)

        keys = list(keys)
        hash_function = self._hash
        try:
            # Fast path for a list of str.
            hashes = np.fromiter(
                map(hash_function, map(str.encode, keys)),
                dtype=np.uint64,
                count=len(keys),
            )
        except (TypeError, UnicodeEncodeError):
            # key_bytes raises the InvalidKeyError that names the bad key.
            hashes = np.fromiter(
                (hash_function(key_bytes(key)) for key in keys),
                dtype=np.uint64,
                count=len(keys),
            )
        return snapshot.owner_names[lookup_slots(snapshot, hashes)].tolist()

    def points(self) -> list[tuple[int, str]]:
        """Return every ``(position, node)`` point, sorted by position then name.

        A shared position appears once per node; its owner is the first.
        """
        return list(self._snapshot.points)
