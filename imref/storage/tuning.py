"""Choose the hybrid threshold from measured unit costs and the workload.

Fan-out on write makes each message to a group of g members cost g more
inbox rows. Fan-out on read makes each sync of each member cost one more
timeline seek per read-path conversation, whether or not it has news. Over
a week, a conversation with m messages and g members therefore costs

- on write: m * (send_write + per_inbox_row * g)
- on read:  m * send_read + syncs_per_week * g * per_conversation_seek

``measure_unit_costs`` measures those four unit costs on a real store.
``threshold_costs`` adds them up over the workload's conversations for each
candidate threshold, and ``choose_threshold`` returns the cheapest one.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd

from imref.storage.errors import InvalidArgumentError
from imref.storage.store import MessageStore


@dataclass(frozen=True)
class UnitCosts:
    """Measured seconds per send and per sync step on one machine."""

    send_write: float
    per_inbox_row: float
    send_read: float
    per_conversation_seek: float

    def __repr__(self) -> str:
        # measure_unit_costs sets both send costs from one measurement, so
        # showing them as two values would suggest two measurements.
        if self.send_write == self.send_read:
            sends = f"send={self.send_write * 1e6:.0f} us in both modes"
        else:
            sends = (
                f"send_write={self.send_write * 1e6:.0f} us, "
                f"send_read={self.send_read * 1e6:.0f} us"
            )
        return (
            f"UnitCosts({sends}, "
            f"per_inbox_row={self.per_inbox_row * 1e6:.1f} us, "
            f"per_conversation_seek={self.per_conversation_seek * 1e6:.2f} us)"
        )


def _median_send(store: MessageStore, sender: int, group: int, count: int) -> float:
    times = []
    for index in range(count):
        start = time.perf_counter()
        store.send(sender, group, f"message {index}")
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure_unit_costs(
    sizes: Sequence[int] = (2, 10, 50, 200, 500),
    *,
    sends: int = 30,
    conversations: int = 200,
    syncs: int = 200,
    rounds: int = 5,
) -> UnitCosts:
    """Measure the four unit costs of the fan-out cost formula on a real store.

    A send without inbox rows costs the same base in both modes, measured in
    read mode. The per-row cost is the least-squares slope of the median
    write-mode send time over group size, above that base. The seek cost is
    the slope of the median empty sync time between 1 and ``conversations``
    read-path conversations. Each cost is the median over ``rounds`` fresh
    stores, so that one burst of load elsewhere on the machine cannot move it.

    Raises:
        InvalidArgumentError: ``rounds`` is less than 1.
    """
    if rounds < 1:
        raise InvalidArgumentError(
            f"rounds {rounds!r} is invalid; pass a count of at least 1"
        )
    measured = [
        _measure_unit_costs_once(sizes, sends, conversations, syncs)
        for _ in range(rounds)
    ]
    names = [field.name for field in fields(UnitCosts)]
    medians = {
        name: statistics.median(getattr(units, name) for units in measured)
        for name in names
    }
    return UnitCosts(**medians)


def _measure_unit_costs_once(
    sizes: Sequence[int], sends: int, conversations: int, syncs: int
) -> UnitCosts:
    with tempfile.TemporaryDirectory(prefix="imref-units-") as tmp:
        folder = Path(tmp)
        with MessageStore(folder / "read.db", "read") as store:
            reader = store.create_user()
            other = store.create_user()
            groups = [store.create_group(other, [reader]) for _ in range(conversations)]
            send_read = _median_send(store, other, groups[0], sends)
            lone = store.create_user()
            solo = store.create_group(other, [lone])
            store.send(other, solo, "hello")
            users = (lone, reader)
            cursors = [store.sync(user, limit=1000).cursor for user in users]
            times = ([], [])
            # Alternate the two users so that a burst of load from elsewhere
            # on the machine slows both series alike, not just one of them.
            for _ in range(syncs):
                for user, cursor, series in zip(users, cursors, times, strict=True):
                    start = time.perf_counter()
                    store.sync(user, cursor)
                    series.append(time.perf_counter() - start)
        empty_syncs = [statistics.median(series) for series in times]
        seek = (empty_syncs[1] - empty_syncs[0]) / (conversations - 1)

        medians = []
        with MessageStore(folder / "write.db", "write") as store:
            for size in sizes:
                users = [store.create_user() for _ in range(size)]
                group = store.create_group(users[0], users[1:])
                medians.append(_median_send(store, users[0], group, sends))

    # Least squares through the read-mode send time at zero inbox rows: a
    # free intercept is too noisy on a shared machine to be a cost.
    extra = np.array(medians) - send_read
    size_array = np.array(sizes, dtype=float)
    per_inbox_row = float((size_array * extra).sum() / (size_array**2).sum())
    return UnitCosts(
        send_write=float(send_read),
        per_inbox_row=max(per_inbox_row, 0.0),
        send_read=float(send_read),
        per_conversation_seek=float(max(seek, 0.0)),
    )


def conversation_load(workload) -> pd.DataFrame:
    """Return each conversation's size and its messages in the recorded week."""
    conversations = workload.conversations()
    counts = workload.messages["conversation_id"].value_counts()
    frame = conversations[["conversation_id", "kind", "size"]].copy()
    frame["messages"] = frame["conversation_id"].map(counts).fillna(0).astype("int64")
    return frame


def group_costs(
    workload, units: UnitCosts, *, syncs_per_user_per_day: float
) -> pd.DataFrame:
    """Return each group's modelled weekly seconds on write and on read."""
    load = conversation_load(workload)
    groups = load[load["kind"] == "group"].copy()
    syncs_per_week = syncs_per_user_per_day * 7
    groups["write_seconds"] = groups["messages"] * (
        units.send_write + units.per_inbox_row * groups["size"]
    )
    groups["read_seconds"] = (
        groups["messages"] * units.send_read
        + syncs_per_week * groups["size"] * units.per_conversation_seek
    )
    return groups.reset_index(drop=True)


@dataclass(frozen=True)
class GroupModes:
    """The cheaper fan-out mode of each group, summarised over all groups."""

    groups_on_read: int
    groups_on_write: int
    read_message_share: float
    max_messages_on_write: int
    saving_over_all_read: float

    def __repr__(self) -> str:
        return (
            f"GroupModes(cheaper on read: {self.groups_on_read:,} groups with "
            f"{self.read_message_share:.1%} of group messages, "
            f"cheaper on write: {self.groups_on_write:,} groups with at most "
            f"{self.max_messages_on_write:,} messages each, "
            f"saving over all on read: {self.saving_over_all_read:.1%})"
        )


def cheaper_modes(groups: pd.DataFrame) -> GroupModes:
    """Give each group its cheaper mode and summarise what that choice saves.

    ``groups`` has the columns of ``group_costs``. A group whose costs tie
    counts as cheaper on write. ``saving_over_all_read`` is the share of the
    weekly cost of fanning out every group on read that the per-group choice
    removes.
    """
    on_read = groups["read_seconds"] < groups["write_seconds"]
    total_messages = groups["messages"].sum()
    read_messages = groups.loc[on_read, "messages"].sum()
    all_read = groups["read_seconds"].sum()
    cheaper_each = groups[["read_seconds", "write_seconds"]].min(axis=1).sum()
    write_messages = groups.loc[~on_read, "messages"]
    return GroupModes(
        groups_on_read=int(on_read.sum()),
        groups_on_write=int((~on_read).sum()),
        read_message_share=float(read_messages / total_messages)
        if total_messages
        else 0.0,
        max_messages_on_write=int(write_messages.max()) if len(write_messages) else 0,
        saving_over_all_read=float(1 - cheaper_each / all_read) if all_read else 0.0,
    )


def threshold_costs(
    workload,
    units: UnitCosts,
    *,
    syncs_per_user_per_day: float,
    thresholds: Sequence[int] | None = None,
) -> pd.DataFrame:
    """Return the modelled weekly seconds and inbox rows for each threshold.

    Threshold T fans out on write for conversations of at most T members.
    By default the candidates are every distinct conversation size.

    Raises:
        InvalidArgumentError: ``syncs_per_user_per_day`` is negative.
    """
    if syncs_per_user_per_day < 0:
        raise InvalidArgumentError(
            f"syncs_per_user_per_day {syncs_per_user_per_day!r} is invalid; "
            "pass a rate of 0 or more"
        )
    load = conversation_load(workload)
    if thresholds is None:
        thresholds = sorted(load["size"].unique())
    syncs_per_week = syncs_per_user_per_day * 7
    size = load["size"].to_numpy()
    messages = load["messages"].to_numpy()
    write_seconds = messages * (units.send_write + units.per_inbox_row * size)
    read_seconds = (
        messages * units.send_read + syncs_per_week * size * units.per_conversation_seek
    )
    rows = []
    for threshold in thresholds:
        on_write = size <= threshold
        rows.append(
            {
                "threshold": int(threshold),
                "send_seconds": float(
                    (messages * units.send_write)[on_write].sum()
                    + (messages * units.per_inbox_row * size)[on_write].sum()
                    + (messages * units.send_read)[~on_write].sum()
                ),
                "seek_seconds": float(
                    (syncs_per_week * size * units.per_conversation_seek)[
                        ~on_write
                    ].sum()
                ),
                "total_seconds": float(
                    write_seconds[on_write].sum() + read_seconds[~on_write].sum()
                ),
                "inbox_rows": int((messages * size)[on_write].sum()),
                "read_conversations": int((~on_write).sum()),
            }
        )
    return pd.DataFrame(rows)


def choose_threshold(costs: pd.DataFrame) -> int:
    """Return the threshold with the lowest total cost; ties go to the smaller."""
    best = costs.sort_values(["total_seconds", "threshold"]).iloc[0]
    return int(best["threshold"])


def crossover_messages(units: UnitCosts, *, syncs_per_user_per_day: float) -> float:
    """Return the weekly messages above which a conversation is cheaper on read.

    Per member, fan-out on write costs ``m * per_inbox_row`` a week and fan-out
    on read costs ``syncs * per_conversation_seek``, whatever the group size.
    """
    return (
        syncs_per_user_per_day * 7 * units.per_conversation_seek / units.per_inbox_row
    )


# The sync rate behind the default threshold. NOTE: an assumption, not a
# measurement: the workload records messages, not when devices sync.
SYNCS_PER_USER_PER_DAY = 24
# The candidate thresholds that the stored results compare.
CANDIDATE_THRESHOLDS = (2, 3, 5, 10, 20, 50, 100, 200, 500, 1000, 2000)
# NOTE: the results live in the checkout beside the notebooks, so this path
# is right for an editable install (pip install -e) and wrong for a wheel.
RESULTS_PATH = Path(__file__).resolve().parents[2] / "notebooks" / "results"


@dataclass(frozen=True)
class FanoutResults:
    """Measured unit costs, modelled threshold costs and replay counts."""

    units: UnitCosts
    remote_units: UnitCosts
    threshold_costs: pd.DataFrame
    remote_threshold_costs: pd.DataFrame
    replays: pd.DataFrame
    chosen_threshold: int
    remote_threshold: int

    def __repr__(self) -> str:
        return (
            f"FanoutResults(chosen_threshold={self.chosen_threshold}, "
            f"remote_threshold={self.remote_threshold}, {self.units!r})"
        )


# NOTE: assumed, not measured. An inbox row write and a timeline read each
# cost one network round trip of about 1 ms, as when inboxes and timelines
# live in a separate service.
REMOTE_UNITS = UnitCosts(
    send_write=1e-3, per_inbox_row=1e-3, send_read=1e-3, per_conversation_seek=1e-3
)


def measure_results(
    workload, *, messages: int = 10_000, progress: bool = False
) -> FanoutResults:
    """Measure unit costs, model every candidate threshold and replay a slice."""
    from imref.storage.simulate import sweep

    units = measure_unit_costs()
    costs = threshold_costs(
        workload,
        units,
        syncs_per_user_per_day=SYNCS_PER_USER_PER_DAY,
        thresholds=CANDIDATE_THRESHOLDS,
    )
    remote = threshold_costs(
        workload,
        REMOTE_UNITS,
        syncs_per_user_per_day=SYNCS_PER_USER_PER_DAY,
        thresholds=CANDIDATE_THRESHOLDS,
    )
    replays = sweep(
        workload, [2, 10, 50, 200, 500], messages=messages, progress=progress
    )
    return FanoutResults(
        units=units,
        remote_units=REMOTE_UNITS,
        threshold_costs=costs,
        remote_threshold_costs=remote,
        replays=replays,
        chosen_threshold=choose_threshold(costs),
        remote_threshold=choose_threshold(remote),
    )


def save_results(results: FanoutResults, folder: str | Path = RESULTS_PATH) -> Path:
    """Write the results as JSON and CSV files into ``folder``; return it."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    summary = {
        "units": asdict(results.units),
        "remote_units": asdict(results.remote_units),
        "chosen_threshold": results.chosen_threshold,
        "remote_threshold": results.remote_threshold,
        "syncs_per_user_per_day": SYNCS_PER_USER_PER_DAY,
    }
    (folder / "fanout_summary.json").write_text(
        json.dumps(summary, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    for name in ("threshold_costs", "remote_threshold_costs", "replays"):
        getattr(results, name).to_csv(
            folder / f"fanout_{name}.csv", index=False, lineterminator="\n"
        )
    return folder


def load_results(folder: str | Path = RESULTS_PATH) -> FanoutResults:
    """Read the results that ``save_results`` wrote.

    Raises:
        InvalidArgumentError: the files are missing; regenerate them with
            ``imref storage measure``.
    """
    folder = Path(folder)
    try:
        summary = json.loads((folder / "fanout_summary.json").read_text("utf-8"))
        frames = {
            name: pd.read_csv(folder / f"fanout_{name}.csv")
            for name in ("threshold_costs", "remote_threshold_costs", "replays")
        }
    except FileNotFoundError as exc:
        raise InvalidArgumentError(
            f"fan-out results not found in {str(folder)!r} ({exc.filename}); "
            "regenerate them with `imref storage measure`"
        ) from exc
    return FanoutResults(
        units=UnitCosts(**summary["units"]),
        remote_units=UnitCosts(**summary["remote_units"]),
        chosen_threshold=summary["chosen_threshold"],
        remote_threshold=summary["remote_threshold"],
        **frames,
    )
