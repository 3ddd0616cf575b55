"""``imref notebooks``: execute every notebook headless, or regenerate outputs.

``imref notebooks run`` executes each notebook into a scratch folder and
leaves the committed files untouched: a check that also catches unknown
``%magics``, which nbval lets pass. ``imref notebooks regenerate`` executes
each notebook in place with timing records off, then strips volatile metadata
with ``nbstripout --keep-output --keep-count``, so a regenerated notebook
differs from the committed one only where its outputs changed.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from imref import ImrefError
from imref.tools.paths import NOTEBOOKS_DIR, notebook_paths

logger = logging.getLogger("imref.tools.notebooks")


def _select(names: list[str]) -> list[Path]:
    paths = notebook_paths()
    if not names:
        return paths
    chosen = []
    for name in names:
        matches = [p for p in paths if p.name == name or p.stem == name]
        if not matches:
            known = ", ".join(p.stem for p in paths)
            raise ImrefError(f"notebook {name!r} not found; choose from: {known}")
        chosen.extend(matches)
    return chosen


def _execute(path: Path, output_dir: Path | None, timeout: int) -> None:
    argv = [
        sys.executable,
        "-m",
        "jupyter",
        "nbconvert",
        "--to=notebook",
        "--execute",
        f"--ExecutePreprocessor.timeout={timeout}",
        "--ExecutePreprocessor.record_timing=False",
        "--ExecutePreprocessor.kernel_name=python3",
    ]
    if output_dir is None:
        argv.append("--inplace")
    else:
        argv.append(f"--output-dir={output_dir}")
    argv.append(str(path))
    env = dict(os.environ, MPLBACKEND="module://matplotlib_inline.backend_inline")
    result = subprocess.run(argv, cwd=NOTEBOOKS_DIR, env=env, capture_output=True)
    if result.returncode != 0:
        tail = result.stderr.decode("utf-8", "replace")[-3000:]
        raise ImrefError(f"notebook {path.name!r} failed to execute:\n{tail}")


def _strip(path: Path) -> None:
    argv = [sys.executable, "-m", "nbstripout", "--keep-output", "--keep-count"]
    subprocess.run([*argv, str(path)], check=True)


def run_notebooks(args: argparse.Namespace) -> int:
    """Execute the chosen notebooks, in place when regenerating."""
    paths = _select(args.names)
    with tempfile.TemporaryDirectory(prefix="imref-notebooks-") as scratch:
        for path in paths:
            started = time.perf_counter()
            if args.action == "regenerate":
                _execute(path, None, args.timeout)
                _strip(path)
            else:
                _execute(path, Path(scratch), args.timeout)
            elapsed = time.perf_counter() - started
            logger.info("executed %s in %.1f s (%s)", path.name, elapsed, args.action)
            print(f"{path.name}: ok in {elapsed:.1f} s")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "notebooks",
        help="execute the notebooks headless or regenerate their stored outputs",
        description=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "action",
        choices=["run", "regenerate"],
        help="run: execute into a scratch folder; regenerate: execute in place",
    )
    parser.add_argument(
        "names", nargs="*", help="notebook names or stems (default: every notebook)"
    )
    parser.add_argument(
        "--timeout",
        type=int,
        default=120,
        help="seconds one cell may run before it fails (default 120)",
    )
    parser.set_defaults(func=run_notebooks)
