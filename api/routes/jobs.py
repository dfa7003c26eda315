"""``GET /v1/jobs/{id}`` (status, progress, result) and ``GET /v1/jobs/{id}/file``.

The file honours ``Range`` as RFC 9110 (section 14) has it: a valid byte range set is 206 (one
range, or ``multipart/byteranges`` for several); an invalid one (``bytes=100-50``,
``bytes=abc``) or one with no range inside the file is 416 with the usual JSON error body and
``Content-Range: bytes */<size>``; a range unit other than ``bytes`` is ignored (the whole file,
200), as the RFC requires.
"""

from __future__ import annotations

import os
import re
import stat
from typing import Any

from fastapi import APIRouter, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse

from vidprov.api.auth import Caller
from vidprov.api.deps import AnyCaller, Context, Ctx, SafeJSONResponse
from vidprov.api.errors import ApiError
from vidprov.api.jobs import DONE, FAILED, Job
from vidprov.api.schemas import JobOut, errors
from vidprov.errors import printable

router = APIRouter(prefix="/v1", tags=["jobs"])

JOB_ID = Path(pattern=r"^[0-9a-f]{32}$", description="The id a `mode=job` request answered")

# int-range ("first-last", "first-") or suffix-range ("-length"), RFC 9110 section 14.1.2
_RANGE_SPEC = re.compile(r"(\d+)-(\d*)|-(\d+)")
_HUGE = 2**64  # stands for any position with more digits than a file could need


def _position(digits: str) -> int:
    """A byte position or length; one too long for ``int()`` (over 4300 digits) is huge."""
    digits = digits.lstrip("0") or "0"
    return int(digits) if len(digits) <= 20 else _HUGE


def byte_ranges(header: str, size: int) -> list[tuple[int, int]] | None:
    """The parts of a file of ``size`` bytes that a ``Range`` header asks for, as inclusive
    ``(first, last)`` positions clamped to the file; None when the header is to be ignored
    (a unit other than ``bytes``, which RFC 9110 section 14.2 says MUST be ignored).

    Raises:
        ApiError: 416 ``bad_range`` for an invalid range set (a last position before the first,
            something that is not a byte range, no range at all); 416 ``range_not_satisfiable``
            when none of the ranges starts inside the file (RFC 9110 section 14.1.1). Both with
            ``Content-Range: bytes */<size>`` (section 15.5.17).
    """
    unit, has_set, range_set = header.partition("=")
    if unit.strip().lower() != "bytes":
        return None
    unsatisfiable = {"Content-Range": f"bytes */{size}"}
    specs = [s.strip() for s in range_set.split(",")] if has_set else []
    specs = [s for s in specs if s]  # empty list elements are allowed (section 5.6.1)
    if not specs:
        raise ApiError(
            416, "bad_range", "the Range header asks for no byte range", None, unsatisfiable
        )
    ranges = []
    for spec in specs:
        m = _RANGE_SPEC.fullmatch(spec)
        if m is None or (m[2] and _position(m[2]) < _position(m[1])):
            raise ApiError(
                416,
                "bad_range",
                f"{printable(spec)[:40]!r} in the Range header is not a byte range: use "
                "bytes=FIRST-LAST (LAST not below FIRST), bytes=FIRST- or bytes=-LENGTH",
                None,
                unsatisfiable,
            )
        if m[3] is not None:  # the last LENGTH bytes; a length of 0 asks for nothing
            length = _position(m[3])
            first, last = (max(size - length, 0), size - 1) if length else (size, size)
        else:
            first, last = _position(m[1]), _position(m[2]) if m[2] else size - 1
        if first < size:
            ranges.append((first, min(last, size - 1)))
    if not ranges:
        raise ApiError(
            416,
            "range_not_satisfiable",
            f"no byte range in the Range header starts inside the file ({size} bytes)",
            None,
            unsatisfiable,
        )
    return ranges


class RangedFile(FileResponse):
    """A :class:`FileResponse` that serves the byte ranges it was given (checked beforehand by
    :func:`byte_ranges`) instead of parsing the request's ``Range`` itself, whose errors would be
    plain text and whose rules are looser than RFC 9110's."""

    def __init__(self, *args: Any, ranges: list[tuple[int, int]] | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ranges = ranges

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        # If-Range has been weighed too (None when it did not hold): Starlette sees only ours
        headers = [(k, v) for k, v in scope["headers"] if k.lower() not in (b"range", b"if-range")]
        if self.ranges is not None:
            spec = ",".join(f"{first}-{last}" for first, last in self.ranges)
            headers.append((b"range", f"bytes={spec}".encode()))
        await super().__call__({**scope, "headers": headers}, receive, send)


def _job(ctx: Context, job_id: str, who: Caller) -> Job:
    job = ctx.jobs.get(job_id, owner=who.owner)
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


@router.delete(
    "/jobs/{job_id}",
    summary="Cancel a queued or running job",
    description=(
        "A queued job ends at once; a running one stops at its next progress report (within "
        "a second or two), its upload or output removed. It then reads `failed` with the error "
        "`cancelled` (409), and so does a synchronous request waiting on it. Cancelling a job "
        "already cancelled answers it again; one already done or failed is a 409."
    ),
    status_code=202,
    response_model=JobOut,
    responses={
        **errors(401, 404, 409, 422),
        200: {"model": JobOut, "description": "Already cancelled"},
    },
)
async def cancel_job(ctx: Ctx, who: AnyCaller, job_id: str = JOB_ID) -> SafeJSONResponse:
    return await run_in_threadpool(_cancel, ctx, who, job_id)  # database and file work


def _cancel(ctx: Context, who: Caller, job_id: str) -> SafeJSONResponse:
    job = _job(ctx, job_id, who)
    if job.status not in (DONE, FAILED) and ctx.runner.cancel(job_id):
        return SafeJSONResponse(_job(ctx, job_id, who).to_dict(), 202)
    job = _job(ctx, job_id, who)  # it may have finished meanwhile
    if (job.error or {}).get("error") == "cancelled":
        return SafeJSONResponse(job.to_dict())
    raise ApiError(409, "finished", f"job {job_id} has already finished ({job.status})")


@router.get(
    "/jobs/{job_id}/file",
    summary="The file a generate job made",
    response_class=FileResponse,
    responses={
        200: {"content": {"video/mp4": {"schema": {"type": "string", "format": "binary"}}}},
        206: {"description": "The byte ranges a `Range` header asked for (RFC 9110)"},
        **errors(401, 404, 409, 410, 416, 422),
    },
)
async def job_file(
    request: Request, ctx: Ctx, who: AnyCaller, job_id: str = JOB_ID
) -> FileResponse:
    job = _job(ctx, job_id, who)
    if job.kind != "generate":  # a scan, verify or detect job's result is its JSON, never a file
        raise ApiError(
            404, "no_file", f"job {job_id} is a {job.kind} job: only generate jobs have a file"
        )
    if job.status == FAILED:  # no file will ever come: not a "try again later"
        reason = (job.error or {}).get("message", "no reason recorded")
        raise ApiError(410, "job_failed", f"job {job_id} failed, so it has no file: {reason}")
    if job.status != DONE:
        raise ApiError(409, "not_ready", f"job {job_id} is {job.status}")
    gone = ApiError(410, "gone", f"job {job_id} has no file (none made, or removed since)")
    try:
        st = os.stat(job.file_path) if job.file_path is not None else None
    except OSError:  # swept, or removed by hand, since
        st = None
    if st is None or not stat.S_ISREG(st.st_mode):
        raise gone
    file = RangedFile(
        job.file_path,
        media_type="video/mp4",
        filename=job.file_name,
        headers=job.headers,
        stat_result=st,
        ranges=None,
    )
    header, if_range = request.headers.get("range"), request.headers.get("if-range")
    # If-Range first (RFC 9110 section 13.2.2): a Range meant for another version of the file
    # is ignored, not judged (a weak validator never matches)
    validators = (file.headers["etag"], file.headers["last-modified"])
    if header is not None and (if_range is None or if_range.strip() in validators):
        file.ranges = byte_ranges(header, st.st_size)
    return file
