"""Small bodies stay small: the JSON endpoints' guard.

FastAPI reads a route's whole JSON body before it runs the route's dependencies, so without
this a caller with no key could make the server read (and hold) a body of any size, or keep a
request open by never finishing it, before hearing 401. :class:`JsonBodyGuard` answers those
requests itself, before the route: 401 without a valid key (when the server has keys), 413 for
a body over :data:`MAX_JSON_BYTES` (by ``Content-Length`` at once, or as soon as a chunked
body passes it), 408 when the body pauses longer than the uploads' idle timeout or takes
longer than :data:`MAX_JSON_SECONDS` in all. Uploads
(multipart) have limits of their own (:mod:`vidprov.api.uploads`).
"""

from __future__ import annotations

from typing import Any

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.routing import Match

from vidprov.api.deps import SafeJSONResponse, bearer, caller_for
from vidprov.api.errors import ApiError, leaf_routes
from vidprov.api.uploads import check_length, timed_chunks

#: largest JSON body (the largest field, a prompt, is at most 2,000 characters)
MAX_JSON_BYTES = 64 * 1024
#: longest time to receive one (a byte every 29 s stays under the idle timeout for days)
MAX_JSON_SECONDS = 60.0


class JsonBodyGuard:
    """ASGI middleware over the app's routes that take a JSON body (see the module)."""

    def __init__(self, app: Any, ctx: Any, routes: list[APIRoute]) -> None:
        self.app, self.ctx, self.routes = app, ctx, routes

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not any(
            r.matches(scope)[0] == Match.FULL for r in self.routes
        ):
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        settings = self.ctx.settings
        try:
            creds = await bearer(request)  # the routes' own parsing: None unless "Bearer ..."
            caller_for(self.ctx.keyring, creds.credentials if creds else None)
            check_length(request, MAX_JSON_BYTES, _too_large)
            parts, size = [], 0
            idle, whole = (
                settings.upload_idle_timeout_s,
                min(MAX_JSON_SECONDS, settings.upload_timeout_s),
            )
            async for chunk in timed_chunks(request, idle, whole, "request body", "body_timeout"):
                size += len(chunk)
                if size > MAX_JSON_BYTES:
                    raise _too_large(size)
                parts.append(chunk)
        except ApiError as exc:
            close = {} if exc.status == 401 else {"Connection": "close"}  # a body left unread
            headers = {**(exc.headers or {}), **close}
            await SafeJSONResponse(exc.body(), exc.status, headers)(scope, receive, send)
            return
        body, sent = b"".join(parts), False

        async def replay() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # the disconnect, when it comes

        await self.app(scope, replay, send)


def _too_large(size: int) -> ApiError:
    message = f"a JSON body of {size} bytes or more; at most {MAX_JSON_BYTES} are read"
    return ApiError(413, "too_large", message, {"limit_bytes": MAX_JSON_BYTES})


def json_routes(app: Any) -> list[APIRoute]:
    """The app's routes that take a JSON body."""
    return [r for r in leaf_routes(app.router.routes) if isinstance(r, APIRoute) and r.body_field]
