"""``GET /v1/jobs/{id}`` (status, progress, result) and ``GET /v1/jobs/{id}/file``."""

from __future__ import annotations

from pathlib import Path as FsPath

from fastapi import APIRouter, Path
from fastapi.responses import FileResponse

from vidprov.api.auth import Caller
from vidprov.api.deps import AnyCaller, Context, Ctx, SafeJSONResponse
from vidprov.api.errors import ApiError
from vidprov.api.jobs import DONE, FAILED, Job
from vidprov.api.schemas import JobOut, errors

router = APIRouter(prefix="/v1", tags=["jobs"])

JOB_ID = Path(pattern=r"^[0-9a-f]{32}$", description="The id a `mode=job` request answered")


def _job(ctx: Context, job_id: str, who: Caller) -> Job:
    job = ctx.jobs.get(job_id, owner=who.name)
    if job is None:
        raise ApiError(404, "not_found", f"no job {job_id} (unknown, expired, or not yours)")
    return job


@router.get(
    "/jobs/{job_id}",
    summary="A job's status, progress and result",
    response_model=JobOut,
    responses=errors(401, 404, 422),
)
async def job_status(ctx: Ctx, who: AnyCaller, job_id: str = JOB_ID) -> SafeJSONResponse:
    return SafeJSONResponse(_job(ctx, job_id, who).to_dict())


@router.get(
    "/jobs/{job_id}/file",
    summary="The file a generate job made",
    response_class=FileResponse,
    responses={
        200: {"content": {"video/mp4": {"schema": {"type": "string", "format": "binary"}}}},
        **errors(401, 404, 409, 410, 422),
    },
)
async def job_file(ctx: Ctx, who: AnyCaller, job_id: str = JOB_ID) -> FileResponse:
    job = _job(ctx, job_id, who)
    if job.status == FAILED:  # no file will ever come: not a "try again later"
        reason = (job.error or {}).get("message", "no reason recorded")
        raise ApiError(410, "job_failed", f"job {job_id} failed, so it has no file: {reason}")
    if job.status != DONE:
        raise ApiError(409, "not_ready", f"job {job_id} is {job.status}")
    if job.file_path is None or not FsPath(job.file_path).is_file():
        raise ApiError(410, "gone", f"job {job_id} has no file (none made, or already delivered)")
    return FileResponse(
        job.file_path, media_type="video/mp4", filename=job.file_name, headers=job.headers
    )
