"""Picks racing membership changes: each pick must return a member at that moment.

The pool is nine permanent gateways plus one churning gateway that a writer
thread adds and removes. A version counter tells when the churning gateway
can be present, because the writer makes it odd before ``add`` and even
after ``remove`` returns. A pick that starts and ends on the same even
version ran while the churning gateway was absent throughout, so returning
it is wrong. Any exception from ``pick`` is wrong too.
"""

import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from uhashring import HashRing as UHashRing

from imref.balancing import STRATEGIES, HashRing

PERMANENT = [f"gw-{i}" for i in range(1, 10)]
CHURNING = "gw-churn"
KEYS = [f"user:{i}" for i in range(4096)]


@dataclass
class RaceResult:
    picks: int
    picks_of_churning: int
    bad_answers: list[str]
    errors: list[BaseException]


def race(
    pick: Callable[[str], object],
    add: Callable[[], None],
    remove: Callable[[], None],
    *,
    min_picks: int,
    cycles: int,
) -> RaceResult:
    """Pick from one thread while another adds and removes the churning node."""
    version = [0]
    writer_done = threading.Event()
    writer_errors: list[BaseException] = []

    def writer() -> None:
        try:
            for _ in range(cycles):
                version[0] += 1
                add()
                remove()
                version[0] += 1
        except BaseException as error:  # reported by the main thread
            writer_errors.append(error)
        finally:
            writer_done.set()

    permanent = frozenset(PERMANENT)
    bad_answers: list[str] = []
    errors: list[BaseException] = []
    picks = picks_of_churning = 0
    # A short switch interval makes the threads interleave far more often than
    # the default 5 ms does, for the implementation under test and for the peer.
    old_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    thread = threading.Thread(target=writer)
    try:
        thread.start()
        while picks < min_picks or not writer_done.is_set():
            key = KEYS[picks & 4095]
            before = version[0]
            try:
                answer = pick(key)
            except Exception as error:
                errors.append(error)
                answer = None
            after = version[0]
            picks += 1
            if answer in permanent:
                continue
            if answer == CHURNING:
                picks_of_churning += 1
                if before == after and before % 2 == 0:
                    bad_answers.append(f"{key}: {answer!r} at version {before}")
            elif answer is not None:
                bad_answers.append(f"{key}: {answer!r}")
        thread.join()
    finally:
        sys.setswitchinterval(old_interval)
    assert not writer_errors, writer_errors
    return RaceResult(picks, picks_of_churning, bad_answers, errors)


@pytest.mark.timeout(60)
def test_ring_picks_race_a_thousand_cycles():
    ring = HashRing(PERMANENT)
    result = race(
        ring.pick,
        lambda: ring.add(CHURNING),
        lambda: ring.remove(CHURNING),
        min_picks=1_000_000,
        cycles=1000,
    )
    assert result.picks >= 1_000_000
    assert result.errors == []
    assert result.bad_answers == []
    # The churning gateway was really picked, so the race was real.
    assert result.picks_of_churning > 0
    assert ring.nodes == tuple(PERMANENT)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", sorted(set(STRATEGIES) - {"ring"}))
def test_every_strategy_races_cleanly(name):
    # A small Maglev table keeps 80 rebuilds quick.
    options = {"table_size": 1021} if name == "maglev" else {}
    balancer = STRATEGIES[name](PERMANENT, seed=11, **options)
    result = race(
        balancer.pick,
        lambda: balancer.add(CHURNING),
        lambda: balancer.remove(CHURNING),
        min_picks=20_000,
        cycles=40,
    )
    assert result.errors == []
    assert result.bad_answers == []
    assert balancer.nodes == tuple(PERMANENT)


@pytest.mark.timeout(60)
def test_same_race_breaks_uhashring():
    # uhashring 2.5 updates its point dict and sorted key list in place, so a
    # lookup between the two steps of remove_node finds a point with no owner.
    ring = UHashRing(PERMANENT)
    result = race(
        ring.get_node,
        lambda: ring.add_node(CHURNING),
        lambda: ring.remove_node(CHURNING),
        min_picks=1_000_000,
        cycles=1000,
    )
    failures = len(result.errors) + len(result.bad_answers)
    assert failures > 0, f"uhashring survived {result.picks} racing picks"
