"""A small HTTP API that accepts only signed requests, for demos and tests.

Routes, all behind ``verification_middleware``:

- ``GET /v1/ping`` returns ``{"ok": true, "key_id": ...}``.
- ``POST /v1/messages`` takes a JSON object and returns ``{"accepted": true,
  "key_id": ..., "body_bytes": ..., "body_sha256": ...}``, or 400 with
  ``{"code": "invalid_json", ...}`` if the verified body is not a JSON object.
"""

from __future__ import annotations

import asyncio
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
        return web.json_response(
            {"code": "invalid_json", "message": "the body must be a JSON object"},
            status=400,
        )
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
        middlewares=[verification_middleware(verifier)],
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
