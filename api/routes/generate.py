"""``POST /v1/generate``: a prompt in, a watermarked and signed MP4 out.

``mode=sync`` (default) answers with the MP4 itself, its watermark payload, manifest id and job
in ``X-Vidprov-Payload`` / ``X-Vidprov-Manifest-Id`` / ``X-Vidprov-Job-Id`` (the job keeps the
file for download until it expires); ``mode=job`` answers 202 with a job whose
result carries the same facts and a ``download_url``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, Response

from vidprov.api.deps import JSON_BODY, Context, Ctx, Maker, SafeJSONResponse, client_gone
from vidprov.api.errors import ApiError
from vidprov.api.jobs import Progress, TaskResult
from vidprov.api.routes.media import MODE, Mode
from vidprov.api.schemas import GenerateIn, JobOut, errors
from vidprov.errors import VidprovError

router = APIRouter(prefix="/v1", tags=["generate"])

HEADERS_DOC = {
    "X-Vidprov-Payload": {"description": "the clip's 64-bit watermark payload (hex)"},
    "X-Vidprov-Manifest-Id": {"description": "the C2PA manifest id (in the manifest store)"},
    "X-Vidprov-Job-Id": {"description": "the job that made it"},
}


def _options(req: GenerateIn, ctx: Context) -> tuple[dict[str, Any], int]:
    """The generator's keyword options, checked against the server's limits, and the number
    of denoising steps it will run.

    Raises:
        ApiError: 422 over a limit.
        GeneratorError: options the model cannot make (422).
    """
    s = ctx.settings
    limits = (
        ("frames", req.frames, s.max_frames),
        ("height", req.height, s.max_side),
        ("width", req.width, s.max_side),
        ("steps", req.steps, s.max_steps),
    )
    for name, value, limit in limits:
        if value is not None and value > limit:
            raise ApiError(422, "over_limit", f"{name}={value} is over this server's limit {limit}")
    from vidprov.generator import check_options, get_preset

    preset = get_preset(req.model)
    effective = (
        ("frames", req.frames or preset.frames, s.max_frames),
        ("height", req.height or preset.height, s.max_side),
        ("width", req.width or preset.width, s.max_side),
        ("steps", req.steps or preset.steps, s.max_steps),
    )
    for name, value, limit in effective:
        if value > limit:
            raise ApiError(
                422,
                "over_limit",
                f"{req.model}'s default {name} ({value}) is over this server's limit {limit}; "
                f"ask for {name} <= {limit}",
            )
    # the model's own size and frame rules, here rather than in the job (a 422 now)
    check_options(preset, req.frames, req.height, req.width, req.steps, req.seed, req.fps)
    options = {
        "frames": req.frames,
        "height": req.height,
        "width": req.width,
        "steps": req.steps,
        "seed": req.seed,
        "fps": req.fps,
    }
    return options, req.steps or preset.steps


@router.post(
    "/generate",
    summary="Generate a watermarked, signed clip",
    response_class=Response,
    responses={
        200: {
            "content": {"video/mp4": {"schema": {"type": "string", "format": "binary"}}},
            "description": "The signed MP4 (mode=sync)",
            "headers": HEADERS_DOC,
        },
        202: {"model": JobOut, "description": "Job accepted (mode=job); its result: GenerateOut"},
        **errors(400, 401, 403, 408, 413, 415, 422, 503, 504),
    },
    dependencies=[JSON_BODY],
)
async def generate(
    request: Request,
    req: GenerateIn,
    ctx: Ctx,
    who: Maker,
    mode: Mode = MODE,
) -> Response:
    timeout, t0 = ctx.settings.request_timeout_s, time.monotonic()
    loading = asyncio.ensure_future(run_in_threadpool(ctx.engine.generator, req.model))
    try:  # 422/503 now, not in the job; a model's first load counts against the timeout
        await asyncio.wait_for(asyncio.shield(loading), timeout)
    except TimeoutError as exc:
        loading.add_done_callback(lambda f: f.cancelled() or f.exception())  # retrieved: no warning
        raise ApiError(
            504,
            "timeout",
            f"loading {req.model} took over {timeout:g} s; it goes on loading: try again shortly",
        ) from exc
    options, steps = _options(req, ctx)

    def task(progress: Progress) -> TaskResult:
        job_id = progress.job_id
        out = ctx.jobs.outputs / f"vidprov-{job_id}.mp4"
        try:
            r = ctx.engine.generate(req.model, req.prompt, out, options, progress)
        except VidprovError as exc:  # the same error without the server's output path
            raise type(exc)(ctx.engine.redact(exc.message)) from exc
        clip = r.clips[0]
        body = r.to_dict()
        body["clips"][0]["path"] = f"vidprov-{job_id}.mp4"
        body["clips"][0]["download_url"] = f"/v1/jobs/{job_id}/file"
        headers = {
            "X-Vidprov-Payload": clip.payload,
            "X-Vidprov-Manifest-Id": clip.manifest_id,
            "X-Vidprov-Job-Id": job_id,
        }
        return TaskResult(body, out, f"vidprov-{job_id}.mp4", headers)

    job_id, future = ctx.runner.submit("generate", who.owner, task, steps)
    if mode == "job":
        job = ctx.jobs.get(job_id)
        assert job is not None
        return SafeJSONResponse(job.to_dict(), 202, headers={"Location": f"/v1/jobs/{job_id}"})
    left = max(timeout - (time.monotonic() - t0), 0.001)
    result = await ctx.runner.wait(job_id, future, left, client_gone(request))
    assert result.file is not None

    # The file stays as long as the job (``job_ttl_s``): a download cut short can be fetched
    # again from /v1/jobs/{id}/file. Deleting it once sent lost the clip for good when the
    # client went away mid-body (Starlette runs a response's background task even then).
    return FileResponse(
        result.file, media_type="video/mp4", filename=result.file_name, headers=result.headers
    )
