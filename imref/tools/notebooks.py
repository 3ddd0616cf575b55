"""``imref notebooks``: execute every notebook headless, or regenerate outputs."""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from imref import ImrefError, argtypes
from imref.tools.paths import NOTEBOOKS_DIR, notebook_paths

logger = logging.getLogger("imref.tools.notebooks")

DESCRIPTION = """\
'imref notebooks run' executes each notebook into a scratch folder (or
--output-dir) and leaves the committed files untouched. It also catches an
unknown %magic, which nbval lets pass.

'imref notebooks regenerate' executes each notebook in place with timing
records off, then strips volatile metadata with 'nbstripout --keep-output
--keep-count', so a regenerated notebook differs from the committed one only
where its outputs changed.
"""


def _select(names: list[str]) -> list[Path]:
    paths = notebook_paths()
    if not names:
        return paths
    chosen = []
    for name in names:
        # Accept "01_load_balancing", "01_load_balancing.ipynb" and a path
        # such as "notebooks/01_load_balancing.ipynb".
        wanted = Path(name).name
        matches = [p for p in paths if wanted in (p.name, p.stem)]
        if not matches:
            known = ", ".join(p.stem for p in paths)
            raise ImrefError(f"notebook {name!r} not found; choose from: {known}")
        chosen.extend(matches)
    return chosen


def _execute(path: Path, output_path: Path, timeout: int) -> None:
    """Execute ``path`` in a new python3 kernel and write the result to ``output_path``.

    Raises:
        ImrefError: a cell raised or ran longer than ``timeout`` seconds; the
            message names the cell by its index and its first line.
    """
    # Imported here so that ``imref --help`` does not load Jupyter.
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError

    notebook = nbformat.read(path, as_version=4)
    current = {"index": None}
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        record_timing=False,
        resources={"metadata": {"path": str(NOTEBOOKS_DIR)}},
        on_cell_start=lambda cell, cell_index: current.update(index=cell_index),
    )
    # The kernel inherits this environment: figures render inline as PNG,
    # whatever MPLBACKEND the caller's shell sets.
    saved = os.environ.get("MPLBACKEND")
    os.environ["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    try:
        # The kernel process's own stderr carries only start-up notices (its
        # cells' output arrives over Jupyter messages), so it is dropped.
        client.execute(stderr=subprocess.DEVNULL)
    except (CellExecutionError, CellTimeoutError) as exc:
        index = current["index"]
        source = notebook.cells[index].source if index is not None else ""
        first_line = source.splitlines()[0] if source else ""
        reason = (
            f"ran longer than {timeout} s"
            if isinstance(exc, CellTimeoutError)
            else "raised an exception"
        )
        detail = str(exc).strip().splitlines()[-1] if str(exc).strip() else ""
        raise ImrefError(
            f"notebook {path.name!r}: cell {index} ({first_line!r}) {reason}: "
            f"{detail}; open the notebook in JupyterLab to see the whole traceback"
        ) from None
    finally:
        if saved is None:
            del os.environ["MPLBACKEND"]
        else:
            os.environ["MPLBACKEND"] = saved
    nbformat.write(notebook, output_path)


def _strip(path: Path) -> None:
    argv = [sys.executable, "-m", "nbstripout", "--keep-output", "--keep-count"]
    subprocess.run([*argv, str(path)], check=True)


def run_notebooks(args: argparse.Namespace) -> int:
    """Execute the chosen notebooks, in place when regenerating."""
    paths = _select(args.names)
    with tempfile.TemporaryDirectory(prefix="imref-notebooks-") as scratch:
        output_dir = Path(args.output_dir or scratch)
        if args.action == "run" and args.output_dir:
            output_dir.mkdir(parents=True, exist_ok=True)
        for path in paths:
            started = time.perf_counter()
            if args.action == "regenerate":
                _execute(path, path, args.timeout)
                _strip(path)
            else:
                _execute(path, output_dir / path.name, args.timeout)
            elapsed = time.perf_counter() - started
            logger.info("executed %s in %.1f s (%s)", path.name, elapsed, args.action)
            print(f"{path.name}: ok in {elapsed:.1f} s")
        if args.action == "run" and not args.output_dir:
            print("the executed copies were discarded; pass --output-dir to keep them")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "notebooks",
        help="execute the notebooks headless or regenerate their stored outputs",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "action",
        metavar="ACTION",
        choices=["run", "regenerate"],
        help="run: execute into a scratch folder; regenerate: execute in place",
    )
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help="notebook names, such as 01_load_balancing (default: every notebook)",
    )
    parser.add_argument(
        "--output-dir",
        metavar="DIR",
        help="with run: write the executed notebooks to DIR instead of discarding them",
    )
    parser.add_argument(
        "--timeout",
        type=argtypes.positive_int("timeout", "seconds"),
        default=120,
        help="seconds one cell may run before it fails (default 120)",
    )
    parser.set_defaults(func=run_notebooks)
