"""``GET /healthz`` and the upload page (``GET /`` and its two static files)."""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter
from fastapi.responses import Response

from vidprov import __version__
from vidprov.api.deps import Ctx, SafeJSONResponse
from vidprov.api.errors import ApiError
from vidprov.api.schemas import HealthOut

router = APIRouter()

# The only files the page is made of; a client's path is only ever a key into this table.
STATIC = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
}
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; media-src 'self' blob:; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)


def _static(name: str) -> Response:
    mime = STATIC.get(name)
    if mime is None:
        raise ApiError(404, "not_found", "no such file")
    body = resources.files("vidprov.api").joinpath("static", name).read_bytes()
    return Response(
        body,
        media_type=mime,
        headers={"Content-Security-Policy": CSP, "Cache-Control": "no-cache"},
    )


@router.get("/healthz", response_model=HealthOut, tags=["service"], summary="Liveness")
async def healthz(ctx: Ctx) -> SafeJSONResponse:
    s = ctx.settings
    limits = {
        "max_upload_mb": s.max_upload_mb,
        "max_duration_s": s.max_duration_s,
        "max_pixels": s.max_pixels,
        "max_fps": s.max_fps,
        "request_timeout_s": s.request_timeout_s,
    }
    auth = "open" if ctx.keyring.open else "keys"
    body = {"status": "ok", "version": __version__, "auth": auth, "limits": limits}
    return SafeJSONResponse(body)


@router.get("/", include_in_schema=False)
async def page() -> Response:
    return _static("index.html")


@router.get("/static/{name}", include_in_schema=False)
async def static(name: str) -> Response:
    return _static(name)
