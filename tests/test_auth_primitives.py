"""HMAC-SHA256 tags: RFC 4231 vectors, the Java demo value, Base64 handling."""

import base64
import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imref.auth import HmacKey, hmac_sha256, sign, verify

# RFC 4231 section 4, test cases 1 to 7: key, data, HMAC-SHA-256 in hex.
# Case 5 publishes only the first 128 bits of the tag.
RFC_4231 = [
    (
        1,
        bytes.fromhex("0b" * 20),
        b"Hi There",
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
    ),
    (
        2,
        b"Jefe",
        b"what do ya want for nothing?",
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    ),
    (
        3,
        bytes.fromhex("aa" * 20),
        bytes.fromhex("dd" * 50),
        "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
    ),
    (
        4,
        bytes.fromhex("0102030405060708090a0b0c0d0e0f10111213141516171819"),
        bytes.fromhex("cd" * 50),
        "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
    ),
    (
        5,
        bytes.fromhex("0c" * 20),
        b"Test With Truncation",
        "a3b6167473100ee06e0c796c2955552b",
    ),
    (
        6,
        bytes.fromhex("aa" * 131),
        b"Test Using Larger Than Block-Size Key - Hash Key First",
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
    ),
    (
        7,
        bytes.fromhex("aa" * 131),
        b"This is a test using a larger than block-size key and a larger than "
        b"block-size data. The key needs to be hashed before being used by the "
        b"HMAC algorithm.",
        "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
    ),
]

JAVA_DEMO_TAG = "A9AR7qDhuAX5kWiNXEqxw1psPIxKTwiRPB5fXVy13Ww="


@pytest.mark.parametrize("case, key, data, expected", RFC_4231, ids=lambda v: v)
def test_rfc4231_vector(case, key, data, expected):
    tag = hmac_sha256(key, data)
    assert len(tag) == 32
    # Case 5 truncates to the leftmost 128 bits; the others use all 256.
    assert tag.hex()[: len(expected)] == expected
    assert HmacKey(key).digest(data).hex()[: len(expected)] == expected


@pytest.mark.parametrize("case, key, data, expected", RFC_4231, ids=lambda v: v)
def test_rfc4231_vector_matches_stdlib(case, key, data, expected):
    assert hmac.new(key, data, hashlib.sha256).hexdigest()[: len(expected)] == expected


def test_rfc4231_case_sizes():
    sizes = {case: (len(key), len(expected)) for case, key, _, expected in RFC_4231}
    assert sizes[5] == (20, 32)  # 128 bits as 32 hex digits
    assert sizes[6] == (131, 64)
    assert sizes[7] == (131, 64)


def test_java_demo_value():
    assert sign("my-secret-key", "Hello, world!") == JAVA_DEMO_TAG
    assert verify("my-secret-key", "Hello, world!", JAVA_DEMO_TAG)


def test_str_is_encoded_as_utf8():
    message = "你好，世界"
    assert sign("k", message) == sign(b"k", message.encode("utf-8"))
    assert sign("k", message) != sign(b"k", message.encode("gb18030"))


def test_sign_is_standard_base64():
    tag = hmac_sha256("my-secret-key", "Hello, world!")
    assert sign("my-secret-key", "Hello, world!") == base64.b64encode(tag).decode()


@pytest.mark.parametrize(
    "signature",
    [
        "",
        "###",
        JAVA_DEMO_TAG[:-1],  # padding missing
        JAVA_DEMO_TAG + "=",
        JAVA_DEMO_TAG[:5] + "-" + JAVA_DEMO_TAG[6:],  # base64url alphabet
        " " + JAVA_DEMO_TAG,
        JAVA_DEMO_TAG[:-2] + "x=",  # unused low bits set: a second spelling
        "你好" * 22,
        b"\xff" * 44,
    ],
)
def test_verify_rejects_malformed_signature(signature):
    assert verify("my-secret-key", "Hello, world!", signature) is False


def test_verify_rejects_other_message():
    assert not verify("my-secret-key", "Hello, world?", JAVA_DEMO_TAG)
    assert not verify("my-secret-key!", "Hello, world!", JAVA_DEMO_TAG)


@given(st.one_of(st.text(max_size=80), st.binary(max_size=80)))
def test_verify_never_raises_on_signature(signature):
    assert verify("my-secret-key", "Hello, world!", signature) is False


@given(st.binary(max_size=200), st.binary(max_size=300))
def test_hmac_key_matches_stdlib(key, message):
    assert HmacKey(key).digest(message) == hmac.digest(key, message, "sha256")


def test_hmac_key_repr_hides_key():
    assert "secret" not in repr(HmacKey("secret-key-material"))


def test_sign_rejects_other_types():
    with pytest.raises(TypeError, match="message must be str or bytes"):
        sign("key", 42)
