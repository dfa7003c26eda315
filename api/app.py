"""``create_app(settings)``: the FastAPI application. Nothing happens at import."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any

from fastapi import FastAPI

from vidprov import __version__
from vidprov.api.auth import load_keyring
from vidprov.api.deps import KNOWN_QUERY, Context, SafeJSONResponse
from vidprov.api.engine import Engine, Scanner
from vidprov.api.errors import install_handlers
from vidprov.api.guard import JsonBodyGuard, json_routes
from vidprov.api.jobs import JobStore, Runner
from vidprov.api.schemas import errors
from vidprov.api.settings import ApiSettings
from vidprov.api.uploads import sweep_stale_uploads
from vidprov.errors import printable

log = logging.getLogger(__name__)
_PR_SET_PDEATHSIG = 1  # prctl(2)

DESCRIPTION = """
Scan, verify and generate AI video over HTTP: a thin layer over the `vidprov` library.
Every answer is the JSON the CLI's `--json` prints; every error is `{"error", "message"}`.

Authentication: `Authorization: Bearer <key>`; keys have the scopes `read` and/or `generate`.
A server started without keys (loopback only) is open.

Long work: add `?mode=job` to get a job (202) and poll `GET /v1/jobs/{id}`.
"""


class AccessLog:
    """Logs one line per request (method, path, status, milliseconds; never headers or the
    query string) and adds ``X-Content-Type-Options: nosniff``."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0, status = time.perf_counter(), [0]

        async def sending(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-content-type-options", b"nosniff")]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            log.info(
                "%s %s %d %.0f ms",
                scope["method"],
                printable(scope["path"]),  # a client's %00 or newline stays out of the log
                status[0],
                1000 * (time.perf_counter() - t0),
            )


class HeadAsGet:
    """Answers ``HEAD`` as the ``GET`` of the same path would be answered, headers only (RFC
    9110: monitors and ``curl -I`` use it); the routes themselves declare only ``GET``."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headers_only)


def create_app(settings: ApiSettings | None = None, *, scanner: Scanner | None = None) -> FastAPI:
    """Build the service.

    Args:
        settings: limits, keys and folders (default: :meth:`ApiSettings.from_env`).
        scanner: what ``POST /v1/scan`` runs (default: ``scan_file`` with the shipped model).

    Raises:
        ConfigError: bad settings or a bad API keys file.
    """
    from vidprov.api.routes import generate, jobs, media, meta, store

    settings = settings or ApiSettings.from_env()
    keyring = load_keyring(settings.api_keys_file, settings.api_keys)
    job_store = JobStore(settings.state_path, settings.job_ttl_s)
    runner = Runner(job_store, settings.max_concurrent, settings.max_queue)
    sweep_stale_uploads(settings.tmp_dir)
    ctx = Context(settings, keyring, Engine(settings, scanner), job_store, runner)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        log.info("vidprov API %s up (auth: %s)", __version__, "open" if keyring.open else "keys")
        restore = _on_stop_signal(asyncio.get_running_loop(), runner.stopping)
        try:
            yield
        finally:
            restore()
        await asyncio.to_thread(runner.shutdown, settings.shutdown_grace_s)

    app = FastAPI(
        title="vidprov",
        version=__version__,
        description=DESCRIPTION,
        default_response_class=SafeJSONResponse,
        lifespan=lifespan,
        # "/v1/scan/" is a 404 with a JSON body, not an empty 307 to a URL built from the
        # client's Host header (which a client following it would send the upload to again)
        redirect_slashes=False,
    )
    app.state.vidprov = ctx
    install_handlers(app)
    app.include_router(meta.router)
    for module in (media, generate, store, jobs):  # the API proper: no unknown query options
        app.include_router(module.router, dependencies=[KNOWN_QUERY], responses=errors(422))
    app.add_middleware(JsonBodyGuard, ctx=ctx, routes=json_routes(app))
    app.add_middleware(HeadAsGet)
    app.add_middleware(AccessLog)  # outermost: logs HEAD as HEAD
    return app


def _on_stop_signal(
    loop: asyncio.AbstractEventLoop, stopping: Callable[[], None]
) -> Callable[[], None]:
    """Run ``stopping`` (in a thread of its own) as soon as SIGINT or SIGTERM arrives, then
    the handler found (uvicorn's): the lifespan's end comes only after uvicorn has waited for
    open requests. Only where the lifespan runs in the main thread (the one signals reach).
    Returns what puts the handlers found back (at the lifespan's end: a server other than
    uvicorn may not restore them, and the loop is closed then)."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def start() -> None:  # on the loop, outside the signal handler (no lock held there)
        threading.Thread(target=stopping, name="vidprov-stopping", daemon=True).start()

    found: dict[signal.Signals, Any] = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous = signal.getsignal(sig)
        if not callable(previous):
            continue

        def handler(signum: int, frame: Any, previous: Callable[..., Any] = previous) -> None:
            with suppress(RuntimeError):  # a loop already closed
                loop.call_soon_threadsafe(start)
            previous(signum, frame)

        found[sig] = previous
        signal.signal(sig, handler)

    def restore() -> None:
        for sig, previous in found.items():
            signal.signal(sig, previous)

    return restore


def app_from_env() -> FastAPI:
    """uvicorn factory (``vidprov.api.app:app_from_env``): settings from the environment."""
    _stop_with_parent()
    return create_app()


def _stop_with_parent() -> None:
    """In a worker process of ``serve --workers N`` (Linux): a stop signal (SIGTERM) when the
    process that started it dies. Killed with -9, the ``serve`` process left its workers
    serving on the port, running and taking jobs, and a new ``serve`` could not bind it."""
    parent = multiprocessing.parent_process()
    if parent is None or not sys.platform.startswith("linux"):
        return  # one process: uvicorn serves in ``vidprov serve`` itself
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        log.warning("worker %d will not stop with its parent (prctl failed)", os.getpid())
    elif os.getppid() != parent.pid:  # the parent died before the request was in place
        os.kill(os.getpid(), signal.SIGTERM)
