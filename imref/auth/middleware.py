"""aiohttp adapters: a client middleware that signs, a server one that verifies.

Both only move bytes between aiohttp and the sans-IO ``RequestSigner`` and
``RequestVerifier``; every protocol rule lives in ``imref.auth.requests``.
Client middlewares need aiohttp 3.12 or newer.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable

from aiohttp import ClientRequest, ClientResponse, hdrs, payload, web

from imref.auth.errors import AuthError
from imref.auth.requests import RequestSigner, RequestVerifier, VerifiedRequest
from imref.errors import ImrefError

logger = logging.getLogger("imref.auth")

# Where the server middleware stores the VerifiedRequest on the aiohttp
# request. aiohttp 3.13 added typed request keys; older versions take a str.
if hasattr(web, "RequestKey"):
    VERIFIED_REQUEST_KEY = web.RequestKey("imref.auth.verified", VerifiedRequest)
else:  # pragma: no cover - aiohttp 3.12
    VERIFIED_REQUEST_KEY = "imref.auth.verified"

ClientHandler = Callable[[ClientRequest], Awaitable[ClientResponse]]
ClientMiddleware = Callable[[ClientRequest, ClientHandler], Awaitable[ClientResponse]]


class UnsignableBodyError(ImrefError, TypeError):
    """The request body is a stream, whose bytes are unknown before sending."""


async def _body_bytes(request: ClientRequest) -> bytes:
    body = request.body
    if body == b"" or body is None:
        return b""
    if isinstance(body, payload.BytesPayload):
        return await body.as_bytes()
    raise UnsignableBodyError(
        f"cannot sign a {type(body).__name__} body, because its bytes must be "
        "hashed before sending; pass bytes, str or json= instead of a stream"
    )


def signing_middleware(
    signer: RequestSigner, *, signed_headers: Iterable[str] = ()
) -> ClientMiddleware:
    """Return an aiohttp client middleware that signs every request it sends.

    Use it as ``ClientSession(middlewares=[signing_middleware(signer)])``.
    Each attempt, redirects included, gets a fresh timestamp and nonce.
    ``signed_headers`` names extra headers to sign; each request must have them.

    Raises:
        UnsignableBodyError: (from the request) the body is a stream.
        MalformedHeaderError: (from the request) a header to sign is absent.
    """
    names = tuple(signed_headers)

    async def sign_request(
        request: ClientRequest, handler: ClientHandler
    ) -> ClientResponse:
        body = await _body_bytes(request)
        # aiohttp adds this Content-Type after the middlewares run (checked
        # in aiohttp 3.14); setting it now puts the header that is sent
        # under the signature.
        if (
            request.method in ClientRequest.POST_METHODS
            and hdrs.CONTENT_TYPE not in request.headers
        ):
            request.headers[hdrs.CONTENT_TYPE] = "application/octet-stream"
        url = request.url
        auth_headers = signer.sign(
            request.method,
            url.raw_path,
            url.raw_query_string,
            headers=request.headers,
            body=body,
            signed_headers=names,
        )
        request.headers.update(auth_headers)
        logger.debug("signed %s %s with key id %r", request.method, url, signer.key_id)
        return await handler(request)

    return sign_request


def verification_middleware(verifier: RequestVerifier):
    """Return an aiohttp server middleware that lets only verified requests through.

    A request that fails a check gets the check's status (401, or 503 when
    the nonce cache is full) and a JSON body ``{"code": ..., "message": ...}``
    that names the failed check, never a secret or the expected signature.
    A handler finds the ``VerifiedRequest`` at
    ``request[VERIFIED_REQUEST_KEY]``; ``verified_request(request)`` returns it.
    """

    @web.middleware
    async def verify_request(request: web.Request, handler):
        url = request.rel_url
        # read() would reject this body only after client_max_size bytes had
        # arrived, so a peer that declares a huge length and sends nothing
        # would hold the handler open. Reject it before reading.
        declared = request.content_length
        if declared is not None and declared > request.client_max_size:
            raise web.HTTPRequestEntityTooLarge(
                max_size=request.client_max_size, actual_size=declared
            )
        try:
            body = await request.read()
        except ConnectionError:
            # The peer disconnected mid-body, so no response can reach it.
            logger.debug("peer %s disconnected during %s", request.remote, url.raw_path)
            raise web.HTTPBadRequest(text="request body truncated") from None
        try:
            verified = verifier.verify(
                request.method,
                url.raw_path,
                url.raw_query_string,
                request.headers,
                body,
            )
        except AuthError as exc:
            # Rejections are expected traffic, not server faults. Each is
            # counted in verifier.rejections, and a WARNING line is logged for
            # the first 10 of each code and then every 1000th, so a flood of
            # bad requests cannot flood the log.
            count = verifier.rejections[exc.code]
            if count <= 10 or count % 1000 == 0:
                logger.warning(
                    "rejected %s %s from %s: %s (%d so far)",
                    request.method,
                    url.raw_path,
                    request.remote,
                    exc.code,
                    count,
                )
            return web.json_response(
                {"code": exc.code, "message": str(exc)}, status=exc.status
            )
        request[VERIFIED_REQUEST_KEY] = verified
        logger.info(
            "verified %s %s for key id %r",
            request.method,
            url.raw_path,
            verified.key_id,
        )
        return await handler(request)

    return verify_request


def verified_request(request: web.Request) -> VerifiedRequest:
    """Return what the verification middleware proved about ``request``.

    Raises:
        KeyError: the request did not pass through the middleware.
    """
    return request[VERIFIED_REQUEST_KEY]
