"""Teaching helpers for chapter 4: live attacks, the charset pitfall, exercises.

The notebook calls these so its cells stay one line long. Every helper runs
the real signer and verifier, and nothing here re-implements a check.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pandas as pd

from imref.auth.canonical import (
    KEY_ID_HEADER,
    NONCE_HEADER,
    SIGNATURE_HEADER,
    SIGNED_HEADERS_HEADER,
    TIMESTAMP_HEADER,
    canonical_query,
    canonical_string,
)
from imref.auth.errors import AuthError
from imref.auth.keys import KeyStore
from imref.auth.primitives import hmac_sha256, sign
from imref.auth.requests import (
    CHECKS,
    NONCE_RETENTION_SECONDS,
    RequestSigner,
    RequestVerifier,
)
from imref.exercises import CheckResult

DEMO_KEY_ID = "partner-a"
DEMO_SECRET = "demo-secret-0123456789abcdef"
DEMO_START = 1_796_400_000  # 2026-12-04 16:00:00 UTC, as Unix seconds


class FakeClock:
    """A clock for demos and tests that moves only when ``advance`` is called."""

    def __init__(self, start: float = DEMO_START):
        self.now = float(start)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        """Move the clock forward by ``seconds`` and return the new time."""
        self.now += seconds
        return self.now

    def __repr__(self) -> str:
        return f"FakeClock(now={self.now:.0f})"


@dataclass(frozen=True)
class HttpRequest:
    """The parts of an HTTP request that signing covers, as plain values."""

    method: str
    path: str
    query: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    def replace(self, **changes) -> HttpRequest:
        """Return a copy with some parts changed."""
        return dataclasses.replace(self, **changes)

    def with_header(self, name: str, value: str | None) -> HttpRequest:
        """Return a copy with one header set, or removed when ``value`` is None."""
        headers = {k: v for k, v in self.headers.items() if k.lower() != name.lower()}
        if value is not None:
            headers[name] = value
        return self.replace(headers=headers)

    def __repr__(self) -> str:
        target = self.path + (f"?{self.query}" if self.query else "")
        return f"HttpRequest({self.method} {target}, {len(self.body)} B body)"


@dataclass(frozen=True)
class Outcome:
    """The verifier's verdict on one request: accepted, or the failed check."""

    accepted: bool
    code: str
    status: int
    message: str

    def __repr__(self) -> str:
        verdict = "accepted" if self.accepted else f"rejected: {self.code}"
        return f"Outcome({self.status} {verdict})"


class Demo:
    """A signer, a verifier sharing one key, and a fake clock, for live demos.

    Nonces come from a ``random.Random(seed)``, so a notebook run is
    repeatable.
    """

    def __init__(self, *, seed: int = 0, key_id: str = DEMO_KEY_ID):
        self.clock = FakeClock()
        rng = random.Random(seed)
        self.signer = RequestSigner(
            key_id,
            DEMO_SECRET,
            clock=self.clock,
            nonce_factory=lambda: rng.randbytes(16).hex(),
        )
        self.verifier = RequestVerifier(
            KeyStore({key_id: DEMO_SECRET}), clock=self.clock
        )

    def __repr__(self) -> str:
        return f"Demo({self.signer!r}, {self.clock!r})"

    def signed(
        self,
        method: str = "POST",
        path: str = "/v1/messages",
        query: str = "",
        *,
        body: bytes = b'{"to": "bob", "text": "hi"}',
        content_type: str = "application/json",
        extra_headers: Mapping[str, str] | None = None,
    ) -> HttpRequest:
        """Sign a request now and return it with its auth headers."""
        headers = {"Content-Type": content_type} if content_type else {}
        headers.update(extra_headers or {})
        headers.update(
            self.signer.sign(
                method,
                path,
                query,
                headers=headers,
                body=body,
                signed_headers=[name.lower() for name in extra_headers or {}],
            )
        )
        return HttpRequest(method, path, query, headers, body)

    def send(self, request: HttpRequest) -> Outcome:
        """Verify ``request`` and return the outcome instead of raising."""
        return try_verify(self.verifier, request)

    def canonical(self, request: HttpRequest) -> str:
        """Rebuild the canonical string that ``request``'s signature covers."""
        headers = {name.lower(): value for name, value in request.headers.items()}
        listed = headers.get(SIGNED_HEADERS_HEADER.lower(), "")
        return canonical_string(
            method=request.method,
            path=request.path,
            query=request.query,
            body_sha256=hashlib.sha256(request.body).hexdigest(),
            content_type=headers.get("content-type", ""),
            timestamp=headers[TIMESTAMP_HEADER.lower()],
            nonce=headers[NONCE_HEADER.lower()],
            key_id=headers[KEY_ID_HEADER.lower()],
            signed_headers={name: headers[name] for name in listed.split(";") if name},
        )


def try_verify(verifier: RequestVerifier, request: HttpRequest) -> Outcome:
    """Verify ``request`` and return the outcome instead of raising."""
    try:
        verified = verifier.verify(
            request.method, request.path, request.query, request.headers, request.body
        )
    except AuthError as exc:
        return Outcome(False, exc.code, exc.status, str(exc))
    return Outcome(True, "ok", 200, f"verified for key id {verified.key_id!r}")


@dataclass(frozen=True)
class Attack:
    """An attack on a signed request and the check expected to stop it."""

    name: str
    expected_step: str
    run: Callable[[Demo], Outcome]


def _replay_later(seconds: float) -> Callable[[Demo], Outcome]:
    def run(demo: Demo) -> Outcome:
        request = demo.signed()
        demo.send(request)
        demo.clock.advance(seconds)
        return demo.send(request)

    return run


def _tamper(**changes) -> Callable[[Demo], Outcome]:
    def run(demo: Demo) -> Outcome:
        return demo.send(demo.signed(query="room=42").replace(**changes))

    return run


def _forge(demo: Demo) -> Outcome:
    forger = RequestSigner(
        demo.signer.key_id, "guessed-secret-000000", clock=demo.clock
    )
    headers = {"Content-Type": "application/json"}
    body = b'{"to": "bob", "text": "forged"}'
    headers.update(forger.sign("POST", "/v1/messages", headers=headers, body=body))
    return demo.send(HttpRequest("POST", "/v1/messages", "", headers, body))


def _unknown_key(demo: Demo) -> Outcome:
    outsider = RequestSigner("revoked-partner", DEMO_SECRET, clock=demo.clock)
    headers = outsider.sign("GET", "/v1/ping")
    return demo.send(HttpRequest("GET", "/v1/ping", "", headers))


def _drop_signature(demo: Demo) -> Outcome:
    return demo.send(demo.signed().with_header(SIGNATURE_HEADER, None))


def _garble_signature(demo: Demo) -> Outcome:
    return demo.send(demo.signed().with_header(SIGNATURE_HEADER, "not-base64!"))


def _presign_for_later(demo: Demo) -> Outcome:
    demo.clock.advance(3600)
    request = demo.signed()
    demo.clock.advance(-3600)
    return demo.send(request)


def _change_signed_header(demo: Demo) -> Outcome:
    request = demo.signed(extra_headers={"X-Request-Id": "r-1"})
    return demo.send(request.with_header("X-Request-Id", "r-2"))


def _change_content_type(demo: Demo) -> Outcome:
    return demo.send(demo.signed().with_header("Content-Type", "text/plain"))


def _swap_key_id(demo: Demo) -> Outcome:
    return demo.send(demo.signed().with_header(KEY_ID_HEADER, "partner-b"))


ATTACKS: tuple[Attack, ...] = (
    Attack("send without a signature", "headers", _drop_signature),
    Attack("send a garbled signature", "headers", _garble_signature),
    Attack("claim another key id", "key_id", _swap_key_id),
    Attack("use a revoked key", "key_id", _unknown_key),
    Attack("replay 20 minutes later", "timestamp", _replay_later(1200)),
    Attack("pre-sign a request for later", "timestamp", _presign_for_later),
    Attack("change the body", "signature", _tamper(body=b'{"to": "eve"}')),
    Attack("change the method", "signature", _tamper(method="DELETE")),
    Attack("move the body to another path", "signature", _tamper(path="/v1/admin")),
    Attack("change the query", "signature", _tamper(query="room=43")),
    Attack("change the Content-Type", "signature", _change_content_type),
    Attack("change a signed header", "signature", _change_signed_header),
    Attack("forge without the secret", "signature", _forge),
    Attack("replay at once", "nonce", _replay_later(1)),
)


def run_attacks(*, seed: int = 0) -> pd.DataFrame:
    """Run every attack in ``ATTACKS`` against a fresh demo and tabulate it.

    Columns: attack, the check that stopped it (its step and title), the
    error code and HTTP status, and whether that is the expected check.
    """
    titles = {check.step: check.title for check in CHECKS}
    codes = {error.code: check.step for check in CHECKS for error in check.errors}
    rows = []
    for attack in ATTACKS:
        outcome = attack.run(Demo(seed=seed))
        step = codes.get(outcome.code, "none")
        rows.append(
            {
                "attack": attack.name,
                "stopped by": titles.get(step, "nothing: accepted"),
                "step": step,
                "code": outcome.code,
                "status": outcome.status,
                "as expected": step == attack.expected_step,
            }
        )
    return pd.DataFrame(rows)


def checks_table() -> pd.DataFrame:
    """Tabulate ``CHECKS``: order, step, what is checked, errors, what it stops."""
    return pd.DataFrame(
        [
            {
                "order": number,
                "step": check.step,
                "check": check.title,
                "codes": ", ".join(error.code for error in check.errors),
                "stops": check.stops,
            }
            for number, check in enumerate(CHECKS, start=1)
        ]
    )


def rotation_demo() -> pd.DataFrame:
    """Rotate one key id from an old secret to a new one and tabulate each phase.

    Columns: the phase, and whether a request signed with the old or with
    the new secret is accepted in it.
    """
    old_secret, new_secret = (
        "old-secret-0123456789abcdef",
        "new-secret-0123456789abcdef",
    )
    clock = FakeClock()
    keys = KeyStore({DEMO_KEY_ID: old_secret})
    verifier = RequestVerifier(keys, clock=clock)
    signers = {
        "old": RequestSigner(DEMO_KEY_ID, old_secret, clock=clock),
        "new": RequestSigner(DEMO_KEY_ID, new_secret, clock=clock),
    }

    def accepted(signer_name: str) -> bool:
        headers = signers[signer_name].sign("GET", "/v1/ping")
        request = HttpRequest("GET", "/v1/ping", "", headers)
        return try_verify(verifier, request).accepted

    rows = []
    for phase, action in (
        ("1. only the old secret", None),
        ("2. new secret added", lambda: keys.add_secret(DEMO_KEY_ID, new_secret)),
        ("3. old secret retired", lambda: keys.retire_secret(DEMO_KEY_ID, old_secret)),
    ):
        if action is not None:
            action()
        rows.append(
            {
                "phase": phase,
                "old secret": accepted("old"),
                "new secret": accepted("new"),
            }
        )
    return pd.DataFrame(rows)


async def http_round_trip(*, seed: int = 0) -> pd.DataFrame:
    """Send signed, tampered and unsigned requests to the demo API over HTTP.

    Starts the demo API on 127.0.0.1 with a free port, sends each request
    with aiohttp, stops the server and returns one row per request: what was
    sent, the HTTP status and the JSON ``code`` (``ok`` for a 200).
    """
    import aiohttp

    from imref.auth.demo import run_demo_server
    from imref.auth.middleware import signing_middleware

    rng = random.Random(seed)
    signer = RequestSigner(
        DEMO_KEY_ID, DEMO_SECRET, nonce_factory=lambda: rng.randbytes(16).hex()
    )
    verifier = RequestVerifier({DEMO_KEY_ID: DEMO_SECRET})
    timeout = aiohttp.ClientTimeout(total=5)

    async def tamper(request, handler):
        # Runs after signing: an on-path attacker rewrites the body.
        await request.update_body(b'{"to": "eve", "text": "hi"}')
        return await handler(request)

    rows = []
    async with run_demo_server(verifier) as base_url:
        url = f"{base_url}/v1/messages"
        message = {"to": "bob", "text": "你好"}
        for label, middlewares in (
            ("signed", [signing_middleware(signer)]),
            ("signed, then body changed", [signing_middleware(signer), tamper]),
            ("unsigned", []),
        ):
            async with aiohttp.ClientSession(
                middlewares=middlewares, timeout=timeout
            ) as session:
                async with session.post(url, json=message) as response:
                    reply = await response.json()
            rows.append(
                {
                    "request": label,
                    "status": response.status,
                    "code": reply.get("code", "ok"),
                }
            )
    return pd.DataFrame(rows)


# The charset pitfall ----------------------------------------------------------

PITFALL_MESSAGES = ("你好，世界", "再见，世界")


@dataclass(frozen=True)
class CharsetPitfall:
    """Bytes and tags of messages under a legacy charset and under UTF-8."""

    charset: str
    messages: tuple[str, ...]
    legacy_bytes: tuple[bytes, ...]
    legacy_tags: tuple[str, ...]
    utf8_bytes: tuple[bytes, ...]
    utf8_tags: tuple[str, ...]

    @property
    def legacy_collision(self) -> bool:
        """Whether two different messages share a tag under the legacy charset."""
        return len(set(self.legacy_tags)) < len(self.messages)

    @property
    def utf8_collision(self) -> bool:
        """Whether two different messages share a tag under UTF-8."""
        return len(set(self.utf8_tags)) < len(self.messages)

    def to_frame(self) -> pd.DataFrame:
        """Tabulate one row per message and encoding: the bytes signed and the tag."""
        rows = []
        for encoding, encoded, tags in (
            (self.charset, self.legacy_bytes, self.legacy_tags),
            ("UTF-8", self.utf8_bytes, self.utf8_tags),
        ):
            for message, data, tag in zip(self.messages, encoded, tags, strict=True):
                rows.append(
                    {"message": message, "charset": encoding, "bytes": data, "tag": tag}
                )
        return pd.DataFrame(rows)


def charset_pitfall(
    secret: str = "my-secret-key",
    messages: tuple[str, ...] = PITFALL_MESSAGES,
    *,
    charset: str = "ISO-8859-1",
) -> CharsetPitfall:
    """Sign ``messages`` after encoding them as a legacy charset, then as UTF-8.

    Encoding uses ``errors="replace"``, which turns each character the
    charset lacks into ``?``, as Java's ``String.getBytes()`` does under a
    default charset such as ISO-8859-1 or US-ASCII.
    """
    legacy = tuple(m.encode(charset, errors="replace") for m in messages)
    utf8 = tuple(m.encode("utf-8") for m in messages)
    key = secret.encode("utf-8")
    return CharsetPitfall(
        charset=charset,
        messages=tuple(messages),
        legacy_bytes=legacy,
        legacy_tags=tuple(sign(key, data) for data in legacy),
        utf8_bytes=utf8,
        utf8_tags=tuple(sign(key, data) for data in utf8),
    )


# Exercises ---------------------------------------------------------------------


JAVA_DEMO_KEY = "my-secret-key"
JAVA_DEMO_MESSAGE = "Hello, world!"


def check_tag_exercise(answer: str) -> CheckResult:
    """Check the Base64 HMAC-SHA256 of "Hello, world!" under "my-secret-key"."""
    key, message = JAVA_DEMO_KEY, JAVA_DEMO_MESSAGE
    tag = hmac_sha256(key, message)
    answer = answer.strip() if isinstance(answer, str) else answer
    if answer == base64.b64encode(tag).decode():
        return CheckResult(True, None, "the tag matches the Java program's output")
    mistakes = {
        tag.hex(): (
            "hex_instead_of_base64",
            "that is the hex form; encode the 32 tag bytes as standard Base64",
        ),
        base64.urlsafe_b64encode(tag).decode(): (
            "url_safe_alphabet",
            "that is base64url; the Java demo uses the standard alphabet with + and /",
        ),
        base64.b64encode(hmac_sha256(message, key)).decode(): (
            "key_and_message_swapped",
            "the key and the message are swapped",
        ),
        base64.b64encode(hashlib.sha256(message.encode()).digest()).decode(): (
            "hash_without_key",
            "that is a plain SHA-256: without the key anyone could compute it",
        ),
        base64.b64encode(hashlib.sha256((key + message).encode()).digest()).decode(): (
            "key_prepended_hash",
            "SHA-256(key + message) is not HMAC and is open to length extension",
        ),
    }
    if not isinstance(answer, str):
        return CheckResult(
            False,
            "not_text",
            f"expected the Base64 tag as a str, got {type(answer).__name__}; "
            "call .decode() on bytes",
        )
    if answer and answer == base64.b64encode(tag).decode().rstrip("="):
        return CheckResult(
            False,
            "missing_padding",
            "standard Base64 pads 32 bytes to 44 characters with a final '='",
        )
    mistake, hint = mistakes.get(
        answer,
        (
            None,
            "compute HMAC-SHA256 with the key as the HMAC key, "
            "then Base64-encode the 32 raw tag bytes",
        ),
    )
    return CheckResult(False, mistake, hint)


QUERY_EXERCISE_INPUT = "c=hello%20world&b=2&a=1&a=0"


def check_canonical_query_exercise(answer: str) -> CheckResult:
    """Check the canonical form of ``QUERY_EXERCISE_INPUT``."""
    expected = canonical_query(QUERY_EXERCISE_INPUT)
    if answer == expected:
        return CheckResult(
            True, None, "sorted by name, repeated values in sent order, and encoded"
        )
    mistakes = {
        QUERY_EXERCISE_INPUT: (
            "not_sorted",
            "sort the pairs by name and keep the order of repeated values",
        ),
        "a=0&a=1&b=2&c=hello%20world": (
            "values_sorted",
            "pairs with the same name keep the order they were sent in",
        ),
        "a=1&a=0&b=2&c=hello world": (
            "not_percent_encoded",
            "a space must be percent-encoded as %20",
        ),
        "a=1&a=0&b=2&c=hello+world": (
            "plus_for_space",
            "the canonical form encodes a space as %20, never +",
        ),
    }
    mistake, hint = mistakes.get(answer, (None, "compare with canonical_query"))
    return CheckResult(False, mistake, hint)


def check_nonce_retention_exercise(seconds: float | str) -> CheckResult:
    """Check the shortest time a nonce must be kept for the 300 s window.

    A numeric string such as ``"600"`` counts as that number of seconds.
    """
    if isinstance(seconds, str):
        try:
            seconds = float(seconds.strip())
        except ValueError:
            pass
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        return CheckResult(
            False,
            "not_a_number",
            f"expected a number of seconds, got {seconds!r}",
        )
    if seconds == NONCE_RETENTION_SECONDS:
        return CheckResult(True, None, "a request may arrive 300 s early or 300 s late")
    if seconds == NONCE_RETENTION_SECONDS // 2:
        return CheckResult(
            False,
            "one_side_of_window",
            "the window extends 300 s into the future as well as the past",
        )
    if seconds == 0:
        return CheckResult(
            False,
            "timestamp_alone",
            "without nonces a captured request can be replayed until it goes stale",
        )
    if seconds > NONCE_RETENTION_SECONDS:
        return CheckResult(
            False, "longer_than_needed", "safe, but not the shortest time"
        )
    return CheckResult(False, None, "too short: replays would get through")
