"""Sans-IO request signing and verification.

``RequestSigner`` turns method, path, query, headers and body bytes into the
four or five ``X-Imref-*`` headers. ``RequestVerifier`` runs the checks in
``CHECKS`` over the same parts. It returns a ``VerifiedRequest``, or raises
the ``AuthError`` subclass of the first check that failed. Neither touches a
socket, because the aiohttp middlewares in ``imref.auth.middleware`` move
the bytes in and out.

``CHECKS`` is the single list of what the verifier does and in which order.
The flow figure and the table of attacks are drawn from it, so they cannot
drift from the code. The signature is checked before the nonce is recorded,
so a forged request cannot fill the nonce cache.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from binascii import a2b_base64
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from hashlib import sha256
from hmac import compare_digest
from typing import NamedTuple, NoReturn
from urllib.parse import urlsplit

from multidict import CIMultiDict, CIMultiDictProxy, istr

from imref.auth.canonical import (
    _PLAIN_PATH_PATTERN,
    ALGORITHM,
    KEY_ID_HEADER,
    NONCE_HEADER,
    SIGNATURE_HEADER,
    SIGNED_HEADERS_HEADER,
    TIMESTAMP_HEADER,
    body_digest,
    build_canonical_string,
    canonical_string,
    normalise_signed_header_names,
    parse_signed_header_names,
)
from imref.auth.errors import (
    AuthError,
    MalformedHeaderError,
    MissingHeaderError,
    NonceCacheFullError,
    NonceReusedError,
    SignatureMismatchError,
    TimestampOutOfWindowError,
    UnknownKeyError,
    check_clock_reading,
)
from imref.auth.keys import KeyStore, check_key_id, secret_bytes
from imref.auth.nonces import NonceCache
from imref.auth.primitives import SIGNATURE_PATTERN, sign, to_bytes

logger = logging.getLogger("imref.auth")

WINDOW_SECONDS = 300
NONCE_RETENTION_SECONDS = 2 * WINDOW_SECONDS

_KEY_ID_PATTERN = r"[A-Za-z0-9._-]{1,64}"
_TIMESTAMP_PATTERN = r"[0-9]{1,12}"
_NONCE_PATTERN = r"[A-Za-z0-9_-]{16,64}"
_AUTH_HEADERS = (
    (KEY_ID_HEADER, re.compile(_KEY_ID_PATTERN + r"\Z")),
    (TIMESTAMP_HEADER, re.compile(_TIMESTAMP_PATTERN + r"\Z")),
    (NONCE_HEADER, re.compile(_NONCE_PATTERN + r"\Z")),
    (SIGNATURE_HEADER, re.compile(SIGNATURE_PATTERN + r"\Z")),
)
_METHOD_PATTERN = r"[A-Z]{1,16}"
_METHOD = re.compile(_METHOD_PATTERN + r"\Z")
_AUTH_VALUES_PATTERN = " ".join(
    [
        _METHOD_PATTERN,
        _KEY_ID_PATTERN,
        _TIMESTAMP_PATTERN,
        _NONCE_PATTERN,
        SIGNATURE_PATTERN,
    ]
)
_AUTH_VALUES = re.compile(_AUTH_VALUES_PATTERN + r"\Z")
# The same values followed by a path that is already canonical. None of these
# patterns matches a space, so the text matches only if each value on its own
# matches its pattern.
_AUTH_VALUES_PLAIN_PATH = re.compile(
    _AUTH_VALUES_PATTERN + " " + _PLAIN_PATH_PATTERN + r"\Z"
)
# Header names as multidict ``istr``, whose lower-case form is computed once:
# lookups with them skip a case fold per call.
_KEY_ID_ISTR = istr(KEY_ID_HEADER)
_TIMESTAMP_ISTR = istr(TIMESTAMP_HEADER)
_NONCE_ISTR = istr(NONCE_HEADER)
_SIGNATURE_ISTR = istr(SIGNATURE_HEADER)
_SIGNED_HEADERS_ISTR = istr(SIGNED_HEADERS_HEADER)
_CONTENT_TYPE_ISTR = istr("Content-Type")
_CASE_INSENSITIVE = frozenset({CIMultiDict, CIMultiDictProxy})
# CPython 3.11 leaves two kinds of call unspecialized: ``tuple.__new__`` looked
# up on the class, and ``obj.attr()`` where ``attr`` is an instance attribute
# or a slot (``dis.dis(RequestVerifier.verify, adaptive=True)`` shows them
# after a few thousand calls). So verify loads such callables into a local
# name first, which saved about 0.1 us per request in bench/auth.py.
_new_tuple = tuple.__new__

Clock = Callable[[], float]


def new_nonce() -> str:
    """Return a fresh 128-bit random nonce as 32 hex characters."""
    return secrets.token_hex(16)


@dataclass(frozen=True)
class Check:
    """One step of request verification, in the order the verifier runs it."""

    step: str
    title: str
    errors: tuple[type[AuthError], ...]
    stops: str


CHECKS: tuple[Check, ...] = (
    Check(
        "headers",
        "auth headers present and well-formed",
        (MissingHeaderError, MalformedHeaderError),
        "an unsigned or garbled request",
    ),
    Check(
        "key_id",
        "key id known",
        (UnknownKeyError,),
        "a request under a key that was never issued or was revoked",
    ),
    Check(
        "timestamp",
        f"timestamp within {WINDOW_SECONDS} s of the server clock",
        (TimestampOutOfWindowError,),
        "replaying a captured request after its nonce was forgotten",
    ),
    Check(
        "signature",
        "signature matches the canonical string",
        (SignatureMismatchError,),
        "changing the body, method, path, query, Content-Type or a signed "
        "header, or forging a request without the secret",
    ),
    Check(
        "nonce",
        f"nonce unused in the last {NONCE_RETENTION_SECONDS} s",
        (NonceReusedError, NonceCacheFullError),
        "replaying a captured request inside the timestamp window",
    ),
)


class VerifiedRequest(NamedTuple):
    """The identity and freshness data of a request that passed every check."""

    key_id: str
    timestamp: int
    nonce: str
    signed_headers: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return (
            f"VerifiedRequest(key_id={self.key_id!r}, timestamp={self.timestamp}, "
            f"nonce={self.nonce!r})"
        )


def _diagnose_headers(
    headers: CIMultiDict[str] | CIMultiDictProxy[str], method: str = "GET"
) -> NoReturn:
    """Raise the error that names the first absent or invalid header."""
    for name, pattern in _AUTH_HEADERS:
        found = headers.getall(name, ())
        if not found:
            raise MissingHeaderError(
                f"header {name} is missing; sign the request with imref sign "
                "or RequestSigner"
            )
        if not pattern.match(found[0]):
            if name == SIGNATURE_HEADER:
                raise MalformedHeaderError(
                    f"header {name} is not the 44-character standard Base64 of "
                    "a 32-byte HMAC-SHA256 tag"
                )
            raise MalformedHeaderError(f"header {name} value {found[0]!r} is invalid")
    if not _METHOD.match(method):
        raise MalformedHeaderError(f"method {method!r} is invalid")
    # Reached only if the combined pattern and the separate ones disagree.
    raise MalformedHeaderError("the authentication headers are invalid")


def _case_insensitive(headers: Mapping[str, str]) -> Mapping[str, str]:
    """Return ``headers`` as a case-insensitive mapping, copying only if needed."""
    if isinstance(headers, CIMultiDict | CIMultiDictProxy):
        return headers
    return CIMultiDict(headers)


class RequestSigner:
    """Sign requests for one key id with one secret.

    ``clock`` returns Unix seconds and ``nonce_factory`` a fresh nonce; tests
    replace both. The repr shows the key id only.
    """

    def __init__(
        self,
        key_id: str,
        secret: str | bytes,
        *,
        clock: Clock = time.time,
        nonce_factory: Callable[[], str] = new_nonce,
    ):
        self.key_id = check_key_id(key_id)
        self._secret = secret_bytes(secret)
        self._clock = clock
        self._nonce_factory = nonce_factory

    def __repr__(self) -> str:
        return f"RequestSigner(key_id={self.key_id!r})"

    def sign(
        self,
        method: str,
        path: str,
        query: str = "",
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | str = b"",
        signed_headers: Iterable[str] = (),
    ) -> dict[str, str]:
        """Return the ``X-Imref-*`` headers that sign this request.

        ``path`` and ``query`` are raw as on the wire (query without ``?``).
        ``headers`` supplies Content-Type and the values of ``signed_headers``.
        A str ``body`` is signed as its UTF-8 bytes.

        Raises:
            MalformedHeaderError: the method is not 1 to 16 letters, or a
                header to sign is absent or invalid.
            ClockError: the clock returned a value that is not finite.
        """
        if (
            not isinstance(method, str)
            or not _METHOD.match(method.upper())
            or not method.isascii()
        ):
            raise MalformedHeaderError(
                f"method {method!r} is invalid; use 1 to 16 letters, such as GET"
            )
        header_view = _case_insensitive(headers or {})
        names = normalise_signed_header_names(signed_headers)
        values = {}
        for name in names:
            if name not in header_view:
                raise MalformedHeaderError(
                    f"header {name!r} is to be signed but the request lacks it; "
                    "add the header or drop it from signed_headers"
                )
            values[name] = header_view[name]
        timestamp = str(int(check_clock_reading(self._clock(), "the signer's clock")))
        nonce = self._nonce_factory()
        text = canonical_string(
            method=method,
            path=path,
            query=query,
            body_sha256=body_digest(to_bytes(body, "body")),
            content_type=header_view.get("Content-Type", ""),
            timestamp=timestamp,
            nonce=nonce,
            key_id=self.key_id,
            signed_headers=values,
        )
        result = {
            KEY_ID_HEADER: self.key_id,
            TIMESTAMP_HEADER: timestamp,
            NONCE_HEADER: nonce,
            SIGNATURE_HEADER: sign(self._secret, text),
        }
        if names:
            result[SIGNED_HEADERS_HEADER] = ";".join(names)
        return result

    def sign_url(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bytes | str = b"",
        signed_headers: Iterable[str] = (),
    ) -> dict[str, str]:
        """Sign a request given by its full URL, like ``sign``."""
        parts = urlsplit(url)
        return self.sign(
            method,
            parts.path,
            parts.query,
            headers=headers,
            body=body,
            signed_headers=signed_headers,
        )


class RequestVerifier:
    """Verify signed requests against a ``KeyStore``, running ``CHECKS`` in order.

    ``clock`` returns Unix seconds (tests pass a fake one). ``window`` bounds
    how far a timestamp may be from the clock, in either direction. The nonce
    cache keeps nonces for twice the window. ``nonce_capacity`` bounds it, and
    the module ``imref.auth.nonces`` describes what happens when it is full.
    ``rejections`` counts failures by code.
    """

    def __init__(
        self,
        keys: KeyStore | Mapping[str, str | bytes | Iterable[str | bytes]],
        *,
        clock: Clock = time.time,
        window: int = WINDOW_SECONDS,
        nonce_capacity: int = 100_000,
    ):
        self.keys = keys if isinstance(keys, KeyStore) else KeyStore(keys)
        self.window = window
        self.nonces = NonceCache(retention=2 * window, capacity=nonce_capacity)
        self.rejections: Counter[str] = Counter()
        self._clock = clock
        # The dict's own get, a C call, in place of KeyStore.hmac_keys_for: it
        # returns None for an unknown key id. KeyStore never rebinds the dict.
        self._hmac_keys_for = self.keys._hmac_keys.get

    def __repr__(self) -> str:
        return (
            f"RequestVerifier({self.keys!r}, window={self.window} s, {self.nonces!r})"
        )

    def verify(
        self,
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        body: bytes,
    ) -> VerifiedRequest:
        """Run every check on one request and return what it proved.

        ``path`` and ``query`` are raw as received (query without ``?``).

        Raises:
            AuthError: the subclass of the first check that failed.
            ClockError: the clock returned NaN or infinity.
        """
        # NOTE: the steps below are the rows of CHECKS, in the same order,
        # written out in one function because a call per step cost about a
        # third of the time of a whole verification. A test sends requests
        # that fail several checks at once and asserts that the first row of
        # CHECKS they fail is the one that rejects them.
        try:
            # A local name first, for speed: see the note above _new_tuple.
            clock = self._clock
            now = clock()

            # Step 1, "headers": each auth header present and well-formed. Of a
            # repeated header the first value counts, as for every other reader.
            if headers.__class__ not in _CASE_INSENSITIVE:
                headers = CIMultiDict(headers)
            try:
                key_id = headers[_KEY_ID_ISTR]
                timestamp = headers[_TIMESTAMP_ISTR]
                nonce = headers[_NONCE_ISTR]
                signature = headers[_SIGNATURE_ISTR]
            except KeyError:
                _diagnose_headers(headers)
            # One pattern checks the method and all four values and, in the
            # usual case, that the path is already canonical: one regex call
            # instead of two. If it does not match, a second pattern separates
            # a path that needs encoding from an invalid value, and the slower
            # diagnosis names the header at fault.
            plain_path = _AUTH_VALUES_PLAIN_PATH.match(
                f"{method} {key_id} {timestamp} {nonce} {signature} {path}"
            )
            if not plain_path and not _AUTH_VALUES.match(
                f"{method} {key_id} {timestamp} {nonce} {signature}"
            ):
                _diagnose_headers(headers, method)
            listed = headers.get(_SIGNED_HEADERS_ISTR)
            signed = None
            names: tuple[str, ...] = ()
            if listed:
                names = parse_signed_header_names(listed)
                signed = {}
                for name in names:
                    if name not in headers:
                        raise MissingHeaderError(
                            f"header {name} is listed in {SIGNED_HEADERS_HEADER} "
                            "but missing"
                        )
                    signed[name] = headers[name]

            # Step 2, "key_id": the key id has at least one active secret.
            hmac_keys_for = self._hmac_keys_for
            keys = hmac_keys_for(key_id)
            if not keys:
                raise UnknownKeyError(
                    f"key id {key_id!r} is unknown; use a key id issued to you"
                )

            # Step 3, "timestamp": within the window on either side of the clock.
            issued = int(timestamp)
            # "not <=" so that a NaN clock fails the check instead of passing it.
            if not abs(now - issued) <= self.window:
                raise _timestamp_error(issued, now, self.window)

            # Step 4, "signature": recompute the tag over the canonical string.
            content_type = headers.get(_CONTENT_TYPE_ISTR, "")
            try:
                if signed is None and not query and plain_path:
                    # The common case, inlined: the same text that
                    # build_canonical_string makes for a plain path with no
                    # query and no signed headers.
                    content_type = content_type.strip()
                    if "\n" in content_type or "\r" in content_type:
                        raise MalformedHeaderError(
                            f"Content-Type {content_type!r} has a line break"
                        )
                    text = (
                        f"{ALGORITHM}\n{method}\n{path or '/'}\n\n"
                        f"{sha256(body).hexdigest()}\n{content_type}\n"
                        f"{timestamp}\n{nonce}\n{key_id}\n"
                    ).encode()
                else:
                    text = build_canonical_string(
                        method,
                        path,
                        query,
                        sha256(body).hexdigest(),
                        content_type,
                        timestamp,
                        nonce,
                        key_id,
                        signed,
                    ).encode()
            except UnicodeEncodeError:
                # aiohttp decodes header bytes that are not UTF-8 into lone
                # surrogates, which cannot be encoded back.
                raise MalformedHeaderError(
                    "a signed header or the URL has bytes that are not UTF-8"
                ) from None
            tag = a2b_base64(signature)
            if len(keys) == 1:
                # One active secret, the usual case: the steps of
                # HmacKey.digest inlined, without the loop, to save a call.
                key = keys[0]
                inner_copy = key._inner_copy
                outer_copy = key._outer_copy
                inner = inner_copy()
                inner.update(text)
                outer = outer_copy()
                outer.update(inner.digest())
                matched = compare_digest(outer.digest(), tag)
            else:
                # Every active secret is tried, so the time taken does not
                # tell which secret of a rotating key id matched.
                matched = False
                for key in keys:
                    matched |= compare_digest(key.digest(text), tag)
            if not matched:
                raise SignatureMismatchError(
                    f"signature does not match the request for key id {key_id!r}; "
                    "sign the exact method, path, query, Content-Type and body bytes "
                    "that are sent"
                )

            # Step 5, "nonce": unused within the retention time, then recorded.
            # The usual case of NonceCache.check_and_add, inlined to save a
            # call: no rotation due, the entry unseen and room left. Any other
            # case goes to check_and_add, which rotates, rejects or records.
            nonces = self.nonces
            entry = f"{key_id}:{nonce}"
            current = nonces._current
            if (
                now < nonces._rotate_at
                and entry not in current
                and entry not in nonces._previous
                and len(current) < nonces._current_capacity
            ):
                current.add(entry)
            else:
                nonces.check_and_add(key_id, nonce, now)
            # tuple.__new__ skips the slower generated NamedTuple.__new__.
            return _new_tuple(VerifiedRequest, (key_id, issued, nonce, names))
        except AuthError as exc:
            self.rejections[exc.code] += 1
            raise


def _timestamp_error(issued: int, now: float, window: int) -> AuthError:
    """Return the error for a timestamp outside the window around ``now``.

    Raises:
        ClockError: ``now`` is NaN or infinite, so no timestamp can be judged.
    """
    check_clock_reading(now, "the verifier's clock")
    skew = now - issued
    if skew > 0:
        return TimestampOutOfWindowError(
            f"timestamp {issued} is {skew:.0f} s in the past, more than {window} s; "
            "sign each request just before sending it and keep the client clock "
            "synchronised"
        )
    return TimestampOutOfWindowError(
        f"timestamp {issued} is {-skew:.0f} s in the future, more than {window} s; "
        "keep the client clock synchronised"
    )
