"""Time generating, writing and loading the default workload.

The target is generation well under a minute. The baseline is loading the
stored files with ``imref.workload.load``, measured in the same run, so the
ratio column holds on other machines even where the seconds do not.

Run from the repository root: ``python bench/workload.py [--repeat N]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from imref.workload import generate, load, write_workload


def best_of(repeat: int, function) -> float:
    """Return the shortest wall-clock time in seconds of ``repeat`` calls."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs per step; the best counts"
    )
    args = parser.parse_args()

    workload = generate("default", progress=False)
    with tempfile.TemporaryDirectory(prefix="imref-bench-") as scratch:
        directory = Path(scratch) / "default"
        rows = [
            ("load (baseline)", best_of(args.repeat, lambda: load("default"))),
            (
                "generate",
                best_of(args.repeat, lambda: generate("default", progress=False)),
            ),
            (
                "write gzip CSV",
                best_of(args.repeat, lambda: write_workload(workload, directory)),
            ),
        ]
    baseline = rows[0][1]
    print(
        f"default workload: {len(workload.messages):,} messages, best of {args.repeat}"
    )
    print(f"{'step':<16} {'seconds':>8} {'x load':>8}")
    for step, seconds in rows:
        print(f"{step:<16} {seconds:>8.2f} {seconds / baseline:>8.1f}")


if __name__ == "__main__":
    main()
