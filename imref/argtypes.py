"""Argument types shared by the ``imref`` subcommands, for argparse's ``type=``."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def port(text: str) -> int:
    """Parse a TCP port number, 0 meaning any free port."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(
            f"invalid port {text!r}; pass a number from 1 to 65535, or 0 for any "
            "free port"
        )
    return value


def positive_int(name: str, unit: str) -> Callable[[str], int]:
    """Return a parser of whole numbers of at least 1, named in its error message.

    For example ``positive_int("timeout", "seconds")`` rejects "0" with
    "invalid timeout '0'; pass a whole number of seconds, at least 1".
    """

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = 0
        if value < 1:
            raise argparse.ArgumentTypeError(
                f"invalid {name} {text!r}; pass a whole number of {unit}, at least 1"
            )
        return value

    return parse
