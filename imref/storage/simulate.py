"""Replay the recorded workload through the real store and count what it does.

``replay`` loads the workload's users and conversations into a fresh
``MessageStore`` and sends a slice of its messages in order. After every
``sync_every`` messages, and once more after the last message, a fixed sample
of users syncs until complete. It counts SQLite statements (with
``sqlite3``'s trace callback), rows in the message and inbox tables, sync
calls and items, and measures time. It also
predicts every count from ``imref.storage.costs`` and the workload's group
sizes alone, so ``ReplayResult.disagreements()`` lists any count where the
model and the store differ. The counts are exact, so the tolerance is zero.
The times include the trace callback, which runs once per statement. For
sends to a single chat its cost was below the run-to-run noise of about 10%.

Workload ids start at 0; the store's ids start at 1, so every user and
conversation id is shifted by one on the way in.
"""

from __future__ import annotations

import logging
import math
import sqlite3
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from imref.storage.costs import SYNC_STATEMENTS, send_cost
from imref.storage.errors import InvalidArgumentError
from imref.storage.store import MessageStore

logger = logging.getLogger("imref.storage")

# The store's message types for the workload's content types.
CONTENT_TYPE_MAP = {
    "text": "text",
    "image": "image",
    "voice": "audio",
    "video": "video",
    "file": "file",
}
SYNC_LIMIT = 100


@dataclass(frozen=True)
class ReplayResult:
    """Counts, predictions and times of one replay in one fan-out mode."""

    mode: str
    threshold: int | None
    messages: int
    send_seconds: float
    send_statements: int
    rows_written: int
    inbox_rows: int
    predicted_send_statements: int
    predicted_rows_written: int
    predicted_inbox_rows: int
    syncs: int
    sync_items: int
    sync_seconds: float
    sync_statements: int
    predicted_syncs: int
    predicted_sync_items: int
    predicted_sync_statements: int

    def __repr__(self) -> str:
        # Counts only: the times change from run to run, and a notebook that
        # shows this repr must regenerate to the same file.
        return (
            f"ReplayResult({self.mode}, threshold={self.threshold}, "
            f"{self.messages:,} messages, {self.rows_written:,} rows, "
            f"{self.syncs:,} syncs)"
        )

    def timings(self) -> str:
        """Format the measured mean time per send and per sync, in microseconds."""
        per_send = self.send_seconds * 1e6 / max(self.messages, 1)
        per_sync = self.sync_seconds * 1e6 / max(self.syncs, 1)
        return f"{per_send:.0f} us/send, {per_sync:.0f} us/sync"

    def disagreements(self) -> dict[str, tuple[int, int]]:
        """Return ``{count: (measured, predicted)}`` for each count that differs."""
        values = asdict(self)
        differ = {}
        for name, value in values.items():
            predicted = values.get(f"predicted_{name}")
            if name.startswith("predicted_") or predicted is None:
                continue
            if value != predicted:
                differ[name] = (value, predicted)
        return differ


class _StatementCounter:
    """Count the statements a connection runs, by phase, via its trace callback."""

    def __init__(self) -> None:
        self.phase = "setup"
        self.counts = {"setup": 0, "send": 0, "sync": 0}

    def __call__(self, statement: str) -> None:
        self.counts[self.phase] += 1


def import_workload(store: MessageStore, workload) -> None:
    """Insert every user, single chat and group of ``workload`` into ``store``."""
    friendships = workload.friendships
    members = workload.members.groupby("conversation_id")["user_id"].apply(list)
    store.import_directory(
        (int(user) + 1 for user in workload.users["user_id"]),
        (
            (int(c) + 1, int(a) + 1, int(b) + 1)
            for c, a, b in friendships[
                ["conversation_id", "user_a", "user_b"]
            ].itertuples(index=False)
        ),
        (
            (int(conversation) + 1, [int(user) + 1 for user in users])
            for conversation, users in members.items()
        ),
    )


def sample_syncing_users(workload, count: int, seed: int) -> np.ndarray:
    """Return ``count`` workload user ids drawn by activity, without repeats."""
    users = workload.users
    weights = users["activity"].to_numpy()
    rng = np.random.default_rng(seed)
    count = min(count, len(users))
    chosen = rng.choice(
        len(users), size=count, replace=False, p=weights / weights.sum()
    )
    return np.sort(users["user_id"].to_numpy()[chosen])


def replay(
    workload,
    mode: str,
    *,
    threshold: int | None = None,
    messages: int | None = None,
    sync_every: int = 1000,
    sync_users: int = 50,
    seed: int = 0,
    folder: str | Path | None = None,
    progress: bool = False,
) -> ReplayResult:
    """Replay the first ``messages`` messages of ``workload`` in one mode.

    The store lives in a new file in ``folder``, or in a temporary folder
    that is removed afterwards.

    Raises:
        InvalidArgumentError: an unknown mode, hybrid without a threshold, or
            a non-positive ``sync_every``.
    """
    if mode == "hybrid" and threshold is None:
        raise InvalidArgumentError("hybrid replay needs a threshold; pass threshold=")
    if sync_every < 1:
        raise InvalidArgumentError(
            f"sync_every {sync_every!r} is invalid; pass a message count of at least 1"
        )
    if folder is None:
        with tempfile.TemporaryDirectory(prefix="imref-replay-") as tmp:
            return replay(
                workload, mode, threshold=threshold, messages=messages,
                sync_every=sync_every, sync_users=sync_users, seed=seed,
                folder=tmp, progress=progress,
            )  # fmt: skip

    frame = workload.messages if messages is None else workload.messages[:messages]
    path = Path(folder) / f"replay-{mode}-{threshold}.db"
    path.unlink(missing_ok=True)
    store = MessageStore(
        path, mode, hybrid_threshold=threshold or 1, max_content_bytes=1 << 20
    )
    try:
        return _run(
            store, workload, frame, mode, threshold, sync_every, sync_users, seed,
            progress,
        )  # fmt: skip
    finally:
        store.close()


def _run(
    store: MessageStore,
    workload,
    frame: pd.DataFrame,
    mode: str,
    threshold: int | None,
    sync_every: int,
    sync_users: int,
    seed: int,
    progress: bool,
) -> ReplayResult:
    import_workload(store, workload)
    sizes = workload.conversations().set_index("conversation_id")["size"]
    syncing = sample_syncing_users(workload, sync_users, seed)
    member_sets = _member_sets(workload, syncing)

    counter = _StatementCounter()
    conn = store._connection()  # the replay runs in this thread only
    conn.set_trace_callback(counter)
    cursors = {int(user): store.sync(int(user) + 1).cursor for user in syncing}

    send_seconds = sync_seconds = 0.0
    syncs = sync_items = 0
    predicted = {"statements": 0, "rows": 0, "inbox": 0, "syncs": 0, "items": 0}
    pending = dict.fromkeys(cursors, 0)  # messages each syncing user will fetch
    rows = frame[["conversation_id", "sender_id", "size_bytes", "content_type"]]
    iterator = rows.itertuples(index=False)
    if progress:
        iterator = tqdm(iterator, total=len(rows), desc=f"replay {mode}", unit="msg")
    for index, (conversation, sender, size, content_type) in enumerate(iterator, 1):
        cost = send_cost(mode, int(sizes[conversation]), threshold)
        predicted["statements"] += cost.statements
        predicted["rows"] += cost.rows_written
        predicted["inbox"] += cost.inbox_rows
        for user, conversations in member_sets.items():
            if conversation in conversations:
                pending[user] += 1

        counter.phase = "send"
        start = time.perf_counter()
        store.send(
            int(sender) + 1,
            int(conversation) + 1,
            "x" * max(int(size), 1),
            type=CONTENT_TYPE_MAP[str(content_type)],
        )
        send_seconds += time.perf_counter() - start

        if index % sync_every == 0 or index == len(rows):
            counter.phase = "sync"
            for user, cursor in cursors.items():
                predicted["syncs"] += max(1, math.ceil(pending[user] / SYNC_LIMIT))
                predicted["items"] += pending[user]
                pending[user] = 0
                start = time.perf_counter()
                while True:
                    result = store.sync(user + 1, cursor, limit=SYNC_LIMIT)
                    syncs += 1
                    sync_items += len(result.items)
                    cursor = result.cursor
                    if result.complete:
                        break
                sync_seconds += time.perf_counter() - start
                cursors[user] = cursor
    conn.set_trace_callback(None)

    with sqlite3.connect(store.path) as check:
        message_rows = check.execute("SELECT count(*) FROM messages").fetchone()[0]
        inbox_rows = check.execute("SELECT count(*) FROM inbox").fetchone()[0]
    result = ReplayResult(
        mode=mode,
        threshold=threshold,
        messages=len(rows),
        send_seconds=send_seconds,
        send_statements=counter.counts["send"],
        rows_written=message_rows + inbox_rows,
        inbox_rows=inbox_rows,
        predicted_send_statements=predicted["statements"],
        predicted_rows_written=predicted["rows"],
        predicted_inbox_rows=predicted["inbox"],
        syncs=syncs,
        sync_items=sync_items,
        sync_seconds=sync_seconds,
        sync_statements=counter.counts["sync"],
        predicted_syncs=predicted["syncs"],
        predicted_sync_items=predicted["items"],
        predicted_sync_statements=predicted["syncs"] * SYNC_STATEMENTS,
    )
    logger.info("replayed %r", result)
    return result


def _member_sets(workload, users: Sequence[int]) -> dict[int, set[int]]:
    """Return the conversation ids of each user in ``users``."""
    members = workload.conversation_members()
    members = members[members["user_id"].isin(users)]
    sets = {int(user): set() for user in users}
    for conversation, user in members[["conversation_id", "user_id"]].itertuples(
        index=False
    ):
        sets[int(user)].add(int(conversation))
    return sets


def sweep(
    workload,
    thresholds: Sequence[int],
    *,
    messages: int | None = None,
    sync_every: int = 1000,
    sync_users: int = 50,
    seed: int = 0,
    progress: bool = False,
) -> pd.DataFrame:
    """Replay once per hybrid threshold, plus pure write and read, as a table."""
    runs = [("write", None), ("read", None)]
    runs += [("hybrid", threshold) for threshold in thresholds]
    rows = []
    for mode, threshold in tqdm(runs, desc="sweep", disable=not progress):
        result = replay(
            workload, mode, threshold=threshold, messages=messages,
            sync_every=sync_every, sync_users=sync_users, seed=seed,
        )  # fmt: skip
        rows.append(asdict(result))
    return pd.DataFrame(rows)
