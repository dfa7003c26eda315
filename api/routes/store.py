"""The manifest store over HTTP, in the shape of the C2PA soft-binding resolution API:
``POST|GET /v1/matches/byBinding``, ``GET /v1/manifests/{manifestId}`` and
``GET /v1/services/supportedAlgorithms``."""

from __future__ import annotations

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from vidprov.api.deps import JSON_BODY, Reader, SafeJSONResponse
from vidprov.api.errors import ApiError
from vidprov.api.schemas import AlgorithmsOut, BindingQuery, ManifestOut, MatchesOut, errors
from vidprov.errors import ProvenanceError
from vidprov.provenance.softbinding import ALG

router = APIRouter(prefix="/v1", tags=["manifests"])

C2PA_MIME = "application/c2pa"
MAX_RESULTS = Query(10, ge=1, le=100, alias="maxResults", description="At most this many")


def _matches(
    alg: str, value: str, limit: int, in_query: bool = False
) -> dict[str, list[dict[str, str]]]:
    """Manifest ids bound to ``(alg, value)``, oldest first (the order ``verify`` breaks ties in).

    Raises:
        ApiError: 400 for an algorithm this service does not resolve, or a ``value`` that is
            not a valid value for ours.
    """
    from vidprov.provenance import ManifestStore
    from vidprov.provenance.softbinding import payload_to_value, value_to_payload

    if alg != ALG:  # an empty list would read as "no manifest", not "cannot tell"
        raise ApiError(
            400, "unsupported_alg", f"alg {alg!r} is not resolved here (supported: {ALG})"
        )
    try:
        value = payload_to_value(value_to_payload(value))  # also accepts 16 hex digits
    except ProvenanceError as exc:
        hint = ""
        if in_query and " " in value:  # base64 has no space: a '+' decoded as one
            hint = " (in a query string, send base64's '+' as %2B: a bare '+' reads as a space)"
        raise ApiError(400, "bad_value", exc.message + hint) from exc
    store = ManifestStore.lookup()  # read-only; none yet: nothing signed here
    ids = store.find(alg, value)[:limit] if store is not None else []
    return {"matches": [{"manifestId": i} for i in ids]}


@router.post(
    "/matches/byBinding",
    summary="Manifests bound to a soft-binding value (C2PA soft-binding resolution)",
    response_model=MatchesOut,
    responses=errors(400, 401, 403, 408, 413, 415, 422),
    dependencies=[JSON_BODY],
)
async def matches_post(
    query: BindingQuery,
    who: Reader,
    max_results: int = MAX_RESULTS,
) -> SafeJSONResponse:
    body = await run_in_threadpool(_matches, query.alg, query.value, max_results)
    return SafeJSONResponse(body)


@router.get(
    "/matches/byBinding",
    summary="Manifests bound to a soft-binding value (query-string form)",
    response_model=MatchesOut,
    responses=errors(400, 401, 403, 422),
)
async def matches_get(
    who: Reader,
    alg: str = Query(min_length=1, max_length=200, json_schema_extra={"enum": [ALG]}),
    value: str = Query(min_length=1, max_length=4096),
    max_results: int = MAX_RESULTS,
) -> SafeJSONResponse:
    body = await run_in_threadpool(_matches, alg, value, max_results, True)
    return SafeJSONResponse(body)


def _quality(accept: str, mime: str) -> float:
    """The quality an ``Accept`` header gives ``mime``: its most specific match's ``q``
    (``type/sub`` over ``type/*`` over ``*/*``), 0 when nothing matches; an empty header
    accepts anything."""
    if not accept.strip():
        return 1.0
    kind, sub = mime.split("/")
    best: tuple[int, float] = (-1, 0.0)  # (specificity, q)
    for item in accept.split(","):
        name, *params = (part.strip() for part in item.split(";"))
        name = name.lower()
        rank = {f"{kind}/{sub}": 2, f"{kind}/*": 1, "*/*": 0}.get(name)
        if rank is None or rank <= best[0]:
            continue
        q = next((p.split("=", 1)[1] for p in params if p.lower().startswith("q=")), "1")
        try:
            best = (rank, min(max(float(q), 0.0), 1.0))
        except ValueError:
            best = (rank, 0.0)
    return best[1]


def _wants_c2pa(accept: str) -> bool:
    """Whether the manifest store, not JSON, best answers ``accept``: asked for by name, at
    a quality no lower than JSON's (``application/c2pa;q=0.5, application/json``: JSON; it
    was the store whenever the header named it).

    Raises:
        ApiError: 406 when the header accepts neither.
    """
    named = {item.split(";", 1)[0].strip().lower() for item in accept.split(",")}
    c2pa = _quality(accept, C2PA_MIME) if C2PA_MIME in named else 0.0
    json = _quality(accept, "application/json")
    if c2pa <= 0 and json <= 0:
        raise ApiError(
            406,
            "not_acceptable",
            f"a manifest is sent as application/json or {C2PA_MIME}; the Accept header "
            "takes neither",
        )
    return c2pa > 0 and c2pa >= json


@router.get(
    "/manifests/{manifest_id}",
    summary="A stored manifest: JSON, or the signed manifest store with Accept: application/c2pa",
    response_model=ManifestOut,
    responses={
        200: {"content": {C2PA_MIME: {"schema": {"type": "string", "format": "binary"}}}},
        **errors(401, 403, 404, 406, 422),
    },
)
async def manifest(
    request: Request,
    who: Reader,
    manifest_id: str = Path(min_length=1, max_length=256, description="e.g. urn:c2pa:..."),
) -> Response:
    from vidprov.provenance import ManifestStore
    from vidprov.provenance.store import StoredManifest

    def get() -> StoredManifest | None:
        store = ManifestStore.lookup()  # read-only; none yet: nothing signed here
        return store.get(manifest_id) if store is not None else None

    stored = await run_in_threadpool(get)
    if stored is None:
        raise ApiError(404, "not_found", f"no manifest {manifest_id!r} in the store")
    if _wants_c2pa(request.headers.get("accept", "")):
        return Response(stored.manifest_store, media_type=C2PA_MIME)
    return SafeJSONResponse(stored.to_dict())


@router.get(
    "/services/supportedAlgorithms",
    summary="Soft-binding algorithms this service resolves",
    response_model=AlgorithmsOut,
)
async def algorithms() -> SafeJSONResponse:
    return SafeJSONResponse({"watermarks": [{"alg": ALG}], "fingerprints": []})
