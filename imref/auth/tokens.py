"""Device login tokens: self-contained, HMAC-SHA256-signed, base64url.

A device presents a token when it logs in on the TCP gateway. The app's
server issues it with the app secret, and any gateway holding the secret
verifies it without a database lookup. Layout::

    base64url(payload) "." base64url(tag)       both without "=" padding

``payload`` is compact JSON with sorted keys: ``v`` (format version, 1),
``app`` (app id), ``uid`` (user id), ``plat`` (platform), ``dev`` (device
id), ``iat`` (issued at) and ``exp`` (expiry), both integer Unix seconds.
``tag`` is HMAC-SHA256 under the app secret of the ASCII text
``"imref-device-token.v1." + base64url(payload)``. The prefix keeps a token
tag from ever equalling a request signature made with the same secret.

Modelled on Tencent Cloud IM's UserSig but not compatible with it. As
published in Tencent's TLS-sig-api v2 samples, a UserSig is zlib-compressed
JSON, in a Base64 variant that maps ``+ / =`` to ``* - _``. It contains
``TLS.identifier``, ``TLS.sdkappid``, ``TLS.time`` and a lifetime
``TLS.expire``, and its tag covers a ``key:value`` text rebuilt from those
fields. imref's token is not compressed, uses standard base64url, stores an
absolute expiry, signs the exact bytes it carries, and also binds the
platform and the device id, so a token stolen from one device cannot log in
another.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from imref.auth.errors import (
    MalformedTokenError,
    TokenClaimError,
    TokenClockSkewError,
    TokenExpiredError,
    TokenSignatureError,
    check_clock_reading,
)
from imref.auth.keys import secret_bytes
from imref.auth.primitives import HmacKey

TOKEN_VERSION = 1
TAG_PREFIX = b"imref-device-token.v1."
MAX_TOKEN_CHARS = 2048
DEFAULT_TTL_SECONDS = 7 * 24 * 3600
DEFAULT_MAX_SKEW_SECONDS = 300

_FIELD = re.compile(r"[A-Za-z0-9._@:-]{1,128}\Z")
_TOKEN = re.compile(r"([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]{43})\Z")


@dataclass(frozen=True)
class DeviceToken:
    """The claims of a device login token."""

    app_id: int
    user_id: str
    platform: str
    device_id: str
    issued_at: int
    expires_at: int

    def __repr__(self) -> str:
        return (
            f"DeviceToken(app {self.app_id}, user {self.user_id!r}, "
            f"{self.platform}/{self.device_id}, valid {self.issued_at}"
            f"..{self.expires_at})"
        )


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: str) -> bytes:
    """Decode unpadded base64url, accepting only the spelling ``_b64url`` writes.

    The last character of an unpadded encoding can carry unused low bits,
    which the decoder ignores, so up to four strings decode to the same bytes.
    Encoding again and comparing leaves one accepted string per byte string.

    Raises:
        binascii.Error: ``text`` is not base64url, or sets unused bits.
    """
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if _b64url(data) != text:
        raise binascii.Error("the last base64url character has unused bits set")
    return data


def _check_field(name: str, value: str) -> str:
    if not isinstance(value, str) or not _FIELD.match(value):
        raise ValueError(
            f"{name} {value!r} is invalid; use 1 to 128 characters from "
            "A-Z a-z 0-9 . _ @ : -"
        )
    return value


def _tag(secret: bytes, payload_b64: str) -> bytes:
    return HmacKey(secret).digest(TAG_PREFIX + payload_b64.encode("ascii"))


def issue_token(
    secret: str | bytes,
    *,
    app_id: int,
    user_id: str,
    platform: str,
    device_id: str,
    issued_at: int,
    ttl: int = DEFAULT_TTL_SECONDS,
) -> str:
    """Issue a token for one user on one device, valid for ``ttl`` seconds.

    ``issued_at`` is Unix seconds, truncated to an integer.

    Raises:
        ValueError: a claim is empty, too long or has other characters,
            ``app_id`` is not a non-negative int, or ``ttl`` is not a positive
            int.
        ClockError: ``issued_at`` is not a finite number.
        KeyConfigError: the secret is shorter than 16 bytes.
    """
    # bool is a subclass of int, but True would be written as JSON true,
    # which verify_token rejects.
    if isinstance(app_id, bool) or not isinstance(app_id, int) or app_id < 0:
        raise ValueError(f"app_id {app_id!r} is invalid; use a non-negative int")
    # A fractional ttl would be truncated, and ttl=0.5 would issue a token
    # that has already expired.
    if isinstance(ttl, bool) or not isinstance(ttl, int) or ttl <= 0:
        raise ValueError(f"ttl {ttl!r} is invalid; use a positive int of seconds")
    issued = int(check_clock_reading(issued_at, "issued_at"))
    claims = DeviceToken(
        app_id=app_id,
        user_id=_check_field("user_id", user_id),
        platform=_check_field("platform", platform),
        device_id=_check_field("device_id", device_id),
        issued_at=issued,
        expires_at=issued + ttl,
    )
    payload = {
        "v": TOKEN_VERSION,
        "app": claims.app_id,
        "uid": claims.user_id,
        "plat": claims.platform,
        "dev": claims.device_id,
        "iat": claims.issued_at,
        "exp": claims.expires_at,
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    payload_b64 = _b64url(text.encode("utf-8"))
    return f"{payload_b64}.{_b64url(_tag(secret_bytes(secret), payload_b64))}"


def _decode_claims(payload_b64: str) -> DeviceToken:
    try:
        payload = json.loads(_unb64url(payload_b64))
    except (binascii.Error, ValueError):
        raise MalformedTokenError("token payload is not base64url JSON") from None
    fields = {"v", "app", "uid", "plat", "dev", "iat", "exp"}
    if not isinstance(payload, dict) or set(payload) != fields:
        raise MalformedTokenError(f"token payload must have exactly {sorted(fields)}")
    if payload["v"] != TOKEN_VERSION:
        raise MalformedTokenError(f"token version {payload['v']!r} is not supported")
    claims = DeviceToken(
        app_id=payload["app"],
        user_id=payload["uid"],
        platform=payload["plat"],
        device_id=payload["dev"],
        issued_at=payload["iat"],
        expires_at=payload["exp"],
    )
    for name, value in asdict(claims).items():
        expected = int if name in {"app_id", "issued_at", "expires_at"} else str
        if type(value) is not expected:
            raise MalformedTokenError(f"token claim {name} has the wrong type")
    return claims


def verify_token(
    token: str,
    secrets: str | bytes | Iterable[str | bytes],
    *,
    now: float,
    max_skew: int = DEFAULT_MAX_SKEW_SECONDS,
    app_id: int | None = None,
    device_id: str | None = None,
) -> DeviceToken:
    """Check a token's signature, expiry and clock skew and return its claims.

    ``secrets`` is the app secret, or several during a rotation. ``now`` is
    the verifier's clock in Unix seconds. A token issued more than
    ``max_skew`` seconds in the future is rejected; an expired one is rejected
    even within ``max_skew``. ``app_id`` and ``device_id``, when given, must
    match the claims.

    Raises:
        MalformedTokenError: the token is not in the documented layout.
        TokenSignatureError: no secret gives the token's tag.
        TokenExpiredError: ``now`` is at or past the expiry.
        TokenClockSkewError: the issue time is too far in the future.
        TokenClaimError: the app id or device id differs.
        ClockError: ``now`` is not a finite number.
    """
    now = check_clock_reading(now, "now")
    if isinstance(secrets, str | bytes):
        secrets = [secrets]
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
        raise MalformedTokenError(
            f"a token must be a str of at most {MAX_TOKEN_CHARS} characters"
        )
    found = _TOKEN.match(token)
    if not found:
        raise MalformedTokenError(
            "a token must be base64url payload, '.', and a 43-character base64url tag"
        )
    payload_b64, tag_b64 = found.groups()
    try:
        tag = _unb64url(tag_b64)
    except binascii.Error:
        raise MalformedTokenError(
            "the token tag is not canonical base64url because its last character "
            "has unused bits set; use the token exactly as issued"
        ) from None

    # 1. Signature, before anything in the payload is trusted.
    matched = False
    for secret in secrets:
        matched |= hmac.compare_digest(_tag(secret_bytes(secret), payload_b64), tag)
    if not matched:
        raise TokenSignatureError("token signature does not match; issue a new token")
    claims = _decode_claims(payload_b64)

    # 2. Expiry, then 3. clock skew of the issue time.
    if now >= claims.expires_at:
        raise TokenExpiredError(
            f"token expired {now - claims.expires_at:.0f} s ago at "
            f"{claims.expires_at}; log in again for a new token"
        )
    if claims.issued_at - now > max_skew:
        raise TokenClockSkewError(
            f"token issued {claims.issued_at - now:.0f} s in the future, more than "
            f"{max_skew} s; check the clocks of the issuing server and the gateway"
        )

    # 4. Claims the caller pins.
    if app_id is not None and claims.app_id != app_id:
        raise TokenClaimError(f"token is for app {claims.app_id}, not {app_id}")
    if device_id is not None and claims.device_id != device_id:
        raise TokenClaimError(
            f"token is for device {claims.device_id!r}, not {device_id!r}"
        )
    return claims
