"""Request and response models: requests are validated by them; responses are documented by
them (the routes return the library's ``to_dict()`` output unchanged, the same JSON the CLI's
``--json`` prints)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from vidprov.provenance.softbinding import ALG

Open = ConfigDict(extra="allow")


class ErrorOut(BaseModel):
    """Every error body: a code for programs and a sentence for people (plus details)."""

    model_config = Open
    error: str
    message: str


class LimitsOut(BaseModel):
    max_upload_mb: float
    max_duration_s: float
    max_pixels: int
    max_fps: float
    request_timeout_s: float


class HealthOut(BaseModel):
    """Liveness, whether keys are needed (``open``: no), and the upload limits."""

    status: Literal["ok"]
    version: str
    auth: Literal["open", "keys"]
    limits: LimitsOut


class SegmentOut(BaseModel):
    model_config = Open
    start: float
    end: float
    label: str
    score: float
    source: str


class VerdictOut(BaseModel):
    """``vidprov scan --json`` for the uploaded file (``file`` is the uploaded file's name)."""

    model_config = Open
    file: str
    # "unknown" / null only without a classifier (the library's rule); the API always runs one
    label: Literal["ai", "mixed", "real", "unknown"]
    score: float | None
    decided_by: str
    duration: float
    segments: list[SegmentOut]
    evidence: dict[str, Any]
    conflicts: list[str]


class VerifyOut(BaseModel):
    """``vidprov verify --json`` for the uploaded file."""

    model_config = Open
    file: str
    c2pa: dict[str, Any]
    watermark: dict[str, Any] | None
    recovered: dict[str, Any] | None
    conflicts: list[str]
    established: bool


class WatermarkOut(BaseModel):
    """``vidprov watermark detect --json`` for the uploaded file."""

    model_config = Open
    detected: bool
    payload: str | None
    p_value: float
    z: float
    segments: list[dict[str, Any]]
    frames: int
    duration: float


class JobOut(BaseModel):
    """A job. ``result`` holds the endpoint's normal answer once ``status`` is ``done``;
    ``error`` (with ``http_status``) the error body once ``failed`` (``cancelled`` for a job
    its client cancelled)."""

    model_config = Open
    id: str
    kind: str
    status: Literal["queued", "running", "done", "failed"]
    progress: float
    created_at: str
    started_at: str | None
    finished_at: str | None
    status_url: str
    result: dict[str, Any] | None
    error: dict[str, Any] | None
    http_status: int | None = None
    download_url: str | None = None
    cancel_requested: bool | None = None


class GenerateIn(BaseModel):
    """What to generate. Sizes and steps default to the model's; the server's limits apply."""

    model_config = ConfigDict(extra="forbid", strict=True)
    prompt: str = Field(min_length=1, max_length=2000)
    model: str = Field("tiny-wan", min_length=1, max_length=100)
    frames: int | None = Field(None, ge=1, le=1025)
    height: int | None = Field(None, ge=64, le=4096)  # each model's rule: check_options
    width: int | None = Field(None, ge=64, le=4096)
    steps: int | None = Field(None, ge=1, le=500)
    seed: int = Field(0, ge=0, le=2**32 - 1)
    fps: int | None = Field(None, ge=1, le=120)

    @field_validator("prompt")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        from vidprov.generator.request import is_blank

        if is_blank(value):
            raise ValueError("the prompt is blank")
        return value


class GenerateOut(BaseModel):
    """A finished generation (``vidprov generate --json``), the clip as ``download_url``."""

    model_config = Open
    model: str
    prompt_sha256: str
    seed: int
    steps: int
    clips: list[dict[str, Any]]
    note: str | None


class ManifestOut(BaseModel):
    model_config = Open
    manifest_id: str
    stored_at: str
    title: str | None
    manifest: dict[str, Any]


class BindingQuery(BaseModel):
    """C2PA soft-binding query: the algorithm and the (base64) value."""

    model_config = ConfigDict(extra="forbid")
    # any other algorithm is a 400 naming the supported one (the C2PA API's "invalid query")
    alg: str = Field(min_length=1, max_length=200, json_schema_extra={"enum": [ALG]})
    value: str = Field(min_length=1, max_length=4096)


class Match(BaseModel):
    manifestId: str  # the C2PA API's spelling


class MatchesOut(BaseModel):
    matches: list[Match]


class AlgorithmsOut(BaseModel):
    watermarks: list[dict[str, str]]
    fingerprints: list[dict[str, str]]


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for error statuses, all with :class:`ErrorOut` bodies."""
    text = {
        400: "Malformed request",
        401: "Missing or unknown API key",
        403: "The key lacks the scope",
        404: "Not found",
        406: "The Accept header takes none of the forms offered",
        408: "Upload or request body too slow",
        409: "Not ready, already finished, or cancelled",
        410: "Gone",
        413: "Upload, request body, clip or frame over the limit",
        415: "Wrong media type (multipart/form-data or application/json expected)",
        416: "Range invalid, or past the end of the file (Content-Range names its size)",
        422: "Unusable input (not a video, bad value)",
        503: "Busy, or the server lacks keys or a model",
        504: "Not finished in time; the body names the job that continues",
    }
    return {c: {"model": ErrorOut, "description": text[c]} for c in codes}
