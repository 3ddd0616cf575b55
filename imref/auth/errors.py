"""Exceptions of ``imref.auth``: one type per failed check.

Every request check that can fail has its own exception type, and the type
carries a short machine-readable ``code`` and the HTTP ``status`` that the
server middleware sends. Messages name the header or value that failed and
never contain a secret, the expected signature or the canonical string.
"""

from __future__ import annotations

import math

from imref.errors import ImrefError


class ClockError(ImrefError, ValueError):
    """A clock value that is not a finite number of Unix seconds."""


def check_clock_reading(now: object, source: str) -> float:
    """Return ``now`` if it is a finite int or float of Unix seconds.

    Every comparison with NaN is false, so a NaN clock would pass expiry and
    window checks instead of failing them.

    Raises:
        ClockError: ``now`` is NaN, infinite, a bool or not a number.
    """
    if isinstance(now, bool) or not isinstance(now, int | float):
        raise ClockError(f"{source} returned {now!r}; expected Unix seconds")
    if not math.isfinite(now):
        raise ClockError(
            f"{source} returned {now!r}; expected a finite number of Unix seconds"
        )
    return now


class AuthError(ImrefError, ValueError):
    """A signed request failed one of the verifier's checks."""

    code = "auth_failed"
    status = 401


class MissingHeaderError(AuthError):
    """A required authentication header is absent."""

    code = "missing_header"


class MalformedHeaderError(AuthError):
    """An authentication header is present but not in the documented format."""

    code = "malformed_header"


class UnknownKeyError(AuthError):
    """The key id names no key that the verifier holds."""

    code = "unknown_key"


class TimestampOutOfWindowError(AuthError):
    """The request timestamp is too far in the past or in the future."""

    code = "timestamp_out_of_window"


class SignatureMismatchError(AuthError):
    """The signature does not match the request as received."""

    code = "signature_mismatch"


class NonceReusedError(AuthError):
    """The nonce was already used by an accepted request inside its window."""

    code = "nonce_reused"


class NonceCacheFullError(AuthError):
    """The nonce cache is full of unexpired nonces, so the request is rejected.

    This is a capacity limit, not a fault of the client, so the server
    responds with 503 and the client may retry later.
    """

    code = "nonce_cache_full"
    status = 503


class TokenError(ImrefError, ValueError):
    """A device login token failed one of its checks."""

    code = "token_invalid"


class MalformedTokenError(TokenError):
    """The token is not base64url JSON in the documented layout."""

    code = "token_malformed"


class TokenSignatureError(TokenError):
    """The token's tag does not match its payload under any given secret."""

    code = "token_signature_mismatch"


class TokenExpiredError(TokenError):
    """The token's expiry time has passed."""

    code = "token_expired"


class TokenClockSkewError(TokenError):
    """The token claims an issue time further in the future than allowed."""

    code = "token_clock_skew"


class TokenClaimError(TokenError):
    """The token is valid but issued for another app or device."""

    code = "token_claim_mismatch"
