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

import asyncio
import json
from typing import Any

from fastapi.routing import APIRoute
from starlette.routing import Match

from vidprov.api.errors import leaf_routes

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
        headers = {k.lower(): v for k, v in scope["headers"]}
        refusal = self._unauthorized(headers) or self._too_long(headers)
        if refusal is None:
            body, refusal = await self._read(receive)
        if refusal is not None:
            await _answer(send, *refusal)
            return
        sent = False

        async def replay() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # the disconnect, when it comes

        await self.app(scope, replay, send)

    def _unauthorized(self, headers: dict[bytes, bytes]) -> tuple[int, dict, dict] | None:
        keyring = self.ctx.keyring
        if keyring.open:
            return None
        scheme, _, token = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
        if scheme.lower() == "bearer" and token.strip() and keyring.lookup(token.strip()):
            return None  # scopes are the route's to check
        message = "an API key is required: Authorization: Bearer <key>"
        challenge = {"www-authenticate": 'Bearer realm="vidprov"'}
        return 401, {"error": "unauthorized", "message": message}, challenge

    @staticmethod
    def _too_long(headers: dict[bytes, bytes]) -> tuple[int, dict, dict] | None:
        length = headers.get(b"content-length", b"").strip()
        if length.isdigit() and int(length) > MAX_JSON_BYTES:
            return _too_large(int(length))
        return None

    async def _read(self, receive: Any) -> tuple[bytes, tuple[int, dict, dict] | None]:
        parts, size = [], 0
        idle = self.ctx.settings.upload_idle_timeout_s
        loop = asyncio.get_running_loop()
        deadline = loop.time() + min(MAX_JSON_SECONDS, self.ctx.settings.upload_timeout_s)
        while True:
            left = deadline - loop.time()
            try:
                message = await asyncio.wait_for(receive(), max(0.0, min(idle, left)))
            except TimeoutError:
                why = (
                    f"paused for more than {idle:g} s"
                    if idle < left
                    else f"took more than {MAX_JSON_SECONDS:g} s"
                )
                body = {"error": "body_timeout", "message": f"the request body {why}"}
                return b"", (408, body, {"connection": "close"})
            if message["type"] == "http.disconnect":
                return b"", (400, {"error": "disconnected", "message": "client went away"}, {})
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_JSON_BYTES:
                return b"", _too_large(size)
            parts.append(chunk)
            if not message.get("more_body", False):
                return b"".join(parts), None


def _too_large(size: int) -> tuple[int, dict, dict]:
    body = {
        "error": "too_large",
        "message": f"a JSON body of {size} bytes or more; at most {MAX_JSON_BYTES} are read",
        "limit_bytes": MAX_JSON_BYTES,
    }
    return 413, body, {"connection": "close"}


async def _answer(send: Any, status: int, body: dict, headers: dict[str, str]) -> None:
    data = json.dumps(body).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": data})


def json_routes(app: Any) -> list[APIRoute]:
    """The app's routes that take a JSON body."""
    return [r for r in leaf_routes(app.router.routes) if isinstance(r, APIRoute) and r.body_field]
