"""One place that turns errors into JSON bodies ``{"error", "message", ...}``.

Library errors (:class:`VidprovError`) are caused by the request (a bad video, a bad payload)
or, for missing keys and models, by the server's setup; neither becomes a 500. Only a bug does,
and then the body says no more than that (the traceback goes to the log).
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Iterable, Iterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match

from vidprov.errors import (
    ConfigError,
    DetectorError,
    GeneratorError,
    GeneratorMemoryError,
    KeyError_,
    MediaError,
    ProvenanceError,
    VidprovError,
    WatermarkError,
)

log = logging.getLogger(__name__)

# Most specific first. 422: the request was understood but its content cannot be used.
# 503: the server lacks what the request needs (keys, a model) - not the client's fault.
STATUS_BY_ERROR: tuple[tuple[type[VidprovError], int], ...] = (
    (MediaError, 422),
    (WatermarkError, 422),
    (ProvenanceError, 422),
    (GeneratorMemoryError, 503),  # a smaller request, or a quieter server, may succeed
    (GeneratorError, 422),
    (ConfigError, 400),
    (KeyError_, 503),
    (DetectorError, 503),
    (VidprovError, 400),
)


class ApiError(Exception):
    """An HTTP error with a machine-readable code, e.g. ``ApiError(413, "too_large", ...)``.

    Args:
        status: HTTP status.
        code: short identifier for clients (``too_large``, ``unauthorized``, ...).
        message: one sentence for people.
        extra: further JSON fields (limits, a job id, ...).
        headers: response headers (``WWW-Authenticate``, ``Retry-After``).
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.extra = extra or {}
        self.headers = headers

    def body(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message, **self.extra}


def client_gone(message: str, extra: dict[str, Any] | None = None) -> ApiError:
    """The answer to a request whose client went away: no one reads it, but the access log
    does, and 499 (nginx's "client closed request") tells it from a bad request (it read 400).
    """
    return ApiError(499, "client_disconnected", message, extra)


def status_for(exc: VidprovError) -> int:
    """The HTTP status for a library error."""
    return next(status for kind, status in STATUS_BY_ERROR if isinstance(exc, kind))


def error_body(exc: BaseException) -> tuple[int, dict[str, Any]]:
    """Status and JSON body for any exception a task may raise (used for jobs too)."""
    if isinstance(exc, ApiError):
        return exc.status, exc.body()
    if isinstance(exc, VidprovError):
        return status_for(exc), exc.to_dict()
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        # the server's disk, not the request: a bare 500 before (an upload into a full folder)
        return 507, {
            "error": "insufficient_storage",
            "message": "the server has no room to store this request; try again later",
        }
    return 500, {"error": "internal_error", "message": "internal error (logged on the server)"}


def leaf_routes(routes: Iterable[BaseRoute]) -> Iterator[BaseRoute]:
    """Every route, with included routers opened up (FastAPI wraps each ``include_router`` in
    a route of its own, whose prefix is already part of its routes' paths)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from leaf_routes(inner.routes)
        else:
            yield route


def allowed_methods(request: Request) -> list[str]:
    """The methods the app's routes accept for this request's path."""
    methods: set[str] = set()
    for route in leaf_routes(request.app.router.routes):
        match, _ = route.matches(request.scope)
        if match != Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    if "GET" in methods:
        methods.add("HEAD")  # HeadAsGet answers it
    return sorted(methods)


def install_handlers(app: FastAPI) -> None:
    """Register the exception handlers on ``app``."""

    async def on_api_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return JSONResponse(exc.body(), exc.status, headers=exc.headers)

    async def on_vidprov(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, VidprovError)
        status, body = error_body(exc)
        log.info("%s %s -> %d %s", request.method, request.url.path, status, body["error"])
        return JSONResponse(body, status)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # every method of every route on this path, not just one's
            allow = ", ".join(allowed_methods(request)) or headers.get("Allow", "")
            headers["Allow"] = allow
            message = f"{request.method} is not allowed on {request.url.path} (use {allow})"
        elif exc.status_code == 400 and exc.detail == "There was an error parsing the body":
            code = "bad_json"
            message = f"the request body cannot be read as JSON ({_json_failure(exc)})"
        else:
            message = str(exc.detail)
        return JSONResponse({"error": code, "message": message}, exc.status_code, headers=headers)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {"loc": list(map(str, e.get("loc", ()))), "msg": str(e.get("msg", ""))}
            for e in exc.errors()
        ]
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        return JSONResponse(
            {
                "error": "invalid_request",
                "message": f"{'.'.join(first['loc'])}: {first['msg']}",
                "detail": errors,
            },
            422,
        )

    async def on_crash(request: Request, exc: Exception) -> JSONResponse:
        status, body = error_body(exc)
        if status == 500:
            log.error("%s %s crashed", request.method, request.url.path, exc_info=exc)
        else:
            log.error("%s %s failed: %s", request.method, request.url.path, exc)
        return JSONResponse(body, status)

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(VidprovError, on_vidprov)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(OSError, on_crash)  # a full disk (507) is answered here, not
    # re-raised to the server as every other crash is (its traceback logged twice)
    app.add_exception_handler(Exception, on_crash)


def _json_failure(exc: BaseException) -> str:
    """Why FastAPI could not parse a JSON body, from the error it caught."""
    cause = exc.__cause__ or exc.__context__
    if isinstance(cause, UnicodeDecodeError):
        return "not UTF-8"
    if isinstance(cause, RecursionError):
        return "nested too deeply"
    if isinstance(cause, ValueError) and "digit" in str(cause):
        return "a number too long"
    return "not UTF-8, nested too deeply, or a number too long"
