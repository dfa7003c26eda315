"""Request dependencies: the app's context and the caller, checked against a scope."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from vidprov.api.auth import ANONYMOUS, SCOPES, Caller, KeyRing
from vidprov.api.engine import Engine
from vidprov.api.errors import ApiError
from vidprov.api.jobs import JobStore, Runner
from vidprov.api.settings import ApiSettings
from vidprov.errors import json_safe, printable

log = logging.getLogger(__name__)

bearer = HTTPBearer(
    auto_error=False,
    description="API key: `Authorization: Bearer <key>` (not needed when the server is open)",
)


@dataclass(frozen=True)
class Context:
    """Everything the routes share, built once by ``create_app``."""

    settings: ApiSettings
    keyring: KeyRing
    engine: Engine
    jobs: JobStore
    runner: Runner


def context(request: Request) -> Context:
    ctx: Context = request.app.state.vidprov
    return ctx


async def client_gone(request: Request) -> None:
    """Returns once the client has hung up. Only for after the request's body has been read:
    all the server then has left to hear from the connection is the disconnect. A receive
    that fails says nothing about the client: then this never returns."""
    try:
        while (await request.receive())["type"] != "http.disconnect":
            pass
    except Exception:
        log.debug("cannot watch the connection", exc_info=True)
        await asyncio.Event().wait()


def caller_for(keyring: KeyRing, token: str | None) -> Caller:
    """The caller presenting bearer ``token``: the anonymous full-scope caller when the server
    is open, else the key's.

    Raises:
        ApiError: 401 for a missing or unknown key.
    """
    if keyring.open:
        return Caller(ANONYMOUS, frozenset(SCOPES))
    challenge = {"WWW-Authenticate": 'Bearer realm="vidprov"'}
    if not token:
        message = "an API key is required: Authorization: Bearer <key>"
        raise ApiError(401, "unauthorized", message, None, challenge)
    key = keyring.lookup(token)
    if key is None:
        raise ApiError(401, "unauthorized", "unknown API key", None, challenge)
    return Caller(key.name, key.scopes, key.digest.hex()[:16])


def caller(
    ctx: Annotated[Context, Depends(context)],
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Caller:
    """The request's caller (:func:`caller_for`).

    Raises:
        ApiError: 401 for a missing or unknown key.
    """
    return caller_for(ctx.keyring, creds.credentials if creds is not None else None)


def require(scope: str) -> Callable[..., Caller]:
    """A dependency that admits callers holding ``scope`` (403 otherwise)."""

    def check(who: Annotated[Caller, Depends(caller)]) -> Caller:
        if scope not in who.scopes:
            raise ApiError(403, "forbidden", f"this API key lacks the '{scope}' scope")
        return who

    return check


def json_media_type(request: Request) -> None:
    """Admits a JSON body only as JSON: ``application/json`` or ``application/*+json``.

    Raises:
        ApiError: 415 for any other media type, or none (FastAPI does not read a body without
            one as JSON, and its 422 would not say why).
    """
    if not request.headers.get("content-type", "").strip():
        raise ApiError(
            415, "unsupported_media_type", "send the body as application/json (no Content-Type)"
        )
    kind = request.headers["content-type"].split(";")[0].strip().lower()
    if kind != "application/json" and not (
        kind.startswith("application/") and kind.endswith("+json")
    ):
        raise ApiError(
            415, "unsupported_media_type", f"send the body as application/json, not {kind!r}"
        )


def _query_names(dependant: Any) -> Iterator[str]:
    """The query parameter names a route's dependency tree declares."""
    yield from (p.alias for p in dependant.query_params)
    for sub in dependant.dependencies:
        yield from _query_names(sub)


def known_query(request: Request) -> None:
    """Refuses query parameters the route does not declare, so that a misspelt option
    (``?mdoe=job``) is an error rather than silently ignored, and a known one given twice
    (``?mode=job&mode=sync``), of which one would be silently dropped.

    Raises:
        ApiError: 422 naming the repeated parameters, or the unknown ones and the route's
            known ones.
    """
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    known = set(_query_names(dependant))
    counts = Counter(n for n, _ in request.query_params.multi_items())
    repeated = sorted(n[:64] for n in known if counts[n] > 1)[:10]
    if repeated:  # Starlette would take the last one silently
        listed = ", ".join(f"'{printable(n)}'" for n in repeated)
        raise ApiError(
            422,
            "repeated_parameter",
            f"query parameter {listed} given more than once (give it once)",
            {"parameters": repeated},
        )
    unknown = sorted(n[:64] for n in set(request.query_params) - known)[:10]
    if unknown:
        names = ", ".join(f"'{printable(n)}'" for n in unknown)
        hint = f" (this route takes {', '.join(sorted(known))})" if known else ""
        raise ApiError(
            422,
            "unknown_parameter",
            f"unknown query parameter {names}{hint}",
            {"parameters": unknown},
        )


JSON_BODY = Depends(json_media_type)
KNOWN_QUERY = Depends(known_query)
Ctx = Annotated[Context, Depends(context)]
AnyCaller = Annotated[Caller, Depends(caller)]
Reader = Annotated[Caller, Depends(require("read"))]
Maker = Annotated[Caller, Depends(require("generate"))]


class SafeJSONResponse(JSONResponse):
    """Strict JSON (see :func:`~vidprov.errors.json_safe`: NaN/inf sent as null, lone
    surrogates as text) that survives non-JSON values (sent as text)."""

    def render(self, content: Any) -> bytes:
        opts: dict[str, Any] = {"allow_nan": False, "default": str, "separators": (",", ":")}
        return json.dumps(json_safe(content), **opts).encode()
