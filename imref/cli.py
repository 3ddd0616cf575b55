"""The ``imref`` command line.

Each chapter contributes its subcommands from a module listed in
``COMMAND_MODULES``. Such a module defines ``register(subparsers)``, which adds
parsers whose ``func`` default takes the parsed arguments and returns an exit
status. Modules import their heavy dependencies inside ``func`` so that
``imref --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from imref import ImrefError, __version__

COMMAND_MODULES = (
    "imref.tools.lab",
    "imref.tools.notebooks",
    "imref.storage.cli",
    "imref.workload.cli",
    "imref.auth.cli",
)


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every chapter's subcommands."""
    parser = argparse.ArgumentParser(
        prog="imref",
        description="Run imref's notebooks, tools and demos.",
    )
    parser.add_argument("--version", action="version", version=f"imref {__version__}")
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="log INFO records to stderr; give it twice for DEBUG",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv``, run the chosen subcommand and return its exit status."""
    args = build_parser().parse_args(argv)
    if args.verbose:
        level = logging.DEBUG if args.verbose > 1 else logging.INFO
        logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except ImrefError as exc:
        print(f"imref {args.command}: error: {exc}", file=sys.stderr)
        return 2
