"""imref storage measure: regenerate the fan-out results that notebook 05 loads."""

from __future__ import annotations

import argparse

from imref import argtypes


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``storage`` command and its ``measure`` subcommand."""
    parser = subparsers.add_parser(
        "storage", help="chat storage and fan-out tools", description=__doc__
    )
    commands = parser.add_subparsers(
        dest="storage_command", metavar="SUBCOMMAND", required=True
    )
    measure = commands.add_parser(
        "measure",
        help="measure unit costs, model each hybrid threshold and replay a slice",
    )
    measure.add_argument(
        "--messages",
        type=argtypes.positive_int("count", "messages"),
        default=10_000,
        help="messages of the default workload to replay per mode (default 10000)",
    )
    measure.add_argument(
        "--output",
        default=None,
        help="folder for the result files, overwritten (default notebooks/results)",
    )
    measure.set_defaults(func=_measure)


def _measure(args: argparse.Namespace) -> int:
    from pathlib import Path

    from imref.storage.errors import InvalidArgumentError
    from imref.storage.tuning import RESULTS_PATH, measure_results, save_results
    from imref.workload import load

    # Check the folder first: measuring takes about a minute.
    output = Path(args.output or RESULTS_PATH)
    if output.exists() and not output.is_dir():
        raise InvalidArgumentError(
            f"--output {str(output)!r} is a file; give a folder, or a path that "
            "does not exist yet"
        )
    results = measure_results(load("default"), messages=args.messages, progress=True)
    folder = save_results(results, output)
    print(f"{results!r}")
    print(f"wrote {folder}")
    return 0
