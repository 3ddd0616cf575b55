"""Device login tokens: issue, verify, and each failed check."""

import base64
import json
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imref.auth import (
    ClockError,
    DeviceToken,
    MalformedTokenError,
    TokenClaimError,
    TokenClockSkewError,
    TokenExpiredError,
    TokenSignatureError,
    hmac_sha256,
    issue_token,
    verify_token,
)

SECRET = "app-secret-0123456789abcdef"
ISSUED = 1_796_400_000
CLAIMS = dict(
    app_id=1400000001,
    user_id="alice",
    platform="ios",
    device_id="iphone-1",
    issued_at=ISSUED,
)


def _unb64(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@pytest.fixture
def token():
    return issue_token(SECRET, ttl=3600, **CLAIMS)


def test_token_verifies(token):
    claims = verify_token(token, SECRET, now=ISSUED + 10, app_id=1400000001)
    assert claims == DeviceToken(
        app_id=1400000001,
        user_id="alice",
        platform="ios",
        device_id="iphone-1",
        issued_at=ISSUED,
        expires_at=ISSUED + 3600,
    )


def test_token_layout(token):
    payload_b64, tag_b64 = token.split(".")
    assert "=" not in token
    assert json.loads(_unb64(payload_b64)) == {
        "v": 1,
        "app": 1400000001,
        "uid": "alice",
        "plat": "ios",
        "dev": "iphone-1",
        "iat": ISSUED,
        "exp": ISSUED + 3600,
    }
    expected = hmac_sha256(SECRET, b"imref-device-token.v1." + payload_b64.encode())
    assert _unb64(tag_b64) == expected


def test_token_rotation_accepts_any_active_secret(token):
    claims = verify_token(token, ["new-secret-0123456789ab", SECRET], now=ISSUED)
    assert claims.user_id == "alice"


def test_token_wrong_secret_rejected(token):
    with pytest.raises(TokenSignatureError):
        verify_token(token, "other-secret-0123456789", now=ISSUED)


def test_token_edited_payload_rejected(token):
    payload_b64, tag_b64 = token.split(".")
    payload = json.loads(_unb64(payload_b64))
    payload["uid"] = "mallory"
    edited = base64.urlsafe_b64encode(
        json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    )
    forged = edited.rstrip(b"=").decode() + "." + tag_b64
    with pytest.raises(TokenSignatureError):
        verify_token(forged, SECRET, now=ISSUED)


def test_token_expired_rejected(token):
    with pytest.raises(TokenExpiredError, match="expired 0 s ago"):
        verify_token(token, SECRET, now=ISSUED + 3600)
    assert verify_token(token, SECRET, now=ISSUED + 3599).user_id == "alice"


def test_token_from_future_rejected(token):
    with pytest.raises(TokenClockSkewError, match="301 s in the future"):
        verify_token(token, SECRET, now=ISSUED - 301)
    assert verify_token(token, SECRET, now=ISSUED - 300).user_id == "alice"


@pytest.mark.parametrize(
    "pins",
    [{"app_id": 1400000002}, {"device_id": "android-9"}],
)
def test_token_other_app_or_device_rejected(token, pins):
    with pytest.raises(TokenClaimError):
        verify_token(token, SECRET, now=ISSUED, **pins)


@pytest.mark.parametrize(
    "bad",
    ["", "no-dot", "a.b", "a." + "A" * 43 + "=", "x" * 3000, 42, None],
)
def test_malformed_token_rejected(bad):
    with pytest.raises((MalformedTokenError, TokenSignatureError)):
        verify_token(bad, SECRET, now=ISSUED)


def test_token_other_tag_spellings_rejected(token):
    # The tag's 43rd character carries 4 bits of the tag and 2 unused bits.
    alphabet = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"
    last = alphabet.index(token[-1])
    assert last & 3 == 0
    for unused in (1, 2, 3):
        variant = token[:-1] + alphabet[last | unused]
        assert _unb64(variant.split(".")[1]) == _unb64(token.split(".")[1])
        with pytest.raises(MalformedTokenError, match="unused bits"):
            verify_token(variant, SECRET, now=ISSUED)


def test_signed_payload_with_wrong_fields_rejected():
    payload = base64.urlsafe_b64encode(b'{"v":1,"uid":"alice"}').rstrip(b"=").decode()
    tag = hmac_sha256(SECRET, b"imref-device-token.v1." + payload.encode())
    token = payload + "." + base64.urlsafe_b64encode(tag).rstrip(b"=").decode()
    with pytest.raises(MalformedTokenError, match="exactly"):
        verify_token(token, SECRET, now=ISSUED)


def test_signed_payload_with_bool_app_id_rejected():
    text = '{"app":true,"dev":"d","exp":2,"iat":1,"plat":"ios","uid":"u","v":1}'
    payload = base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()
    tag = hmac_sha256(SECRET, b"imref-device-token.v1." + payload.encode())
    token = payload + "." + base64.urlsafe_b64encode(tag).rstrip(b"=").decode()
    with pytest.raises(MalformedTokenError, match="app_id"):
        verify_token(token, SECRET, now=0)


@pytest.mark.parametrize(
    "changes",
    [{"user_id": ""}, {"device_id": "has space"}, {"platform": "x" * 129}],
)
def test_issue_rejects_invalid_claims(changes):
    with pytest.raises(ValueError):
        issue_token(SECRET, **{**CLAIMS, **changes})


@pytest.mark.parametrize("ttl", [0, -1, 0.5, 3600.0, True, "3600"])
def test_issue_rejects_bad_ttl(ttl):
    with pytest.raises(ValueError, match="ttl"):
        issue_token(SECRET, ttl=ttl, **CLAIMS)


@pytest.mark.parametrize("app_id", [True, -1, 1.0, "1"])
def test_issue_rejects_bad_app_id(app_id):
    with pytest.raises(ValueError, match="app_id"):
        issue_token(SECRET, **{**CLAIMS, "app_id": app_id})


@pytest.mark.parametrize("issued_at", [float("nan"), float("inf"), "1", None])
def test_issue_rejects_bad_issued_at(issued_at):
    with pytest.raises(ClockError, match="issued_at"):
        issue_token(SECRET, **{**CLAIMS, "issued_at": issued_at})


@pytest.mark.parametrize("now", [float("nan"), float("inf"), -float("inf"), True])
def test_verify_rejects_non_finite_clock(token, now):
    with pytest.raises(ClockError, match="now"):
        verify_token(token, SECRET, now=now)
    # Far past the expiry, so a NaN clock would have let the token through.
    with pytest.raises(ClockError):
        verify_token(issue_token(SECRET, ttl=10, **CLAIMS), SECRET, now=now)


def test_messages_hide_secret_and_tag(token):
    tag = token.split(".")[1]
    for now in [ISSUED + 10**6, ISSUED - 10**6]:
        try:
            verify_token(token, SECRET, now=now)
        except Exception as exc:
            assert SECRET not in str(exc)
            assert tag not in str(exc)
    with pytest.raises(TokenSignatureError) as caught:
        verify_token(token, "other-secret-0123456789", now=ISSUED)
    assert tag not in str(caught.value)


@given(st.text(max_size=300))
def test_garbage_token_raises_token_errors_only(text):
    with pytest.raises((MalformedTokenError, TokenSignatureError)):
        verify_token(text, SECRET, now=ISSUED)
