"""Tests for imref.balancing.analysis: load statistics, keys moved, theory."""

import math

import numpy as np
import pytest
import xxhash

from imref import ImrefError
from imref.balancing import BalancingError, HashRing
from imref.balancing.analysis import (
    AnalysisError,
    approximate_max_share,
    arc_lengths,
    assign,
    assign_last_writer_wins,
    assign_strategies,
    compare_tie_breaks,
    expected_largest_arc,
    ideal_moved_on_add,
    ideal_moved_on_remove,
    keys_moved,
    keys_moved_table,
    largest_arc,
    load_counts,
    load_stats,
    max_load_curve,
    max_load_m_equals_n,
    max_load_one_choice,
    max_load_one_choice_m_equals_n,
    max_load_two_choices,
    max_load_two_choices_m_equals_n,
    mod_n_assignment,
    mod_n_moved_fraction,
    moved_fraction,
    order_agreement,
    restart_loads,
    restart_table,
    ring_shares,
    simulate_max_load,
    simulate_max_share,
)

SEED = 20261204


# -- load statistics ---------------------------------------------------------


def test_load_counts_keeps_empty_nodes():
    counts = load_counts(["b", "a", "b"], nodes=["a", "b", "c"])
    assert counts == {"a": 1, "b": 2, "c": 0}
    assert list(counts) == ["a", "b", "c"]


def test_load_stats_hand_computed():
    # Loads 3, 1, 0, 0: mean 1, max/mean 3, population sd sqrt(1.5).
    stats = load_stats(["a", "a", "b", "a"], nodes=["a", "b", "c", "d"])
    assert stats.total == 4
    assert stats.mean == 1.0
    assert stats.max == 3
    assert stats.min == 0
    assert stats.max_over_mean == 3.0
    assert stats.cv == pytest.approx(math.sqrt(1.5))


def test_load_stats_even_load():
    stats = load_stats(np.array([0, 1, 2, 0, 1, 2]))
    assert stats.max_over_mean == 1.0
    assert stats.cv == 0.0


def test_load_stats_repr_one_line():
    text = repr(load_stats(["a", "b", "b"]))
    assert "\n" not in text
    assert "max/mean=1.333" in text


def test_load_stats_sums_costs():
    # Equal counts, unequal work: a gets 1 + 1, b gets 1 + 7.
    stats = load_stats(["a", "b", "a", "b"], costs=[1, 1, 1, 7])
    assert stats.counts == {"a": 2.0, "b": 8.0}
    assert stats.mean == 5.0
    assert stats.max == 8
    assert stats.max_over_mean == pytest.approx(1.6)


def test_load_stats_divides_by_capacity():
    # Two keys each, but b has half the capacity, so it is twice as busy.
    stats = load_stats(["a", "b", "a", "b"], capacities={"a": 2, "b": 1})
    assert stats.counts == {"a": 1.0, "b": 2.0}
    assert stats.max_over_mean == pytest.approx(2 / 1.5)


def test_load_stats_rejects_bad_costs_and_capacities():
    with pytest.raises(AnalysisError, match="one value per key"):
        load_stats(["a", "b"], costs=[1.0])
    with pytest.raises(AnalysisError, match="capacity of node 'b'"):
        load_stats(["a", "b"], capacities={"a": 1})
    with pytest.raises(AnalysisError, match="capacity of node 'a'"):
        load_stats(["a"], capacities={"a": 0})


def test_load_stats_rejects_empty():
    with pytest.raises(AnalysisError, match="empty assignment"):
        load_stats([])
    with pytest.raises(AnalysisError, match="no keys"):
        load_stats([], nodes=["a"])


def test_analysis_error_is_imref_and_value_error():
    assert issubclass(AnalysisError, ImrefError)
    assert issubclass(AnalysisError, BalancingError)
    assert issubclass(AnalysisError, ValueError)


# -- keys moved --------------------------------------------------------------


def test_moved_fraction_hand_computed():
    assert moved_fraction(["a", "b", "c", "a"], ["a", "c", "c", "b"]) == 0.5
    assert moved_fraction([1, 2], [1, 2]) == 0.0


def test_moved_fraction_rejects_mismatch():
    with pytest.raises(AnalysisError, match="same length"):
        moved_fraction([1, 2], [1])
    with pytest.raises(AnalysisError, match="empty"):
        moved_fraction([], [])


def test_ideal_moved_fractions():
    assert ideal_moved_on_add(10) == pytest.approx(1 / 11)
    assert ideal_moved_on_remove(10) == pytest.approx(1 / 10)
    with pytest.raises(AnalysisError, match="at least 1"):
        ideal_moved_on_remove(0)
    with pytest.raises(AnalysisError, match="must be an int"):
        ideal_moved_on_add(2.5)


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        (10, 11, 10 / 11),
        (10, 9, 9 / 10),
        (2, 4, 1 / 2),  # h % 4 < 2 keeps its node: half of the residues.
        (3, 3, 0.0),
    ],
)
def test_mod_n_moved_fraction_exact(before, after, expected):
    assert mod_n_moved_fraction(before, after) == pytest.approx(expected)


def test_mod_n_moved_fraction_matches_residues():
    # Count over one full period of residues by brute force.
    for before, after in [(4, 6), (5, 7), (6, 9)]:
        period = math.lcm(before, after)
        moved = sum(h % before != h % after for h in range(period))
        assert mod_n_moved_fraction(before, after) == pytest.approx(moved / period)


def test_mod_n_assignment_on_real_keys():
    keys = [f"user:{i}" for i in range(20_000)]
    before = mod_n_assignment(keys, 10)
    assert before.min() == 0
    assert before.max() == 9
    moved = moved_fraction(before, mod_n_assignment(keys, 11))
    assert moved == pytest.approx(10 / 11, abs=0.01)


# -- balls into bins ---------------------------------------------------------


def test_theory_formulas_by_hand():
    # 100,000 requests on 10 servers: 10,000 + sqrt(2 * 10,000 * ln 10).
    assert max_load_one_choice(100_000, 10) == pytest.approx(10_214.6, abs=0.1)
    assert max_load_two_choices(100_000, 10) == pytest.approx(10_001.2, abs=0.1)
    # m = n = 1,000,000: ln n / ln ln n = 13.8155 / 2.6258.
    assert max_load_one_choice_m_equals_n(10**6) == pytest.approx(5.2615, abs=1e-3)
    assert max_load_two_choices_m_equals_n(10**6) == pytest.approx(3.7882, abs=1e-3)
    with pytest.raises(AnalysisError, match="at least 3"):
        max_load_two_choices(10, 2)


def test_simulate_one_choice_small_case():
    # With a single server every request lands on it.
    assert simulate_max_load([5, 7], 1, choices=1, seed=SEED).tolist() == [5, 7]


def test_simulate_two_choices_two_servers_stays_even():
    # Two servers, two choices: a request joins the emptier server unless both
    # draws name the same server, so the max load stays close to m/2.
    loads = simulate_max_load([2, 100, 1000], 2, choices=2, seed=SEED, trials=5)
    assert loads[0] <= 2
    assert loads[2] >= 500
    assert loads[2] - 500 < 30


def test_simulate_heavy_load_matches_normal_max():
    # With m >> n ln n each load is close to normal with mean m/n and
    # standard deviation sqrt((m/n)(1 - 1/n)). The expected max of 10
    # standard normal deviations is 1.5388, so the mean excess over m/n is
    # about 1.5388 * 94.87 = 146. Over 100 trials the sample mean has a
    # standard error of about 6, so 10% is a margin of more than 2 errors.
    n, m = 10, 100_000
    simulated = simulate_max_load([m], n, choices=1, seed=SEED, trials=100)[0]
    expected_excess = 1.5388 * math.sqrt((m / n) * (1 - 1 / n))
    assert simulated - m / n == pytest.approx(expected_excess, rel=0.10)
    # The formula's sqrt(2 ln n) = 2.15 overstates 1.54 for so few servers.
    formula_excess = max_load_one_choice(m, n) - m / n
    assert formula_excess == pytest.approx(
        math.sqrt(2 * math.log(n)) * math.sqrt(m / n)
    )
    assert simulated - m / n < formula_excess


def test_two_choices_cut_the_excess():
    curve = max_load_curve([100, 1_000, 10_000, 100_000], 10, seed=SEED, trials=3)
    one_excess = curve.one_choice - curve.mean
    two_excess = curve.two_choices - curve.mean
    assert np.all(two_excess < one_excess)
    # Two choices keep the excess small and flat however many requests come.
    assert two_excess.max() <= 4
    # One choice's excess grows like sqrt(m): at least 10x from m=100 to 100,000.
    assert one_excess[-1] > 10 * one_excess[0]
    # The max/mean ratio of one choice shrinks as requests grow.
    ratio = curve.one_choice / curve.mean
    assert ratio[0] > 1.3
    assert ratio[-1] < 1.05


def test_m_equals_n_theory_against_simulation():
    # The ln n / ln ln n and ln ln n / ln 2 estimates are only the leading
    # terms, so compare the order: two choices stay well below one choice.
    n = 10_000
    one = simulate_max_load([n], n, choices=1, seed=SEED, trials=3)[0]
    two = simulate_max_load([n], n, choices=2, seed=SEED, trials=3)[0]
    assert 5 <= one <= 9
    assert 3 <= two <= 4
    assert max_load_one_choice_m_equals_n(n) == pytest.approx(4.148, abs=0.001)
    assert max_load_two_choices_m_equals_n(n) == pytest.approx(3.203, abs=0.001)


def test_max_load_curve_frame_and_repr():
    curve = max_load_curve([10, 100, 100, 1000], 5, seed=SEED, trials=1)
    frame = curve.to_frame()
    assert list(frame["requests"]) == [10, 100, 1000]
    assert list(frame.columns) == [
        "requests",
        "mean",
        "one_choice",
        "one_choice_theory",
        "two_choices",
        "two_choices_theory",
    ]
    assert "\n" not in repr(curve)


def test_simulate_rejects_bad_arguments():
    with pytest.raises(AnalysisError, match="choices must be 1 or 2"):
        simulate_max_load([10], 5, choices=3, seed=SEED)
    with pytest.raises(AnalysisError, match="positive counts"):
        simulate_max_load([0, 10], 5, choices=1, seed=SEED)


# -- rings -------------------------------------------------------------------


def test_arc_lengths_hand_computed():
    points = [(10, "a"), (40, "b"), (90, "a")]
    # a@10 owns 91..99 and 0..10 (20), b@40 owns 11..40 (30), a@90 owns 41..90.
    assert arc_lengths(points, 100) == [20, 30, 50]
    assert ring_shares(points, 100) == {"a": 0.7, "b": 0.3}
    assert largest_arc(points, 100) == 0.5


def test_arc_lengths_single_point_owns_ring():
    assert arc_lengths([(7, "a")], 100) == [100]


def test_arc_lengths_shared_point_goes_to_first_listed():
    points = [(10, "a"), (50, "b"), (50, "c")]
    assert arc_lengths(points, 100) == [60, 40, 0]
    assert ring_shares(points, 100) == {"a": 0.6, "b": 0.4, "c": 0.0}


def test_arc_lengths_rejects_bad_points():
    with pytest.raises(AnalysisError, match="at least one point"):
        arc_lengths([], 100)
    with pytest.raises(AnalysisError, match="sorted"):
        arc_lengths([(50, "a"), (10, "b")], 100)
    with pytest.raises(AnalysisError, match="must lie in"):
        arc_lengths([(100, "a")], 100)


def test_expected_largest_arc_small_cases():
    # Two uniform points cut the circle at a uniform spot: E[max] = 3/4.
    assert expected_largest_arc(1) == 1.0
    assert expected_largest_arc(2) == pytest.approx(0.75)
    assert expected_largest_arc(3) == pytest.approx(11 / 18)


def test_largest_arc_one_point_per_server_simulated():
    # One point per server: the largest server share is the largest arc,
    # whose mean is H_n / n (about ln n / n). 2,000 rings put the sample mean
    # within 3% of it.
    n = 10
    shares = simulate_max_share(n, 1, seed=SEED, trials=2_000)
    assert shares.mean() == pytest.approx(expected_largest_arc(n), rel=0.03)
    assert expected_largest_arc(n) == pytest.approx(0.293, abs=0.001)
    assert math.log(n) / n == pytest.approx(0.230, abs=0.001)


def test_virtual_nodes_shrink_largest_share():
    n = 10
    one = simulate_max_share(n, 1, seed=SEED, trials=200).mean()
    many = simulate_max_share(n, 160, seed=SEED, trials=200).mean()
    assert one > 2.5 / n
    assert many < 1.25 / n
    # The normal estimate (1 + sqrt(2 ln n / v)) / n is within 5% for v = 160.
    assert many == pytest.approx(approximate_max_share(n, 160), rel=0.05)


def test_single_server_owns_whole_ring():
    shares = simulate_max_share(1, 5, seed=SEED, trials=3)
    assert shares == pytest.approx([1.0, 1.0, 1.0])


# -- strategies on keys ------------------------------------------------------

NODES = [f"gw-{i}" for i in range(1, 11)]
KEYS = [f"user:{i}" for i in range(5_000)]


def test_assign_strategies_matches_pick():
    assignments = assign_strategies(NODES, KEYS[:200], seed=SEED, names=["ring"])
    ring = HashRing(NODES)
    assert list(assignments) == ["ring"]
    assert assignments["ring"].tolist() == [ring.pick(k) for k in KEYS[:200]]


def test_assign_strategies_round_robin_even():
    assignments = assign_strategies(NODES, KEYS, seed=SEED, names=["round_robin"])
    stats = load_stats(assignments["round_robin"], NODES)
    assert stats.max_over_mean == 1.0


def test_keys_moved_ring_near_ideal():
    moved = keys_moved("ring", NODES, KEYS, new_node="gw-11", seed=SEED)
    assert moved.on_add == pytest.approx(1 / 11, rel=0.2)
    assert moved.on_remove == pytest.approx(1 / 10, rel=0.2)
    assert "ring" in repr(moved)


def test_keys_moved_ring_counts_only_new_owner():
    # On a ring every moved key moves to the new node, nowhere else.
    before = assign(HashRing(NODES), KEYS)
    grown = HashRing(NODES)
    grown.add("gw-11")
    after = assign(grown, KEYS)
    changed = before != after
    assert set(after[changed]) == {"gw-11"}
    moved = keys_moved("ring", NODES, KEYS, new_node="gw-11", seed=SEED)
    assert moved.on_add == moved_fraction(before, after)


def test_keys_moved_round_robin_moves_most():
    moved = keys_moved("round_robin", NODES, KEYS, new_node="gw-11", seed=SEED)
    assert moved.on_add > 0.85
    assert moved.on_remove > 0.85


def test_keys_moved_table_has_mod_n_baseline():
    table = keys_moved_table(
        NODES, KEYS, new_node="gw-11", seed=SEED, names=["ring", "random"]
    )
    assert list(table.index) == ["ring", "random", "mod_n"]
    assert table.loc["mod_n", "on_add"] == pytest.approx(10 / 11, abs=0.02)
    assert table.loc["mod_n", "on_remove"] == pytest.approx(9 / 10, abs=0.02)
    assert table.loc["random", "on_add"] == pytest.approx(10 / 11, abs=0.02)
    assert table.loc["ring", "on_add"] < 0.12


def test_keys_moved_removes_middle_node():
    moved = keys_moved(
        "rendezvous", NODES, KEYS, new_node="gw-11", seed=SEED, removed=NODES[4]
    )
    assert moved.on_remove == pytest.approx(1 / len(NODES), abs=0.02)


def test_keys_moved_jump_cannot_remove_middle():
    moved = keys_moved("jump", NODES, KEYS, new_node="gw-11", seed=SEED, removed="gw-5")
    assert math.isnan(moved.on_remove)
    assert moved.on_add < 0.12


def test_restart_loads_restarted_node_stays_light():
    counts = restart_loads(
        "ring", NODES, KEYS, restarted=NODES[-1], reconnects=500, seed=SEED
    )
    assert sum(counts.values()) == len(KEYS)
    assert counts[NODES[-1]] < 0.25 * len(KEYS) / len(NODES)


def test_restart_loads_least_connections_refills():
    counts = restart_loads(
        "least_connections", NODES, KEYS, restarted=NODES[-1], reconnects=500, seed=SEED
    )
    assert sum(counts.values()) == len(KEYS)
    assert counts[NODES[-1]] >= 0.9 * len(KEYS) / len(NODES)


def test_restart_table_columns():
    table = restart_table(
        NODES,
        KEYS,
        restarted=NODES[-1],
        reconnects=500,
        seed=SEED,
        names=["random", "least_connections"],
    )
    assert list(table.columns) == ["restarted", "max", "restarted_over_mean"]
    assert (
        table.loc["random", "restarted"] < table.loc["least_connections", "restarted"]
    )


def test_order_agreement_hash_vs_counter():
    assert order_agreement("ring", NODES, KEYS, seed=SEED) == 1.0
    # Reversed, key i of 5,000 is picked at step 4,999 - i, and
    # 4,999 - i = i (mod 10) has no solution, so no key keeps its node.
    assert order_agreement("round_robin", NODES, KEYS, seed=SEED) == 0.0
    assert order_agreement("random", NODES, KEYS, seed=SEED) == pytest.approx(
        0.1, abs=0.02
    )


def test_last_writer_wins_depends_on_order():
    # Points a@10, b@10 and c@50 on a ring of 100: the shared position 10
    # goes to whichever of a and b came last.
    a, b, c = [(10, "a")], [(10, "b")], [(50, "c")]
    keys = [5, 10, 30, 50, 70]
    assert assign_last_writer_wins([a, b, c], keys).tolist() == [
        "b",
        "b",
        "c",
        "c",
        "b",
    ]
    assert assign_last_writer_wins([b, a, c], keys).tolist() == [
        "a",
        "a",
        "c",
        "c",
        "a",
    ]


def test_hash_ring_tie_break_beats_last_writer():
    # A 12-bit ring forces shared points between two nodes of 160 points.
    options = {"hash": xxhash.xxh3_64_intdigest, "hash_bits": 12}
    forward = HashRing(["gw-1", "gw-2"], **options)
    backward = HashRing(["gw-2", "gw-1"], **options)
    positions = [p for p, _ in forward.points()]
    assert len(positions) > len(set(positions))
    assert assign(forward, KEYS).tolist() == assign(backward, KEYS).tolist()

    lists = [HashRing([node], **options).points() for node in ("gw-1", "gw-2")]
    key_positions = [forward.hash_key(k) for k in KEYS]
    one_way = assign_last_writer_wins(lists, key_positions)
    other_way = assign_last_writer_wins(lists[::-1], key_positions)
    assert moved_fraction(one_way, other_way) > 0


def test_compare_tie_breaks_on_coarse_ring():
    comparison = compare_tie_breaks(
        ["gw-1", "gw-2"], KEYS, hash=xxhash.xxh3_64_intdigest, hash_bits=12
    )
    assert comparison.shared_positions > 0
    assert comparison.by_name == 0.0
    assert comparison.last_writer_wins > 0.0
    assert "\n" not in repr(comparison)


def test_compare_tie_breaks_without_collisions():
    # On a 64-bit ring two nodes of 160 points share no position, so both
    # rules give the same owners.
    comparison = compare_tie_breaks(["gw-1", "gw-2"], KEYS[:500])
    assert comparison.shared_positions == 0
    assert comparison.by_name == 0.0
    assert comparison.last_writer_wins == 0.0


def test_max_load_m_equals_n_keys_and_order():
    result = max_load_m_equals_n(1_000, seed=SEED, trials=2)
    assert list(result) == [
        "one choice",
        "two choices",
        "ln n / ln ln n",
        "ln ln n / ln 2",
    ]
    assert result["two choices"] < result["one choice"]
    assert result["ln ln n / ln 2"] == pytest.approx(
        math.log(math.log(1_000)) / math.log(2)
    )
