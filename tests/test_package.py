"""The conventions every chapter relies on: errors, logging and the CLI."""

import logging
import subprocess
import sys

import pytest

import imref
from imref import ImrefError
from imref.cli import COMMAND_MODULES, build_parser, main
from imref.tools.lab import lab_command


def test_imref_logger_has_null_handler():
    handlers = logging.getLogger("imref").handlers
    assert any(isinstance(h, logging.NullHandler) for h in handlers)


def test_imref_error_is_exception():
    assert issubclass(ImrefError, Exception)
    assert imref.ImrefError is ImrefError


def test_cli_lists_every_command_module():
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    assert "lab" in subparsers.choices
    assert "notebooks" in subparsers.choices
    assert len(COMMAND_MODULES) >= 2


def test_python_dash_m_imref_help():
    result = subprocess.run(
        [sys.executable, "-m", "imref", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0
    assert "lab" in result.stdout


def test_lab_binds_loopback_only():
    argv = lab_command(port=0)
    assert "--ip=127.0.0.1" in argv
    assert any(a.endswith("00_start_here.ipynb") for a in argv)


@pytest.mark.parametrize("euid, expected", [(0, True), (1000, False)])
def test_lab_allow_root_only_as_root(monkeypatch, euid, expected):
    monkeypatch.setattr("os.geteuid", lambda: euid)
    assert ("--allow-root" in lab_command()) is expected


def test_lab_dry_run_prints_command(capsys):
    assert main(["lab", "--dry-run", "--no-browser"]) == 0
    out = capsys.readouterr().out
    assert "jupyterlab" in out
    assert "--no-browser" in out


def test_notebooks_unknown_name_is_clear_error(capsys):
    assert main(["notebooks", "run", "99_missing"]) == 2
    err = capsys.readouterr().err
    assert "'99_missing'" in err
    assert "not found" in err


@pytest.mark.parametrize("port", ["70000", "-1", "http"])
def test_lab_rejects_invalid_port(capsys, port):
    with pytest.raises(SystemExit) as exit_info:
        main(["lab", "--dry-run", "--port", port])
    assert exit_info.value.code == 2
    assert f"invalid port {port!r}" in capsys.readouterr().err


@pytest.mark.parametrize("timeout", ["0", "-5", "soon"])
def test_notebooks_rejects_invalid_timeout(capsys, timeout):
    with pytest.raises(SystemExit) as exit_info:
        main(["notebooks", "run", "--timeout", timeout])
    assert exit_info.value.code == 2
    assert f"invalid timeout {timeout!r}" in capsys.readouterr().err


def _write_notebook(path, sources):
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nbformat.write(notebook, path)


def test_execute_names_failing_cell(tmp_path):
    from imref.tools.notebooks import _execute

    path = tmp_path / "broken.ipynb"
    _write_notebook(path, ["x = 1", "x / 0"])
    with pytest.raises(ImrefError) as error:
        _execute(path, tmp_path / "out.ipynb", timeout=60)
    message = str(error.value)
    assert "cell 1 ('x / 0') raised an exception" in message
    assert "ZeroDivisionError" in message
    assert not (tmp_path / "out.ipynb").exists()


def test_execute_rejects_unknown_magic(tmp_path):
    from imref.tools.notebooks import _execute

    path = tmp_path / "magic.ipynb"
    _write_notebook(path, ["%no_such_magic"])
    with pytest.raises(ImrefError, match="cell 0"):
        _execute(path, tmp_path / "out.ipynb", timeout=60)


def test_execute_writes_outputs(tmp_path):
    import nbformat

    from imref.tools.notebooks import _execute

    path = tmp_path / "fine.ipynb"
    _write_notebook(path, ["6 * 7"])
    _execute(path, tmp_path / "out.ipynb", timeout=60)
    executed = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    assert executed.cells[0].outputs[0]["data"]["text/plain"] == "42"
    assert executed.cells[0].execution_count == 1
    assert "execution" not in executed.cells[0].metadata


def test_check_result_repr_names_mistake():
    from imref.exercises import CheckResult

    assert repr(CheckResult(True, None, "10 is right")) == (
        "CheckResult(correct: 10 is right)"
    )
    assert repr(CheckResult(False, "used_1_over_n", "use 1/(n+1)")) == (
        "CheckResult(wrong, used_1_over_n: use 1/(n+1))"
    )
    assert repr(CheckResult(False, None, "count again")) == (
        "CheckResult(wrong, unrecognised: count again)"
    )


def test_chapters_share_check_result():
    from imref.auth import lessons
    from imref.balancing import exercises as balancing_exercises
    from imref.exercises import CheckResult
    from imref.storage import exercises as storage_exercises

    assert lessons.CheckResult is CheckResult
    assert balancing_exercises.CheckResult is CheckResult
    assert storage_exercises.CheckResult is CheckResult


@pytest.mark.parametrize("text, expected", [("0", 0), ("8888", 8888), ("65535", 65535)])
def test_port_type_accepts_range(text, expected):
    from imref.argtypes import port

    assert port(text) == expected


@pytest.mark.parametrize("text", ["65536", "-1", "http", ""])
def test_port_type_rejects_outside_range(text):
    import argparse

    from imref.argtypes import port

    with pytest.raises(argparse.ArgumentTypeError, match=f"invalid port {text!r}"):
        port(text)


def test_positive_int_type_names_value():
    import argparse

    from imref.argtypes import positive_int

    parse = positive_int("timeout", "seconds")
    assert parse("1") == 1
    with pytest.raises(argparse.ArgumentTypeError) as error:
        parse("0")
    assert str(error.value) == (
        "invalid timeout '0'; pass a whole number of seconds, at least 1"
    )
