"""Self-checks for the exercises of notebook 05, naming common wrong answers."""

from __future__ import annotations

import numbers

from imref.exercises import CheckResult


def _normalise_count(answer: object) -> object:
    # A count may arrive as an int, a whole float or a string such as " 201".
    # bool is left alone, because True would otherwise count as the number 1.
    if isinstance(answer, bool):
        return answer
    if isinstance(answer, str):
        text = answer.strip()
        try:
            return int(text)
        except ValueError:
            try:
                answer = float(text)
            except ValueError:
                return answer
    if isinstance(answer, numbers.Real) and float(answer).is_integer():
        return int(answer)
    return answer


def _normalise_mode(answer: object) -> object:
    if isinstance(answer, str):
        return answer.strip().lower()
    return answer


def _verdict(
    answer: object, expected: object, mistakes: dict, hint: str
) -> CheckResult:
    if isinstance(answer, bool):
        return CheckResult(False, None, f"{answer!r} is a bool, not an answer; {hint}")
    if answer == expected:
        return CheckResult(True, None, f"{answer!r} is right")
    for wrong, (name, why) in mistakes.items():
        if answer == wrong:
            return CheckResult(False, name, why)
    return CheckResult(False, None, f"{answer!r} is not right; {hint}")


def check_rows_written(answer: object, group_size: int = 200) -> CheckResult:
    """Check the rows one message to ``group_size`` members writes on write fan-out."""
    mistakes = {
        group_size: (
            "forgot_message_row",
            "the inbox rows are right, but the message body is stored once too",
        ),
        1: (
            "counted_fanout_on_read",
            "one row is fan-out on read; fan-out on write adds a row per member",
        ),
        2 * group_size: (
            "counted_rows_twice",
            "each member gets one inbox row, not two",
        ),
    }
    return _verdict(
        _normalise_count(answer),
        1 + group_size,
        mistakes,
        "count the message row and the inbox rows",
    )


def check_sync_seeks(
    answer: object, conversations: int = 30, new_messages: int = 5
) -> CheckResult:
    """Check the timeline seeks of one sync on read fan-out."""
    mistakes = {
        new_messages: (
            "counted_messages",
            "fan-out on read seeks into every conversation, not only those with news",
        ),
        1: (
            "counted_fanout_on_write",
            "one seek is the inbox of fan-out on write",
        ),
    }
    return _verdict(
        _normalise_count(answer),
        conversations,
        mistakes,
        "count the conversations that the user reads on sync",
    )


def check_devices_mode(answer: object) -> CheckResult:
    """Check which fan-out mode delivers a message to all of a user's online devices."""
    mistakes = {
        "read": (
            "devices_as_read_fanout",
            "a common misconception: fan-out on read is about where members read "
            "messages from, not about devices",
        ),
        "write": (
            "devices_as_write_fanout",
            "fan-out on write is about inbox rows per member, not about devices",
        ),
    }
    return _verdict(
        _normalise_mode(answer),
        "both",
        mistakes,
        "answer 'read', 'write' or 'both'",
    )
