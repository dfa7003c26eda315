"""Upload endpoints: ``POST /v1/scan``, ``/v1/verify`` and ``/v1/watermark/detect``.

Each streams the ``file`` field to a private temp folder, checks the clip against the limits
(size, duration, frame size), then runs the work as a job: the request waits for it
(``mode=sync``, the default) or gets the job at once (``mode=job``, 202).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from vidprov.api.auth import Caller
from vidprov.api.deps import Context, Ctx, Reader, SafeJSONResponse, client_gone
from vidprov.api.engine import Engine
from vidprov.api.errors import ApiError
from vidprov.api.jobs import Progress, TaskResult
from vidprov.api.schemas import JobOut, VerdictOut, VerifyOut, WatermarkOut, errors
from vidprov.api.settings import ApiSettings
from vidprov.api.uploads import FIELD, Upload, receive_upload
from vidprov.errors import MediaError, VidprovError

router = APIRouter(prefix="/v1", tags=["analyse"])

Mode = Literal["sync", "job"]
MODE = Query(
    "sync",
    description="`sync`: answer when done (504 with a job id past the request timeout); "
    "`job`: answer 202 with a job to poll at once",
)
THRESHOLD = Query(
    None,
    gt=0.0,
    lt=1.0,
    allow_inf_nan=False,  # "nan" read "Input should be less than 1"
    description="The classifier's P(ai) from which the clip or a segment reads `ai`, in place "
    "of the model's own (`vidprov scan --threshold`): lower finds more generated footage and "
    "flags more camera footage. The verdict's `evidence.classifier.threshold` says which was "
    "used",
)
UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": [FIELD],
                    "properties": {FIELD: {"type": "string", "format": "binary"}},
                }
            }
        },
    }
}
UPLOAD_ERRORS = errors(400, 401, 403, 408, 413, 415, 422, 503, 504)
Work = Callable[[Path, Any], dict[str, Any]]


def check_clip(upload: Upload, settings: ApiSettings) -> int:
    """Probe the upload against the limits; return its frame count.

    Raises:
        MediaError: not a usable video. ApiError: 413 over the duration, frame-size or
            frame-rate limit.
    """
    from vidprov.media import probe

    info = probe(upload.path)
    if info.duration is not None and info.duration > settings.max_duration_s:
        raise ApiError(
            413,
            "too_long",
            f"the clip lasts {info.duration:.1f} s; the limit is {settings.max_duration_s:g} s",
            {"limit_s": settings.max_duration_s, "duration_s": round(info.duration, 3)},
        )
    if info.width * info.height > settings.max_pixels:
        raise ApiError(
            413,
            "frames_too_large",
            f"frames of {info.width}x{info.height} exceed the limit of "
            f"{settings.max_pixels} pixels",
            {"limit_pixels": settings.max_pixels},
        )
    # one frame over, and float rounding: 245 frames at 240 fps last 1.0208333 s, and 240 times
    # that is 244.99999999999997
    most = settings.max_fps * max(info.duration or 0.0, 1.0) + 1
    if info.frames and info.frames > most:
        raise ApiError(
            413,
            "too_many_frames",
            f"the clip holds {info.frames} frames in {info.duration:.3g} s; at most "
            f"{settings.max_fps:g} a second are accepted",
            {"limit_fps": settings.max_fps, "frames": info.frames},
        )
    return info.frames or 0


def _renamed(exc: VidprovError, upload: Upload, engine: Engine) -> VidprovError:
    """The same error naming the uploaded file instead of the server's temp path, and no
    other server path (a model or key file) at all."""
    path = upload.filename if exc.path == str(upload.path) else None
    renamed = type(exc)(engine.redact(upload.scrub(exc.message)), path)
    renamed.__cause__ = exc
    return renamed


async def run_upload(
    request: Request, ctx: Context, who: Caller, kind: str, work: Work, mode: str, units: str
) -> Response:
    """Receive, check, and run ``work(path, progress)`` as a job of ``kind``.

    ``units``: what ``work`` reports progress in, ``"stages"`` (2 per scan: its two passes,
    each reported as it goes) or ``"frames"``.
    """
    ctx.runner.check_room()  # a full queue answers before the clip is sent, not after
    upload = await receive_upload(request, ctx.settings)
    try:
        frames = await run_in_threadpool(check_clip, upload, ctx.settings)
    except MediaError as exc:
        # a damaged clip (truncated, say) is what verify is for: it reports the manifest as
        # `vidprov verify` does, and refuses what is no video at all itself
        if kind != "verify":
            upload.cleanup()
            raise _renamed(exc, upload, ctx.engine) from exc
        frames = 0
    except VidprovError as exc:
        upload.cleanup()
        raise _renamed(exc, upload, ctx.engine) from exc
    except BaseException:
        upload.cleanup()
        raise

    def task(progress: Progress) -> TaskResult:
        try:
            return TaskResult(ctx.engine.redact(upload.scrub(work(upload.path, progress))))
        except VidprovError as exc:
            raise _renamed(exc, upload, ctx.engine) from exc

    total = {"stages": 2, "frames": frames}[units]
    job_id, future = ctx.runner.submit(kind, who.owner, task, total, upload.cleanup)
    if mode == "job":
        job = ctx.jobs.get(job_id)
        assert job is not None
        return SafeJSONResponse(job.to_dict(), 202, headers={"Location": f"/v1/jobs/{job_id}"})
    timeout = ctx.settings.request_timeout_s
    result = await ctx.runner.wait(job_id, future, timeout, client_gone(request))
    return SafeJSONResponse(result.body)


def _doc(model: type, what: str) -> dict[int | str, dict[str, Any]]:
    return {
        200: {"model": model, "description": what},
        202: {"model": JobOut, "description": "Job accepted (mode=job)"},
        **UPLOAD_ERRORS,
    }


@router.post(
    "/scan",
    summary="Scan a video: AI / mixed / real, with evidence and a timeline",
    responses=_doc(VerdictOut, "The verdict (same JSON as `vidprov scan --json`)"),
    openapi_extra=UPLOAD_BODY,
)
async def scan(
    request: Request,
    ctx: Ctx,
    who: Reader,
    mode: Mode = MODE,
    threshold: float | None = THRESHOLD,
) -> Response:
    if threshold is not None and not ctx.engine.takes_threshold:  # before the upload
        raise ApiError(
            422,
            "unsupported_parameter",
            "this server's scanner takes no classifier threshold",
            {"parameters": ["threshold"]},
        )
    work = partial(ctx.engine.scan, threshold=threshold)
    return await run_upload(request, ctx, who, "scan", work, mode, "stages")


@router.post(
    "/verify",
    summary="Verify a video's C2PA manifest and watermark (recovering a stripped manifest)",
    responses=_doc(VerifyOut, "The report (same JSON as `vidprov verify --json`)"),
    openapi_extra=UPLOAD_BODY,
)
async def verify(
    request: Request,
    ctx: Ctx,
    who: Reader,
    mode: Mode = MODE,
) -> Response:
    return await run_upload(request, ctx, who, "verify", ctx.engine.verify, mode, "frames")


@router.post(
    "/watermark/detect",
    summary="Detect the vidprov watermark: payload, p-value, marked segments",
    responses=_doc(WatermarkOut, "The reading (same JSON as `vidprov watermark detect --json`)"),
    openapi_extra=UPLOAD_BODY,
)
async def watermark_detect(
    request: Request,
    ctx: Ctx,
    who: Reader,
    mode: Mode = MODE,
) -> Response:
    await run_in_threadpool(ctx.engine.keys.require)  # 503 before the upload, not after
    return await run_upload(request, ctx, who, "watermark", ctx.engine.detect, mode, "frames")
