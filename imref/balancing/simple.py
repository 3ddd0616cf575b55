"""Strategies that ignore the key: random, round-robin and load-aware ones.

These spread connections without stickiness: the same user may land on a
different gateway each time it connects, so another service must look the
gateway up in a registry instead of computing it.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass

from imref.balancing.base import Balancer, LoadAware, LoadCounter
from imref.balancing.errors import InvalidWeightError

# The maximum smooth weighted round-robin period that is precomputed. A
# period is the sum of the weights divided by their greatest common divisor.
MAX_SWRR_PERIOD = 100_000


@dataclass(frozen=True, slots=True)
class _WeightedSnapshot:
    nodes: tuple[str, ...]
    cum_weights: tuple[float, ...]


class RandomBalancer(Balancer):
    """Pick a node at random, with probability proportional to its weight."""

    name = "random"

    def _build(self, weights: dict[str, float]) -> _WeightedSnapshot:
        self._rng = getattr(self, "_rng", None) or random.Random(self._seed)
        return _WeightedSnapshot(
            tuple(weights), tuple(itertools.accumulate(weights.values()))
        )

    def pick(self, key: object = None) -> str:
        """Return a random node; ``key`` is ignored."""
        snapshot = self._snapshot
        return self._rng.choices(snapshot.nodes, cum_weights=snapshot.cum_weights)[0]


@dataclass(frozen=True, slots=True)
class _CycleSnapshot:
    """Turns to serve: ``carried`` once, then ``schedule`` over and over.

    ``carried`` is the rest of the round that was under way when membership
    changed, without the nodes that left. ``turns`` yields ``(turn, node)``
    pairs, with turns counted from 0 at this snapshot's start.
    """

    carried: tuple[str, ...]
    schedule: tuple[str, ...]
    turns: Iterator[tuple[int, str]]


def _cycle_snapshot(
    carried: tuple[str, ...], schedule: tuple[str, ...]
) -> _CycleSnapshot:
    # next() on this zip runs only C iterators, so it is atomic in CPython,
    # and concurrent picks never take the same turn twice.
    nodes = itertools.chain(carried, itertools.cycle(schedule))
    return _CycleSnapshot(carried, schedule, zip(itertools.count(), nodes))


def next_cycle_snapshot(
    previous: _CycleSnapshot | None, schedule: tuple[str, ...]
) -> _CycleSnapshot:
    """Return a snapshot for ``schedule`` that first finishes the previous round.

    A new snapshot that started its schedule at the first turn would starve
    the nodes late in the schedule whenever membership changes more often
    than once a round. So the new snapshot first serves the turns of the
    interrupted round that are still due, for the nodes that stay, and then
    starts ``schedule`` from its first turn. Every node that stays in the
    pool for a whole round gets all its turns in that round. A node that
    joins mid-round waits for the next round.
    """
    if previous is None:
        return _cycle_snapshot((), schedule)

    # Step 1: take the previous snapshot's next turn, which this snapshot
    # serves instead. NOTE: picks that race with the change and still read
    # the previous snapshot take the turns after it, which the new snapshot
    # serves again, so during the swap a few turns may be served twice.
    turn, _ = next(previous.turns)

    # Step 2: the rest of the interrupted round. A carried round is always
    # unfinished, but a turn at the start of the schedule begins a new round,
    # so nothing is due.
    carried = previous.carried
    if turn < len(carried):
        due = carried[turn:]
    else:
        position = (turn - len(carried)) % len(previous.schedule)
        due = previous.schedule[position:] if position else ()
    members = set(schedule)
    kept = tuple(node for node in due if node in members)
    return _cycle_snapshot(kept, schedule)


class RoundRobinBalancer(Balancer):
    """Pick the nodes in turn, in the order given; weights are not supported.

    When membership changes mid-round, the nodes still due in that round
    are picked first, so a change never skips a node that stays.
    """

    name = "round_robin"
    weighted = False

    def _build(self, weights: dict[str, float]) -> _CycleSnapshot:
        return next_cycle_snapshot(getattr(self, "_snapshot", None), tuple(weights))

    def pick(self, key: object = None) -> str:
        """Return the next node in turn; ``key`` is ignored."""
        return next(self._snapshot.turns)[1]


def smooth_weighted_schedule(weights: dict[str, int]) -> tuple[str, ...]:
    """Return one period of nginx's smooth weighted round-robin.

    Each turn adds every node's weight to its current weight, picks the
    node with the highest current weight (the first listed on a tie) and
    subtracts the total weight from it. After one period of
    ``sum(weights) / gcd(weights)`` turns every current weight is back to 0,
    so the sequence repeats. Weights a=5, b=1, c=1 give ``a a b a c a a``.
    """
    divisor = math.gcd(*weights.values())
    names = list(weights)
    steps = [weight // divisor for weight in weights.values()]
    total = sum(steps)
    current = [0] * len(names)
    schedule = []
    for _ in range(total):
        best = 0
        for i, step in enumerate(steps):
            current[i] += step
            if current[i] > current[best]:
                best = i
        current[best] -= total
        schedule.append(names[best])
    return tuple(schedule)


class SmoothWeightedRoundRobinBalancer(Balancer):
    """Smooth weighted round-robin as nginx does it, with integer weights.

    The whole period is computed when membership or a weight changes, and
    ``pick`` walks it with an atomic iterator. The change takes effect at the
    next period: the turns still due in the current period are served first,
    for the nodes that stay. So in every period, a node that stays gets all
    the turns of that period's schedule, however often other nodes change.
    nginx instead resets the current weights when its configuration is
    reloaded, which restarts the period.
    """

    name = "weighted_round_robin"

    def _check_weight(self, node: str, weight: float) -> None:
        if weight != int(weight):
            raise InvalidWeightError(
                f"weight of node {node!r} must be a whole number for smooth "
                f"weighted round-robin, got {weight!r}; scale the weights to integers"
            )

    def _build(self, weights: dict[str, float]) -> _CycleSnapshot:
        integers = {node: int(weight) for node, weight in weights.items()}
        period = sum(integers.values()) // math.gcd(*integers.values())
        if period > MAX_SWRR_PERIOD:
            raise InvalidWeightError(
                f"weights {integers!r} give a period of {period} turns, above "
                f"the limit of {MAX_SWRR_PERIOD}; use smaller weights"
            )
        schedule = smooth_weighted_schedule(integers)
        return next_cycle_snapshot(getattr(self, "_snapshot", None), schedule)

    def pick(self, key: object = None) -> str:
        """Return the next node of the smooth weighted sequence; ``key`` is ignored."""
        return next(self._snapshot.turns)[1]


@dataclass(frozen=True, slots=True)
class _LoadSnapshot:
    nodes: tuple[str, ...]
    weights: tuple[float, ...]
    counters: dict[str, LoadCounter]
    counter_list: tuple[LoadCounter, ...]


def _load_snapshot(balancer: LoadAware, weights: dict[str, float]) -> _LoadSnapshot:
    counters = balancer._counters_for(weights)
    return _LoadSnapshot(
        tuple(weights), tuple(weights.values()), counters, tuple(counters.values())
    )


class LeastConnectionsBalancer(LoadAware):
    """Pick the node with the fewest open connections per unit of weight.

    A tie goes to the node listed first. Call ``release(node)`` when a
    connection ends.
    """

    name = "least_connections"

    def _build(self, weights: dict[str, float]) -> _LoadSnapshot:
        return _load_snapshot(self, weights)

    def pick(self, key: object = None) -> str:
        """Return the least-loaded node and count a connection on it."""
        snapshot = self._snapshot
        best = 0
        best_load = math.inf
        for i, counter in enumerate(snapshot.counter_list):
            load = counter.value / snapshot.weights[i]
            if load < best_load:
                best, best_load = i, load
        # NOTE: two threads may both choose the same node before either
        # counts it, as with any load balancer that reads load without a lock.
        snapshot.counter_list[best].increment()
        return snapshot.nodes[best]


class PowerOfTwoBalancer(LoadAware):
    """Sample two distinct nodes at random and pick the less loaded one.

    A tie goes to the first node sampled. Call ``release(node)`` when a
    connection ends.
    """

    name = "power_of_two"
    weighted = False

    def _build(self, weights: dict[str, float]) -> _LoadSnapshot:
        self._rng = getattr(self, "_rng", None) or random.Random(self._seed)
        return _load_snapshot(self, weights)

    def pick(self, key: object = None) -> str:
        """Return the less loaded of two random nodes and count a connection."""
        snapshot = self._snapshot
        counters = snapshot.counter_list
        if len(counters) == 1:
            choice = 0
        else:
            first, second = self._rng.sample(range(len(counters)), 2)
            choice = second if counters[second].value < counters[first].value else first
        counters[choice].increment()
        return snapshot.nodes[choice]
