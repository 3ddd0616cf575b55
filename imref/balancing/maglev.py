"""Maglev consistent hashing (Eisenbud et al., NSDI 2016).

Theory of operation: a lookup table of M slots, M prime, maps
``hash(key) % M`` to a backend. Each backend has a preference list, the
permutation ``(offset + j * skip) % M`` for j = 0, 1, 2, ..., which visits
every slot once because M is prime and 1 <= skip < M. Backends take turns
in name order, and in its turn a backend claims its most preferred slot
that is still empty, until the table is full. Every backend ends with
``M // n`` or ``M // n + 1`` slots. When a backend leaves, its slots go to
others, and a few slots of the backends that stay move too: Maglev trades
perfect stability for perfect balance.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import xxhash

from imref.balancing.base import Balancer
from imref.balancing.errors import InvalidOptionError
from imref.balancing.hashing import key_bytes, unencodable_key_error

DEFAULT_TABLE_SIZE = 65_537
#: The largest table, a prime. Backends get ``M // n`` or ``M // n + 1``
#: slots, so their shares differ by at most ``n / M``, under 1% for up to
#: 10,000 backends at this size. A larger table balances no better in
#: practice, but its build time and memory grow with M: this one took
#: about 2.5 s to build for 10 backends on a 2-core machine.
MAX_TABLE_SIZE = 1_000_003


def is_prime(number: int) -> bool:
    """Return True if ``number`` is prime (trial division).

    Trial division takes about ``sqrt(number)`` steps, at most about 1,000
    for a table size up to ``MAX_TABLE_SIZE``.
    """
    if number < 2:
        return False
    divisor = 2
    while divisor * divisor <= number:
        if number % divisor == 0:
            return False
        divisor += 1
    return True


def populate_table(permutations: list[tuple[int, int]], table_size: int) -> list[int]:
    """Fill a Maglev lookup table; return the backend index of every slot.

    ``permutations[i]`` is backend i's ``(offset, skip)``; backends take
    turns in list order.
    """
    entries = [-1] * table_size
    next_choice = [0] * len(permutations)
    filled = 0
    while True:
        for i, (offset, skip) in enumerate(permutations):
            # Step 1: find backend i's most preferred slot that is still empty.
            choice = next_choice[i]
            slot = (offset + choice * skip) % table_size
            while entries[slot] >= 0:
                choice += 1
                slot = (offset + choice * skip) % table_size
            # Step 2: claim it.
            entries[slot] = i
            next_choice[i] = choice + 1
            filled += 1
            if filled == table_size:
                return entries


@dataclass(frozen=True, slots=True)
class _MaglevSnapshot:
    backends: tuple[str, ...]
    table: tuple[str, ...]


class Maglev(Balancer):
    """Maglev hashing with a prime lookup table, 65,537 slots by default.

    Options: ``table_size`` (a prime at least the number of nodes and at most
    ``MAX_TABLE_SIZE``) and
    ``permutations``, a mapping from node to an explicit ``(offset, skip)``
    that replaces the hashed one, as in the paper's worked example. Without
    it, offset is ``xxh3_64(name, seed=0) % M`` and skip is
    ``xxh3_64(name, seed=1) % (M - 1) + 1``. Weights are not supported.
    """

    name = "maglev"
    weighted = False

    def _configure(
        self,
        *,
        table_size: int = DEFAULT_TABLE_SIZE,
        permutations: Mapping[str, tuple[int, int]] | None = None,
    ) -> None:
        if isinstance(table_size, bool) or not isinstance(table_size, int):
            raise InvalidOptionError(f"table_size must be an int, got {table_size!r}")
        # Check the limit first, so that a huge value is never trial-divided.
        if table_size > MAX_TABLE_SIZE:
            raise InvalidOptionError(
                f"table_size must be at most {MAX_TABLE_SIZE}, got {table_size!r}; "
                "65537 is the usual choice"
            )
        if not is_prime(table_size):
            raise InvalidOptionError(
                f"table_size must be prime so that every permutation visits every "
                f"slot, got {table_size!r}; 65537 is the usual choice"
            )
        explicit = dict(permutations or {})
        for node, pair in explicit.items():
            try:
                offset, skip = pair
            except (TypeError, ValueError):
                raise InvalidOptionError(
                    f"permutation of {node!r} must be an (offset, skip) pair, "
                    f"got {pair!r}"
                ) from None
            if not (0 <= offset < table_size and 1 <= skip < table_size):
                raise InvalidOptionError(
                    f"permutation of {node!r} must have 0 <= offset < {table_size} "
                    f"and 1 <= skip < {table_size}, got {pair!r}"
                )
        self.table_size = table_size
        self._explicit = explicit

    def permutation(self, node: str) -> tuple[int, int]:
        """Return the ``(offset, skip)`` of ``node``."""
        if node in self._explicit:
            return self._explicit[node]
        data = node.encode()
        size = self.table_size
        offset = xxhash.xxh3_64_intdigest(data, 0) % size
        skip = xxhash.xxh3_64_intdigest(data, 1) % (size - 1) + 1
        return offset, skip

    def _build(self, weights: dict[str, float]) -> _MaglevSnapshot:
        if len(weights) > self.table_size:
            raise InvalidOptionError(
                f"{len(weights)} nodes do not fit a table of {self.table_size} "
                "slots; use a larger prime table_size"
            )
        # Turns go in name order, so the table does not depend on the order
        # in which nodes were given or added.
        backends = tuple(sorted(weights))
        entries = populate_table(
            [self.permutation(node) for node in backends], self.table_size
        )
        return _MaglevSnapshot(backends, tuple(backends[i] for i in entries))

    @property
    def table(self) -> tuple[str, ...]:
        """The lookup table: the backend of every slot."""
        return self._snapshot.table

    def pick(self, key: str | bytes | None = None) -> str:
        """Return the backend in slot ``xxh3_64(key) % table_size``.

        Raises:
            InvalidKeyError: if ``key`` is missing, is not str or bytes,
                or is a str that UTF-8 cannot encode.
        """
        table = self._snapshot.table
        try:
            data = key.encode() if type(key) is str else key_bytes(key)
        except UnicodeEncodeError:
            raise unencodable_key_error(key) from None
        return table[xxhash.xxh3_64_intdigest(data) % len(table)]
