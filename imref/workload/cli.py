"""``imref workload``: regenerate the recorded workloads in ``data/``.

Without names it regenerates every workload ("tiny" and "default"). With
--check it generates into memory and compares the CSV text with the
committed files instead of writing them.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def run_workload(args: argparse.Namespace) -> int:
    """Regenerate or check the chosen workloads, returning 1 if a check differs.

    Raises:
        WorkloadError: a name is unknown, ``--data-dir`` is not a folder, a
            stored file is malformed, or a file cannot be written.
    """
    from imref.tools.paths import DATA_DIR
    from imref.workload import (
        SPECS,
        TABLES,
        WorkloadError,
        csv_text,
        generate,
        write_workload,
    )
    from imref.workload.tables import check_name, read_table_bytes

    names = [check_name(name) for name in args.names] or list(SPECS)
    data_dir = Path(args.data_dir) if args.data_dir else DATA_DIR
    # Check before generating, which takes seconds for "default".
    if data_dir.exists() and not data_dir.is_dir():
        raise WorkloadError(
            f"--data-dir {str(data_dir)!r} is not a folder; give a folder, or a "
            "path that does not exist yet"
        )
    if args.check and not data_dir.is_dir():
        raise WorkloadError(
            f"--data-dir {str(data_dir)!r} not found, so there are no stored files "
            "to check; give the folder that contains the workloads"
        )
    status = 0
    for name in names:
        started = time.perf_counter()
        workload = generate(name, progress=not args.quiet)
        directory = data_dir / name
        if not args.check:
            write_workload(workload, directory)
            elapsed = time.perf_counter() - started
            print(
                f"{name}: wrote {len(TABLES)} tables to {directory} in {elapsed:.1f} s"
            )
            continue
        for table in TABLES:
            path = directory / f"{table}.csv.gz"
            # A missing file differs, but a corrupt one raises WorkloadError.
            stored = read_table_bytes(path).decode() if path.is_file() else None
            same = stored == csv_text(workload, table)
            print(f"{name}/{table}: {'same' if same else 'DIFFERS'}")
            status |= 0 if same else 1
    return status


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "workload",
        help="regenerate the recorded chat workloads in data/",
        description=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "names", nargs="*", help="workloads to regenerate: tiny, default (default: all)"
    )
    parser.add_argument(
        "--data-dir",
        help="folder with one subfolder per workload (default: data/ in the checkout)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="compare with the stored files instead of writing; exit 1 if any differs",
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true", help="hide the progress bar"
    )
    parser.set_defaults(func=run_workload)
