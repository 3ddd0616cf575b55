"""The recorded workload: loader dtypes, invariants, regeneration, plots."""

import dataclasses
import gzip
import shutil
import types

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from imref.cli import main
from imref.tools.paths import DATA_DIR
from imref.workload import (
    SCHEMA,
    SPECS,
    TABLES,
    Workload,
    WorkloadError,
    csv_text,
    generate,
    load,
    write_workload,
)
from imref.workload.cli import run_workload
from imref.workload.plots import (
    plot_devices_per_user,
    plot_group_sizes,
    plot_messages_per_hour,
)
from imref.workload.spec import HOURLY_RATE, WEEK_SECONDS
from imref.workload.stats import (
    devices_per_user,
    group_size_counts,
    group_size_slope,
    groups_with_at_least,
    messages_per_day,
    messages_per_hour,
    peak_hour_of_day,
    quietest_hour_of_day,
    silent_friendship_share,
    top_conversation_share,
)

NAMES = ["tiny", "default"]


@pytest.fixture(scope="module", params=NAMES)
def workload(request) -> Workload:
    return load(request.param)


def test_load_returns_workload(workload):
    assert isinstance(workload, Workload)
    assert workload.name in NAMES
    for table in TABLES:
        assert isinstance(getattr(workload, table), pd.DataFrame)


def test_load_dtypes_match_contract(workload):
    expected = {
        "users": {"user_id": "int64", "activity": "float64"},
        "devices": {"device_id": "int64", "user_id": "int64"},
        "friendships": {
            "conversation_id": "int64",
            "user_a": "int64",
            "user_b": "int64",
        },
        "groups": {"conversation_id": "int64", "group_id": "int64", "size": "int64"},
        "members": {
            "group_id": "int64",
            "conversation_id": "int64",
            "user_id": "int64",
        },
        "messages": {
            "message_id": "int64",
            "sent_at": "float64",
            "conversation_id": "int64",
            "sender_id": "int64",
            "size_bytes": "int64",
            "media_bytes": "int64",
        },
    }
    for table, columns in expected.items():
        frame = getattr(workload, table)
        assert list(frame.columns) == list(SCHEMA[table]), table
        for column, dtype in columns.items():
            assert frame[column].dtype == np.dtype(dtype), f"{table}.{column}"
    assert workload.groups["is_large"].dtype == np.dtype(bool)
    platform = workload.devices["platform"].dtype
    assert isinstance(platform, pd.CategoricalDtype)
    assert list(platform.categories) == ["phone", "tablet", "desktop", "web"]
    kind = workload.messages["kind"].dtype
    assert isinstance(kind, pd.CategoricalDtype)
    assert list(kind.categories) == ["single", "group"]


def test_sizes_match_spec(workload):
    spec = SPECS[workload.name]
    assert len(workload.users) == spec.n_users
    assert len(workload.groups) == spec.n_groups
    assert int(workload.groups["is_large"].sum()) == spec.n_large_groups
    assert len(workload.messages) == spec.n_messages


def test_ids_unique_and_dense(workload):
    n_users = len(workload.users)
    assert workload.users["user_id"].tolist() == list(range(n_users))
    assert workload.devices["device_id"].tolist() == list(range(len(workload.devices)))
    assert workload.groups["group_id"].tolist() == list(range(len(workload.groups)))
    assert workload.messages["message_id"].tolist() == list(
        range(len(workload.messages))
    )
    conversations = pd.concat(
        [workload.friendships["conversation_id"], workload.groups["conversation_id"]]
    )
    assert conversations.is_unique


def test_every_user_has_a_device(workload):
    devices = workload.devices
    assert set(devices["user_id"]) == set(workload.users["user_id"])
    assert not devices.duplicated(["user_id", "platform"]).any()


def test_friendships_are_ordered_pairs(workload):
    friendships = workload.friendships
    assert (friendships["user_a"] < friendships["user_b"]).all()
    assert not friendships.duplicated(["user_a", "user_b"]).any()
    assert friendships["user_b"].max() < len(workload.users)


def test_group_members_match_sizes(workload):
    groups = workload.groups.set_index("group_id")
    members = workload.members
    counts = members.groupby("group_id").size()
    assert (
        counts.reindex(groups.index, fill_value=0).tolist() == groups["size"].tolist()
    )
    assert not members.duplicated(["group_id", "user_id"]).any()
    by_group = members.drop_duplicates("group_id").set_index("group_id")
    assert (by_group["conversation_id"] == groups["conversation_id"]).all()


def test_group_sizes_respect_cap(workload):
    spec = SPECS[workload.name]
    groups = workload.groups
    ordinary = groups.loc[~groups["is_large"], "size"]
    large = groups.loc[groups["is_large"], "size"]
    assert ordinary.min() >= spec.group_size_min
    assert ordinary.max() <= spec.group_size_cap
    low, high = spec.large_group_sizes
    assert large.between(low, high).all()


def test_timestamps_sorted_within_week(workload):
    sent_at = workload.messages["sent_at"]
    assert sent_at.is_monotonic_increasing
    assert sent_at.min() >= 0
    assert sent_at.max() < WEEK_SECONDS


def test_senders_are_members(workload):
    messages = workload.messages
    pairs = pd.concat(
        [
            workload.friendships.rename(columns={"user_a": "sender_id"})[
                ["conversation_id", "sender_id"]
            ],
            workload.friendships.rename(columns={"user_b": "sender_id"})[
                ["conversation_id", "sender_id"]
            ],
            workload.members.rename(columns={"user_id": "sender_id"})[
                ["conversation_id", "sender_id"]
            ],
        ]
    )
    joined = messages.merge(
        pairs, on=["conversation_id", "sender_id"], how="left", indicator=True
    )
    assert len(joined) == len(messages)
    assert (joined["_merge"] == "both").all()


def test_message_kind_matches_conversation(workload):
    messages = workload.messages
    is_group = messages["conversation_id"].isin(workload.groups["conversation_id"])
    assert ((messages["kind"] == "group") == is_group).all()


def test_message_sizes_positive(workload):
    messages = workload.messages
    assert (messages["size_bytes"] > 0).all()
    is_text = messages["content_type"] == "text"
    assert (messages.loc[is_text, "media_bytes"] == 0).all()
    assert (messages.loc[~is_text, "media_bytes"] > 0).all()


def test_tiny_regenerates_identically():
    fresh = generate("tiny", progress=False)
    for table in TABLES:
        stored = gzip.decompress((DATA_DIR / "tiny" / f"{table}.csv.gz").read_bytes())
        assert csv_text(fresh, table) == stored.decode("utf-8"), table


def test_generated_equals_loaded():
    fresh = generate("tiny", progress=False)
    stored = load("tiny")
    for table in TABLES:
        pd.testing.assert_frame_equal(getattr(fresh, table), getattr(stored, table))


def test_written_gzip_is_reproducible(tmp_path):
    fresh = generate("tiny", progress=False)
    first = write_workload(fresh, tmp_path / "a" / "tiny")
    second = write_workload(fresh, tmp_path / "b" / "tiny")
    for one, two in zip(first, second, strict=True):
        assert one.read_bytes() == two.read_bytes()
    assert load("tiny", data_dir=tmp_path / "a").messages.equals(fresh.messages)


def test_load_unknown_name_raises():
    with pytest.raises(WorkloadError) as caught:
        load("huge")
    message = str(caught.value)
    assert "'huge'" in message
    assert "'tiny'" in message
    assert "'default'" in message
    assert isinstance(caught.value, ValueError)


def test_load_missing_file_names_fix(tmp_path):
    with pytest.raises(WorkloadError, match="imref workload tiny"):
        load("tiny", data_dir=tmp_path)


def test_load_wrong_columns_raises(tmp_path):
    write_workload(generate("tiny", progress=False), tmp_path / "tiny")
    with gzip.open(tmp_path / "tiny" / "users.csv.gz", "wt") as f:
        f.write("user,weight\n0,1.0\n")
    with pytest.raises(WorkloadError, match="expected \\['user_id', 'activity'\\]"):
        load("tiny", data_dir=tmp_path)


@pytest.fixture
def tiny_copy(tmp_path):
    """Return a data folder that contains a copy of the committed tiny workload."""
    shutil.copytree(DATA_DIR / "tiny", tmp_path / "tiny")
    return tmp_path


def replace_table(data_dir, table, data):
    (data_dir / "tiny" / f"{table}.csv.gz").write_bytes(data)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"user_id,activity\n0,1.0\n", "not a complete gzip file"),
        (gzip.compress(b"user_id,activity\n0,1.0\n")[:-6], "not a complete gzip"),
        (gzip.compress(b"user_id,activity\n0,\xff\n"), "not UTF-8"),
        (gzip.compress(b""), "columns \\[\\]"),
        (gzip.compress(b"user_id,activity\nabc,0.5\n"), "not of its column's type"),
        (gzip.compress(b"user_id,activity\n0,high\n"), "not of its column's type"),
        (gzip.compress(b"user_id,activity\n%d,1\n" % 2**70), "not of its column"),
    ],
    ids=["not-gzip", "truncated", "not-utf8", "empty", "bad-int", "bad-float", "huge"],
)
def test_load_malformed_file_raises(tiny_copy, data, reason):
    replace_table(tiny_copy, "users", data)
    with pytest.raises(WorkloadError, match=reason) as caught:
        load("tiny", data_dir=tiny_copy)
    message = str(caught.value)
    assert "users.csv.gz" in message
    assert "regenerate it with 'imref workload tiny'" in message


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("user_id,activity\n0,0.5,9,9\n1,1.5\n", "line 2 has 4 fields, expected 2"),
        ("user_id,activity\n0,0.5\n1,1.5,9\n", "line 3 has 3 fields, expected 2"),
        ("user_id,activity\n0,0.5\n1\n", "line 3 has 1 field, expected 2"),
        ("user_id,activity\n0,0.5\n\n1,1.5\n", "line 3 has 1 field, expected 2"),
        ("user_id,activity\n0,0.5\n1,\n", "line 3 has activity='', expected a value"),
    ],
    ids=["long-first-row", "long-row", "short-row", "blank-line", "missing-value"],
)
def test_load_rejects_bad_row(tiny_copy, text, problem):
    replace_table(tiny_copy, "users", gzip.compress(text.encode()))
    with pytest.raises(WorkloadError, match=problem):
        load("tiny", data_dir=tiny_copy)


def test_load_rejects_unknown_category(tiny_copy):
    text = "device_id,user_id,platform\n0,0,phone\n1,0,toaster\n"
    replace_table(tiny_copy, "devices", gzip.compress(text.encode()))
    with pytest.raises(WorkloadError, match="line 3 has platform='toaster'") as caught:
        load("tiny", data_dir=tiny_copy)
    assert "one of ['phone', 'tablet', 'desktop', 'web']" in str(caught.value)


def test_load_accepts_str_data_dir(tiny_copy):
    workload = load("tiny", data_dir=str(tiny_copy))
    assert workload.users.equals(load("tiny").users)
    with pytest.raises(WorkloadError, match="data_dir must be a str or a path"):
        load("tiny", data_dir=42)


def test_write_workload_into_file_raises(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(WorkloadError, match="cannot write workload 'tiny'"):
        write_workload(generate("tiny", progress=False), blocker / "tiny")


def test_cli_data_dir_file_exits_2(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert main(["workload", "-q", "tiny", "--data-dir", str(blocker)]) == 2
    err = capsys.readouterr().err
    assert f"--data-dir {str(blocker)!r} is not a folder" in err


def test_cli_check_corrupt_file_exits_2(tiny_copy, capsys):
    replace_table(tiny_copy, "users", b"not gzip")
    argv = ["workload", "-q", "--check", "tiny", "--data-dir", str(tiny_copy)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "users.csv.gz' is not a complete gzip file" in err
    assert "regenerate it with 'imref workload tiny'" in err


def test_cli_check_reports_difference(tmp_path, capsys):
    class Args:
        names = ["tiny"]
        data_dir = str(tmp_path)
        check = False
        quiet = True

    assert run_workload(Args) == 0
    Args.check = True
    assert run_workload(Args) == 0
    with gzip.GzipFile(tmp_path / "tiny" / "groups.csv.gz", "wb", mtime=0) as f:
        f.write(b"conversation_id,group_id,size,is_large\n")
    assert run_workload(Args) == 1
    assert "tiny/groups: DIFFERS" in capsys.readouterr().out


def test_workload_repr_is_one_line(workload):
    text = repr(workload)
    assert "\n" not in text
    assert f"{len(workload.users):,} users" in text


@pytest.fixture(scope="module")
def tiny() -> Workload:
    return load("tiny")


def test_messages_per_hour_covers_week(tiny):
    counts = messages_per_hour(tiny)
    assert len(counts) == 168
    assert counts.sum() == len(tiny.messages)
    first_hour = int((tiny.messages["sent_at"] < 3600).sum())
    assert counts.iloc[0] == first_hour


def test_peak_hour_matches_cycle():
    # 200,000 messages are enough for the drawn peak to land on the hour
    # whose rate is highest in HOURLY_RATE.
    default = load("default")
    busiest = max(range(24), key=lambda h: HOURLY_RATE[h])
    quietest = min(range(24), key=lambda h: HOURLY_RATE[h])
    assert peak_hour_of_day(default) == busiest
    assert quietest_hour_of_day(default) == quietest
    assert isinstance(peak_hour_of_day(default), int)


def test_devices_per_user_counts_every_user(tiny):
    counts = devices_per_user(tiny)
    assert counts.sum() == len(tiny.users)
    assert (counts.index * counts).sum() == len(tiny.devices)
    assert counts.index.min() >= 1
    assert counts.index.max() <= 4


def test_group_size_counts_sum(tiny):
    counts = group_size_counts(tiny)
    assert counts.sum() == len(tiny.groups)
    assert counts.index.is_monotonic_increasing


def test_groups_with_at_least_counts_down(tiny):
    at_least = groups_with_at_least(tiny)
    counts = group_size_counts(tiny)
    assert at_least.iloc[0] == len(tiny.groups)
    assert at_least.iloc[-1] == counts.iloc[-1]
    assert at_least.is_monotonic_decreasing
    assert list(at_least.index) == list(counts.index)


def _groups_of_sizes(sizes):
    return types.SimpleNamespace(groups=pd.DataFrame({"size": sizes}))


def test_group_size_slope_exact_power_law():
    # Groups with at least s members: 8, 4, 2, 1 for s = 1, 2, 4, 8.
    groups = _groups_of_sizes([1, 1, 1, 1, 2, 2, 4, 8])
    assert group_size_slope(groups, max_size=8) == pytest.approx(-1.0)


def test_group_size_slope_fits_up_to_cap():
    groups = _groups_of_sizes([1, 1, 1, 1, 2, 2, 4, 8, 1000, 1000, 1000])
    assert group_size_slope(groups, max_size=8) == pytest.approx(
        np.polyfit(np.log([1, 2, 4, 8]), np.log([11, 7, 5, 4]), 1)[0]
    )


def test_group_size_slope_needs_two_sizes():
    groups = _groups_of_sizes([3, 3, 5])
    with pytest.raises(WorkloadError, match="max_size 4 is invalid: 1 distinct"):
        group_size_slope(groups, max_size=4)


def test_plot_group_sizes_log_axes(tiny):
    fig = plot_group_sizes(tiny)
    try:
        (ax,) = fig.axes
        assert ax.get_xscale() == "log"
        assert ax.get_yscale() == "log"
        ordinary, large = ax.collections
        n_large_sizes = tiny.groups.loc[tiny.groups["is_large"], "size"].nunique()
        n_sizes = tiny.groups["size"].nunique()
        assert len(large.get_offsets()) == n_large_sizes
        assert len(ordinary.get_offsets()) == n_sizes - n_large_sizes
        lines = {line.get_label(): line for line in ax.get_lines()}
        cap = lines[f"cap ({SPECS['tiny'].group_size_cap})"]
        assert cap.get_xdata()[0] == SPECS["tiny"].group_size_cap
        assert "power law, slope -1" in lines
        assert ax.get_ylabel() == "groups with at least s members"
    finally:
        plt.close(fig)


def test_plot_group_sizes_counts_at_least(tiny):
    fig = plot_group_sizes(tiny)
    try:
        ordinary = fig.axes[0].collections[0]
        heights = ordinary.get_offsets()[:, 1]
        assert heights[0] == len(tiny.groups)
        assert (heights[1:] <= heights[:-1]).all()
    finally:
        plt.close(fig)


def test_plot_messages_per_hour_draws_week(tiny):
    fig = plot_messages_per_hour(tiny)
    try:
        (ax,) = fig.axes
        (stairs,) = ax.patches
        values = stairs.get_data().values
        assert len(values) == 168
        assert values.tolist() == messages_per_hour(tiny).tolist()
        labels = [t.get_text() for t in ax.get_xticklabels()]
        assert labels == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    finally:
        plt.close(fig)


def test_plot_devices_per_user_bars(tiny):
    fig = plot_devices_per_user(tiny)
    try:
        left, right = fig.axes
        heights = [p.get_height() for p in left.patches]
        assert heights == devices_per_user(tiny).tolist()
        assert len(right.patches) == 4
        assert sum(p.get_height() for p in right.patches) == len(tiny.devices)
    finally:
        plt.close(fig)


def test_top_conversation_share_by_hand(tiny):
    counts = tiny.messages["conversation_id"].value_counts()
    n_conversations = len(tiny.friendships) + len(tiny.groups)
    top = round(0.1 * n_conversations)
    expected = counts.nlargest(top).sum() / len(tiny.messages)
    assert top_conversation_share(tiny, 0.1) == pytest.approx(expected)
    assert top_conversation_share(tiny, 1.0) == pytest.approx(1.0)


@pytest.mark.parametrize("fraction", [0, -0.5, 1.5])
def test_top_conversation_share_rejects_fraction(tiny, fraction):
    with pytest.raises(WorkloadError, match=f"fraction {fraction!r} is invalid"):
        top_conversation_share(tiny, fraction)


def test_cli_unknown_name_exits_2(capsys):
    assert main(["workload", "--check", "huge"]) == 2
    err = capsys.readouterr().err
    assert "imref workload: error: unknown workload 'huge'" in err


def test_committed_files_under_20_mb():
    paths = sorted(DATA_DIR.glob("*/*.csv.gz"))
    assert len(paths) == len(NAMES) * len(TABLES)
    assert sum(path.stat().st_size for path in paths) < 20 * 1024 * 1024


def test_conversations_cover_messages(tiny):
    conversations = tiny.conversations()
    assert conversations["conversation_id"].tolist() == list(
        range(len(tiny.friendships) + len(tiny.groups))
    )
    assert (conversations.loc[conversations["kind"] == "single", "size"] == 2).all()
    sizes = conversations.set_index("conversation_id")["size"]
    group_sizes = tiny.groups.set_index("conversation_id")["size"]
    assert (sizes[group_sizes.index] == group_sizes).all()
    kinds = conversations.set_index("conversation_id")["kind"]
    messages = tiny.messages
    assert (kinds[messages["conversation_id"]].to_numpy() == messages["kind"]).all()


def test_conversation_members_match_sizes(tiny):
    members = tiny.conversation_members()
    counts = members.groupby("conversation_id").size()
    expected = tiny.conversations().set_index("conversation_id")["size"]
    assert counts.tolist() == expected.tolist()
    first = tiny.friendships.iloc[0]
    rows = members[members["conversation_id"] == first["conversation_id"]]
    assert rows["user_id"].tolist() == [first["user_a"], first["user_b"]]


@pytest.mark.parametrize(
    "change, fragment",
    [
        ({"n_users": 1}, "n_users=1 is invalid"),
        ({"friends_per_new_user": 200}, "friends_per_new_user=200 is invalid"),
        ({"triangle_probability": 1.5}, "triangle_probability=1.5 is invalid"),
        ({"n_large_groups": 21}, "n_large_groups=21 is invalid"),
        ({"group_size_cap": 2_000}, "group sizes 3 to 2000 are invalid"),
        ({"large_group_sizes": (30, 150)}, "large_group_sizes=(30, 150) is invalid"),
        ({"large_group_sizes": (60, 201)}, "large_group_sizes=(60, 201) is invalid"),
        ({"n_messages": 0}, "n_messages=0 is invalid"),
        ({"group_message_share": -0.1}, "group_message_share=-0.1 is invalid"),
        ({"activity_sigma": -1.0}, "must not be negative"),
    ],
)
def test_spec_rejects_invalid_parameter(change, fragment):
    with pytest.raises(WorkloadError) as caught:
        dataclasses.replace(SPECS["tiny"], **change)
    assert fragment in str(caught.value)
    assert "workload spec 'tiny'" in str(caught.value)


def test_generate_custom_spec_changes_only_messages():
    spec = dataclasses.replace(SPECS["tiny"], name="tiny-more", n_messages=500)
    custom = generate(spec, progress=False)
    tiny = generate("tiny", progress=False)
    assert len(custom.messages) == 500
    assert custom.name == "tiny-more"
    for table in ["users", "devices", "friendships", "groups", "members"]:
        pd.testing.assert_frame_equal(getattr(custom, table), getattr(tiny, table))


def test_messages_per_day_sums_hours(tiny):
    daily = messages_per_day(tiny)
    assert daily.index.tolist() == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    assert daily.sum() == len(tiny.messages)
    monday = int((tiny.messages["sent_at"] < 24 * 3600).sum())
    assert daily["Mon"] == monday


def test_silent_friendship_share_by_hand():
    friendships = pd.DataFrame(
        {
            "conversation_id": [0, 1, 2, 3],
            "user_a": [0, 0, 1, 2],
            "user_b": [1, 2, 2, 3],
        }
    )
    messages = pd.DataFrame({"conversation_id": [1, 1, 3]})
    empty = pd.DataFrame()
    workload = Workload("hand", empty, empty, friendships, empty, empty, messages)
    assert silent_friendship_share(workload) == 0.5


def test_cli_check_missing_data_dir_exits_2(tmp_path, capsys):
    from imref.cli import main

    missing = tmp_path / "missing"
    assert main(["workload", "--check", "-q", "--data-dir", str(missing), "tiny"]) == 2
    err = capsys.readouterr().err
    assert "not found" in err
    assert str(missing) in err
