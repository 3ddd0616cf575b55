"""A small HTTP API that accepts only signed requests, for demos and tests.

Routes, all behind ``verification_middleware``:

- ``GET /v1/ping`` returns ``{"ok": true, "key_id": ...}``.
- ``POST /v1/messages`` takes a JSON object and returns ``{"accepted": true,
  "key_id": ..., "body_bytes": ..., "body_sha256": ...}``, or 400 with
  ``{"code": "invalid_json", ...}`` if the verified body is not a JSON object.

Every 4xx response, an unknown path (404) and a wrong method (405) included,
has the JSON body ``{"code": ..., "message": ...}``. Rejected requests are
logged as WARNING records on the ``imref.auth`` logger, with a rate limit.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import json
import logging
import threading
from collections.abc import AsyncIterator, Iterator

from aiohttp import web

from imref.auth.middleware import verification_middleware, verified_request
from imref.auth.requests import RequestVerifier

logger = logging.getLogger("imref.auth")

MAX_BODY_BYTES = 64 * 1024

# aiohttp (3.14) has no separate timeout for reading request headers. Its
# keep-alive timer starts when a connection opens and closes the connection
# if no whole request has arrived by then, so it bounds a peer that sends
# half its headers as well as an idle connection between requests.
IDLE_TIMEOUT_SECONDS = 15.0


# Like the verification middleware, log the first 10 rejections of each code
# and then every 1000th, so a flood of bad requests cannot flood the log.
LOGGED_REJECTIONS_PER_CODE = 10
LOG_EVERY_NTH_REJECTION = 1000


class RejectedRequest(Exception):
    """A request that a demo handler rejects with a JSON error response."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _http_error_body(request: web.Request, exc: web.HTTPException) -> tuple[str, str]:
    """Return the code and message of the JSON body for an aiohttp 4xx error."""
    if isinstance(exc, web.HTTPNotFound):
        return "not_found", (
            f"no route for {request.rel_url.raw_path}; the demo serves "
            "GET /v1/ping and POST /v1/messages"
        )
    if isinstance(exc, web.HTTPMethodNotAllowed):
        allowed = ", ".join(sorted(exc.allowed_methods))
        return "method_not_allowed", (
            f"method {request.method} is not allowed on "
            f"{request.rel_url.raw_path}; use {allowed}"
        )
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        return "body_too_large", (
            f"the body is larger than {request.client_max_size} bytes; "
            "send a smaller body"
        )
    return exc.reason.lower().replace(" ", "_"), exc.text or exc.reason


def _json_errors_middleware():
    """Return a server middleware that turns every 4xx error into JSON and logs it."""
    rejections: collections.Counter[str] = collections.Counter()

    @web.middleware
    async def json_errors(request: web.Request, handler):
        headers = {}
        try:
            return await handler(request)
        except RejectedRequest as exc:
            status, code, message = exc.status, exc.code, exc.message
        except web.HTTPException as exc:
            if not 400 <= exc.status < 500:
                raise
            status = exc.status
            code, message = _http_error_body(request, exc)
            if "Allow" in exc.headers:
                headers["Allow"] = exc.headers["Allow"]
        rejections[code] += 1
        count = rejections[code]
        if count <= LOGGED_REJECTIONS_PER_CODE or count % LOG_EVERY_NTH_REJECTION == 0:
            logger.warning(
                "rejected %s %s from %s: %s (%d so far)",
                request.method,
                request.rel_url.raw_path,
                request.remote,
                code,
                count,
            )
        return web.json_response(
            {"code": code, "message": message}, status=status, headers=headers
        )

    return json_errors


async def _ping(request: web.Request) -> web.Response:
    return web.json_response({"ok": True, "key_id": verified_request(request).key_id})


async def _post_message(request: web.Request) -> web.Response:
    body = await request.read()
    try:
        message = json.loads(body)
    except (ValueError, RecursionError):
        # ValueError covers JSONDecodeError, UnicodeDecodeError and an integer
        # longer than sys.get_int_max_str_digits(). RecursionError comes from
        # arrays or objects nested deeper than the interpreter's stack allows.
        message = None
    if not isinstance(message, dict):
        raise RejectedRequest(400, "invalid_json", "the body must be a JSON object")
    return web.json_response(
        {
            "accepted": True,
            "key_id": verified_request(request).key_id,
            "body_bytes": len(body),
            "body_sha256": hashlib.sha256(body).hexdigest(),
        }
    )


def make_demo_app(verifier: RequestVerifier) -> web.Application:
    """Build the demo API with ``verifier`` as its authentication middleware."""
    app = web.Application(
        # The first middleware wraps the second, so it also turns the 413
        # that verification raises into JSON.
        middlewares=[_json_errors_middleware(), verification_middleware(verifier)],
        client_max_size=MAX_BODY_BYTES,
    )
    app.router.add_get("/v1/ping", _ping)
    app.router.add_post("/v1/messages", _post_message)
    return app


@contextlib.asynccontextmanager
async def run_demo_server(
    verifier: RequestVerifier,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    idle_timeout: float = IDLE_TIMEOUT_SECONDS,
) -> AsyncIterator[str]:
    """Serve the demo API and yield its base URL; stop it on exit.

    Port 0 picks a free port. A connection that has not sent a whole request
    within ``idle_timeout`` seconds of opening, or of its last response, is
    closed.
    """
    runner = web.AppRunner(
        make_demo_app(verifier), access_log=None, keepalive_timeout=idle_timeout
    )
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound_port = runner.addresses[0][1]
    base_url = f"http://{host}:{bound_port}"
    logger.info("demo API listening on %s", base_url)
    try:
        yield base_url
    finally:
        await runner.cleanup()
        logger.info("demo API on %s stopped", base_url)


@contextlib.contextmanager
def serve_demo_in_thread(
    verifier: RequestVerifier,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    idle_timeout: float = IDLE_TIMEOUT_SECONDS,
) -> Iterator[str]:
    """Serve the demo API from a background thread and yield its base URL.

    For callers without an event loop, such as a test that drives the server
    with curl. The server stops and the thread ends on exit.

    Raises:
        TimeoutError: the server did not start within 10 s.
    """
    loop = asyncio.new_event_loop()
    started = threading.Event()
    stop: asyncio.Event | None = None
    base_url: list[str] = []
    failure: list[BaseException] = []

    async def serve() -> None:
        nonlocal stop
        stop = asyncio.Event()
        try:
            async with run_demo_server(
                verifier, host=host, port=port, idle_timeout=idle_timeout
            ) as url:
                base_url.append(url)
                started.set()
                await stop.wait()
        except BaseException as exc:
            failure.append(exc)
            started.set()
            raise

    thread = threading.Thread(
        target=loop.run_until_complete, args=(serve(),), daemon=True
    )
    thread.start()
    try:
        if not started.wait(10):
            raise TimeoutError("the demo API did not start within 10 s")
        if failure:
            raise failure[0]
        yield base_url[0]
    finally:
        if stop is not None:
            loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()
