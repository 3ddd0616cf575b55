"""``imref lab``: open the notebooks in JupyterLab on 127.0.0.1."""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import subprocess
import sys

from imref import argtypes
from imref.tools.paths import NOTEBOOKS_DIR, REPO_ROOT

logger = logging.getLogger("imref.tools.lab")

FIRST_NOTEBOOK = "00_start_here.ipynb"


def lab_command(*, port: int = 8888, open_browser: bool = True) -> list[str]:
    """Return the argv that starts JupyterLab on the first notebook.

    The server binds 127.0.0.1 only. JupyterLab refuses to run as root without
    ``--allow-root``, so the flag is added when the effective user is root, as
    in most containers.
    """
    argv = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--ip=127.0.0.1",
        f"--port={port}",
        f"--notebook-dir={NOTEBOOKS_DIR}",
        # Opens the notebook in the browser tab; the path is relative to the
        # notebook folder.
        f"--LabApp.default_url=/lab/tree/{FIRST_NOTEBOOK}",
    ]
    if not open_browser:
        argv.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        argv.append("--allow-root")
    return argv


def run_lab(args: argparse.Namespace) -> int:
    """Start JupyterLab, or print the command with ``--dry-run``."""
    argv = lab_command(port=args.port, open_browser=not args.no_browser)
    if args.dry_run:
        print(shlex.join(argv))
        return 0
    logger.info("starting JupyterLab: %s", shlex.join(argv))
    # MPLBACKEND is left alone: the notebook kernel picks the inline backend.
    return subprocess.call(argv, cwd=REPO_ROOT)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "lab",
        help="open the notebooks in JupyterLab",
        description=(
            f"Start JupyterLab on 127.0.0.1 with notebooks/{FIRST_NOTEBOOK} open. "
            "Adds --allow-root when run as root."
        ),
    )
    parser.add_argument(
        "--port",
        type=argtypes.port,
        default=8888,
        help="TCP port to listen on; 0 picks a free one (default 8888)",
    )
    parser.add_argument(
        "--no-browser", action="store_true", help="do not open a web browser"
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print the command instead of running it"
    )
    parser.set_defaults(func=run_lab)
