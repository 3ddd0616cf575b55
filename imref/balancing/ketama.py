"""Ketama: the md5 continuum of libketama, point for point, or uhashring's.

Theory of operation: a server of weight ``w`` among ``n`` servers of total
weight ``W`` gets ``ks`` hashes, md5 of ``f"{server}-{k}"`` for k in
``range(ks)``, and each 16-byte digest gives four points, its four
little-endian 32-bit words. A key hashes to the first little-endian word of
its md5 and goes to the first point at or after it, wrapping to the first
point. Equal weights give 40 hashes (160 points) per server.

The two compat modes differ where libketama (C, Last.fm) and uhashring 2.5
(pure Python) differ:

============  ==================================  ==================================
step          ``compat="libketama"``              ``compat="uhashring"``
============  ==================================  ==================================
ks            ``floorf(pct * 40.0 * (float)n)``   ``(40 * n * w) // W``, integers
              with ``pct = (float)w / (float)W``
key == point  that point                          the next point
shared point  the server listed first (the        the server added last (the last
              stable qsort of glibc keeps the     write to a dict wins)
              listed order)
============  ==================================  ==================================

Where a target misbehaves, imref does not follow it. Both targets give a
server whose weight rounds to zero hashes no point at all, silently; imref
raises ``WeightTooSmallError``. uhashring hashes a bytes key as its repr,
``"b'...'"``, but imref hashes a bytes key as its bytes. So ``"user:1"``
and ``b"user:1"`` pick the same server in both modes.
"""

from __future__ import annotations

import hashlib
import math
import struct
from bisect import bisect_left, bisect_right

import numpy as np

from imref.balancing.base import Balancer
from imref.balancing.errors import (
    InvalidOptionError,
    InvalidWeightError,
    WeightTooSmallError,
)
from imref.balancing.hashing import key_bytes, unencodable_key_error
from imref.balancing.ring import RingSnapshot, build_ring_snapshot

COMPAT_MODES = ("libketama", "uhashring")

_read_points = struct.Struct("<4I").unpack
_read_first_word = struct.Struct("<I").unpack_from
try:
    # CPython's built-in md5 costs about a third of hashlib's OpenSSL md5 per
    # short key, because it skips OpenSSL's per-call context setup.
    from _md5 import md5 as _md5
except ImportError:  # pragma: no cover - Python built without it
    _md5 = hashlib.md5


def libketama_hash_count(weight: float, total: float, count: int) -> int:
    """Return libketama's number of md5 hashes for one server.

    libketama computes ``floorf(pct * 40.0 * (float)numservers)`` with
    ``pct = (float)memory / (float)total``: the product is a double that
    floorf first rounds to single precision. So 61 servers of equal weight
    get 39 hashes each, not 40.
    """
    share = np.float32(np.float32(weight) / np.float32(total))
    product = float(share) * 40.0 * float(np.float32(count))
    return math.floor(np.float32(product))


def uhashring_hash_count(weight: int, total: int, count: int) -> int:
    """Return uhashring 2.5's number of md5 hashes for one server (integer floor)."""
    return (40 * count * weight) // total


def ketama_points(node: str, hash_count: int) -> list[tuple[int, str]]:
    """Return the ``4 * hash_count`` points of ``node``, in libketama's order."""
    points = []
    for k in range(hash_count):
        digest = _md5(f"{node}-{k}".encode()).digest()
        points.extend((point, node) for point in _read_points(digest))
    return points


def ketama_hash(data: bytes) -> int:
    """Return the continuum position of a key: md5's first little-endian word."""
    return _read_first_word(_md5(data).digest())[0]


class KetamaRing(Balancer):
    """The ketama md5 continuum as libketama (default) or uhashring 2.5 builds it.

    ``compat="libketama"`` matches libketama point for point on every server
    list it reads correctly: names of at most 21 bytes (longer ones overflow
    its ``char addr[22]``) and whole-number weights. imref also takes longer
    names and fractional weights, with the same single-precision arithmetic.
    ``compat="uhashring"`` matches uhashring's ketama mode, which takes only
    whole-number weights. ``RING_SIZE`` is 2**32.
    """

    name = "ketama"
    RING_SIZE = 2**32

    def _configure(self, *, compat: str = "libketama") -> None:
        if compat not in COMPAT_MODES:
            raise InvalidOptionError(
                f"compat must be one of {COMPAT_MODES!r}, got {compat!r}"
            )
        self.compat = compat
        self._bisect = bisect_left if compat == "libketama" else bisect_right

    def _check_weight(self, node: str, weight: float) -> None:
        if self.compat == "uhashring" and weight != int(weight):
            raise InvalidWeightError(
                f"uhashring takes whole-number weights, so node {node!r} cannot "
                f"have weight {weight!r} with compat='uhashring'"
            )

    def _hash_count(self, node: str, weight: float, total: float, count: int) -> int:
        if self.compat == "libketama":
            hashes = libketama_hash_count(weight, total, count)
        else:
            hashes = uhashring_hash_count(int(weight), int(total), count)
        if hashes < 1:
            raise WeightTooSmallError(
                f"weight {weight!r} of node {node!r} is {weight / total:.3%} of the "
                f"total weight {total!r}, which gives it no point on the continuum "
                f"(compat={self.compat!r}): a node needs at least 1/{40 * count} "
                "of the total; raise its weight or remove the node"
            )
        return hashes

    def _build(self, weights: dict[str, float]) -> RingSnapshot:
        nodes = tuple(weights)
        total = sum(weights.values())
        points = []
        for node, weight in weights.items():
            hashes = self._hash_count(node, weight, total, len(nodes))
            points.extend(ketama_points(node, hashes))

        # libketama: the stable sort keeps the server listed first at a shared
        # point. uhashring: the server added last overwrites the shared point.
        order = {node: i for i, node in enumerate(nodes)}
        if self.compat == "libketama":
            return build_ring_snapshot(points, nodes, order.__getitem__, 32)
        return build_ring_snapshot(points, nodes, lambda node: -order[node], 32)

    def hash_key(self, key: str | bytes) -> int:
        """Return the continuum position of ``key``."""
        return ketama_hash(key_bytes(key))

    def pick(self, key: str | bytes | None = None) -> str:
        """Return the server for ``key`` as the compat target would.

        Raises:
            InvalidKeyError: if ``key`` is missing, is not str or bytes,
                or is a str that UTF-8 cannot encode.
        """
        snapshot = self._snapshot
        try:
            data = key.encode() if type(key) is str else key_bytes(key)
        except UnicodeEncodeError:
            raise unencodable_key_error(key) from None
        position = _read_first_word(_md5(data).digest())[0]
        return snapshot.wrapped_owners[self._bisect(snapshot.positions, position)]

    def pick_point(self, key: str | bytes) -> tuple[int, str]:
        """Return ``(point, server)`` for ``key``, like libketama's get_server."""
        snapshot = self._snapshot
        i = self._bisect(snapshot.positions, self.hash_key(key))
        if i == len(snapshot.positions):
            i = 0
        return snapshot.positions[i], snapshot.owners[i]

    def points(self) -> list[tuple[int, str]]:
        """Return every ``(point, server)``, sorted by point; the owner comes first."""
        return list(self._snapshot.points)
