"""The canonical string that a signed request's signature covers.

A request signature covers one text built from the request, one field per
line, joined with ``\\n`` and encoded as UTF-8::

    IMREF-HMAC-SHA256             fixed algorithm label
    POST                          method, upper case
    /v1/messages                  canonical path
    a=1&a=0&b=x%20y               canonical query, empty line if none
    5f70bf18a0860070...           lowercase hex SHA-256 of the raw body bytes
    application/json              Content-Type as sent, trimmed, empty if none
    1764864000                    timestamp, integer Unix seconds
    3f1c0e...                     nonce
    demo                          key id
    x-request-id                  signed header names, lower case, sorted,
                                  ";"-joined; an empty line if none
    x-request-id:42               one "name:value" line per signed header

Path: each ``/``-separated segment is percent-decoded to bytes and encoded
again, leaving only the URI unreserved characters (``A-Z a-z 0-9 - _ .
~``) bare, so ``%7e`` and ``~`` sign alike but ``%2F`` stays apart from
``/``. Query: each ``name=value`` pair is decoded the way HTML forms and
aiohttp's ``request.query`` decode it (``+`` is a space), encoded the same
way as path segments, and the pairs are sorted by encoded name only. The sort
is stable, so the values of a repeated name keep the order in which they were
sent. Client and server therefore agree however either side spells the URL.

Sorting by name only differs from AWS Signature Version 4, which also sorts
the values of a repeated name. There, ``to=alice&to=mallory`` and
``to=mallory&to=alice`` sign alike, yet ``request.query["to"]`` returns
``alice`` for one and ``mallory`` for the other. Here the second spelling
fails verification, so a handler that reads the first value reads the one
that was signed first.

NOTE: the host and the scheme are not signed. A key id accepted by two
services lets a request for one be replayed to the other within its window,
so give each service its own key ids, or sign ``Host`` as a signed header.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from urllib.parse import quote_from_bytes, unquote_to_bytes

from imref.auth.errors import MalformedHeaderError
from imref.auth.primitives import sha256_hex

ALGORITHM = "IMREF-HMAC-SHA256"

KEY_ID_HEADER = "X-Imref-Key-Id"
TIMESTAMP_HEADER = "X-Imref-Timestamp"
NONCE_HEADER = "X-Imref-Nonce"
SIGNATURE_HEADER = "X-Imref-Signature"
SIGNED_HEADERS_HEADER = "X-Imref-Signed-Headers"

# Characters that percent-encoding leaves bare: the URI "unreserved" set.
_UNRESERVED = "-_.~"

# A path made only of these is already canonical.
_PLAIN_PATH_PATTERN = r"[A-Za-z0-9/_.~-]*"
_PLAIN_PATH = re.compile(_PLAIN_PATH_PATTERN + r"\Z")

_HEADER_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,63}\Z")

# Headers that carry the signature itself, or are covered by their own line,
# cannot also be listed as signed headers.
_RESERVED_HEADERS = frozenset(
    name.lower()
    for name in (
        KEY_ID_HEADER,
        TIMESTAMP_HEADER,
        NONCE_HEADER,
        SIGNATURE_HEADER,
        SIGNED_HEADERS_HEADER,
        "content-type",
    )
)


def _encode(data: bytes) -> str:
    return quote_from_bytes(data, safe=_UNRESERVED)


def canonical_path(raw_path: str) -> str:
    """Normalise a percent-encoded path into its canonical form."""
    if not raw_path:
        return "/"
    if _PLAIN_PATH.match(raw_path):
        return raw_path
    segments = raw_path.split("/")
    return "/".join(_encode(unquote_to_bytes(segment)) for segment in segments)


def _pair_name(pair: tuple[str, str]) -> str:
    return pair[0]


def canonical_query(raw_query: str) -> str:
    """Sort by name and percent-encode a raw query string (without the ``?``).

    The values of a repeated name keep their order, as the module header
    explains.
    """
    if not raw_query:
        return ""
    pairs = []
    for part in raw_query.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        name_bytes = unquote_to_bytes(name.replace("+", " "))
        value_bytes = unquote_to_bytes(value.replace("+", " "))
        pairs.append((_encode(name_bytes), _encode(value_bytes)))
    pairs.sort(key=_pair_name)
    return "&".join(f"{name}={value}" for name, value in pairs)


def parse_signed_header_names(value: str) -> tuple[str, ...]:
    """Parse the ``;``-separated list of signed header names.

    Raises:
        MalformedHeaderError: a name is not a lower-case header name, is
            repeated, or names a header that has its own canonical line.
    """
    if not value:
        return ()
    names = tuple(value.split(";"))
    for name in names:
        if not _HEADER_NAME.match(name) or name in _RESERVED_HEADERS:
            raise MalformedHeaderError(
                f"{SIGNED_HEADERS_HEADER} lists {name!r}; list lower-case header "
                "names separated by ';', without the X-Imref-* headers or "
                "Content-Type"
            )
    if len(set(names)) != len(names) or list(names) != sorted(names):
        raise MalformedHeaderError(
            f"{SIGNED_HEADERS_HEADER} {value!r} must list each name once, sorted"
        )
    return names


def normalise_signed_header_names(names: Iterable[str]) -> tuple[str, ...]:
    """Lower-case, deduplicate and sort header names for signing.

    Raises:
        MalformedHeaderError: a name is not a valid header name to sign.
    """
    unique = sorted({name.strip().lower() for name in names})
    return parse_signed_header_names(";".join(unique))


def canonical_string(
    *,
    method: str,
    path: str,
    query: str,
    body_sha256: str,
    content_type: str,
    timestamp: str,
    nonce: str,
    key_id: str,
    signed_headers: Mapping[str, str] | None = None,
) -> str:
    """Build the canonical string from request parts (see the module header).

    ``path`` and ``query`` are raw, as on the wire; ``signed_headers`` maps
    lower-case names to values and is written sorted by name.

    Raises:
        MalformedHeaderError: a header value contains a line break.
    """
    return build_canonical_string(
        method,
        path,
        query,
        body_sha256,
        content_type,
        timestamp,
        nonce,
        key_id,
        signed_headers,
    )


def build_canonical_string(
    method: str,
    path: str,
    query: str,
    body_sha256: str,
    content_type: str,
    timestamp: str,
    nonce: str,
    key_id: str,
    signed_headers: Mapping[str, str] | None,
) -> str:
    """Build the canonical string from positional parts, as ``canonical_string``.

    The verifier calls this form on every request because positional calls
    cost less than keyword ones.
    """
    if not _PLAIN_PATH.match(path):
        path = canonical_path(path)
    if query:
        query = canonical_query(query)
    content_type = content_type.strip()
    if "\n" in content_type or "\r" in content_type:
        raise MalformedHeaderError(f"Content-Type {content_type!r} has a line break")
    text = (
        f"{ALGORITHM}\n{method.upper()}\n{path or '/'}\n{query}\n{body_sha256}\n"
        f"{content_type}\n{timestamp}\n{nonce}\n{key_id}\n"
    )
    if not signed_headers:
        return text
    names = sorted(signed_headers)
    lines = [";".join(names)]
    for name in names:
        value = signed_headers[name].strip()
        if "\n" in value or "\r" in value:
            raise MalformedHeaderError(f"header {name} value {value!r} has a newline")
        lines.append(f"{name}:{value}")
    return text + "\n".join(lines)


def body_digest(body: bytes) -> str:
    """Return the hex SHA-256 of the raw body, the canonical string's body line."""
    return sha256_hex(body)
