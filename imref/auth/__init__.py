"""API authentication with HMAC-SHA256 (chapter 4).

Three levels, each usable alone:

- Tags: ``hmac_sha256``, ``sign`` (standard Base64) and ``verify``
  (constant time, False for malformed Base64). A str is always UTF-8.
- Signed HTTP requests: ``RequestSigner`` and ``RequestVerifier`` are
  sans-IO and work on method, raw path, raw query, headers and body bytes.
  ``canonical_string`` documents what is signed, and ``CHECKS`` lists the
  verifier's checks in order. ``signing_middleware`` plugs a signer into an
  aiohttp ``ClientSession(middlewares=...)``, and
  ``verification_middleware`` plugs a verifier into an aiohttp server; a
  handler behind it reads the caller's key id with ``verified_request``.
- Device login tokens: ``issue_token`` and ``verify_token``.

``make_demo_app`` and ``run_demo_server`` serve a small API behind the
verifier; ``imref sign`` prints headers for curl.
"""

from imref.auth.canonical import (
    KEY_ID_HEADER,
    NONCE_HEADER,
    SIGNATURE_HEADER,
    SIGNED_HEADERS_HEADER,
    TIMESTAMP_HEADER,
    canonical_path,
    canonical_query,
    canonical_string,
)
from imref.auth.demo import make_demo_app, run_demo_server, serve_demo_in_thread
from imref.auth.errors import (
    AuthError,
    ClockError,
    MalformedHeaderError,
    MalformedTokenError,
    MissingHeaderError,
    NonceCacheFullError,
    NonceReusedError,
    SignatureMismatchError,
    TimestampOutOfWindowError,
    TokenClaimError,
    TokenClockSkewError,
    TokenError,
    TokenExpiredError,
    TokenSignatureError,
    UnknownKeyError,
)
from imref.auth.keys import KeyConfigError, KeyStore
from imref.auth.middleware import (
    UnsignableBodyError,
    signing_middleware,
    verification_middleware,
    verified_request,
)
from imref.auth.nonces import NonceCache
from imref.auth.primitives import HmacKey, hmac_sha256, sign, verify
from imref.auth.requests import (
    CHECKS,
    NONCE_RETENTION_SECONDS,
    WINDOW_SECONDS,
    Check,
    RequestSigner,
    RequestVerifier,
    VerifiedRequest,
)
from imref.auth.tokens import DeviceToken, issue_token, verify_token

__all__ = [
    "AuthError",
    "CHECKS",
    "Check",
    "ClockError",
    "DeviceToken",
    "HmacKey",
    "KEY_ID_HEADER",
    "KeyConfigError",
    "KeyStore",
    "MalformedHeaderError",
    "MalformedTokenError",
    "MissingHeaderError",
    "NONCE_HEADER",
    "NONCE_RETENTION_SECONDS",
    "NonceCache",
    "NonceCacheFullError",
    "NonceReusedError",
    "RequestSigner",
    "RequestVerifier",
    "SIGNATURE_HEADER",
    "SIGNED_HEADERS_HEADER",
    "SignatureMismatchError",
    "TIMESTAMP_HEADER",
    "TimestampOutOfWindowError",
    "TokenClaimError",
    "TokenClockSkewError",
    "TokenError",
    "TokenExpiredError",
    "TokenSignatureError",
    "UnknownKeyError",
    "UnsignableBodyError",
    "VerifiedRequest",
    "WINDOW_SECONDS",
    "canonical_path",
    "canonical_query",
    "canonical_string",
    "hmac_sha256",
    "issue_token",
    "make_demo_app",
    "run_demo_server",
    "serve_demo_in_thread",
    "sign",
    "signing_middleware",
    "verification_middleware",
    "verified_request",
    "verify",
    "verify_token",
]
