"""Chapter 4 teaching helpers, the flow figure and the ``imref sign`` command."""

import json
import os
import socket
import subprocess
import sys

import matplotlib.pyplot as plt
import pytest
from matplotlib.figure import Figure

from imref.auth import CHECKS, RequestVerifier
from imref.auth.lessons import (
    ATTACKS,
    QUERY_EXERCISE_INPUT,
    Demo,
    charset_pitfall,
    check_canonical_query_exercise,
    check_nonce_retention_exercise,
    check_tag_exercise,
    checks_table,
    run_attacks,
)
from imref.auth.plots import plot_verification_flow
from imref.cli import main
from imref.tools.paths import NOTEBOOKS_DIR


def test_every_attack_stopped_by_expected_check():
    table = run_attacks(seed=4)
    assert len(table) == len(ATTACKS)
    assert table["as expected"].all(), table.to_string()
    assert (table["status"] == 401).all()


def test_attacks_cover_every_check():
    steps = {attack.expected_step for attack in ATTACKS}
    assert steps == {check.step for check in CHECKS}


def test_attack_table_is_deterministic():
    assert run_attacks(seed=4).equals(run_attacks(seed=4))


def test_checks_table_follows_checks():
    table = checks_table()
    assert list(table["step"]) == [check.step for check in CHECKS]
    assert list(table["order"]) == list(range(1, len(CHECKS) + 1))


def test_demo_accepts_fresh_and_rejects_replay():
    demo = Demo(seed=1)
    request = demo.signed()
    assert demo.send(request).accepted
    outcome = demo.send(request)
    assert not outcome.accepted
    assert outcome.code == "nonce_reused"
    assert repr(outcome) == "Outcome(401 rejected: nonce_reused)"


def test_charset_pitfall_collides_only_under_legacy_charset():
    pitfall = charset_pitfall()
    assert pitfall.legacy_bytes == (b"?????", b"?????")
    assert pitfall.legacy_collision
    assert not pitfall.utf8_collision
    assert pitfall.utf8_bytes[0] == "你好，世界".encode()
    assert len(pitfall.to_frame()) == 4


def test_charset_pitfall_with_us_ascii():
    pitfall = charset_pitfall(charset="US-ASCII")
    assert pitfall.legacy_bytes == (b"?????", b"?????")
    assert pitfall.legacy_collision


@pytest.mark.parametrize(
    "answer, mistake",
    [
        ("A9AR7qDhuAX5kWiNXEqxw1psPIxKTwiRPB5fXVy13Ww=", None),
        (
            "03d011eea0e1b805f991688d5c4ab1c35a6c3c8c4a4f08913c1e5f5d5cb5dd6c",
            "hex_instead_of_base64",
        ),
        ("A9AR7qDhuAX5kWiNXEqxw1psPIxKTwiRPB5fXVy13Ww", "missing_padding"),
        ("not even close", None),
    ],
)
def test_tag_exercise(answer, mistake):
    result = check_tag_exercise(answer)
    assert result.correct == (answer.endswith("Ww="))
    assert result.mistake == mistake


def test_tag_exercise_names_more_mistakes():
    import base64
    import hashlib

    from imref.auth import hmac_sha256

    swapped = base64.b64encode(hmac_sha256("Hello, world!", "my-secret-key")).decode()
    plain = base64.b64encode(hashlib.sha256(b"Hello, world!").digest()).decode()
    assert check_tag_exercise(swapped).mistake == "key_and_message_swapped"
    assert check_tag_exercise(plain).mistake == "hash_without_key"


def test_tag_exercise_names_wrong_type():
    answer = b"A9AR7qDhuAX5kWiNXEqxw1psPIxKTwiRPB5fXVy13Ww="
    result = check_tag_exercise(answer)
    assert not result.correct
    assert result.mistake == "not_text"
    assert ".decode()" in result.message


def test_tag_exercise_hint_hides_answer():
    result = check_tag_exercise("not even close")
    assert "imref.auth.sign" not in result.message
    assert "A9AR7q" not in result.message


@pytest.mark.parametrize(
    "answer, correct, mistake",
    [
        ("a=1&a=0&b=2&c=hello%20world", True, None),
        (QUERY_EXERCISE_INPUT, False, "not_sorted"),
        ("a=0&a=1&b=2&c=hello%20world", False, "values_sorted"),
        ("a=1&a=0&b=2&c=hello world", False, "not_percent_encoded"),
        ("a=1&a=0&b=2&c=hello+world", False, "plus_for_space"),
        ("c=1", False, None),
    ],
)
def test_canonical_query_exercise(answer, correct, mistake):
    result = check_canonical_query_exercise(answer)
    assert result.correct is correct
    assert result.mistake == mistake


@pytest.mark.parametrize(
    "seconds, correct, mistake",
    [
        (600, True, None),
        (300, False, "one_side_of_window"),
        (0, False, "timestamp_alone"),
        (3600, False, "longer_than_needed"),
        (120, False, None),
        ("600", True, None),
        (" 600 ", True, None),
        ("300", False, "one_side_of_window"),
        ("ten minutes", False, "not_a_number"),
        (None, False, "not_a_number"),
    ],
)
def test_nonce_retention_exercise(seconds, correct, mistake):
    result = check_nonce_retention_exercise(seconds)
    assert result.correct is correct
    assert result.mistake == mistake


@pytest.fixture
def close_figures():
    yield
    plt.close("all")


def test_flow_figure_draws_every_check(close_figures):
    figure = plot_verification_flow()
    assert isinstance(figure, Figure)
    texts = [t.get_text() for t in figure.axes[0].texts]
    for number, check in enumerate(CHECKS, start=1):
        assert f"{number}. {check.title}" in texts
        for error in check.errors:
            assert any(f"{error.status} {error.code}" in text for text in texts)
    assert any("HMAC-SHA256" in text for text in texts)


def test_flow_figure_follows_given_checks(close_figures):
    figure = plot_verification_flow(CHECKS[:2])
    texts = [t.get_text() for t in figure.axes[0].texts]
    assert f"3. {CHECKS[2].title}" not in texts
    assert f"2. {CHECKS[1].title}" in texts


# imref sign ------------------------------------------------------------------------

SECRET = "cli-secret-0123456789abcdef"


def test_sign_command_headers_verify(monkeypatch, capsys):
    monkeypatch.setenv("IMREF_SECRET", SECRET)
    status = main(
        [
            "sign",
            "POST",
            "http://127.0.0.1:8080/v1/messages?b=2&a=1",
            "--data",
            '{"to": "bob"}',
            "--content-type",
            "application/json",
            "--header",
            "X-Request-Id: r-9",
        ]
    )
    assert status == 0
    lines = capsys.readouterr().out.splitlines()
    headers = dict(line.split(": ", 1) for line in lines)
    assert headers["X-Imref-Signed-Headers"] == "x-request-id"
    verifier = RequestVerifier({"demo": SECRET})
    verified = verifier.verify(
        "POST", "/v1/messages", "b=2&a=1", headers, b'{"to": "bob"}'
    )
    assert verified.key_id == "demo"
    assert SECRET not in "\n".join(lines)


def test_sign_command_curl_output(monkeypatch, capsys):
    monkeypatch.setenv("MY_KEY", SECRET)
    status = main(
        [
            "sign",
            "GET",
            "http://127.0.0.1:8080/v1/ping",
            "--secret-env",
            "MY_KEY",
            "--key-id",
            "partner-a",
            "--curl",
        ]
    )
    assert status == 0
    output = capsys.readouterr().out
    assert output.startswith("curl -sS -X GET -H ")
    assert "'X-Imref-Key-Id: partner-a'" in output
    assert output.rstrip().endswith("http://127.0.0.1:8080/v1/ping")


def test_sign_command_without_secret_fails(monkeypatch, capsys):
    monkeypatch.delenv("IMREF_SECRET", raising=False)
    status = main(["sign", "GET", "http://127.0.0.1:8080/v1/ping"])
    assert status == 2
    assert "IMREF_SECRET" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["sign", "auth-demo"])
@pytest.mark.parametrize(
    ("secret", "problem"),
    [("", "unset or empty"), ("0123456789", "is 10 bytes, which is too short")],
    ids=["empty", "short"],
)
def test_secret_errors_suggest_one_command(
    monkeypatch, capsys, command, secret, problem
):
    monkeypatch.setenv("MY_KEY", secret)
    argv = [command, "--secret-env", "MY_KEY"]
    if command == "sign":
        argv += ["GET", "http://127.0.0.1:8080/v1/ping"]
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert problem in error
    assert "export MY_KEY=$(openssl rand -hex 32)" in error
    assert "token_bytes" not in error


def test_sign_command_non_utf8_secret_signed_as_bytes(monkeypatch, capsys):
    secret = b"\xff" + SECRET.encode()
    monkeypatch.setenv("IMREF_SECRET", os.fsdecode(secret))
    assert main(["sign", "GET", "http://127.0.0.1:8080/v1/ping"]) == 0
    lines = capsys.readouterr().out.splitlines()
    headers = dict(line.split(": ", 1) for line in lines)
    verifier = RequestVerifier({"demo": secret})
    assert verifier.verify("GET", "/v1/ping", "", headers, b"").key_id == "demo"


def test_sign_help_describes_body_options():
    result = subprocess.run(
        [sys.executable, "-m", "imref", "sign", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    help_text = " ".join(result.stdout.split())
    assert "METHOD URL and BODY" not in help_text
    assert "body given with --data or --data-file" in help_text


@pytest.mark.parametrize(
    "argv",
    [
        ["sign", "GET", "ftp://127.0.0.1/x"],
        ["sign", "GET", "http://127.0.0.1/x", "--header", "no colon"],
        ["sign", "GET", "http://127.0.0.1/x", "--data-file", "/nonexistent/body"],
        ["sign", "G ET", "http://127.0.0.1/x"],
        ["sign", "GET", "http://[::1"],
        ["sign", "POST", "http://127.0.0.1/x", "--data", "\udcff"],
        ["sign", "GET", "http://127.0.0.1:99999/v1/ping"],
        ["sign", "GET", "http://127.0.0.1:abc/v1/ping"],
        ["sign", "GET", "http://user:pw@127.0.0.1/v1/ping"],
        ["sign", "GET", "http://127.0.0.1/v1/ping#top"],
    ],
    ids=[
        "scheme",
        "header",
        "data-file",
        "method",
        "url",
        "non-utf8-data",
        "port-range",
        "port-text",
        "user-info",
        "fragment",
    ],
)
def test_sign_command_bad_input(monkeypatch, capsys, argv):
    monkeypatch.setenv("IMREF_SECRET", SECRET)
    assert main(argv) == 2
    assert "error:" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("headers", "fix"),
    [
        (["Bad Name: x"], "letters, digits and '-'"),
        (["X_Request_Id: x"], "letters, digits and '-'"),
        (["X-Imref-Signature: x"], "remove it"),
        (["X-Imref-Signed-Headers: date"], "remove it"),
        (["Content-Type: text/plain"], "--content-type"),
        (["X-Request-Id: a\r\nX-Other: b"], "control characters"),
        (["X-Request-Id: 1", "x-request-id: 2"], "give each header once"),
    ],
    ids=["space", "underscore", "signature", "signed-headers", "type", "crlf", "twice"],
)
def test_sign_command_bad_header_named(monkeypatch, capsys, headers, fix):
    monkeypatch.setenv("IMREF_SECRET", SECRET)
    argv = ["sign", "POST", "http://127.0.0.1:8080/v1/messages"]
    for header in headers:
        argv += ["--header", header]
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert f"--header {headers[-1]!r}" in error
    assert fix in error
    assert "X-Imref-Signed-Headers lists" not in error


@pytest.mark.parametrize("port", ["99999", "-1", "http"])
def test_auth_demo_rejects_invalid_port(monkeypatch, capsys, port):
    monkeypatch.setenv("IMREF_SECRET", SECRET)
    with pytest.raises(SystemExit) as exited:
        main(["auth-demo", "--port", port])
    assert exited.value.code == 2
    assert (
        f"invalid port {port!r}; pass a number from 1 to 65535, or 0 for any free port"
        in capsys.readouterr().err
    )


def test_auth_demo_port_in_use_fails(monkeypatch, capsys):
    monkeypatch.setenv("IMREF_SECRET", SECRET)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["auth-demo", "--port", str(port)]) == 2
    error = capsys.readouterr().err
    assert f"port {port}" in error
    assert "Traceback" not in error


def test_sign_help_runs_as_module():
    result = subprocess.run(
        [sys.executable, "-m", "imref", "sign", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0
    assert "IMREF_SECRET" in result.stdout


def test_notebook_catches_specific_exceptions():
    notebook = json.loads((NOTEBOOKS_DIR / "04_hmac_api_auth.ipynb").read_text("utf-8"))
    code = "\n".join(
        "".join(cell["source"])
        for cell in notebook["cells"]
        if cell["cell_type"] == "code"
    )
    assert "except TokenExpiredError" in code
    assert "except Exception" not in code
    assert ".__name__ ==" not in code
