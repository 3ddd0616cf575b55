"""The aiohttp adapters and the demo API on 127.0.0.1, with curl and openssl."""

import asyncio
import base64
import hashlib
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import aiohttp
import pytest

from imref.auth import (
    RequestSigner,
    RequestVerifier,
    UnsignableBodyError,
    canonical_string,
    run_demo_server,
    serve_demo_in_thread,
    signing_middleware,
)
from imref.cli import main

SECRET = "http-secret-0123456789abcdef"
TIMEOUT = aiohttp.ClientTimeout(total=10)


def _verifier():
    return RequestVerifier({"partner-a": SECRET})


def _signer():
    return RequestSigner("partner-a", SECRET)


async def _call(verifier, send):
    async with run_demo_server(verifier) as base_url:
        middlewares = [signing_middleware(_signer(), signed_headers=["x-request-id"])]
        async with aiohttp.ClientSession(
            middlewares=middlewares, timeout=TIMEOUT
        ) as session:
            return await send(session, base_url)


async def _json(response):
    return response.status, await response.json()


def test_client_middleware_request_accepted():
    async def send(session, base_url):
        async with session.post(
            f"{base_url}/v1/messages?room=42&b=x+y",
            json={"to": "bob", "text": "你好"},
            headers={"X-Request-Id": "r-1"},
        ) as response:
            return await _json(response)

    status, body = asyncio.run(_call(_verifier(), send))
    assert status == 200
    assert body["accepted"] is True
    assert body["key_id"] == "partner-a"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"data": b'{"raw": "bytes"}'},
        {"data": '{"text": "str body"}'},
        {"data": {"form": "field"}},
        {},
    ],
    ids=["bytes", "str", "form", "empty"],
)
def test_client_middleware_body_kinds(kwargs):
    async def send(session, base_url):
        async with session.post(
            f"{base_url}/v1/messages", headers={"X-Request-Id": "r-1"}, **kwargs
        ) as response:
            return response.status, await response.json()

    status, body = asyncio.run(_call(_verifier(), send))
    # The signature passed; the demo handler then wants a JSON object.
    assert status in {200, 400}
    assert body.get("code") != "signature_mismatch"
    if status == 400:
        assert body["code"] == "invalid_json"


def test_client_middleware_rejects_stream_body():
    async def chunks():
        yield b"{}"

    async def send(session, base_url):
        async with session.post(
            f"{base_url}/v1/messages", data=chunks(), headers={"X-Request-Id": "r-1"}
        ):
            pass

    with pytest.raises(UnsignableBodyError, match="stream|bytes"):
        asyncio.run(_call(_verifier(), send))


def test_unsigned_request_gets_401_json():
    async def send(session, base_url):
        async with aiohttp.ClientSession(timeout=TIMEOUT) as plain:
            async with plain.get(f"{base_url}/v1/ping") as response:
                return await _json(response)

    status, body = asyncio.run(_call(_verifier(), send))
    assert status == 401
    assert body["code"] == "missing_header"
    assert "X-Imref-Key-Id" in body["message"]
    assert set(body) == {"code", "message"}


def test_replayed_request_gets_401_nonce_reused():
    captured = {}

    async def capture(request, handler):
        captured.update(request.headers)
        return await handler(request)

    async def send(session, base_url):
        signer_mw = signing_middleware(_signer())
        async with aiohttp.ClientSession(
            middlewares=[signer_mw, capture], timeout=TIMEOUT
        ) as signed:
            async with signed.get(f"{base_url}/v1/ping") as response:
                first = response.status
        async with aiohttp.ClientSession(timeout=TIMEOUT) as plain:
            replay = {k: v for k, v in captured.items() if k.startswith("X-Imref")}
            async with plain.get(f"{base_url}/v1/ping", headers=replay) as response:
                return first, *(await _json(response))

    first, status, body = asyncio.run(_call(_verifier(), send))
    assert first == 200
    assert status == 401
    assert body["code"] == "nonce_reused"


def test_oversized_body_gets_413_not_500():
    async def send(session, base_url):
        async with aiohttp.ClientSession(timeout=TIMEOUT) as plain:
            async with plain.post(
                f"{base_url}/v1/messages", data=b"x" * (1024 * 1024)
            ) as response:
                return response.status

    assert asyncio.run(_call(_verifier(), send)) == 413


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": ' + b"[" * 30_000 + b"]" * 30_000 + b"}",
        b'{"a": ' + b"7" * 5_000 + b"}",
        b'{"a": "\xff"}',
    ],
    ids=["deep-nesting", "5000-digit-integer", "non-utf8"],
)
def test_unparsable_json_gets_400_not_500(body):
    async def send(session, base_url):
        async with session.post(
            f"{base_url}/v1/messages",
            data=body,
            headers={"Content-Type": "application/json", "X-Request-Id": "r-1"},
        ) as response:
            return await _json(response)

    status, reply = asyncio.run(_call(_verifier(), send))
    assert len(body) < 64 * 1024
    assert status == 400
    assert reply["code"] == "invalid_json"


def _raw_exchange(port: int, payload: bytes, *, half_close: bool = False) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(payload)
        if half_close:
            # The peer disconnects mid-request, and the server reads end of file.
            sock.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


def test_huge_declared_length_gets_413_at_once():
    request = (
        b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n"
    )
    with serve_demo_in_thread(_verifier()) as base_url:
        port = int(base_url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            # No body byte is sent: the reply must not wait for one.
            sock.sendall(request)
            received = b""
            while b"\r\n\r\n" not in received and (chunk := sock.recv(65536)):
                received += chunk
    assert received.startswith(b"HTTP/1.1 413")


def test_half_sent_headers_closed_after_idle_timeout():
    with serve_demo_in_thread(_verifier(), idle_timeout=1) as base_url:
        port = int(base_url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"GET /v1/ping HTTP/1.1\r\nHost: x\r\n")
            started = time.monotonic()
            received = sock.recv(65536)
            elapsed = time.monotonic() - started
    assert received == b""
    assert elapsed < 5


@pytest.mark.parametrize(
    "payload",
    [
        b"GET /v1/ping HTTP/1.1\r\nHost: x\r\nX-Imref-Key-Id: \xff\xfe\r\n"
        b"X-Imref-Timestamp: 1\r\nX-Imref-Nonce: \xc3\x28aaaaaaaaaaaaaaaa\r\n"
        b"X-Imref-Signature: " + b"A" * 43 + b"=\r\nConnection: close\r\n\r\n",
        b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: \xff\r\n"
        b"Content-Length: 2\r\nX-Imref-Key-Id: partner-a\r\n"
        b"X-Imref-Timestamp: 1\r\nX-Imref-Nonce: aaaaaaaaaaaaaaaa\r\n"
        b"X-Imref-Signature: " + b"A" * 43 + b"=\r\nConnection: close\r\n\r\n{}",
        b"POST /v1/%ff%fe?%ff=%fe HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n"
        b"Connection: close\r\n\r\n{}",
        b"\x16\x03\x01\x02\x00garbage that is not HTTP\r\n\r\n",
    ],
    ids=["non-utf8-auth-headers", "non-utf8-content-type", "truncated", "garbage"],
)
def test_garbage_never_gets_500(payload):
    with serve_demo_in_thread(_verifier()) as base_url:
        port = int(base_url.rsplit(":", 1)[1])
        response = _raw_exchange(
            port, payload, half_close=b"Content-Length: 10" in payload
        )
        # The server is still healthy afterwards.
        follow_up = _raw_exchange(
            port, b"GET /v1/ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
    if response:
        status = int(response.split(b" ", 2)[1])
        assert 400 <= status < 500
    assert follow_up.startswith(b"HTTP/1.1 401")


# curl and openssl -----------------------------------------------------------------

needs_tools = pytest.mark.skipif(
    not (shutil.which("curl") and shutil.which("openssl")),
    reason="curl or openssl is not installed",
)


def _openssl_signature(secret: str, text: str) -> str:
    result = subprocess.run(
        ["openssl", "dgst", "-sha256", "-hmac", secret, "-binary"],
        input=text.encode("utf-8"),
        capture_output=True,
        check=True,
        timeout=10,
    )
    return base64.b64encode(result.stdout).decode("ascii")


def _openssl_sha256_hex(data: bytes) -> str:
    result = subprocess.run(
        ["openssl", "dgst", "-sha256", "-binary"],
        input=data,
        capture_output=True,
        check=True,
        timeout=10,
    )
    return result.stdout.hex()


def _curl(url: str, headers: dict, body: bytes) -> tuple[int, dict]:
    argv = ["curl", "-sS", "--max-time", "10", "-X", "POST", "--data-binary", "@-"]
    for name, value in headers.items():
        argv += ["-H", f"{name}: {value}"]
    argv += ["-w", "\n%{http_code}", url]
    result = subprocess.run(
        argv, input=body, capture_output=True, check=True, timeout=20
    )
    text, _, status = result.stdout.decode("utf-8").rpartition("\n")
    return int(status), json.loads(text)


@needs_tools
def test_curl_openssl_interop():
    body = '{"to": "bob", "text": "你好，世界"}'.encode()
    with serve_demo_in_thread(_verifier()) as base_url:
        timestamp = str(int(__import__("time").time()))
        nonce = "curl" + "0" * 28
        text = canonical_string(
            method="POST",
            path="/v1/messages",
            query="room=42",
            body_sha256=_openssl_sha256_hex(body),
            content_type="application/json",
            timestamp=timestamp,
            nonce=nonce,
            key_id="partner-a",
        )
        headers = {
            "Content-Type": "application/json",
            "X-Imref-Key-Id": "partner-a",
            "X-Imref-Timestamp": timestamp,
            "X-Imref-Nonce": nonce,
            "X-Imref-Signature": _openssl_signature(SECRET, text),
        }
        url = f"{base_url}/v1/messages?room=42"
        status, reply = _curl(url, headers, body)
        assert status == 200
        assert reply["body_sha256"] == hashlib.sha256(body).hexdigest()

        # One body byte changed: same headers, fresh nonce so only the body differs.
        headers["X-Imref-Nonce"] = "curl" + "1" * 28
        text = text.replace(nonce, headers["X-Imref-Nonce"])
        headers["X-Imref-Signature"] = _openssl_signature(SECRET, text)
        tampered = body.replace(b"bob", b"bof")
        status, reply = _curl(url, headers, tampered)
    assert status == 401
    assert reply["code"] == "signature_mismatch"
    assert set(reply) == {"code", "message"}
    assert SECRET not in reply["message"]
    assert headers["X-Imref-Signature"] not in reply["message"]


needs_curl = pytest.mark.skipif(
    not shutil.which("curl"), reason="curl is not installed"
)


@needs_curl
@pytest.mark.parametrize(
    ("method", "path", "options", "status"),
    [
        ("GET", "/v1/ping", [], 200),
        ("POST", "/v1/messages", ["--data", '{"to": "bob"}'], 200),
        (
            "POST",
            "/v1/messages?room=42",
            ["--data", '{"a":\n 1}', "--content-type", "application/json"],
            200,
        ),
        # 400 invalid_json: the server verified and parsed the text "@local.json"
        # and not the file, which is a valid JSON object.
        ("POST", "/v1/messages", ["--data", "@local.json"], 400),
        ("POST", "/v1/messages", ["--data-file", "local.json"], 200),
        # 404 and not 401: the request passed verification, and the demo has no
        # route for the path with its dot segment kept.
        ("GET", "/v1/../v1/ping", [], 404),
        ("get", "/v1/ping?b=2&a=1", ["--header", "X-Request-Id: r-1"], 200),
    ],
    ids=[
        "get",
        "data-without-content-type",
        "json-with-newline",
        "data-starting-with-at",
        "data-file",
        "dot-segments",
        "signed-header",
    ],
)
def test_sign_curl_command_accepted(
    monkeypatch, capsys, tmp_path, method, path, options, status
):
    (tmp_path / "local.json").write_bytes(b'{"from": "a local file"}')
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("IMREF_SECRET", SECRET)
    with serve_demo_in_thread(_verifier()) as base_url:
        argv = ["sign", method, base_url + path, "--key-id", "partner-a", "--curl"]
        assert main(argv + options) == 0
        command = shlex.split(capsys.readouterr().out)
        result = subprocess.run(
            [*command, "--max-time", "10", "-w", "\n%{http_code}"],
            capture_output=True,
            check=True,
            timeout=20,
        )
    text, _, received_status = result.stdout.decode("utf-8").rpartition("\n")
    assert int(received_status) == status, text
    if status == 400:
        assert json.loads(text)["code"] == "invalid_json"
    if status == 200 and method == "POST":
        if options[0] == "--data":
            sent = options[1].encode()
        else:
            sent = (tmp_path / "local.json").read_bytes()
        assert json.loads(text)["body_sha256"] == hashlib.sha256(sent).hexdigest()


def test_rejection_warnings_are_rate_limited(caplog):
    verifier = _verifier()

    async def send(session, base_url):
        async with aiohttp.ClientSession(timeout=TIMEOUT) as plain:
            for _ in range(12):
                async with plain.get(f"{base_url}/v1/ping") as response:
                    await response.read()

    caplog.set_level("WARNING", logger="imref.auth")
    asyncio.run(_call(verifier, send))
    warnings = [r for r in caplog.records if r.getMessage().startswith("rejected")]
    assert verifier.rejections["missing_header"] == 12
    assert len(warnings) == 10


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("POST", "/v1/ping", 405, "method_not_allowed"),
        ("GET", "/v1/nowhere", 404, "not_found"),
    ],
    ids=["wrong-method", "unknown-path"],
)
def test_routing_errors_get_json(method, path, status, code):
    async def send(session, base_url):
        async with session.request(
            method, f"{base_url}{path}", headers={"X-Request-Id": "r-1"}
        ) as response:
            return response.status, response.headers, await response.json()

    received_status, headers, body = asyncio.run(_call(_verifier(), send))
    assert received_status == status
    assert headers["Content-Type"].startswith("application/json")
    assert body["code"] == code
    assert set(body) == {"code", "message"}
    assert path in body["message"]
    if status == 405:
        assert headers["Allow"] == "GET,HEAD"


def test_every_rejection_logged_as_warning(caplog):
    async def send(session, base_url):
        statuses = []
        async with aiohttp.ClientSession(timeout=TIMEOUT) as plain:
            async with plain.get(f"{base_url}/v1/ping") as response:
                statuses.append(response.status)
            async with plain.post(
                f"{base_url}/v1/messages", data=b"x" * (1024 * 1024)
            ) as response:
                statuses.append(response.status)
                assert (await response.json())["code"] == "body_too_large"
        for method, path, data in [
            ("POST", "/v1/messages", b"[]"),
            ("GET", "/v1/nowhere", None),
            ("POST", "/v1/ping", None),
        ]:
            async with session.request(
                method,
                f"{base_url}{path}",
                data=data,
                headers={"X-Request-Id": "r-1"},
            ) as response:
                statuses.append(response.status)
        return statuses

    caplog.set_level("WARNING", logger="imref.auth")
    statuses = asyncio.run(_call(_verifier(), send))
    assert statuses == [401, 413, 400, 404, 405]
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    codes = [
        "missing_header",
        "body_too_large",
        "invalid_json",
        "not_found",
        "method_not_allowed",
    ]
    assert len(warnings) == len(codes), warnings
    for message, code in zip(warnings, codes, strict=True):
        assert message.startswith("rejected ")
        assert f": {code} (1 so far)" in message


def test_demo_rate_limits_routing_warnings(caplog):
    async def send(session, base_url):
        for _ in range(12):
            async with session.get(
                f"{base_url}/v1/nowhere", headers={"X-Request-Id": "r-1"}
            ) as response:
                assert response.status == 404

    caplog.set_level("WARNING", logger="imref.auth")
    asyncio.run(_call(_verifier(), send))
    warnings = [r for r in caplog.records if "not_found" in r.getMessage()]
    assert len(warnings) == 10


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ([], ["WARNING imref.auth: rejected GET /v1/ping"]),
        (
            ["-v"],
            [
                "INFO imref.auth: demo API listening on",
                "WARNING imref.auth: rejected GET /v1/ping",
            ],
        ),
    ],
    ids=["default", "verbose"],
)
def test_auth_demo_command_logs_rejections(tmp_path, options, expected):
    stderr_path = tmp_path / "stderr.txt"
    env = {**os.environ, "IMREF_SECRET": SECRET}
    with stderr_path.open("wb") as stderr:
        server = subprocess.Popen(
            [sys.executable, "-m", "imref", *options, "auth-demo", "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=env,
        )
        try:
            first_line = server.stdout.readline().decode("utf-8")
            base_url = first_line.split()[3]
            with pytest.raises(urllib.error.HTTPError) as rejected:
                urllib.request.urlopen(f"{base_url}/v1/ping", timeout=10)
            assert rejected.value.code == 401
        finally:
            server.terminate()
            server.wait(timeout=20)
            server.stdout.close()
    errors = stderr_path.read_text("utf-8")
    for line in expected:
        assert line in errors
