"""``imref sign`` and ``imref auth-demo``: sign a request for curl, serve the demo API.

Secrets are read from an environment variable, never from the command line,
where other users could read them in the process list.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
from pathlib import Path
from urllib.parse import urlsplit

from imref import argtypes
from imref.errors import ImrefError

logger = logging.getLogger("imref.auth")

DEFAULT_SECRET_ENV = "IMREF_SECRET"
DEFAULT_CONTENT_TYPE = "application/octet-stream"


class MissingSecretError(ImrefError, ValueError):
    """The environment variable that should hold the secret is unset or empty."""


class ShortSecretError(ImrefError, ValueError):
    """The secret in the environment variable is shorter than imref accepts."""


def _export_example(name: str) -> str:
    # Every secret error suggests this command, because its output is text
    # that an environment variable can contain.
    return f"export {name}=$(openssl rand -hex 32)"


def _secret_from_env(name: str) -> bytes:
    """Return the secret in environment variable ``name`` as its raw bytes.

    The bytes are what the variable contains, so a secret that is not UTF-8
    is signed as it is.
    """
    from imref.auth.keys import MIN_SECRET_BYTES

    # fsencode undoes the surrogateescape decoding that os.environ applies.
    secret = os.fsencode(os.environ.get(name, ""))
    if not secret:
        raise MissingSecretError(
            f"environment variable {name!r} is unset or empty; export the secret "
            f"there first, for example: {_export_example(name)}"
        )
    if len(secret) < MIN_SECRET_BYTES:
        raise ShortSecretError(
            f"the secret in environment variable {name!r} is {len(secret)} bytes, "
            f"which is too short; use at least {MIN_SECRET_BYTES} random bytes, "
            f"for example: {_export_example(name)}"
        )
    return secret


def _body(args: argparse.Namespace) -> bytes:
    if args.data_file is not None:
        try:
            return Path(args.data_file).read_bytes()
        except OSError as exc:
            raise ImrefError(
                f"cannot read --data-file {args.data_file!r}: {exc.strerror}"
            ) from exc
    if args.data is not None:
        try:
            return args.data.encode("utf-8")
        except UnicodeEncodeError:
            # Python decodes argv bytes that are not UTF-8 into lone surrogates.
            raise ImrefError(
                f"--data {args.data!r} is not valid UTF-8 text; write the bytes "
                "to a file and pass --data-file PATH"
            ) from None
    return b""


def _is_control(char: str) -> bool:
    # HTTP allows a tab inside a header value, but no other control character.
    return char != "\t" and (ord(char) < 0x20 or ord(char) == 0x7F)


def _parse_header(text: str) -> tuple[str, str]:
    """Split one --header value into a name that can be signed and its value."""
    from imref.auth import canonical
    from imref.auth.errors import MalformedHeaderError

    # The headers that imref sign computes itself.
    auth_header_names = {
        canonical.KEY_ID_HEADER.lower(),
        canonical.TIMESTAMP_HEADER.lower(),
        canonical.NONCE_HEADER.lower(),
        canonical.SIGNATURE_HEADER.lower(),
        canonical.SIGNED_HEADERS_HEADER.lower(),
    }
    name, colon, value = text.partition(":")
    name, value = name.strip(), value.strip()
    if not colon or not name:
        raise ImrefError(f"--header {text!r} is invalid; write it as 'Name: value'")
    if name.lower() == "content-type":
        raise ImrefError(
            f"--header {text!r} is invalid; pass the type as --content-type instead"
        )
    if name.lower() in auth_header_names:
        raise ImrefError(
            f"--header {text!r} is invalid, because imref sign adds {name} "
            "itself; remove it"
        )
    try:
        canonical.parse_signed_header_names(name.lower())
    except MalformedHeaderError:
        raise ImrefError(
            f"--header {text!r} is invalid; a header name to sign is 1 to 64 "
            "letters, digits and '-', starting with a letter or digit"
        ) from None
    if any(_is_control(char) for char in value):
        raise ImrefError(
            f"--header {text!r} is invalid; remove the control characters "
            "from its value"
        )
    return name, value


def _parse_headers(texts: list[str]) -> dict[str, str]:
    """Parse every --header value, rejecting a name given twice in any case."""
    headers: dict[str, str] = {}
    seen: dict[str, str] = {}
    for text in texts:
        name, value = _parse_header(text)
        if name.lower() in seen:
            raise ImrefError(
                f"--header {text!r} repeats the header {seen[name.lower()]!r}; "
                "give each header once"
            )
        seen[name.lower()] = name
        headers[name] = value
    return headers


def _has_dot_segment(path: str) -> bool:
    return any(segment in {".", ".."} for segment in path.split("/"))


def _curl_command(
    method: str, url: str, headers: dict[str, str], args: argparse.Namespace
) -> list[str]:
    """Build a curl command that sends exactly the request that was signed."""
    argv = ["curl", "-sS", "-X", method]
    for name, value in headers.items():
        argv += ["-H", f"{name}: {value}"]
    # Without --path-as-is curl removes "." and ".." segments before sending,
    # but the signature covers the path as written.
    if _has_dot_segment(urlsplit(url).path):
        argv.append("--path-as-is")
    # Both options send the bytes unchanged. --data-raw does not read a file
    # when the text starts with "@", as --data and --data-binary would.
    if args.data_file is not None:
        argv += ["--data-binary", f"@{args.data_file}"]
    elif args.data is not None:
        argv += ["--data-raw", args.data]
    argv.append(url)
    return argv


def run_sign(args: argparse.Namespace) -> int:
    """Print the auth headers, or a whole curl command, for one request."""
    from imref.auth.requests import RequestSigner

    try:
        parts = urlsplit(args.url)
    except ValueError as exc:
        raise ImrefError(
            f"URL {args.url!r} is invalid ({exc}); give http://host:port/path"
        ) from None
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ImrefError(f"URL {args.url!r} is invalid; give http://host:port/path")
    try:
        # urlsplit checks the port only when it is read.
        port = parts.port
    except ValueError:
        port = -1
    if port == -1:
        raise ImrefError(
            f"URL {args.url!r} has an invalid port; give a port from 1 to 65535"
        )
    if parts.username is not None or parts.fragment:
        raise ImrefError(
            f"URL {args.url!r} has a user name or a #fragment, which the request "
            "would not send as signed; remove them"
        )
    method = args.method.upper()
    body = _body(args)
    headers = _parse_headers(args.header)
    signed_headers = list(headers)
    # A request with a body always names its type, because curl would
    # otherwise send application/x-www-form-urlencoded, which was not signed.
    has_body = args.data is not None or args.data_file is not None
    content_type = args.content_type
    if content_type is None and has_body:
        content_type = DEFAULT_CONTENT_TYPE
    if content_type is not None:
        headers["Content-Type"] = content_type
    signer = RequestSigner(args.key_id, _secret_from_env(args.secret_env))
    auth = signer.sign(
        method,
        parts.path,
        parts.query,
        headers=headers,
        body=body,
        signed_headers=signed_headers,
    )
    headers.update(auth)
    if args.curl:
        print(shlex.join(_curl_command(method, args.url, headers, args)))
        return 0
    for name, value in headers.items():
        print(f"{name}: {value}")
    return 0


def run_demo(args: argparse.Namespace) -> int:
    """Serve the demo API on 127.0.0.1 until interrupted."""
    import asyncio

    from imref.auth.demo import run_demo_server
    from imref.auth.requests import RequestVerifier

    # Rejected requests are logged as WARNING records, which the demo shows
    # without -v. basicConfig does nothing if -v already configured logging.
    logging.basicConfig(
        level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    verifier = RequestVerifier({args.key_id: _secret_from_env(args.secret_env)})

    async def serve() -> None:
        async with run_demo_server(verifier, port=args.port) as base_url:
            print(
                f"demo API on {base_url} (key id {args.key_id!r}); Ctrl-C stops it",
                flush=True,
            )
            await asyncio.Event().wait()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        # Raised when the server cannot bind, for example to a port in use.
        raise ImrefError(
            f"cannot serve the demo API on 127.0.0.1 port {args.port}: "
            f"{exc.strerror or exc}; choose another --port, or 0 for a free one"
        ) from None
    return 0


def _add_key_options(parser: argparse.ArgumentParser, key_id_help: str) -> None:
    parser.add_argument(
        "--key-id", default="demo", help=f"{key_id_help} (default: demo)"
    )
    parser.add_argument(
        "--secret-env",
        default=DEFAULT_SECRET_ENV,
        metavar="NAME",
        help="environment variable that contains the secret "
        f"(default: {DEFAULT_SECRET_ENV})",
    )


def register(subparsers: argparse._SubParsersAction) -> None:
    sign = subparsers.add_parser(
        "sign",
        help="print the auth headers that sign one HTTP request",
        description=(
            "Sign one HTTP request with HMAC-SHA256 and print the X-Imref-* "
            "headers, or with --curl a whole curl command. The signature covers "
            "METHOD, the path and query of URL, the Content-Type, each --header "
            "and the body given with --data or --data-file. The secret is read "
            f"from ${DEFAULT_SECRET_ENV} (see --secret-env). Sign just before "
            "sending: the server accepts a timestamp within 300 s."
        ),
    )
    sign.add_argument("method", metavar="METHOD", help="HTTP method, for example POST")
    sign.add_argument(
        "url", metavar="URL", help="full URL, for example http://127.0.0.1:8080/v1/ping"
    )
    body = sign.add_mutually_exclusive_group()
    body.add_argument("--data", help="request body as text, sent as UTF-8")
    body.add_argument(
        "--data-file", metavar="PATH", help="file whose bytes are the body"
    )
    sign.add_argument(
        "--content-type",
        default=None,
        help="Content-Type to send and sign, for example application/json "
        f"(default with --data or --data-file: {DEFAULT_CONTENT_TYPE})",
    )
    sign.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="an extra header to send and sign; repeat for more",
    )
    sign.add_argument("--curl", action="store_true", help="print a curl command")
    _add_key_options(sign, "key id to sign with")
    sign.set_defaults(func=run_sign)

    demo = subparsers.add_parser(
        "auth-demo",
        help="serve the demo API that accepts only signed requests",
        description=(
            "Serve the chapter 4 demo API on 127.0.0.1: GET /v1/ping and "
            "POST /v1/messages, both behind the signature verifier."
        ),
    )
    demo.add_argument(
        "--port",
        type=argtypes.port,
        default=8080,
        help="TCP port, 0 for any free port (default: 8080)",
    )
    _add_key_options(demo, "key id whose signatures the server accepts")
    demo.set_defaults(func=run_demo)
