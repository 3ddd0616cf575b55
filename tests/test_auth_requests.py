"""Sans-IO request signing and verification, driven with a fake clock."""

import hashlib
import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imref.auth import (
    CHECKS,
    ClockError,
    KeyConfigError,
    KeyStore,
    MalformedHeaderError,
    MissingHeaderError,
    NonceCacheFullError,
    NonceReusedError,
    RequestSigner,
    RequestVerifier,
    SignatureMismatchError,
    TimestampOutOfWindowError,
    UnknownKeyError,
    canonical_path,
    canonical_query,
    canonical_string,
    sign,
)
from imref.auth.lessons import FakeClock

SECRET = "test-secret-0123456789abcdef"
START = 1_796_400_000


class NonceSequence:
    def __init__(self):
        self.value = 0

    def __call__(self) -> str:
        self.value += 1
        return f"nonce-{self.value:026d}"


@pytest.fixture
def clock():
    return FakeClock(START)


@pytest.fixture
def signer(clock):
    return RequestSigner(
        "partner-a", SECRET, clock=clock, nonce_factory=NonceSequence()
    )


@pytest.fixture
def verifier(clock):
    return RequestVerifier({"partner-a": SECRET}, clock=clock)


def signed(signer, method="POST", path="/v1/messages", query="", body=b"{}", **kw):
    headers = {"Content-Type": "application/json", **kw.pop("headers", {})}
    headers.update(signer.sign(method, path, query, headers=headers, body=body, **kw))
    return method, path, query, headers, body


# The canonical string ----------------------------------------------------------


def test_canonical_string_layout():
    text = canonical_string(
        method="post",
        path="/v1/messages",
        query="b=2&a=1",
        body_sha256=hashlib.sha256(b"{}").hexdigest(),
        content_type=" application/json ",
        timestamp="1796400000",
        nonce="n" * 16,
        key_id="partner-a",
        signed_headers={"x-request-id": " 42 "},
    )
    assert text == (
        "IMREF-HMAC-SHA256\n"
        "POST\n"
        "/v1/messages\n"
        "a=1&b=2\n"
        "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a\n"
        "application/json\n"
        "1796400000\n"
        "nnnnnnnnnnnnnnnn\n"
        "partner-a\n"
        "x-request-id\n"
        "x-request-id:42"
    )


def test_canonical_string_empty_signed_line():
    text = canonical_string(
        method="GET",
        path="",
        query="",
        body_sha256="e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        content_type="",
        timestamp="1",
        nonce="n" * 16,
        key_id="k",
    )
    assert text.split("\n") == [
        "IMREF-HMAC-SHA256",
        "GET",
        "/",
        "",
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "",
        "1",
        "n" * 16,
        "k",
        "",
    ]


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("/v1/messages", "/v1/messages"),
        ("/a%7eb/~c", "/a~b/~c"),
        ("/a b", "/a%20b"),
        ("/a%2Fb", "/a%2Fb"),  # an encoded slash stays apart from a real one
        ("/%E4%BD%A0", "/%E4%BD%A0"),
        ("/%e4%bd%a0", "/%E4%BD%A0"),
        ("/你", "/%E4%BD%A0"),
        ("/a+b", "/a%2Bb"),
        ("", "/"),
    ],
)
def test_canonical_path(raw, expected):
    assert canonical_path(raw) == expected


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("", ""),
        ("b=2&a=1&a=0", "a=1&a=0&b=2"),
        ("to=mallory&b=2&to=alice", "b=2&to=mallory&to=alice"),
        ("a-b=1&a=2&a=1", "a=2&a=1&a-b=1"),
        ("q=hello+world", "q=hello%20world"),
        ("q=hello%20world", "q=hello%20world"),
        ("q=a%2Bb", "q=a%2Bb"),
        ("flag&x=", "flag=&x="),
        ("a=1&&b=2", "a=1&b=2"),
        ("k=%E4%BD%A0", "k=%E4%BD%A0"),
        ("k=~-._", "k=~-._"),
        ("k=a/b", "k=a%2Fb"),
    ],
)
def test_canonical_query(raw, expected):
    assert canonical_query(raw) == expected


def test_reordered_repeated_values_rejected(signer, verifier):
    method, path, _, headers, body = signed(signer, query="to=alice&to=mallory")
    with pytest.raises(SignatureMismatchError):
        verifier.verify(method, path, "to=mallory&to=alice", headers, body)
    assert verifier.verify(method, path, "to=alice&to=mallory", headers, body)


def test_plus_and_encoded_plus_differ():
    assert canonical_query("q=a+b") != canonical_query("q=a%2Bb")


# Accepting -----------------------------------------------------------------------


def test_signed_request_verifies(signer, verifier):
    verified = verifier.verify(*signed(signer))
    assert verified.key_id == "partner-a"
    assert verified.timestamp == START
    assert verified.nonce == "nonce-00000000000000000000000001"


def test_signature_matches_independent_hmac(signer):
    method, path, query, headers, body = signed(signer, query="x=1")
    text = canonical_string(
        method=method,
        path=path,
        query=query,
        body_sha256=hashlib.sha256(body).hexdigest(),
        content_type="application/json",
        timestamp=headers["X-Imref-Timestamp"],
        nonce=headers["X-Imref-Nonce"],
        key_id="partner-a",
    )
    assert headers["X-Imref-Signature"] == sign(SECRET, text)


def test_header_names_are_case_insensitive(signer, verifier):
    method, path, query, headers, body = signed(signer)
    lowered = {name.lower(): value for name, value in headers.items()}
    assert verifier.verify(method, path, query, lowered, body).key_id == "partner-a"


def test_equivalent_url_spellings_verify(signer, verifier):
    request = signed(signer, path="/v1/a%7eb", query="b=2&a=x+y")
    method, _, _, headers, body = request
    verified = verifier.verify(method, "/v1/a~b", "a=x%20y&b=2", headers, body)
    assert verified.key_id == "partner-a"


def test_timestamp_at_window_edges_accepted(signer, verifier, clock):
    old = signed(signer)
    clock.advance(600)
    new = signed(signer)
    clock.advance(-300)
    assert verifier.verify(*old).timestamp == START
    assert verifier.verify(*new).timestamp == START + 600


# Rejecting, one check at a time ------------------------------------------------


@pytest.mark.parametrize(
    "header",
    ["X-Imref-Key-Id", "X-Imref-Timestamp", "X-Imref-Nonce", "X-Imref-Signature"],
)
def test_missing_header_rejected(signer, verifier, header):
    method, path, query, headers, body = signed(signer)
    del headers[header]
    with pytest.raises(MissingHeaderError, match=header):
        verifier.verify(method, path, query, headers, body)


@pytest.mark.parametrize(
    "header, value",
    [
        ("X-Imref-Key-Id", "bad key"),
        ("X-Imref-Key-Id", ""),
        ("X-Imref-Timestamp", "17964e5"),
        ("X-Imref-Timestamp", "+1796400000"),
        ("X-Imref-Timestamp", "١٧٩٦"),  # Arabic-Indic digits that int() accepts
        ("X-Imref-Timestamp", "1" * 13),
        ("X-Imref-Nonce", "short"),
        ("X-Imref-Nonce", "n" * 65),
        ("X-Imref-Nonce", "nonce with spaces!!"),
        ("X-Imref-Signature", "not-base64!"),
        ("X-Imref-Signature", "A" * 43),
        ("X-Imref-Signature", "A" * 42 + "B="),  # unused bits set
        ("X-Imref-Signed-Headers", "Content-Type"),
        ("X-Imref-Signed-Headers", "x-b;x-a"),
        ("X-Imref-Signed-Headers", "x-imref-nonce"),
    ],
)
def test_malformed_header_rejected(signer, verifier, header, value):
    method, path, query, headers, body = signed(signer)
    headers[header] = value
    with pytest.raises(MalformedHeaderError):
        verifier.verify(method, path, query, headers, body)


def test_malformed_signature_message_hides_value(signer, verifier):
    method, path, query, headers, body = signed(signer)
    headers["X-Imref-Signature"] = "A" * 43
    with pytest.raises(MalformedHeaderError) as caught:
        verifier.verify(method, path, query, headers, body)
    assert "A" * 43 not in str(caught.value)


def test_listed_signed_header_missing_rejected(signer, verifier):
    method, path, query, headers, body = signed(
        signer, headers={"X-Request-Id": "r-1"}, signed_headers=["X-Request-Id"]
    )
    del headers["X-Request-Id"]
    with pytest.raises(MissingHeaderError, match="x-request-id"):
        verifier.verify(method, path, query, headers, body)


def test_invalid_method_rejected(signer, verifier):
    _, path, query, headers, body = signed(signer)
    with pytest.raises(MalformedHeaderError, match="method"):
        verifier.verify("PO ST", path, query, headers, body)


@pytest.mark.parametrize("method", ["G ET", "", "GET\n", "gıt", "A" * 17, None])
def test_signer_rejects_invalid_method(signer, method):
    with pytest.raises(MalformedHeaderError, match="method"):
        signer.sign(method, "/v1/ping")


def test_unknown_key_rejected(clock, verifier):
    other = RequestSigner("partner-z", SECRET, clock=clock)
    with pytest.raises(UnknownKeyError, match="partner-z"):
        verifier.verify(*signed(other))


@pytest.mark.parametrize("offset", [-301, 301, -10_000, 10_000])
def test_timestamp_outside_window_rejected(signer, verifier, clock, offset):
    clock.advance(offset)
    request = signed(signer)
    clock.advance(-offset)
    direction = "past" if offset < 0 else "future"
    with pytest.raises(TimestampOutOfWindowError, match=direction):
        verifier.verify(*request)


@pytest.mark.parametrize("reading", [float("nan"), float("inf")])
def test_non_finite_verifier_clock_raises(reading):
    # A request signed at Unix time 1, which a NaN clock would have accepted.
    signer = RequestSigner("partner-a", SECRET, clock=lambda: 1)
    verifier = RequestVerifier({"partner-a": SECRET}, clock=lambda: reading)
    method, path, query, headers, body = signed(signer)
    with pytest.raises(ClockError, match="verifier's clock"):
        verifier.verify(method, path, query, headers, body)
    assert not verifier.rejections


def test_non_finite_signer_clock_raises():
    signer = RequestSigner("partner-a", SECRET, clock=lambda: float("nan"))
    with pytest.raises(ClockError, match="signer's clock"):
        signer.sign("GET", "/v1/ping")


def test_wrong_secret_rejected(clock, verifier):
    forger = RequestSigner("partner-a", "guessed-secret-00000000", clock=clock)
    with pytest.raises(SignatureMismatchError):
        verifier.verify(*signed(forger))


@pytest.mark.parametrize(
    "part, value",
    [
        ("method", "PUT"),
        ("path", "/v1/admin"),
        ("query", "x=1"),
        ("body", b"{} "),
    ],
)
def test_changed_part_rejected(signer, verifier, part, value):
    method, path, query, headers, body = signed(signer)
    request = dict(method=method, path=path, query=query, headers=headers, body=body)
    request[part] = value
    with pytest.raises(SignatureMismatchError):
        verifier.verify(**request)


@pytest.mark.parametrize(
    "header, value",
    [
        ("Content-Type", "text/plain"),
        ("X-Imref-Timestamp", str(START + 1)),
        ("X-Imref-Nonce", "nonce-99999999999999999999999999"),
        ("X-Request-Id", "r-2"),
    ],
)
def test_changed_header_rejected(signer, verifier, header, value):
    method, path, query, headers, body = signed(
        signer, headers={"X-Request-Id": "r-1"}, signed_headers=["x-request-id"]
    )
    headers[header] = value
    with pytest.raises(SignatureMismatchError):
        verifier.verify(method, path, query, headers, body)


def test_unsigned_header_may_change(signer, verifier):
    method, path, query, headers, body = signed(signer)
    headers["User-Agent"] = "curl/8"
    assert verifier.verify(method, path, query, headers, body).key_id == "partner-a"


def test_non_utf8_header_rejected(signer, verifier):
    method, path, query, headers, body = signed(signer)
    # aiohttp turns header bytes that are not UTF-8 into lone surrogates.
    headers["Content-Type"] = "text/\udcff"
    with pytest.raises(MalformedHeaderError, match="UTF-8"):
        verifier.verify(method, path, query, headers, body)


def test_header_with_line_break_rejected(signer, verifier):
    method, path, query, headers, body = signed(signer)
    headers["Content-Type"] = "application/json\nX: y"
    with pytest.raises(MalformedHeaderError, match="Content-Type"):
        verifier.verify(method, path, query, headers, body)


# Replay and the nonce cache ----------------------------------------------------


def test_replay_rejected(signer, verifier):
    request = signed(signer)
    verifier.verify(*request)
    with pytest.raises(NonceReusedError):
        verifier.verify(*request)


def test_nonce_scoped_per_key_id(clock):
    verifier = RequestVerifier({"a": SECRET, "b": SECRET}, clock=clock)
    for key_id in ["a", "b"]:
        other = RequestSigner(
            key_id, SECRET, clock=clock, nonce_factory=NonceSequence()
        )
        assert verifier.verify(*signed(other)).key_id == key_id


def test_replay_rejected_until_timestamp_goes_stale(signer, verifier, clock):
    request = signed(signer)
    verifier.verify(*request)
    for _ in range(5):
        clock.advance(60)
        with pytest.raises(NonceReusedError):
            verifier.verify(*request)
    clock.advance(1)
    with pytest.raises(TimestampOutOfWindowError):
        verifier.verify(*request)


def test_nonce_kept_for_retention_time(signer, verifier, clock):
    # Signed 300 s ahead, first seen now, then replayed just inside its window.
    clock.advance(300)
    request = signed(signer)
    clock.advance(-300)
    verifier.verify(*request)
    clock.advance(599)
    with pytest.raises(NonceReusedError):
        verifier.verify(*request)


def test_replay_found_in_previous_generation(signer, verifier, clock):
    # Signed 300 s ahead and first seen now. A later request rotates the
    # cache, so the replay finds the nonce in the previous generation.
    clock.advance(300)
    request = signed(signer)
    clock.advance(-300)
    verifier.verify(*request)
    clock.advance(600)
    verifier.verify(*signed(signer))
    with pytest.raises(NonceReusedError):
        verifier.verify(*request)
    assert len(verifier.nonces) == 2


def test_nonce_forgotten_after_twice_retention(clock):
    verifier = RequestVerifier({"partner-a": SECRET}, clock=clock, window=300)
    verifier.nonces.check_and_add("partner-a", "n" * 16, clock())
    clock.advance(1200)
    verifier.nonces.check_and_add("partner-a", "n" * 16, clock())
    assert len(verifier.nonces) == 1


def test_full_nonce_cache_rejects_instead_of_forgetting(signer, clock):
    verifier = RequestVerifier({"partner-a": SECRET}, clock=clock, nonce_capacity=2)
    first = signed(signer)
    verifier.verify(*first)
    verifier.verify(*signed(signer))
    with pytest.raises(NonceCacheFullError) as caught:
        verifier.verify(*signed(signer))
    assert caught.value.status == 503
    # The cache still remembers the first nonce: its replay is rejected.
    with pytest.raises(NonceReusedError):
        verifier.verify(*first)
    # After two retention periods both generations are gone.
    clock.advance(1200)
    assert verifier.verify(*signed(signer)).key_id == "partner-a"


def test_forged_request_does_not_use_nonce(clock, verifier):
    forger = RequestSigner("partner-a", "guessed-secret-00000000", clock=clock)
    with pytest.raises(SignatureMismatchError):
        verifier.verify(*signed(forger))
    assert len(verifier.nonces) == 0


# Order of checks -----------------------------------------------------------------


def test_checks_table_lists_every_step_once():
    steps = [check.step for check in CHECKS]
    assert steps == ["headers", "key_id", "timestamp", "signature", "nonce"]
    codes = [error.code for check in CHECKS for error in check.errors]
    assert len(codes) == len(set(codes))


def test_first_failing_check_in_table_order_rejects(signer, verifier, clock):
    # Replayed, stale, tampered and under an unknown key id at once: each
    # step removes one fault, and the next check in CHECKS must catch it.
    request = signed(signer)
    verifier.verify(*request)
    method, path, query, headers, body = request
    clock.advance(1000)
    faults = dict(headers)
    faults["X-Imref-Key-Id"] = "partner-z"
    del faults["X-Imref-Nonce"]
    seen = []
    stages = [
        (faults, b"tampered"),
        ({**faults, "X-Imref-Nonce": headers["X-Imref-Nonce"]}, b"tampered"),
        ({**headers}, b"tampered"),
    ]
    for stage_headers, stage_body in stages:
        with pytest.raises(Exception) as caught:
            verifier.verify(method, path, query, stage_headers, stage_body)
        seen.append(caught.value.code)
    clock.advance(-1000)
    with pytest.raises(SignatureMismatchError):
        verifier.verify(method, path, query, headers, b"tampered")
    seen.append("signature_mismatch")
    with pytest.raises(NonceReusedError):
        verifier.verify(*request)
    seen.append("nonce_reused")
    table = [check.errors[0].code for check in CHECKS]
    assert seen == table


def test_rejections_are_counted(signer, verifier):
    request = signed(signer)
    verifier.verify(*request)
    for _ in range(3):
        with pytest.raises(NonceReusedError):
            verifier.verify(*request)
    assert verifier.rejections["nonce_reused"] == 3


# Rotation and keys ----------------------------------------------------------------


def test_rotation_accepts_old_and_new_secret(clock):
    keys = KeyStore({"partner-a": SECRET})
    verifier = RequestVerifier(keys, clock=clock)
    new_secret = "rotated-secret-0123456789"
    keys.add_secret("partner-a", new_secret)
    old = RequestSigner("partner-a", SECRET, clock=clock)
    new = RequestSigner("partner-a", new_secret, clock=clock)
    assert verifier.verify(*signed(old)).key_id == "partner-a"
    assert verifier.verify(*signed(new)).key_id == "partner-a"
    keys.retire_secret("partner-a", SECRET)
    with pytest.raises(SignatureMismatchError):
        verifier.verify(*signed(old))
    keys.retire_secret("partner-a", new_secret)
    with pytest.raises(UnknownKeyError):
        verifier.verify(*signed(new))


def test_short_secret_rejected_without_echo():
    with pytest.raises(KeyConfigError, match="5 bytes") as caught:
        KeyStore({"partner-a": "tiny!"})
    assert "tiny!" not in str(caught.value)


@pytest.mark.parametrize("key_id", ["", "has space", "x" * 65, "semi;colon"])
def test_invalid_key_id_rejected(key_id):
    with pytest.raises(KeyConfigError):
        RequestSigner(key_id, SECRET)


def test_reprs_hide_secrets(signer, verifier):
    for text in [repr(signer), repr(verifier), repr(verifier.keys)]:
        assert SECRET not in text


def test_secrets_never_reach_messages_or_logs(signer, clock, caplog):
    verifier = RequestVerifier({"partner-a": SECRET}, clock=clock, nonce_capacity=1)
    caplog.set_level(logging.DEBUG, logger="imref")
    messages = []
    good = signed(signer)
    attempts = [
        good,
        good,
        signed(signer),
        signed(signer, body=b"x")[:4] + (b"y",),
    ]
    for request in attempts:
        try:
            verifier.verify(*request)
        except Exception as exc:
            messages.append(str(exc))
    assert len(messages) == 3
    expected_tag = good[3]["X-Imref-Signature"]
    for text in messages + [r.getMessage() for r in caplog.records]:
        assert SECRET not in text
        assert "IMREF-HMAC-SHA256" not in text
    mismatch = [m for m in messages if "signature" in m]
    assert mismatch
    assert all(expected_tag not in m for m in mismatch)


# Properties ------------------------------------------------------------------------

_methods = st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"])
_paths = st.lists(
    st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=8),
    min_size=1,
    max_size=4,
).map(lambda parts: "/" + "/".join(parts))
_queries = st.lists(
    st.tuples(st.text(max_size=6), st.text(max_size=6)), max_size=4
).map(lambda pairs: "&".join(f"{k}={v}".replace("&", "%26") for k, v in pairs))
_content_types = st.sampled_from(["", "application/json", "text/plain; charset=utf-8"])


@st.composite
def _requests(draw):
    from urllib.parse import quote

    path = quote(draw(_paths), safe="/")
    query = draw(_queries)
    return (
        draw(_methods),
        path,
        quote(query, safe="=&%"),
        draw(_content_types),
        draw(st.binary(max_size=64)),
    )


@settings(max_examples=150, deadline=None)
@given(_requests())
def test_property_signed_request_verifies(request):
    clock = FakeClock(START)
    signer = RequestSigner("partner-a", SECRET, clock=clock)
    verifier = RequestVerifier({"partner-a": SECRET}, clock=clock)
    method, path, query, content_type, body = request
    headers = {"Content-Type": content_type} if content_type else {}
    headers.update(signer.sign(method, path, query, headers=headers, body=body))
    assert verifier.verify(method, path, query, headers, body).key_id == "partner-a"
    with pytest.raises(NonceReusedError):
        verifier.verify(method, path, query, headers, body)


@settings(max_examples=150, deadline=None)
@given(_requests(), _requests(), st.sampled_from(["method", "path", "query", "body"]))
def test_property_changed_part_fails(request, other, part):
    clock = FakeClock(START)
    signer = RequestSigner("partner-a", SECRET, clock=clock)
    verifier = RequestVerifier({"partner-a": SECRET}, clock=clock)
    method, path, query, content_type, body = request
    headers = {"Content-Type": content_type} if content_type else {}
    headers.update(signer.sign(method, path, query, headers=headers, body=body))
    parts = dict(method=method, path=path, query=query, body=body)
    index = ["method", "path", "query", "content_type", "body"].index(part)
    parts[part] = other[index]
    same = {
        "method": parts["method"] == method,
        "path": canonical_path(parts["path"]) == canonical_path(path),
        "query": canonical_query(parts["query"]) == canonical_query(query),
        "body": parts["body"] == body,
    }[part]
    if same:
        assert verifier.verify(headers=headers, **parts).key_id == "partner-a"
    else:
        with pytest.raises(SignatureMismatchError):
            verifier.verify(headers=headers, **parts)


@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "X-Imref-Key-Id",
                "X-Imref-Timestamp",
                "X-Imref-Nonce",
                "X-Imref-Signature",
                "X-Imref-Signed-Headers",
                "Content-Type",
            ]
        ),
        st.text(max_size=60),
    ),
    st.text(max_size=20),
    st.text(max_size=20),
)
def test_property_garbage_raises_only_auth_errors(headers, path, query):
    from imref.auth import AuthError

    verifier = RequestVerifier({"partner-a": SECRET}, clock=FakeClock(START))
    with pytest.raises(AuthError):
        verifier.verify("POST", path, query, headers, b"")


def test_str_body_signed_as_utf8(signer, verifier):
    headers = signer.sign("POST", "/v1/messages", body="你好")
    verified = verifier.verify("POST", "/v1/messages", "", headers, "你好".encode())
    assert verified.key_id == "partner-a"
