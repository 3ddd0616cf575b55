"""The interface every balancing strategy shares, and its node bookkeeping.

Theory of operation: a strategy keeps its membership as an immutable
snapshot (tuples, sorted arrays) in one attribute, ``_snapshot``. ``pick``
reads that attribute once and works only on the object it got, so it needs
no lock and never reads half an update. ``add``, ``remove`` and
``set_weight`` build a complete new snapshot under ``_lock`` and then
replace the attribute in one assignment, which is atomic in CPython. A
failed update raises before the assignment, so the pool is unchanged.
"""

from __future__ import annotations

import inspect
import logging
import numbers
import threading
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from imref.balancing.errors import (
    DuplicateNodeError,
    EmptyPoolError,
    InvalidNodeError,
    InvalidOptionError,
    InvalidWeightError,
    ReleaseError,
    UnknownNodeError,
    UnsupportedOperationError,
    WeightOutOfRangeError,
)

logger = logging.getLogger("imref.balancing")

Nodes = Iterable[str] | Mapping[str, float]


#: The accepted range of weights, the same for every strategy. A weight is
#: a relative capacity, so a ratio of 10**12 between two nodes is far more
#: than any pool needs. The bounds keep every sum and ratio of weights
#: finite and above zero, also in ketama's single-precision arithmetic
#: (float32 reaches about 3.4e38) and in the loads per unit of weight of
#: least connections.
MIN_WEIGHT = 1e-6
MAX_WEIGHT = 1e6


def check_node_name(node: object) -> str:
    """Return ``node`` if it is a non-empty ``str`` that UTF-8 can encode.

    Raises:
        InvalidNodeError: if ``node`` is not a str, is empty, or contains a
            lone surrogate, which has no UTF-8 encoding to hash.
    """
    if not isinstance(node, str) or not node:
        raise InvalidNodeError(
            f"node name must be a non-empty str, got {node!r}; "
            "name gateways such as 'gw-1'"
        )
    try:
        node.encode()
    except UnicodeEncodeError:
        raise InvalidNodeError(
            f"node name {node!r} has no UTF-8 encoding because it contains a "
            "lone surrogate; decode the name with errors='strict' or rename it"
        ) from None
    return node


def check_weight(node: str, weight: object) -> float:
    """Return ``weight`` if it is a number from ``MIN_WEIGHT`` to ``MAX_WEIGHT``.

    Every strategy checks weights here, in the constructor, ``add`` and
    ``set_weight``, before its own checks.

    Raises:
        InvalidWeightError: if ``weight`` is not a number, or is zero,
            negative or NaN.
        WeightOutOfRangeError: if ``weight`` is above zero but outside
            ``MIN_WEIGHT`` to ``MAX_WEIGHT``, infinity included.
    """
    if isinstance(weight, bool) or not isinstance(weight, numbers.Real):
        raise InvalidWeightError(
            f"weight of node {node!r} must be a number, got {weight!r}"
        )
    # Compare before any conversion to float: an int such as 10**400 has no
    # float value, but compares with one exactly.
    if weight != weight or weight <= 0:
        raise InvalidWeightError(
            f"weight of node {node!r} must be a number above 0, got {weight!r}; "
            "remove the node instead of giving it weight 0"
        )
    if not MIN_WEIGHT <= weight <= MAX_WEIGHT:
        raise WeightOutOfRangeError(
            f"weight of node {node!r} must be from {MIN_WEIGHT:g} to "
            f"{MAX_WEIGHT:g}, got {weight!r}; weights are relative, so scale "
            "them all by the same factor"
        )
    return weight


def parse_nodes(nodes: Nodes) -> dict[str, float]:
    """Turn a list of names or a name-to-weight mapping into an ordered dict.

    Raises:
        InvalidNodeError: if ``nodes`` is a single str or a name is invalid.
        DuplicateNodeError: if a name appears twice.
        InvalidWeightError: if a weight is invalid.
        EmptyPoolError: if there is no node.
    """
    if isinstance(nodes, str | bytes):
        raise InvalidNodeError(
            f"nodes must be a list of names or a name-to-weight mapping, "
            f"got the single {type(nodes).__name__} {nodes!r}; wrap it in a list"
        )
    if isinstance(nodes, Mapping):
        pairs = list(nodes.items())
    else:
        pairs = [(node, 1) for node in nodes]

    weights: dict[str, float] = {}
    for node, weight in pairs:
        check_node_name(node)
        if node in weights:
            raise DuplicateNodeError(
                f"node {node!r} is listed twice; give each node once"
            )
        weights[node] = check_weight(node, weight)
    if not weights:
        raise EmptyPoolError("the pool is empty; give at least one node")
    return weights


class LoadCounter:
    """The number of open connections on one node.

    A deque's ``append`` and ``pop`` are atomic in CPython, so concurrent
    ``pick`` and ``release`` calls keep an exact count without a lock.
    """

    __slots__ = ("_tokens",)

    def __init__(self) -> None:
        self._tokens: deque[None] = deque()

    def increment(self) -> None:
        """Count one more open connection."""
        self._tokens.append(None)

    def decrement(self) -> bool:
        """Count one connection fewer; return False if the count was zero."""
        try:
            self._tokens.pop()
        except IndexError:
            return False
        return True

    @property
    def value(self) -> int:
        """Current number of open connections."""
        return len(self._tokens)


class Balancer:
    """Base class of every strategy: membership, weights and atomic updates.

    Subclasses implement ``_build(weights)``, which returns the immutable
    snapshot that ``pick`` reads, and ``pick`` itself.
    """

    #: Name under which ``STRATEGIES`` lists the class.
    name: ClassVar[str] = ""
    #: False when the algorithm ignores capacity, so weights other than 1
    #: are rejected instead of silently ignored.
    weighted: ClassVar[bool] = True
    #: Why ``add`` and ``remove`` are restricted, or None when they are not.
    membership_note: ClassVar[str | None] = None

    def __init__(self, nodes: Nodes, *, seed: int | None = None, **options: Any):
        self._lock = threading.Lock()
        self._seed = seed
        accepted = inspect.signature(self._configure).parameters
        unknown = sorted(set(options) - set(accepted))
        if unknown:
            raise InvalidOptionError(
                f"{type(self).__name__} takes no option {unknown!r}; "
                f"its options are {sorted(accepted)!r}"
            )
        self._configure(**options)
        weights = parse_nodes(nodes)
        for node, weight in weights.items():
            self._check_weight(node, weight)
        self._weights = weights
        self._snapshot = self._build(dict(weights))
        logger.info("%s: built with %d nodes", type(self).__name__, len(self._weights))

    # Subclass hooks.

    def _configure(self) -> None:
        """Store the strategy's keyword-only options; the base class has none."""

    def _check_weight(self, node: str, weight: float) -> None:
        """Reject a weight that this strategy cannot honour."""
        if not self.weighted and weight != 1:
            raise InvalidWeightError(
                f"{type(self).__name__} ignores capacity, so node {node!r} "
                f"cannot have weight {weight!r}; give weight 1 or use a weighted "
                "strategy such as 'weighted_round_robin' or 'ring'"
            )

    def _build(self, weights: dict[str, float]) -> Any:
        """Return a new immutable snapshot for ``weights``."""
        raise NotImplementedError

    def _check_add(self, node: str) -> None:
        """Raise if the algorithm cannot add ``node`` now."""

    def _check_remove(self, node: str) -> None:
        """Raise if the algorithm cannot remove ``node`` now."""

    # Public interface.

    def pick(self, key: object = None) -> str:
        """Return the name of the node chosen for ``key``."""
        raise NotImplementedError

    @property
    def nodes(self) -> tuple[str, ...]:
        """Node names in the order given, then in the order added."""
        return tuple(self._weights)

    @property
    def weights(self) -> dict[str, float]:
        """A copy of the node-to-weight mapping."""
        return dict(self._weights)

    def add(self, node: str, weight: float = 1) -> None:
        """Add ``node`` with ``weight`` to the pool.

        Raises:
            InvalidNodeError, InvalidWeightError: for a bad name or weight.
            DuplicateNodeError: if ``node`` is already in the pool.
            UnsupportedOperationError: if the algorithm cannot add it now.
        """
        check_node_name(node)
        check_weight(node, weight)
        self._check_weight(node, weight)
        with self._lock:
            if node in self._weights:
                raise DuplicateNodeError(
                    f"node {node!r} is already in the pool; "
                    "use set_weight to change its weight"
                )
            self._check_add(node)
            weights = {**self._weights, node: weight}
            self._replace(weights)
        logger.info("%s: added node %r", type(self).__name__, node)

    def remove(self, node: str) -> None:
        """Remove ``node`` from the pool.

        Raises:
            InvalidNodeError: if ``node`` is not a valid node name.
            UnknownNodeError: if ``node`` is not in the pool.
            EmptyPoolError: if ``node`` is the last node.
            UnsupportedOperationError: if the algorithm cannot remove it.
        """
        with self._lock:
            self._require_member(node)
            if len(self._weights) == 1:
                raise EmptyPoolError(
                    f"cannot remove {node!r}, the last node in the pool; "
                    "add another node first"
                )
            self._check_remove(node)
            weights = {n: w for n, w in self._weights.items() if n != node}
            self._replace(weights)
        logger.info("%s: removed node %r", type(self).__name__, node)

    def set_weight(self, node: str, weight: float) -> None:
        """Change the weight of ``node``.

        Raises:
            InvalidNodeError: if ``node`` is not a valid node name.
            UnknownNodeError: if ``node`` is not in the pool.
            InvalidWeightError: for a bad weight.
            UnsupportedOperationError: if the algorithm has no weights.
        """
        if not self.weighted:
            raise UnsupportedOperationError(
                f"{type(self).__name__} has no weights, so set_weight({node!r}, "
                f"{weight!r}) cannot apply; use a weighted strategy"
            )
        check_weight(node, weight)
        self._check_weight(node, weight)
        with self._lock:
            self._require_member(node)
            weights = {**self._weights, node: weight}
            self._replace(weights)
        logger.info(
            "%s: set weight of node %r to %r", type(self).__name__, node, weight
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self._weights)} nodes: {self.nodes!r})"

    # Helpers for subclasses.

    def _require_member(self, node: str) -> None:
        check_node_name(node)
        if node not in self._weights:
            raise UnknownNodeError(
                f"node {node!r} is not in the pool; known nodes: "
                f"{sorted(self._weights)!r}"
            )

    def _replace(self, weights: dict[str, float]) -> None:
        """Build the snapshot for ``weights``, then swap it in (lock held)."""
        snapshot = self._build(dict(weights))
        self._weights = weights
        self._snapshot = snapshot


class LoadAware(Balancer):
    """A strategy that counts open connections per node.

    ``pick`` counts a new connection on the node it returns and
    ``release(node)`` ends one. A subclass snapshot has a ``counters``
    attribute that maps each node to its mutable ``LoadCounter``, and a new
    snapshot reuses the counters of the nodes that stay.
    """

    def _counters_for(self, names: Iterable[str]) -> dict[str, LoadCounter]:
        """Return a counter per node, reusing the counters of nodes that stay."""
        snapshot = getattr(self, "_snapshot", None)
        old = snapshot.counters if snapshot is not None else {}
        return {name: old.get(name) or LoadCounter() for name in names}

    @property
    def loads(self) -> dict[str, int]:
        """Open connections per node, in node order."""
        counters = self._snapshot.counters
        return {name: counter.value for name, counter in counters.items()}

    def release(self, node: str) -> None:
        """End one connection on ``node``.

        Raises:
            InvalidNodeError: if ``node`` is not a valid node name.
            UnknownNodeError: if ``node`` is not in the pool.
            ReleaseError: if ``node`` has no open connection.
        """
        check_node_name(node)
        counters = self._snapshot.counters
        counter = counters.get(node)
        if counter is None:
            raise UnknownNodeError(
                f"cannot release a connection on {node!r}: the node is not in "
                f"the pool; known nodes: {sorted(counters)!r}"
            )
        if not counter.decrement():
            raise ReleaseError(
                f"node {node!r} has no open connection to release; "
                "call release once per pick"
            )
