"""Locations inside an imref checkout."""

from __future__ import annotations

from pathlib import Path

from imref import ImrefError

#: The checkout that holds the ``imref`` package (an editable install).
REPO_ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
DATA_DIR = REPO_ROOT / "data"


def notebook_paths() -> list[Path]:
    """Return every chapter notebook in reading order.

    Raises:
        ImrefError: the notebooks folder is missing, as in a non-editable
            install; clone the repository and install it with ``pip install -e``.
    """
    if not NOTEBOOKS_DIR.is_dir():
        raise ImrefError(
            f"notebooks folder not found at {str(NOTEBOOKS_DIR)!r}; clone the "
            "imref repository and install it with 'pip install -e .'"
        )
    return sorted(NOTEBOOKS_DIR.glob("[0-9][0-9]_*.ipynb"))
