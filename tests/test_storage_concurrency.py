"""Seq allocation under concurrent writers: threads and processes on one file."""

import multiprocessing
import sqlite3
import threading

import pytest

from imref.storage import MessageStore

WRITERS = 4
SENDS_PER_WRITER = 500


def _send_from_process(path, mode, sender, conversation, count, barrier):
    """Send ``count`` messages from a fresh store in a child process."""
    store = MessageStore(path, mode, hybrid_threshold=2, busy_timeout=30)
    # Start together, so that the writers contend for the lock.
    barrier.wait(timeout=60)
    for i in range(count):
        store.send(sender, conversation, f"{sender}:{i}", client_msg_id=f"{i}")
    store.close()


def make_group(path, mode):
    store = MessageStore(path, mode, hybrid_threshold=2, busy_timeout=30)
    users = [store.create_user() for _ in range(WRITERS)]
    group = store.create_group(users[0], users[1:])
    return store, users, group


def check_conversation(path, group, users, mode):
    """Check seqs 1..N, per-sender order and, on write, per-user inbox seqs.

    Returns how often the sender changes from one seq to the next.
    """
    total = WRITERS * SENDS_PER_WRITER
    with sqlite3.connect(path) as conn:
        rows = conn.execute(
            "SELECT seq, sender_id, content FROM messages "
            "WHERE conversation_id = ? ORDER BY message_id",
            (group,),
        ).fetchall()
        last_seq = conn.execute(
            "SELECT max(seq) FROM messages WHERE conversation_id = ?", (group,)
        ).fetchone()[0]
        inbox = {
            user: [
                seq
                for (seq,) in conn.execute(
                    "SELECT user_seq FROM inbox WHERE user_id = ? ORDER BY user_seq",
                    (user,),
                )
            ]
            for user in users
        }

    assert [seq for seq, _, _ in rows] == list(range(1, total + 1))
    assert last_seq == total
    for user in users:
        sent = [content for _, sender, content in rows if sender == user]
        assert sent == [f"{user}:{i}" for i in range(SENDS_PER_WRITER)]
        expected_inbox = list(range(1, total + 1)) if mode == "write" else []
        assert inbox[user] == expected_inbox
    senders = [sender for _, sender, _ in rows]
    return sum(a != b for a, b in zip(senders, senders[1:], strict=False))


@pytest.mark.parametrize("mode", ["write", "read"])
def test_processes_allocate_seqs_without_gaps(tmp_path, mode):
    path = str(tmp_path / "chat.db")
    store, users, group = make_group(path, mode)
    store.close()
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(WRITERS)
    processes = [
        context.Process(
            target=_send_from_process,
            args=(path, mode, user, group, SENDS_PER_WRITER, barrier),
        )
        for user in users
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)

    assert [p.exitcode for p in processes] == [0] * WRITERS
    switches = check_conversation(path, group, users, mode)
    # The writers interleaved, so the lock was contended.
    assert switches >= WRITERS


@pytest.mark.parametrize("mode", ["write", "read", "hybrid"])
def test_threads_allocate_seqs_without_gaps(tmp_path, mode):
    """Writers in threads share one store; a reader never sees a gap."""
    path = str(tmp_path / "chat.db")
    store, users, group = make_group(path, mode)
    errors = []
    done = threading.Event()
    reader_seqs = []

    def write(sender):
        try:
            for i in range(SENDS_PER_WRITER):
                store.send(sender, group, f"{sender}:{i}")
        except Exception as exc:  # reported by the assert below
            errors.append(exc)

    def read():
        cursor = None
        try:
            while True:
                finished = done.is_set()
                result = store.sync(users[0], cursor, limit=50)
                reader_seqs.extend(item.seq for item in result.items)
                cursor = result.cursor
                if finished and result.complete:
                    return
        except Exception as exc:  # reported by the assert below
            errors.append(exc)

    writers = [threading.Thread(target=write, args=(user,)) for user in users]
    reader = threading.Thread(target=read)
    reader.start()
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()
    done.set()
    reader.join()
    store.close()

    assert errors == []
    # The reader saw every seq exactly once and in order while writers ran.
    assert reader_seqs == list(range(1, WRITERS * SENDS_PER_WRITER + 1))
    check_conversation(path, group, users, "read" if mode != "write" else "write")


def _open_new_file(path, barrier, user_id):
    """Open a file that may not exist yet, at the same time as other processes."""
    barrier.wait(timeout=60)
    store = MessageStore(path, busy_timeout=30)
    store.create_user(user_id)
    store.close()


def test_processes_create_one_schema(tmp_path):
    path = str(tmp_path / "new.db")
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(WRITERS)
    processes = [
        context.Process(target=_open_new_file, args=(path, barrier, user + 1))
        for user in range(WRITERS)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)

    assert [p.exitcode for p in processes] == [0] * WRITERS
    with sqlite3.connect(path) as conn:
        users = [u for (u,) in conn.execute("SELECT user_id FROM users ORDER BY 1")]
        keys = conn.execute("SELECT count(*) FROM meta").fetchone()[0]
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    assert users == list(range(1, WRITERS + 1))
    assert keys == 1
    assert mode == "wal"
