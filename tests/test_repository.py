"""Checks on the repository itself: notebook hygiene, setup files, CI."""

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _tags(cell):
    return set(cell.get("metadata", {}).get("tags", []))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_hygiene(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    assert not path.name.startswith("test_")

    counts = []
    for index, cell in enumerate(nb["cells"]):
        where = f"{path.name} cell {index}"
        tags = _tags(cell)
        assert "execution" not in cell.get("metadata", {}), f"{where}: timing record"
        if "nbval-skip" in tags:
            assert "skip-execution" in tags, (
                f"{where}: nbval-skip without skip-execution"
            )
        if cell["cell_type"] != "code":
            continue
        assert cell.get("execution_count") is not None, f"{where}: not executed"
        counts.append(cell["execution_count"])
        if "raises-exception" not in tags:
            errors = [o for o in cell.get("outputs", []) if o["output_type"] == "error"]
            assert not errors, f"{where}: stored error output"
    assert counts == list(range(1, len(counts) + 1)), f"{path.name}: run out of order"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_markdown_one_sentence_per_line(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    for index, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "markdown":
            continue
        for line in "".join(cell["source"]).splitlines():
            if line.startswith(("|", "#", "    ", "```", "$")):
                continue
            # Two sentences on one line: a full stop, a space and a capital.
            assert not re.search(r"[a-z0-9)]\. [A-Z]", line), (
                f"{path.name} cell {index}: one sentence per line: {line!r}"
            )


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _requirement_name(spec: str) -> str:
    return re.split(r"[\s\[<>=!~;]", spec, maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_adds_no_dependency():
    text = (ROOT / "environment.yml").read_text(encoding="utf-8")
    conda = []
    pip = []
    in_pip = False
    section = None
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].rstrip()
        if re.match(r"^\w", line):
            section = line.rstrip(":")
            continue
        if section != "dependencies":
            continue
        item = re.match(r"^(\s*)- (.+)$", line)
        if not item:
            continue
        indent, value = len(item.group(1)), item.group(2).strip()
        if value == "pip:":
            in_pip = True
            continue
        if in_pip and indent > 2:
            pip.append(value)
        else:
            in_pip = False
            conda.append(value)
    assert sorted(_requirement_name(c) for c in conda) == ["pip", "python"]
    assert pip == ["-e .[dev]"]
    assert "conda-forge" in text


def test_environment_yml_python_matches_pyproject():
    text = (ROOT / "environment.yml").read_text(encoding="utf-8")
    requires = _pyproject()["project"]["requires-python"]
    assert requires == ">=3.11"
    assert re.search(r"- python\s*>=\s*3\.11", text)


def test_dependencies_declared_once():
    project = _pyproject()["project"]
    runtime = {_requirement_name(d) for d in project["dependencies"]}
    dev = {_requirement_name(d) for d in project["optional-dependencies"]["dev"]}
    assert not runtime & dev
    for name in ["aiohttp", "jupyterlab", "pandas", "networkx", "mmh3", "xxhash"]:
        assert name in runtime
    for name in ["pytest", "nbval", "hypothesis", "ruff", "nbstripout", "uhashring"]:
        assert name in dev


def _readme_command(marker: str) -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(rf"<!-- {marker} -->\s*```\w*\n(.+?)\n```", readme, re.S)
    assert found, f"README has no command after <!-- {marker} -->"
    return found.group(1).strip()


def test_readme_quick_start_has_two_commands():
    lab = _readme_command("lab-command")
    test = _readme_command("test-command")
    assert "\n" not in lab
    assert "\n" not in test
    setup = "test -x .venv/bin/python || python3 -m venv .venv && "
    assert lab.startswith(setup)
    assert test.startswith(setup)
    assert lab.endswith("imref lab")


def test_notebook_00_shows_readme_lab_command():
    notebook = (ROOT / "notebooks" / "00_start_here.ipynb").read_text(encoding="utf-8")
    lab = _readme_command("lab-command")
    assert json.dumps(lab)[1:-1] in notebook


def test_ci_runs_readme_test_command():
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "test-command" in script


@pytest.mark.parametrize("check", [["check"], ["format", "--check"]])
def test_ruff_clean(check):
    ruff = Path(sys.executable).with_name("ruff")
    result = subprocess.run(
        [str(ruff), *check, "."], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
