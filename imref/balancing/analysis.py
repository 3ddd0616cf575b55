"""Measure how evenly a balancer spreads keys, and how many keys it moves.

Most functions here take plain assignments: a sequence (or NumPy array) whose
i-th entry is the node, by name or by index, that key i landed on. They never
need a balancer, so the same statistics apply to any strategy, to mod-n
hashing, and to simulated balls and bins.

Theory of operation, balls into bins. Placing m requests on n servers uniformly
at random is the classic balls-into-bins process. Its maximum load is close to
m/n + sqrt(2 (m/n) ln n) once m is well above n ln n, so the max/mean ratio
tends to 1 as m grows. With m = n it is about ln n / ln ln n. Letting each
request pick the less loaded of two random servers ("two choices") lowers the
excess over the mean to about ln ln n / ln 2, for any m.

Theory of operation, rings. On a hash ring a key goes to the first point at or
after the key's position, clockwise. The point at position p therefore owns the
arc from the previous point (exclusive) to p (inclusive). For n points placed
uniformly at random the expected largest arc is H_n / n of the ring, where H_n
is the n-th harmonic number, about ln n / n. Giving each server v virtual
nodes makes a server's share a sum of v arcs, whose spread shrinks like
1 / sqrt(v).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xxhash

from imref.balancing.base import LoadAware
from imref.balancing.errors import BalancingError


class AnalysisError(BalancingError, ValueError):
    """An analysis function was given input it cannot measure."""


# -- load statistics ---------------------------------------------------------


def load_counts(
    assignment: Iterable[Any],
    nodes: Iterable[Any] = (),
    *,
    costs: Iterable[float] | None = None,
) -> dict:
    """Count how many keys each node received, or sum their costs.

    Nodes listed in ``nodes`` come first, in the order given, with a load of 0
    when no key landed on them. Other nodes follow in order of first
    appearance. ``costs``, when given, contains one cost per key in the same
    order, and a node's load is the sum of the costs of its keys.

    Raises:
        AnalysisError: if ``costs`` is not as long as the assignment.
    """
    if isinstance(assignment, np.ndarray):
        assignment = assignment.tolist()
    assignment = list(assignment)
    if costs is None:
        counts = {node: 0 for node in nodes}
        for node in assignment:
            counts[node] = counts.get(node, 0) + 1
        return counts
    cost_list = [float(cost) for cost in costs]
    if len(cost_list) != len(assignment):
        raise AnalysisError(
            f"costs must give one value per key: {len(cost_list)!r} costs "
            f"for {len(assignment)!r} keys"
        )
    loads = {node: 0.0 for node in nodes}
    for node, cost in zip(assignment, cost_list, strict=True):
        loads[node] = loads.get(node, 0.0) + cost
    return loads


@dataclass(frozen=True)
class LoadStats:
    """Load per node and how far the maximum is above the mean."""

    counts: dict = field(repr=False)
    total: float
    mean: float
    max: float
    min: float
    max_over_mean: float
    cv: float

    def __repr__(self) -> str:
        return (
            f"LoadStats(nodes={len(self.counts)}, total={self.total:g}, "
            f"max={self.max:g}, mean={self.mean:.1f}, "
            f"max/mean={self.max_over_mean:.3f}, cv={self.cv:.3f})"
        )


def load_stats(
    assignment: Iterable[Any],
    nodes: Iterable[Any] = (),
    *,
    costs: Iterable[float] | None = None,
    capacities: Mapping[Any, float] | None = None,
) -> LoadStats:
    """Compute max/mean and the coefficient of variation of the load per node.

    The load is the number of keys, or the sum of their ``costs`` when given.
    With ``capacities`` (a node -> capacity mapping) each load is divided by
    its node's capacity, so the statistics describe utilisation. The
    coefficient of variation is the population standard deviation of the loads
    divided by their mean. Pass ``nodes`` so that a node that received no key
    counts as a load of 0.

    Raises:
        AnalysisError: if no key was assigned, if ``costs`` does not match the
            keys, or if a node has no positive capacity.
    """
    loads = load_counts(assignment, nodes, costs=costs)
    if not loads:
        raise AnalysisError(
            "load_stats() got an empty assignment and no nodes; pass at least one key"
        )
    if capacities is not None:
        for node in loads:
            capacity = capacities.get(node)
            if not isinstance(capacity, numbers.Real) or not capacity > 0:
                raise AnalysisError(
                    f"capacity of node {node!r} must be a positive number, "
                    f"got {capacity!r}"
                )
        loads = {node: load / capacities[node] for node, load in loads.items()}
    values = np.fromiter(loads.values(), dtype=float, count=len(loads))
    total = values.sum()
    if total == 0:
        raise AnalysisError(
            f"load_stats() got no keys for nodes {list(loads)!r}; "
            "pass at least one assigned key"
        )
    mean = total / len(values)
    return LoadStats(
        counts=loads,
        total=_plain_number(total),
        mean=float(mean),
        max=_plain_number(values.max()),
        min=_plain_number(values.min()),
        max_over_mean=float(values.max() / mean),
        cv=float(values.std() / mean),
    )


def _plain_number(value: float) -> int | float:
    # Counts stay ints so that a table of them reads 1000, not 1000.0.
    value = float(value)
    return int(value) if value.is_integer() else value


# -- keys moved --------------------------------------------------------------


def moved_fraction(before: Sequence[Any], after: Sequence[Any]) -> float:
    """Return the fraction of keys whose node differs between two assignments.

    Raises:
        AnalysisError: if the assignments differ in length or are empty.
    """
    old = np.asarray(before, dtype=object)
    new = np.asarray(after, dtype=object)
    if old.shape != new.shape or old.ndim != 1:
        raise AnalysisError(
            f"assignments must be flat and the same length, got shapes "
            f"{old.shape!r} and {new.shape!r}"
        )
    if len(old) == 0:
        raise AnalysisError("moved_fraction() got two empty assignments")
    return float(np.count_nonzero(old != new) / len(old))


def ideal_moved_on_add(n: int) -> float:
    """Return 1/(n+1): the least fraction of keys that must move to a new node.

    After a node joins n others, a balanced pool gives it 1/(n+1) of the keys,
    and each of those keys had to come from somewhere.
    """
    _check_count("n", n)
    return 1 / (n + 1)


def ideal_moved_on_remove(n: int) -> float:
    """Return 1/n: the share of the keys that the node leaving a pool of n held."""
    _check_count("n", n)
    return 1 / n


def mod_n_moved_fraction(n_before: int, n_after: int) -> float:
    """Return the exact fraction of keys that ``hash % n`` moves when n changes.

    A uniform hash h keeps its node when h mod a equals h mod b. Within one
    period lcm(a, b) that happens for exactly min(a, b) residues (the ones below
    min(a, b)), so the fraction moved is 1 - min(a, b) / lcm(a, b): 10/11 when
    a tenth gateway becomes an eleventh.
    """
    _check_count("n_before", n_before)
    _check_count("n_after", n_after)
    return 1 - min(n_before, n_after) / math.lcm(n_before, n_after)


def mod_n_assignment(keys: Iterable[str | bytes], n: int) -> np.ndarray:
    """Assign each key to node index ``xxh64(key) % n``: the mod-n baseline.

    A str key is hashed as its UTF-8 bytes.
    """
    _check_count("n", n)
    return np.fromiter((_key_hash(key) % n for key in keys), dtype=np.int64)


def _key_hash(key: str | bytes) -> int:
    if isinstance(key, str):
        key = key.encode("utf-8")
    return xxhash.xxh64_intdigest(key)


def _check_count(name: str, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise AnalysisError(f"{name} must be an int, got {value!r}")
    if value < 1:
        raise AnalysisError(f"{name} must be at least 1, got {value!r}")


# -- balls into bins: theory -------------------------------------------------


def max_load_one_choice(m: float, n: int) -> float:
    """Estimate the max load of m random requests on n servers: m/n + sqrt(2(m/n) ln n).

    The estimate is the leading term for m well above n ln n and large n, not
    a bound. For few servers it runs high: the expected max of n normal
    deviations is 1.54 standard deviations for n = 10, where sqrt(2 ln n)
    gives 2.15.
    """
    _check_count("n", n)
    mean = m / n
    return mean + math.sqrt(2 * mean * math.log(n))


def max_load_two_choices(m: float, n: int) -> float:
    """Estimate the max load with two random choices: m/n + ln ln n / ln 2.

    The excess over the mean does not grow with m. The additive constant that
    the theory leaves open is taken as 0 here, so this is an estimate.

    Raises:
        AnalysisError: if n < 3, where ln ln n is not positive.
    """
    _check_count("n", n)
    if n < 3:
        raise AnalysisError(f"n must be at least 3 for ln ln n > 0, got {n!r}")
    return m / n + math.log(math.log(n)) / math.log(2)


def max_load_one_choice_m_equals_n(n: int) -> float:
    """Estimate the max load of n random requests on n servers: ln n / ln ln n."""
    _check_count("n", n)
    if n < 3:
        raise AnalysisError(f"n must be at least 3 for ln ln n > 0, got {n!r}")
    return math.log(n) / math.log(math.log(n))


def max_load_two_choices_m_equals_n(n: int) -> float:
    """Estimate the max load of n requests on n servers, two choices: ln ln n / ln 2."""
    _check_count("n", n)
    if n < 3:
        raise AnalysisError(f"n must be at least 3 for ln ln n > 0, got {n!r}")
    return math.log(math.log(n)) / math.log(2)


# -- balls into bins: simulation ---------------------------------------------


def simulate_max_load(
    requests: Sequence[int], n: int, *, choices: int, seed: int, trials: int = 1
) -> np.ndarray:
    """Simulate m requests on n servers and return the mean max load for each m.

    Each trial places ``max(requests)`` requests one after another and records
    the max load after each count in ``requests``. With ``choices=1`` a request
    goes to one uniformly random server. With ``choices=2`` it draws two and
    joins the less loaded one, the first drawn on a tie.

    Raises:
        AnalysisError: if choices is not 1 or 2, or a count is not positive.
    """
    _check_count("n", n)
    _check_count("trials", trials)
    if choices not in (1, 2):
        raise AnalysisError(f"choices must be 1 or 2, got {choices!r}")
    checkpoints = np.asarray(requests, dtype=np.int64)
    if checkpoints.ndim != 1 or len(checkpoints) == 0 or checkpoints.min() < 1:
        raise AnalysisError(
            f"requests must be a non-empty list of positive counts, got {requests!r}"
        )
    rng = np.random.default_rng(seed)
    total = int(checkpoints.max())
    results = np.zeros((trials, len(checkpoints)))
    for trial in range(trials):
        if choices == 1:
            picks = rng.integers(0, n, size=total)
            for column, m in enumerate(checkpoints):
                results[trial, column] = np.bincount(picks[:m], minlength=n).max()
        else:
            pairs = rng.integers(0, n, size=(total, 2))
            results[trial] = _two_choice_max_loads(pairs, n, checkpoints)
    return results.mean(axis=0)


def _two_choice_max_loads(
    pairs: np.ndarray, n: int, checkpoints: np.ndarray
) -> np.ndarray:
    # Each request depends on the loads left by the requests before it, so
    # this loop cannot be vectorised.
    loads = [0] * n
    wanted = {int(m): [] for m in checkpoints}
    highest = 0
    for placed, (first, second) in enumerate(pairs.tolist(), start=1):
        target = second if loads[second] < loads[first] else first
        loads[target] += 1
        if loads[target] > highest:
            highest = loads[target]
        if placed in wanted:
            wanted[placed].append(highest)
    return np.array([wanted[int(m)][0] for m in checkpoints], dtype=float)


@dataclass(frozen=True)
class MaxLoadCurve:
    """Simulated and theoretical max load for a range of request counts."""

    n: int
    trials: int
    requests: np.ndarray
    one_choice: np.ndarray
    two_choices: np.ndarray

    @property
    def mean(self) -> np.ndarray:
        """Mean load per server, m/n, for each request count."""
        return self.requests / self.n

    @property
    def one_choice_theory(self) -> np.ndarray:
        """Estimate m/n + sqrt(2 (m/n) ln n) for each request count."""
        return np.array([max_load_one_choice(m, self.n) for m in self.requests])

    @property
    def two_choices_theory(self) -> np.ndarray:
        """Estimate m/n + ln ln n / ln 2 for each request count."""
        return np.array([max_load_two_choices(m, self.n) for m in self.requests])

    def to_frame(self):
        """Return one row per request count as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame(
            {
                "requests": self.requests,
                "mean": self.mean,
                "one_choice": self.one_choice,
                "one_choice_theory": self.one_choice_theory,
                "two_choices": self.two_choices,
                "two_choices_theory": self.two_choices_theory,
            }
        )

    def __repr__(self) -> str:
        return (
            f"MaxLoadCurve(n={self.n}, trials={self.trials}, "
            f"requests={int(self.requests[0])}..{int(self.requests[-1])}, "
            f"points={len(self.requests)})"
        )


def max_load_curve(
    requests: Sequence[int], n: int, *, seed: int, trials: int = 3
) -> MaxLoadCurve:
    """Simulate one and two random choices over the same request counts."""
    counts = np.asarray(sorted(set(int(m) for m in requests)), dtype=np.int64)
    one = simulate_max_load(counts, n, choices=1, seed=seed, trials=trials)
    two = simulate_max_load(counts, n, choices=2, seed=seed + 1, trials=trials)
    return MaxLoadCurve(n, trials, counts, one, two)


# -- rings -------------------------------------------------------------------


def arc_lengths(points: Sequence[tuple[int, Any]], ring_size: int) -> list[int]:
    """Return the arc each point owns, in the order of ``points``.

    ``points`` is a list of (position, node) sorted by position, as
    ``HashRing.points()`` returns it. Point i owns the positions after point
    i-1 up to and including its own, and the first point owns the wrap-around
    arc. Of several points at one position the first listed owns the arc and
    the others get 0, so list the owner of a shared point first.

    Raises:
        AnalysisError: if there are no points, or a position is outside the
            ring or out of order.
    """
    if not points:
        raise AnalysisError("a ring needs at least one point to measure arcs")
    positions = [int(position) for position, _ in points]
    for earlier, later in zip(positions, positions[1:], strict=False):
        if later < earlier:
            raise AnalysisError(
                f"points must be sorted by position, got {later!r} after {earlier!r}"
            )
    if positions[0] < 0 or positions[-1] >= ring_size:
        raise AnalysisError(
            f"positions must lie in [0, {ring_size!r}), got {positions[0]!r} "
            f"to {positions[-1]!r}"
        )
    arcs = [positions[0] + ring_size - positions[-1]]
    for earlier, later in zip(positions, positions[1:], strict=False):
        arcs.append(later - earlier)
    return arcs


def ring_shares(points: Sequence[tuple[int, Any]], ring_size: int) -> dict:
    """Return the fraction of the ring each node owns, summed over its points."""
    shares: dict = {}
    for (_, node), arc in zip(points, arc_lengths(points, ring_size), strict=True):
        shares[node] = shares.get(node, 0.0) + arc / ring_size
    return shares


def largest_arc(points: Sequence[tuple[int, Any]], ring_size: int) -> float:
    """Return the largest arc that a single point owns, as a fraction of the ring."""
    return max(arc_lengths(points, ring_size)) / ring_size


def expected_largest_arc(points: int) -> float:
    """Return H_n / n, the expected largest arc between n uniform random points.

    H_n is the n-th harmonic number, so this is about ln n / n for large n.
    """
    _check_count("points", points)
    return sum(1 / k for k in range(1, points + 1)) / points


def approximate_max_share(n: int, vnodes: int) -> float:
    """Estimate the largest server share with v vnodes: (1 + sqrt(2 ln n / v)) / n.

    A server's share is a sum of v arcs with mean 1/n and standard deviation
    about 1/(n sqrt(v)). The estimate takes the largest of n such shares to sit
    sqrt(2 ln n) standard deviations above the mean. It is rough for small v.
    """
    _check_count("n", n)
    _check_count("vnodes", vnodes)
    return (1 + math.sqrt(2 * math.log(n) / vnodes)) / n


def simulate_max_share(n: int, vnodes: int, *, seed: int, trials: int) -> np.ndarray:
    """Return the largest server share in each of ``trials`` random rings.

    Each ring places ``vnodes`` points per server at uniform random positions,
    which is what a good hash function approximates.
    """
    _check_count("n", n)
    _check_count("vnodes", vnodes)
    _check_count("trials", trials)
    rng = np.random.default_rng(seed)
    owners = np.repeat(np.arange(n), vnodes)
    result = np.empty(trials)
    for trial in range(trials):
        positions = rng.random(n * vnodes)
        order = np.argsort(positions)
        sorted_positions = positions[order]
        arcs = np.diff(sorted_positions, prepend=sorted_positions[-1] - 1.0)
        result[trial] = np.bincount(owners[order], weights=arcs, minlength=n).max()
    return result


# -- strategies on keys ------------------------------------------------------


def assign(balancer: Any, keys: Iterable[Any]) -> np.ndarray:
    """Pick a node for every key, in order, and return the names as an array."""
    return np.array([balancer.pick(key) for key in keys], dtype=object)


def _strategies() -> Mapping[str, type]:
    from imref.balancing import STRATEGIES

    return STRATEGIES


def assign_strategies(
    nodes: Sequence[str],
    keys: Sequence[Any],
    *,
    seed: int,
    names: Iterable[str] | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, np.ndarray]:
    """Build each strategy on ``nodes`` and assign every key with it.

    No connection is released, as with long-lived connections that all stay
    open. ``options`` maps a strategy name to extra keyword arguments.
    """
    strategies = _strategies()
    options = options or {}
    chosen = list(strategies) if names is None else list(names)
    result = {}
    for name in chosen:
        balancer = strategies[name](list(nodes), seed=seed, **options.get(name, {}))
        result[name] = assign(balancer, keys)
    return result


@dataclass(frozen=True)
class KeysMoved:
    """Fraction of keys that changed node when one node joined or left."""

    strategy: str
    n: int
    on_add: float
    on_remove: float

    def __repr__(self) -> str:
        return (
            f"KeysMoved({self.strategy!r}, n={self.n}, on_add={self.on_add:.3f}, "
            f"on_remove={self.on_remove:.3f})"
        )


def keys_moved(
    name: str,
    nodes: Sequence[str],
    keys: Sequence[Any],
    *,
    new_node: str,
    seed: int,
    options: Mapping[str, Any] | None = None,
    removed: str | None = None,
) -> KeysMoved:
    """Measure the keys a strategy moves when a node joins or one node leaves.

    Each measurement compares two fresh balancers that assign the same keys in
    the same order: one built on ``nodes``, and one built on ``nodes`` and then
    changed with ``add(new_node)`` or ``remove(removed)``. ``removed`` defaults
    to the last node, because jump hash can only remove its last bucket. The
    changed balancer gets ``seed + 1``: a reconnecting user meets fresh random
    draws, and reusing the seed would make a random strategy look stickier
    than it is. A strategy whose ``add`` or ``remove`` raises gets NaN for
    that change.
    """

    cls = _strategies()[name]
    options = dict(options or {})
    removed = nodes[-1] if removed is None else removed

    before = assign(cls(list(nodes), seed=seed, **options), keys)
    results = []
    for change in ("add", "remove"):
        balancer = cls(list(nodes), seed=seed + 1, **options)
        try:
            if change == "add":
                balancer.add(new_node)
            else:
                balancer.remove(removed)
        except BalancingError:
            results.append(math.nan)
            continue
        results.append(moved_fraction(before, assign(balancer, keys)))
    return KeysMoved(name, len(nodes), results[0], results[1])


def keys_moved_table(
    nodes: Sequence[str],
    keys: Sequence[str],
    *,
    new_node: str,
    seed: int,
    names: Iterable[str] | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    removed: str | None = None,
):
    """Measure keys moved for each strategy and for mod-n hashing, as a DataFrame.

    ``removed`` is the node that leaves, the last one by default. The mod-n
    row hashes each key with xxh64 and takes it modulo the pool size, so its
    node for a key changes whenever that remainder does, whichever node left.
    """
    import pandas as pd

    options = options or {}
    chosen = list(_strategies()) if names is None else list(names)
    rows = []
    for name in chosen:
        moved = keys_moved(
            name,
            nodes,
            keys,
            new_node=new_node,
            seed=seed,
            options=options.get(name),
            removed=removed,
        )
        rows.append((name, moved.on_add, moved.on_remove))
    n = len(nodes)
    before = mod_n_assignment(keys, n)
    rows.append(
        (
            "mod_n",
            moved_fraction(before, mod_n_assignment(keys, n + 1)),
            moved_fraction(before, mod_n_assignment(keys, n - 1)),
        )
    )
    table = pd.DataFrame(rows, columns=["strategy", "on_add", "on_remove"])
    return table.set_index("strategy")


def order_agreement(
    name: str,
    nodes: Sequence[str],
    keys: Sequence[Any],
    *,
    seed: int,
    options: Mapping[str, Any] | None = None,
) -> float:
    """Return the fraction of keys that land on the same node in either arrival order.

    Two fresh balancers with the same seed assign the same keys, one in the
    given order and one in reverse. A strategy whose pick is a function of
    the key and the membership alone scores 1.0, so any service can compute it
    again. A strategy that uses live load, a counter or a random draw scores
    less.
    """
    cls = _strategies()[name]
    options = dict(options or {})
    forward = assign(cls(list(nodes), seed=seed, **options), keys)
    backward = assign(cls(list(nodes), seed=seed, **options), list(keys)[::-1])
    return 1 - moved_fraction(forward, backward[::-1])


def assign_last_writer_wins(
    point_lists: Sequence[Sequence[tuple[int, Any]]],
    key_positions: Sequence[int],
) -> np.ndarray:
    """Assign keys on a ring where a shared position goes to the node added last.

    ``point_lists`` contains each node's points, in the order the nodes were
    added. Building the ring as a dict from position to node gives this rule,
    because a later point overwrites an earlier one. Two clients that learnt
    the nodes in different orders then disagree on every key behind a shared
    position. A key goes to the first position at or after its own, wrapping.
    """
    owner_at: dict[int, Any] = {}
    for points in point_lists:
        for position, node in points:
            owner_at[int(position)] = node
    if not owner_at:
        raise AnalysisError("a ring needs at least one point to assign keys")
    positions = np.array(sorted(owner_at), dtype=np.uint64)
    owners = np.array([owner_at[int(p)] for p in positions], dtype=object)
    slots = np.searchsorted(positions, np.asarray(key_positions, dtype=np.uint64))
    slots[slots == len(positions)] = 0
    return owners[slots]


def shared_positions(points: Sequence[tuple[int, Any]]) -> int:
    """Return how many ring positions hold more than one point."""
    seen: dict[int, int] = {}
    for position, _ in points:
        seen[int(position)] = seen.get(int(position), 0) + 1
    return sum(1 for count in seen.values() if count > 1)


def load_table(assignments: Mapping[str, Sequence[Any]], nodes: Sequence[Any]):
    """Return max, min, max/mean and the coefficient of variation per strategy."""
    import pandas as pd

    rows = []
    for name, assignment in assignments.items():
        stats = load_stats(assignment, nodes)
        rows.append((name, stats.max, stats.min, stats.max_over_mean, stats.cv))
    columns = ["strategy", "max", "min", "max_over_mean", "cv"]
    return pd.DataFrame(rows, columns=columns).set_index("strategy")


def agreement_table(
    nodes: Sequence[str],
    keys: Sequence[Any],
    *,
    seed: int,
    names: Iterable[str] | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
):
    """Return ``order_agreement`` for each strategy as a pandas Series."""
    import pandas as pd

    options = options or {}
    chosen = list(_strategies()) if names is None else list(names)
    values = {
        name: order_agreement(name, nodes, keys, seed=seed, options=options.get(name))
        for name in chosen
    }
    return pd.Series(values, name="same node in either order")


def vnodes_sweep(
    nodes: Sequence[str],
    keys: Sequence[str],
    vnodes: Iterable[int],
    *,
    seed: int,
    trials: int = 200,
):
    """Measure a HashRing's balance for each count of virtual nodes per server.

    Columns: the largest server share of this ring, the mean largest share of
    ``trials`` random rings, the estimate ``approximate_max_share``, and the
    max/mean load of ``keys``. Shares are fractions of the ring, so a perfect
    ring gives each of n servers 1/n.
    """
    import pandas as pd

    from imref.balancing import HashRing

    n = len(nodes)
    rows = []
    for count in vnodes:
        ring = HashRing(list(nodes), vnodes=count)
        shares = ring_shares(ring.points(), ring.RING_SIZE)
        simulated = simulate_max_share(n, count, seed=seed, trials=trials).mean()
        stats = load_stats(assign(ring, keys), nodes)
        rows.append(
            (
                count,
                max(shares.values()),
                float(simulated),
                approximate_max_share(n, count),
                stats.max_over_mean,
            )
        )
    columns = [
        "vnodes",
        "max_share",
        "simulated_max_share",
        "estimated_max_share",
        "max_over_mean",
    ]
    return pd.DataFrame(rows, columns=columns).set_index("vnodes")


@dataclass(frozen=True)
class TieBreakComparison:
    """Share of keys on which two clients disagree, under each tie-break rule."""

    shared_positions: int
    by_name: float
    last_writer_wins: float

    def __repr__(self) -> str:
        return (
            f"TieBreakComparison(shared_positions={self.shared_positions}, "
            f"by_name={self.by_name:.4f}, last_writer_wins={self.last_writer_wins:.4f})"
        )


def compare_tie_breaks(
    nodes: Sequence[str], keys: Sequence[str | bytes], **ring_options: Any
) -> TieBreakComparison:
    """Measure how two tie-break rules fare when clients list nodes in opposite orders.

    Two ``HashRing`` instances built on ``nodes`` and on ``nodes`` reversed use
    the ring's rule, under which the least node name owns a shared position. Two rings
    built as dicts from position to node, filled in the same two orders, let
    the node added last win. Each fraction is the share of ``keys`` on which
    the two clients disagree. Pass a small ``hash_bits`` (and a ``hash``
    function) in ``ring_options`` to make shared positions common.
    """
    from imref.balancing import HashRing

    forward = HashRing(list(nodes), **ring_options)
    backward = HashRing(list(nodes)[::-1], **ring_options)
    by_name = moved_fraction(assign(forward, keys), assign(backward, keys))

    point_lists = [HashRing([node], **ring_options).points() for node in nodes]
    positions = [forward.hash_key(key) for key in keys]
    one_way = assign_last_writer_wins(point_lists, positions)
    other_way = assign_last_writer_wins(point_lists[::-1], positions)
    return TieBreakComparison(
        shared_positions=shared_positions(forward.points()),
        by_name=by_name,
        last_writer_wins=moved_fraction(one_way, other_way),
    )


def max_load_m_equals_n(n: int, *, seed: int, trials: int = 3) -> dict[str, float]:
    """Simulate n requests on n servers with one and two choices, next to theory.

    Returns the mean max load of each over ``trials`` runs and the two
    leading-term estimates ln n / ln ln n and ln ln n / ln 2.
    """
    one = simulate_max_load([n], n, choices=1, seed=seed, trials=trials)[0]
    two = simulate_max_load([n], n, choices=2, seed=seed, trials=trials)[0]
    return {
        "one choice": float(one),
        "two choices": float(two),
        "ln n / ln ln n": max_load_one_choice_m_equals_n(n),
        "ln ln n / ln 2": max_load_two_choices_m_equals_n(n),
    }


def restart_loads(
    name: str,
    nodes: Sequence[str],
    keys: Sequence[Any],
    *,
    restarted: str,
    reconnects: int,
    seed: int,
    options: Mapping[str, Any] | None = None,
) -> dict[str, int]:
    """Count the connections per node after one node restarts and some users reconnect.

    Every key first connects once. Then ``restarted`` fails: it leaves the
    pool, and its users reconnect to the others. It rejoins empty, and
    ``reconnects`` users drawn at random (with ``seed``) disconnect and
    connect again one at a time, as users do during a normal hour. Users who
    do not reconnect keep their gateway, as long-lived connections do.

    Raises:
        BalancingError: if the strategy cannot remove ``restarted``.
    """
    balancer = _strategies()[name](list(nodes), seed=seed, **dict(options or {}))
    owners = assign(balancer, keys)

    # Step 1: the node fails, and its users reconnect to the nodes left.
    balancer.remove(restarted)
    for index in np.flatnonzero(owners == restarted):
        owners[index] = balancer.pick(keys[index])

    # Step 2: the node rejoins with no connection.
    balancer.add(restarted)

    # Step 3: some users reconnect, each releasing its old connection first.
    rng = np.random.default_rng(seed)
    for index in rng.choice(len(keys), size=reconnects, replace=False):
        if isinstance(balancer, LoadAware):
            balancer.release(owners[index])
        owners[index] = balancer.pick(keys[index])
    return load_counts(owners, nodes)


def restart_table(
    nodes: Sequence[str],
    keys: Sequence[Any],
    *,
    restarted: str,
    reconnects: int,
    seed: int,
    names: Iterable[str] | None = None,
):
    """Tabulate ``restart_loads`` for each strategy as a DataFrame.

    Columns: the connections on the restarted node, the fullest node, and
    the restarted node's load over the mean.
    """
    import pandas as pd

    chosen = list(_strategies()) if names is None else list(names)
    rows = []
    for name in chosen:
        counts = restart_loads(
            name,
            nodes,
            keys,
            restarted=restarted,
            reconnects=reconnects,
            seed=seed,
        )
        mean = sum(counts.values()) / len(counts)
        rows.append(
            (name, counts[restarted], max(counts.values()), counts[restarted] / mean)
        )
    columns = ["strategy", "restarted", "max", "restarted_over_mean"]
    return pd.DataFrame(rows, columns=columns).set_index("strategy")
