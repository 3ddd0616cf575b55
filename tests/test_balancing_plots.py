"""Tests for imref.balancing.plots and widgets: what each figure draws."""

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.patches import Rectangle

from imref.balancing import HashRing
from imref.balancing.analysis import max_load_curve
from imref.balancing.plots import (
    node_colors,
    plot_keys_moved,
    plot_load_per_server,
    plot_max_load,
    plot_ring,
    plot_ring_points,
)
from imref.balancing.widgets import RingExplorer

SEED = 20261204


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _bars(ax):
    return [p for p in ax.patches if isinstance(p, Rectangle)]


# -- ring --------------------------------------------------------------------

RING_POINTS = [(0, "a"), (25, "b"), (50, "a"), (75, "c")]


def test_ring_draws_points_per_node():
    figure = plot_ring_points(RING_POINTS, 100, key_positions=[10, 60, 90])
    (ax,) = figure.axes
    scatters = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert [s.get_label() for s in scatters] == [
        "a (2 points)",
        "b (1 point)",
        "c (1 point)",
    ]
    assert [len(s.get_offsets()) for s in scatters] == [2, 1, 1]


def test_ring_maps_positions_to_angles():
    figure = plot_ring_points(RING_POINTS, 100)
    (ax,) = figure.axes
    scatters = [c for c in ax.collections if isinstance(c, PathCollection)]
    angles_of_a = sorted(scatters[0].get_offsets()[:, 0])
    assert angles_of_a == pytest.approx([0.0, math.pi])


def test_ring_draws_one_tick_per_key():
    figure = plot_ring_points(RING_POINTS, 100, key_positions=[10, 60, 90])
    (ax,) = figure.axes
    (ticks,) = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert ticks.get_label() == "keys"
    segments = ticks.get_segments()
    assert len(segments) == 3
    assert sorted(seg[0][0] for seg in segments) == pytest.approx(
        [2 * math.pi * p / 100 for p in (10, 60, 90)]
    )


def test_ring_band_has_one_arc_per_point():
    figure = plot_ring_points(RING_POINTS, 100)
    (ax,) = figure.axes
    bars = _bars(ax)
    assert len(bars) == 4
    # Each point owns a quarter of this ring.
    assert [bar.get_width() for bar in bars] == pytest.approx([math.pi / 2] * 4)
    colors = node_colors(["a", "b", "c"])
    assert bars[1].get_facecolor()[:3] == pytest.approx(colors["b"])


def test_ring_colours_follow_given_node_order():
    figure = plot_ring_points(RING_POINTS, 100, nodes=["c", "b", "a", "d"])
    (ax,) = figure.axes
    scatters = [c for c in ax.collections if isinstance(c, PathCollection)]
    labels = [s.get_label() for s in scatters]
    assert labels == ["c (1 point)", "b (1 point)", "a (2 points)", "d (0 points)"]
    assert "4 nodes, 4 points" in ax.get_title()


# -- load per server ---------------------------------------------------------


def test_load_per_server_panels_and_bars():
    nodes = ["gw-1", "gw-2", "gw-3"]
    assignments = {
        "even": ["gw-1", "gw-2", "gw-3"] * 4,
        "skewed": ["gw-1"] * 6 + ["gw-2"] * 6,
        "one": ["gw-3"] * 12,
    }
    figure = plot_load_per_server(assignments, nodes, columns=2)
    assert len(figure.axes) == 3  # the fourth, empty panel is removed
    titles = [ax.get_title() for ax in figure.axes]
    assert titles == [
        "even: max/mean 1.00",
        "skewed: max/mean 1.50",
        "one: max/mean 3.00",
    ]
    skewed = figure.axes[1]
    assert [bar.get_height() for bar in _bars(skewed)] == [6, 6, 0]
    mean_line = skewed.lines[0]
    assert mean_line.get_ydata()[0] == pytest.approx(4.0)


# -- keys moved --------------------------------------------------------------


def test_keys_moved_bars_and_ideals():
    table = pd.DataFrame(
        {"on_add": [0.09, 0.9, 10 / 11], "on_remove": [0.1, 0.9, 0.9]},
        index=pd.Index(["ring", "random", "mod_n"], name="strategy"),
    )
    figure = plot_keys_moved(table, 10)
    (ax,) = figure.axes
    bars = _bars(ax)
    assert len(bars) == 6
    assert sorted(bar.get_width() for bar in bars) == pytest.approx(
        sorted([0.09, 0.9, 10 / 11, 0.1, 0.9, 0.9])
    )
    hatched = [bar for bar in bars if bar.get_hatch()]
    assert len(hatched) == 2
    assert sorted(bar.get_width() for bar in hatched) == pytest.approx([0.9, 10 / 11])
    ideals = {line.get_label(): line.get_xdata()[0] for line in ax.lines}
    assert ideals == {
        "ideal on join, 1/(n+1) = 1/11": pytest.approx(1 / 11),
        "ideal on leave, 1/n = 1/10": pytest.approx(1 / 10),
    }
    assert [t.get_text() for t in ax.get_yticklabels()] == ["ring", "random", "mod_n"]


# -- max load ----------------------------------------------------------------


def test_max_load_draws_simulation_and_theory():
    curve = max_load_curve([10, 100, 1_000], 10, seed=SEED, trials=1)
    figure = plot_max_load(curve)
    ratio_ax, excess_ax = figure.axes
    labels = [line.get_label() for line in excess_ax.lines]
    assert labels == [
        "one choice, simulated",
        "one choice, sqrt(2 (m/n) ln n)",
        "two choices, simulated",
        "two choices, ln ln n / ln 2",
    ]
    ratio_labels = [line.get_label() for line in ratio_ax.lines]
    assert "one choice, m/n + sqrt(2 (m/n) ln n)" in ratio_labels
    assert "two choices, m/n + ln ln n / ln 2" in ratio_labels
    for line in excess_ax.lines:
        assert list(line.get_xdata()) == [10, 100, 1_000]
    theory = excess_ax.lines[1].get_ydata()
    assert theory == pytest.approx(
        [math.sqrt(2 * (m / 10) * math.log(10)) for m in (10, 100, 1_000)]
    )
    ratio_lines = [
        line for line in ratio_ax.lines if not line.get_label().startswith("_")
    ]
    assert len(ratio_lines) == 4
    simulated = np.asarray(ratio_lines[0].get_ydata())
    assert simulated == pytest.approx(curve.one_choice / curve.mean)
    assert ratio_ax.get_xscale() == "log"


def test_max_load_excess_axis_has_no_zero():
    curve = max_load_curve([10, 100, 1_000], 10, seed=SEED, trials=1)
    figure = plot_max_load(curve)
    figure.canvas.draw()
    _, excess_ax = figure.axes
    assert excess_ax.get_yscale() == "log"
    assert excess_ax.get_ylim()[0] > 0
    labels = [tick.get_text() for tick in excess_ax.get_yticklabels()]
    assert not any(label.strip("$") in ("0", "10^{-\\infty}") for label in labels)


# -- ring drawn from a real HashRing, and the widget -------------------------


def test_plot_ring_from_hash_ring():
    ring = HashRing(["gw-1", "gw-2", "gw-3"], vnodes=20)
    keys = [f"user:{i}" for i in range(40)]
    figure = plot_ring(ring, keys)
    (ax,) = figure.axes
    scatters = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert [len(s.get_offsets()) for s in scatters] == [20, 20, 20]
    (ticks,) = [c for c in ax.collections if isinstance(c, LineCollection)]
    expected = sorted(2 * math.pi * ring.hash_key(k) / ring.RING_SIZE for k in keys)
    assert sorted(seg[0][0] for seg in ticks.get_segments()) == pytest.approx(expected)
    assert len(_bars(ax)) == 60


def _explorer(nodes=("gw-1", "gw-2", "gw-3"), keys=200):
    ring = HashRing(list(nodes), vnodes=40)
    return RingExplorer(ring, [f"user:{i}" for i in range(keys)])


def _drawn_nodes(explorer):
    (ax,) = explorer.figure.axes
    scatters = [c for c in ax.collections if isinstance(c, PathCollection)]
    return {s.get_label().split()[0]: len(s.get_offsets()) for s in scatters}


def test_widget_add_joins_next_gateway():
    explorer = _explorer()
    first_figure = explorer.figure
    explorer.on_add()
    assert explorer.ring.nodes == ("gw-1", "gw-2", "gw-3", "gw-4")
    assert explorer.figure is not first_figure
    assert _drawn_nodes(explorer) == {"gw-1": 40, "gw-2": 40, "gw-3": 40, "gw-4": 40}
    assert "gw-4 joined" in explorer.status.value
    # The share that moved is what gw-4 now owns, so about a quarter.
    assert 0.1 < explorer.last_moved < 0.4
    owned_by_new = sum(explorer.ring.pick(k) == "gw-4" for k in explorer.keys)
    assert explorer.last_moved == pytest.approx(owned_by_new / len(explorer.keys))


def test_widget_remove_takes_last_added_then_last_node():
    explorer = _explorer()
    explorer.on_add()
    explorer.on_add()
    assert explorer.ring.nodes[-2:] == ("gw-4", "gw-5")
    explorer.on_remove()
    assert "gw-5" not in explorer.ring.nodes
    explorer.on_remove()
    explorer.on_remove()
    assert explorer.ring.nodes == ("gw-1", "gw-2")
    # A node that left is still listed, with no points, so colours stay put.
    assert _drawn_nodes(explorer) == {
        "gw-1": 40,
        "gw-2": 40,
        "gw-3": 0,
        "gw-4": 0,
        "gw-5": 0,
    }


def test_widget_keeps_one_gateway_and_respects_limit():
    explorer = _explorer(nodes=("gw-1",))
    explorer.on_remove()
    assert explorer.ring.nodes == ("gw-1",)
    assert "at least one gateway" in explorer.status.value
    explorer.max_nodes = 2
    explorer.on_add()
    explorer.on_add()
    assert explorer.ring.nodes == ("gw-1", "gw-2")
    assert "at most 2 gateways" in explorer.status.value


def test_widget_buttons_call_handlers():
    explorer = _explorer()
    explorer.add_button.click()
    assert len(explorer.ring.nodes) == 4
    explorer.remove_button.click()
    assert len(explorer.ring.nodes) == 3
