"""The fan-out cost model, the workload replay, the threshold choice and plots."""

import sqlite3

import matplotlib
import pandas as pd
import pytest
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch

from imref.storage import DEFAULT_HYBRID_THRESHOLD, InvalidArgumentError, MessageStore
from imref.storage.costs import notifications, send_cost, sync_cost, uses_inbox
from imref.storage.exercises import (
    check_devices_mode,
    check_rows_written,
    check_sync_seeks,
)
from imref.storage.plots import (
    plot_group_costs,
    plot_schema,
    plot_threshold_costs,
    schema_tables,
)
from imref.storage.simulate import replay, sample_syncing_users
from imref.storage.tuning import (
    CANDIDATE_THRESHOLDS,
    SYNCS_PER_USER_PER_DAY,
    UnitCosts,
    cheaper_modes,
    choose_threshold,
    crossover_messages,
    group_costs,
    load_results,
    measure_unit_costs,
    save_results,
    threshold_costs,
)
from imref.workload import load

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def tiny():
    return load("tiny")


# The cost model.


def test_send_cost_by_mode():
    assert send_cost("write", 500).rows_written == 501
    assert send_cost("write", 500).inbox_rows == 500
    assert send_cost("write", 500).statements == 505
    assert send_cost("read", 500).rows_written == 1
    assert send_cost("read", 500).statements == 4
    assert send_cost("hybrid", 3, threshold=3).inbox_rows == 3
    assert send_cost("hybrid", 4, threshold=3).inbox_rows == 0


def test_sync_cost_by_mode():
    assert sync_cost("write", conversations=30, messages=5).index_seeks == 1
    assert sync_cost("write", conversations=30, messages=5).rows_read == 10
    assert sync_cost("read", conversations=30, messages=5).index_seeks == 30
    assert sync_cost("read", conversations=30, messages=5).rows_read == 5


def test_notifications_do_not_depend_on_mode():
    assert notifications(500, 1.5) == 750


def test_cost_model_rejects_bad_mode():
    with pytest.raises(InvalidArgumentError, match="'both'"):
        uses_inbox("both", 3)
    with pytest.raises(InvalidArgumentError, match="'hybrid'"):
        uses_inbox("hybrid", 3)
    with pytest.raises(InvalidArgumentError, match="'hybrid'"):
        sync_cost("hybrid", 3, 3)


def test_send_statements_match_trace(tmp_path):
    """The model's statement count equals the count from SQLite's trace callback."""
    for mode in ("write", "read"):
        store = MessageStore(tmp_path / f"{mode}.db", mode)
        users = [store.create_user() for _ in range(7)]
        group = store.create_group(users[0], users[1:])
        seen = []
        store._connection().set_trace_callback(seen.append)
        store.send(users[0], group, "hi")
        store._connection().set_trace_callback(None)
        assert len(seen) == send_cost(mode, 7).statements, seen
        store.close()


# The replay.


@pytest.mark.parametrize(
    ("mode", "threshold"), [("write", None), ("read", None), ("hybrid", 10)]
)
def test_replay_agrees_with_model(tiny, mode, threshold):
    result = replay(tiny, mode, threshold=threshold, messages=600, sync_every=200)

    assert result.disagreements() == {}
    assert result.messages == 600
    assert result.sync_items > 0
    assert "\n" not in repr(result)


def test_replay_repr_is_repeatable(tiny):
    first = replay(tiny, "write", messages=200, sync_users=5)
    second = replay(tiny, "write", messages=200, sync_users=5)

    assert repr(first) == repr(second)
    assert "us/" not in repr(first)
    assert "us/send" in first.timings()
    assert "us/sync" in first.timings()


def test_replay_syncs_after_last_message(tiny):
    # 30 messages never reach sync_every, so only the final round runs.
    once = replay(tiny, "write", messages=30, sync_every=1000, sync_users=5)
    # At sync_every=10 the round after message 30 is also the final one.
    thrice = replay(tiny, "write", messages=30, sync_every=10, sync_users=5)

    assert once.syncs == once.predicted_syncs == 5
    assert thrice.syncs == thrice.predicted_syncs == 15


def test_replay_rows_by_mode(tiny):
    write = replay(tiny, "write", messages=300, sync_users=5)
    read = replay(tiny, "read", messages=300, sync_users=5)
    sizes = tiny.conversations().set_index("conversation_id")["size"]
    recipients = int(sizes[tiny.messages["conversation_id"][:300]].sum())

    assert read.rows_written == 300
    assert read.inbox_rows == 0
    assert write.inbox_rows == recipients
    assert write.sync_items == read.sync_items


def test_replay_needs_threshold_for_hybrid(tiny):
    with pytest.raises(InvalidArgumentError, match="threshold"):
        replay(tiny, "hybrid", messages=10)


def test_sample_syncing_users_is_deterministic(tiny):
    first = sample_syncing_users(tiny, 20, seed=3)
    assert list(first) == list(sample_syncing_users(tiny, 20, seed=3))
    assert len(set(first)) == 20


def test_disagreement_is_reported(tiny):
    result = replay(tiny, "read", messages=50, sync_users=3)
    broken = type(result)(**{**result.__dict__, "rows_written": 49})
    assert broken.disagreements() == {"rows_written": (49, 50)}


# The threshold choice.

UNITS = UnitCosts(
    send_write=50e-6, per_inbox_row=10e-6, send_read=50e-6, per_conversation_seek=1e-6
)


def test_unit_costs_repr_shows_one_shared_send():
    assert repr(UNITS) == (
        "UnitCosts(send=50 us in both modes, per_inbox_row=10.0 us, "
        "per_conversation_seek=1.00 us)"
    )


def test_unit_costs_repr_shows_two_different_sends():
    units = UnitCosts(
        send_write=60e-6,
        per_inbox_row=10e-6,
        send_read=50e-6,
        per_conversation_seek=1e-6,
    )
    assert repr(units) == (
        "UnitCosts(send_write=60 us, send_read=50 us, per_inbox_row=10.0 us, "
        "per_conversation_seek=1.00 us)"
    )


def test_measured_send_costs_are_one_value():
    units = measure_unit_costs(rounds=1)
    assert units.send_write == units.send_read


def test_threshold_costs_by_hand(tiny):
    costs = threshold_costs(
        tiny, UNITS, syncs_per_user_per_day=10, thresholds=[2, 1000]
    )
    sizes = tiny.conversations().set_index("conversation_id")["size"]
    per_message = tiny.messages["conversation_id"].map(sizes)
    all_write = tiny.messages.shape[0] * 50e-6 + per_message.sum() * 10e-6

    assert costs.loc[1, "total_seconds"] == pytest.approx(all_write)
    assert costs.loc[1, "inbox_rows"] == per_message.sum()
    assert costs.loc[1, "read_conversations"] == 0
    assert costs.loc[0, "read_conversations"] == len(tiny.groups)


def test_choose_threshold_takes_cheapest():
    costs = pd.DataFrame({"threshold": [2, 10, 50], "total_seconds": [3.0, 1.0, 1.0]})
    assert choose_threshold(costs) == 10


def test_crossover_messages():
    # 10 syncs a day for a week, at 1 us per seek, against 10 us per row.
    assert crossover_messages(UNITS, syncs_per_user_per_day=10) == pytest.approx(7.0)


def test_cheaper_modes_by_hand():
    groups = pd.DataFrame(
        {
            "messages": [1, 3, 6, 10],
            "write_seconds": [1.0, 2.0, 8.0, 9.0],
            "read_seconds": [4.0, 2.0, 5.0, 3.0],
        }
    )
    modes = cheaper_modes(groups)
    assert modes.groups_on_read == 2
    assert modes.groups_on_write == 2  # the tie at 2.0 goes to write
    assert modes.read_message_share == pytest.approx(16 / 20)
    assert modes.max_messages_on_write == 3
    # All on read costs 14 s; the cheaper mode of each costs 1 + 2 + 5 + 3.
    assert modes.saving_over_all_read == pytest.approx(1 - 11 / 14)


def test_cheaper_modes_all_on_write():
    groups = pd.DataFrame(
        {"messages": [0, 2], "write_seconds": [0.0, 1.0], "read_seconds": [1.0, 2.0]}
    )
    modes = cheaper_modes(groups)
    assert modes.groups_on_read == 0
    assert modes.read_message_share == 0.0
    assert modes.max_messages_on_write == 2
    assert modes.saving_over_all_read == pytest.approx(1 - 1 / 3)


def test_cheaper_modes_repr_names_counts():
    groups = pd.DataFrame(
        {"messages": [4, 6], "write_seconds": [1.0, 9.0], "read_seconds": [2.0, 3.0]}
    )
    text = repr(cheaper_modes(groups))
    assert "cheaper on read: 1 groups with 60.0% of group messages" in text
    assert "cheaper on write: 1 groups with at most 4 messages each" in text


def test_stored_results_pick_default_threshold():
    results = load_results()
    assert results.chosen_threshold == DEFAULT_HYBRID_THRESHOLD
    assert choose_threshold(results.threshold_costs) == results.chosen_threshold
    replays = results.replays
    assert (replays.rows_written == replays.predicted_rows_written).all()


def _assert_notebook_relations(workload, units):
    """Assert what notebook 05 claims about measured unit costs.

    The notebook states bounds, not stored values, so that re-measuring with
    ``imref storage measure`` keeps it true. Keep these in step with it.
    """
    seek_per_row = units.per_conversation_seek / units.per_inbox_row
    crossover = crossover_messages(units, syncs_per_user_per_day=SYNCS_PER_USER_PER_DAY)
    groups = group_costs(workload, units, syncs_per_user_per_day=SYNCS_PER_USER_PER_DAY)
    modes = cheaper_modes(groups)
    costs = threshold_costs(
        workload,
        units,
        syncs_per_user_per_day=SYNCS_PER_USER_PER_DAY,
        thresholds=CANDIDATE_THRESHOLDS,
    )
    assert seek_per_row < 1 / 8
    assert crossover < 21
    assert groups["messages"].median() == 22
    assert modes.groups_on_read > len(groups) / 2
    assert modes.read_message_share > 0.9
    assert modes.max_messages_on_write <= crossover
    assert modes.saving_over_all_read < 0.05
    assert choose_threshold(costs) == DEFAULT_HYBRID_THRESHOLD


def test_stored_units_keep_notebook_relations():
    _assert_notebook_relations(load("default"), load_results().units)


def test_fresh_units_keep_notebook_relations():
    # Five rounds of measurement on a real store take about a second.
    _assert_notebook_relations(load("default"), measure_unit_costs())


def test_measure_unit_costs_rejects_zero_rounds():
    with pytest.raises(InvalidArgumentError, match="rounds 0 is invalid"):
        measure_unit_costs(rounds=0)


def test_results_round_trip(tmp_path):
    results = load_results()
    folder = save_results(results, tmp_path)
    again = load_results(folder)
    assert again.chosen_threshold == results.chosen_threshold
    assert again.units == results.units
    pd.testing.assert_frame_equal(again.replays, results.replays)


def test_missing_results_name_folder(tmp_path):
    with pytest.raises(InvalidArgumentError, match="imref storage measure"):
        load_results(tmp_path)


# Exercises.


def test_rows_written_check():
    assert check_rows_written(201).correct
    assert check_rows_written(200).mistake == "forgot_message_row"
    assert check_rows_written(1).mistake == "counted_fanout_on_read"
    assert check_rows_written(400).mistake == "counted_rows_twice"
    assert check_rows_written(7).mistake is None


def test_sync_seeks_check():
    assert check_sync_seeks(30).correct
    assert check_sync_seeks(5).mistake == "counted_messages"
    assert check_sync_seeks(1).mistake == "counted_fanout_on_write"


def test_devices_mode_check():
    assert check_devices_mode("both").correct
    assert check_devices_mode("read").mistake == "devices_as_read_fanout"
    assert check_devices_mode("write").mistake == "devices_as_write_fanout"
    assert "\n" not in repr(check_devices_mode("read"))


def test_exercise_checks_normalise_text_answers():
    assert check_rows_written("201").correct
    assert check_rows_written(" 201 ").correct
    assert check_rows_written(201.0).correct
    assert check_rows_written("200").mistake == "forgot_message_row"
    assert check_sync_seeks("30").correct
    assert check_devices_mode("Both").correct
    assert check_devices_mode(" both").correct
    assert check_devices_mode("READ").mistake == "devices_as_read_fanout"


def test_exercise_checks_reject_bool_as_count():
    assert not check_rows_written(True).correct
    assert check_rows_written(True).mistake is None
    assert not check_sync_seeks(True).correct


# Plots.


def test_schema_plot_draws_every_table(tmp_path):
    path = str(tmp_path / "chat.db")
    MessageStore(path).close()
    tables = schema_tables(path)

    fig = plot_schema(path)

    assert isinstance(fig, Figure)
    boxes = [p for p in fig.axes[0].patches if isinstance(p, FancyBboxPatch)]
    assert sorted(p.get_label() for p in boxes) == sorted(tables)
    assert tables["inbox"][4] == ("message_id", "messages")
    with sqlite3.connect(path) as conn:
        expected_edges = {
            (table, row[2])
            for table in tables
            for row in conn.execute(f"PRAGMA foreign_key_list({table})")
            if row[2] != table
        }
    assert len(fig.axes[0].texts) >= len(tables) + sum(map(len, tables.values()))
    arrows = [c for c in fig.axes[0].get_children() if type(c).__name__ == "Annotation"]
    assert len(arrows) == len(expected_edges)


def test_group_cost_plot(tiny):
    fig = plot_group_costs(tiny, UNITS, syncs_per_user_per_day=10, threshold=40)
    ax = fig.axes[0]
    assert len(ax.collections) == 2
    assert len(ax.collections[0].get_offsets()) == len(tiny.groups)
    assert [line.get_xdata()[0] for line in ax.lines] == [40]
    costs = group_costs(tiny, UNITS, syncs_per_user_per_day=10)
    assert (costs["write_seconds"] > 0).all()


def test_threshold_cost_plot(tiny):
    costs = threshold_costs(
        tiny, UNITS, syncs_per_user_per_day=10, thresholds=[2, 10, 40]
    )
    fig = plot_threshold_costs(costs, choose_threshold(costs))
    ax = fig.axes[0]
    assert [list(line.get_xdata()) for line in ax.lines] == [[2, 10, 40]] * 3


@pytest.mark.parametrize("count", ["0", "-3", "many"])
def test_measure_rejects_invalid_count(capsys, count):
    from imref.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["storage", "measure", "--messages", count])
    assert exit_info.value.code == 2
    assert f"invalid count {count!r}" in capsys.readouterr().err


def test_measure_rejects_file_as_output(tmp_path, capsys):
    from imref.cli import main

    target = tmp_path / "results.txt"
    target.write_text("keep me")
    assert main(["storage", "measure", "--output", str(target)]) == 2
    assert "is a file" in capsys.readouterr().err
    assert target.read_text() == "keep me"
