"""Malformed requests, in-process: cut-short and odd multipart bodies, wrong methods and media
types, unknown soft-binding algorithms, odd Range headers, jobs whose worker is gone or whose
server stops under them."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import SMALL_GEN, Client, leftovers, wait_job
from vidprov.api import ApiSettings
from vidprov.api.jobs import WORKER_EXITED, JobStore, TaskResult
from vidprov.detector.verdict import Verdict
from vidprov.errors import GeneratorError, GeneratorMemoryError, MediaError
from vidprov.provenance import ALG

MULTIPART = "multipart/form-data; boundary="


def part(boundary: bytes, data: bytes, name: bytes = b"file") -> bytes:
    head = f'Content-Disposition: form-data; name="{name.decode()}"; filename="a.mp4"\r\n\r\n'
    return b"--" + boundary + b"\r\n" + head.encode() + data + b"\r\n"


def test_a_body_cut_short_is_400_not_a_scan_of_what_arrived(
    make_client: Client, clips: dict[str, Path], settings: ApiSettings
) -> None:
    def scanned(path: Path, progress: object) -> Verdict:  # never reached for a bad body
        raise AssertionError(f"scanned {path}")

    c = make_client(scan=scanned)
    whole = part(b"BND", clips["plain"].read_bytes()) + b"--BND--\r\n"
    for body in (whole[: len(whole) // 2], whole[: -len(b"--BND--\r\n")]):
        r = c.post("/v1/scan", content=body, headers={"content-type": MULTIPART + "BND"})
        assert r.status_code == 400, r.text
        assert r.json()["error"] == "bad_multipart" and "closing boundary" in r.json()["message"]
    assert leftovers(settings) == []


def test_odd_multipart_bodies_are_400(
    make_client: Client, clips: dict[str, Path], settings: ApiSettings
) -> None:
    c = make_client()
    video = clips["plain"].read_bytes()
    long = b"B" * 300  # over the parser's 256-character limit
    r = c.post(
        "/v1/verify",
        content=part(long, video) + b"--" + long + b"--\r\n",
        headers={"content-type": MULTIPART + long.decode()},
    )
    assert r.status_code == 400 and r.json()["error"] == "bad_multipart"
    twice = part(b"x", video) + part(b"x", b"other") + b"--x--\r\n"
    r = c.post("/v1/scan", content=twice, headers={"content-type": MULTIPART + "x"})
    assert r.status_code == 400 and "more than one form field 'file'" in r.json()["message"]
    assert leftovers(settings) == []


def test_multipart_without_a_boundary_is_400_not_415(
    make_client: Client, clips: dict[str, Path], settings: ApiSettings
) -> None:
    c = make_client()
    body = part(b"BND", clips["plain"].read_bytes()) + b"--BND--\r\n"
    for kind in ("multipart/form-data", "multipart/form-data; boundary=", "Multipart/Form-Data"):
        r = c.post("/v1/scan", content=body, headers={"content-type": kind})
        assert r.status_code == 400, (kind, r.text)
        assert r.json()["error"] == "bad_multipart" and "no boundary" in r.json()["message"]
    r = c.post(
        "/v1/verify", content=body, headers={"content-type": "multipart/form-data; Boundary=BND"}
    )
    assert r.status_code == 200, r.text  # a parameter's name is case-insensitive
    r = c.post("/v1/scan", content=body, headers={"content-type": "text/plain; boundary=BND"})
    assert r.status_code == 415 and r.json()["error"] == "unsupported_media_type"
    assert leftovers(settings) == []


def test_wrong_methods_are_405_with_the_allowed_ones(make_client: Client) -> None:
    c = make_client()
    for method, url, allowed in (
        ("PUT", "/v1/scan", "POST"),
        ("GET", "/v1/generate", "POST"),
        ("POST", "/healthz", "GET, HEAD"),
        ("DELETE", "/v1/matches/byBinding", "GET, HEAD, POST"),
        ("HEAD", "/v1/scan", "POST"),
    ):
        r = c.request(method, url)
        assert r.status_code == 405 and r.headers["allow"] == allowed, (url, r.headers)
        if method == "HEAD":  # headers only
            assert r.content == b"" and r.headers["content-type"] == "application/json"
        else:
            assert r.json()["error"] == "method_not_allowed" and f"use {allowed}" in r.text


def test_head_is_get_without_the_body(make_client: Client) -> None:
    c = make_client()
    for url in ("/healthz", "/", "/v1/manifests/urn:c2pa:no-such"):
        got, head = c.get(url), c.head(url)
        assert head.status_code == got.status_code and head.content == b"", url
        assert head.headers["content-type"] == got.headers["content-type"], url
        assert head.headers.get("content-length") == got.headers.get("content-length"), url


def test_json_endpoints_want_json(make_client: Client) -> None:
    c = make_client()
    for url in ("/v1/generate", "/v1/matches/byBinding"):
        r = c.post(url, content=b'{"prompt": "a fox"}', headers={"content-type": "text/plain"})
        assert r.status_code == 415 and "application/json" in r.json()["message"], r.text
        r = c.post(url, content=b'{"prompt": "\xff"}', headers={"content-type": "application/json"})
        assert r.status_code == 400 and r.json()["error"] == "bad_json", r.text
        assert "(not UTF-8)" in r.json()["message"]
        deep = b"[" * 30_000 + b"]" * 30_000
        r = c.post(url, content=deep, headers={"content-type": "application/json"})
        assert r.status_code == 400 and "(nested too deeply)" in r.json()["message"], r.text
        # no media type: FastAPI does not read it as JSON; its 422 said "valid dictionary"
        r = c.post(url, content=b'{"prompt": "a fox"}', headers={"content-type": ""})
        assert r.status_code == 415 and "no Content-Type" in r.json()["message"], r.text
    for blank in (" \n\t ", "\u200b\u3000"):  # spaces, a zero-width and an ideographic one
        r = c.post("/v1/generate", json={"prompt": blank})
        assert r.status_code == 422 and "the prompt is blank" in r.json()["message"]


def test_soft_binding_queries_refuse_what_they_cannot_resolve(make_client: Client) -> None:
    c = make_client()
    value = "ASNFZ4mrze8="
    for alg in (ALG.replace("v1", "v2"), ALG.upper()):
        r = c.get("/v1/matches/byBinding", params={"alg": alg, "value": value})
        assert r.status_code == 400 and r.json()["error"] == "unsupported_alg"
        assert ALG in r.json()["message"]
        r = c.post("/v1/matches/byBinding", json={"alg": alg, "value": value})
        assert r.status_code == 400 and r.json()["error"] == "unsupported_alg"
    r = c.get("/v1/matches/byBinding", params={"alg": ALG, "value": value})
    assert r.status_code == 200 and r.json() == {"matches": []}
    # a '+' not sent as %2B reads as a space: the message says so
    r = c.get(f"/v1/matches/byBinding?alg={ALG}&value=vGgy+FpODv4=")
    assert r.status_code == 400 and "%2B" in r.json()["message"]
    r = c.get(f"/v1/matches/byBinding?alg={ALG}&value=vGgy%2BFpODv4=")
    assert r.status_code == 200
    r = c.post("/v1/matches/byBinding", json={"alg": ALG, "value": value, "maxResults": 0})
    assert r.status_code == 422 and "maxResults" in r.json()["message"]


def test_an_unknown_query_parameter_is_422_naming_it(
    make_client: Client, clips: dict[str, Path], settings: ApiSettings
) -> None:
    def scanned(path: Path, progress: object) -> Verdict:  # a misspelt option stops the scan
        raise AssertionError(f"scanned {path}")

    c = make_client(scan=scanned)
    with clips["plain"].open("rb") as f:
        r = c.post("/v1/scan?mdoe=job", files={"file": ("a.mp4", f, "video/mp4")})
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["error"] == "unknown_parameter" and body["parameters"] == ["mdoe"]
    assert "'mdoe'" in body["message"] and "takes mode" in body["message"]
    value = "ASNFZ4mrze8="
    r = c.get("/v1/matches/byBinding", params={"alg": ALG, "value": value, "max": "3"})
    assert r.status_code == 422 and "maxResults" in r.json()["message"]
    r = c.get("/v1/matches/byBinding", params={"alg": ALG, "value": value, "maxResults": "3"})
    assert r.status_code == 200
    r = c.get("/v1/jobs/nope", params={"x\n": "1"})
    assert r.status_code == 422 and "'x\\n'" in r.json()["message"]
    assert "takes" not in r.json()["message"]  # this route takes no query parameters
    assert c.get("/healthz", params={"utm_source": "x"}).status_code == 200  # not the API
    # a known option given twice: Starlette kept the last silently (a sync scan here)
    with clips["plain"].open("rb") as f:
        r = c.post("/v1/scan?mode=job&mode=sync", files={"file": ("a.mp4", f, "video/mp4")})
    assert r.status_code == 422 and r.json()["error"] == "repeated_parameter", r.text
    assert r.json()["parameters"] == ["mode"] and "'mode'" in r.json()["message"]
    assert leftovers(settings) == []


def test_a_failed_jobs_file_is_410_and_a_scan_jobs_is_404(
    make_client: Client, clips: dict[str, Path]
) -> None:
    def refuses(path: Path, progress: object) -> Verdict:
        raise MediaError("only 1 frame(s): nothing to scan", path)

    c = make_client(scan=refuses)
    store = c.app.state.vidprov.jobs  # type: ignore[attr-defined]
    job_id = store.create("generate", "anonymous")
    store.fail(job_id, 422, {"error": "bad_prompt", "message": "the prompt is blank"})
    r = c.get(f"/v1/jobs/{job_id}/file")
    assert r.status_code == 410 and r.json()["error"] == "job_failed"
    assert "the prompt is blank" in r.json()["message"]
    # a scan job never has a file: said at once (it was 409 "running", then 410 "failed")
    with clips["plain"].open("rb") as f:
        job = c.post("/v1/scan?mode=job", files={"file": ("a.mp4", f, "video/mp4")}).json()
    for _ in range(2):
        r = c.get(f"/v1/jobs/{job['id']}/file")
        assert r.status_code == 404 and r.json()["error"] == "no_file", r.text
        assert "only generate jobs" in r.json()["message"]
        assert wait_job(c, job["id"])["status"] == "failed"


def test_a_trailing_slash_is_404_not_a_redirect(make_client: Client) -> None:
    """Starlette answered an empty 307 to a URL built from the client's Host header."""
    c = make_client()
    r = c.post("/v1/scan/", headers={"host": "evil.example"}, follow_redirects=False)
    assert r.status_code == 404 and "location" not in r.headers
    assert r.json()["error"] == "not_found"


def test_a_files_range_is_served_or_refused_in_json(make_client: Client) -> None:
    c = make_client()
    store = c.app.state.vidprov.jobs  # type: ignore[attr-defined]
    data = bytes(range(250)) * 4  # 1000 bytes
    job_id = store.create("generate", "anonymous")
    out = store.outputs / f"vidprov-{job_id}.mp4"
    out.write_bytes(data)
    store.finish(job_id, TaskResult({}, out, out.name, {"X-Vidprov-Job-Id": job_id}))
    url = f"/v1/jobs/{job_id}/file"

    def get(range_: str | None, **headers: str) -> Any:
        return c.get(url, headers={**({"range": range_} if range_ else {}), **headers})

    whole = get(None)
    assert whole.status_code == 200 and whole.content == data
    assert whole.headers["accept-ranges"] == "bytes"
    for range_, first, last in (
        ("bytes=0-99", 0, 99),
        ("bytes=900-", 900, 999),
        ("bytes=-100", 900, 999),
        ("bytes=950-5000", 950, 999),
        ("BYTES=10-10", 10, 10),
    ):
        r = get(range_)
        assert r.status_code == 206, (range_, r.text)
        assert r.headers["content-range"] == f"bytes {first}-{last}/1000", range_
        assert r.content == data[first : last + 1], range_
        assert r.headers["x-vidprov-job-id"] == job_id
    r = get("bytes=0-9,20-29")
    assert r.status_code == 206 and "multipart/byteranges" in r.headers["content-type"]
    for range_, code in (
        ("bytes=100-50", "bad_range"),  # Starlette's plain-text 400 before
        ("bytes=abc", "bad_range"),
        ("bytes=", "bad_range"),
        ("bytes", "bad_range"),
        ("bytes=0-5,abc", "bad_range"),  # one bad part spoils the set (section 14.1.1)
        ("bytes=5--9", "bad_range"),
        ("bytes=1000-", "range_not_satisfiable"),
        ("bytes=1000-1005,2000-", "range_not_satisfiable"),
        ("bytes=-0", "range_not_satisfiable"),
        ("bytes=" + "9" * 5000 + "-", "range_not_satisfiable"),  # int() would refuse it
    ):
        r = get(range_)
        assert r.status_code == 416, (range_, r.text)
        assert r.headers["content-type"] == "application/json", range_
        assert r.json()["error"] == code and r.json()["message"], range_
        assert r.headers["content-range"] == "bytes */1000", range_
        head = c.head(url, headers={"range": range_})
        assert head.status_code == 416 and head.content == b""
    for range_, first, last in (
        ("bytes=0-5, 5000-6000", 0, 5),  # the part that is there (RFC 9110 section 14.2)
        ("bytes=" + "0" * 5000 + "7-8", 7, 8),
    ):
        r = get(range_)
        assert r.status_code == 206 and r.content == data[first : last + 1], range_[:20]
        assert r.headers["content-range"] == f"bytes {first}-{last}/1000"
    for ignored in ("items=0-5", "abc", "=0-5"):  # a unit other than bytes MUST be ignored
        r = get(ignored)
        assert r.status_code == 200 and r.content == data, ignored
    etag = whole.headers["etag"]
    # If-Range comes first: a range meant for another version is ignored, not judged
    for if_range in ('"another-version"', "W/" + etag):
        r = get("bytes=100-50", **{"if-range": if_range})
        assert r.status_code == 200 and r.content == data, if_range
    for if_range in (etag, whole.headers["last-modified"]):
        r = get("bytes=0-9", **{"if-range": if_range})
        assert r.status_code == 206 and r.content == data[:10], if_range
        assert get("bytes=100-50", **{"if-range": if_range}).status_code == 416


def test_a_model_without_weights_is_503_without_setup_details(
    make_client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-hf-home"))
    c = make_client()
    r = c.post("/v1/generate", json={"prompt": "a fox", "model": "wan-2.1-t2v-1.3b"})
    assert r.status_code == 503 and r.json()["error"] == "model_unavailable", r.text
    assert "not installed on this server" in r.json()["message"]
    assert "huggingface-cli" not in r.text and "HF_HOME" not in r.text


def test_jobs_whose_worker_is_gone_fail_and_are_swept(tmp_path: Path) -> None:
    store = JobStore(tmp_path, ttl_s=0.5)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # a pid that no longer runs (reuse within the test is unlikely)
    gone = store.create("scan", "alice")
    store.update(gone, pid=dead.pid, status="running")
    before = store.create("scan", "alice")  # this pid's, but from before this process started
    store.update(before, created=0.0)
    live = store.create("scan", "alice")
    store.update(live, status="running")
    done = store.create("scan", "alice")
    store.finish(done, TaskResult({"ok": True}))
    time.sleep(0.6)
    assert store.sweep(force=True) == 1  # the finished one; the orphans are failed now...
    for job_id in (gone, before):
        job = store.get(job_id)
        assert job is not None and job.status == "failed" and job.finished is not None
        assert job.error == {"error": "worker_exited", "message": "the worker process ended"}
    running = store.get(live)
    assert running is not None and running.status == "running"
    time.sleep(0.6)
    # ...and gone once their time is up: swept when asked for, not only when a job is created
    assert store.get(gone) is None and store.get(before) is None and store.get(live) is not None
    assert store.sweep(force=True) == 0


def test_a_server_stop_lets_running_jobs_finish_then_stops_them(
    make_client: Client,
    clips: dict[str, Path],
    settings: ApiSettings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A stop (SIGTERM) waits for running jobs for its grace, then stops them at their next
    progress report: they read ``worker_exited`` (neither the request's fault nor a bug) and
    leave no files. Before, it returned at once: a job then failed once the interpreter refused
    it new threads, and a worker process of ``--workers 2`` died without its ``finally``."""
    running = threading.Semaphore(0)

    def quick(path: Path, progress: Any) -> Any:  # finishes within the grace
        running.release()
        time.sleep(0.3)
        return Verdict(str(path), "real", 0.1, (), 2.0, {}, "classifier", ())

    def endless(*args: object, progress: Any = None, **kwargs: object) -> Any:
        running.release()
        while True:  # a diffusion run reporting each step, until stopped
            (progress or args[-1])(1)
            time.sleep(0.05)

    class Generator:
        generate = staticmethod(endless)

    c = make_client(scan=quick, max_concurrent=2, shutdown_grace_s=3.0)
    engine = c.app.state.vidprov.engine  # type: ignore[attr-defined]
    engine._generators["tiny-wan"] = (threading.Lock(), Generator())
    ids = [c.post("/v1/generate?mode=job", json={"prompt": "a cat", **SMALL_GEN}).json()["id"]]
    with clips["plain"].open("rb") as f:
        ids.append(c.post("/v1/scan?mode=job", files={"file": ("a.mp4", f)}).json()["id"])
    assert running.acquire(timeout=30) and running.acquire(timeout=30)
    with clips["plain"].open("rb") as f:  # waits for a free thread: dropped at the stop
        ids.append(c.post("/v1/scan?mode=job", files={"file": ("b.mp4", f)}).json()["id"])
    store = c.app.state.vidprov.jobs  # type: ignore[attr-defined]
    caplog.set_level(logging.INFO, logger="vidprov.api.jobs")
    c.__exit__(None, None, None)  # the lifespan's end: what a SIGTERM to `vidprov serve` runs
    jobs = [store.get(i) for i in ids]
    assert [j.status if j else None for j in jobs] == ["failed", "done", "failed"]
    assert jobs[0].http_status == 500 and jobs[0].error == WORKER_EXITED  # type: ignore[union-attr]
    assert jobs[2].error == WORKER_EXITED  # type: ignore[union-attr]
    assert "stopping 1 running job(s) at their next progress report" in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]  # no traceback
    assert leftovers(settings) == []


def test_only_the_generators_own_refusals_are_422(make_client: Client) -> None:
    class Generator:
        def __init__(self, error: Exception) -> None:
            self.error = error

        def generate(self, *args: object, **kwargs: object) -> Any:
            raise self.error

    c = make_client()
    engine = c.app.state.vidprov.engine  # type: ignore[attr-defined]
    for error, status, code in (
        (GeneratorError("tiny-wan refused the request: sizes"), 422, "generator_error"),
        (GeneratorMemoryError("out of memory generating 1x17 frames"), 503, "out_of_memory"),
        (RuntimeError("CUDA error: an illegal memory access was encountered"), 500, None),
        (TypeError("unexpected keyword argument"), 500, None),
    ):
        engine._generators["tiny-wan"] = (threading.Lock(), Generator(error))
        r = c.post("/v1/generate", json={"prompt": "a cat", **SMALL_GEN})
        assert r.status_code == status, (error, r.text)
        assert r.json()["error"] == (code or "internal_error")
        job = c.post("/v1/generate?mode=job", json={"prompt": "a cat", **SMALL_GEN}).json()
        done = wait_job(c, job["id"])
        assert done["http_status"] == status and done["error"]["error"] == (
            code or "internal_error"
        )


def test_accept_headers_and_logged_paths() -> None:
    from vidprov.api.errors import ApiError
    from vidprov.api.routes.store import _wants_c2pa
    from vidprov.errors import printable

    for accept in ("application/c2pa", "*/*, Application/C2PA", "application/c2pa, */*;q=0.9"):
        assert _wants_c2pa(accept), accept
    for accept in (
        "",
        "application/json",
        "*/*",
        "application/c2pa;q=0, application/json",  # q=0: refused
        "application/c2pa;q=0.5, application/json",  # JSON preferred: it was the store
        "application/c2pa;q=0.5, application/*",
        "application/c2pa-manifest+json, */*",  # not the store's type (it was, by substring)
    ):
        assert not _wants_c2pa(accept), accept
    for accept in ("application/json;q=0", "*/*;q=0", "text/html", "application/c2pa;q=0"):
        with pytest.raises(ApiError) as err:  # it answered JSON
            _wants_c2pa(accept)
        assert (err.value.status, err.value.code) == (406, "not_acceptable")
    assert printable("/v1/manifests/\x00x\ny") == "/v1/manifests/\\x00x\\ny"


def test_a_slow_model_load_counts_against_the_timeout(make_client: Client) -> None:
    c = make_client(request_timeout_s=0.3)
    engine = c.app.state.vidprov.engine  # type: ignore[attr-defined]

    def slow_load(model: str) -> None:
        time.sleep(1.0)
        raise MediaError("never seen: the request has timed out")

    engine.generator = slow_load
    r = c.post("/v1/generate", json={"prompt": "a fox"})
    assert r.status_code == 504 and r.json()["error"] == "timeout", r.text
    assert "goes on loading" in r.json()["message"]
    time.sleep(1.0)  # the load finishes (and fails) in the background, quietly


def test_a_key_added_again_under_its_name_does_not_read_the_old_keys_jobs(
    make_client: Client, clips: dict[str, Path]
) -> None:
    first = "reader read tok-first-0123456789abcdef"
    c = make_client(api_keys=first)
    with clips["plain"].open("rb") as f:
        r = c.post(
            "/v1/scan?mode=job",
            files={"file": ("a.mp4", f)},
            headers={"Authorization": "Bearer tok-first-0123456789abcdef"},
        )
    job_id = r.json()["id"]
    old = {"Authorization": "Bearer tok-first-0123456789abcdef"}
    assert wait_job(c, job_id, old)["status"] == "done"
    # `keys api-remove reader`, `keys api-add reader`: the name is back, with a new token
    again = make_client(api_keys="reader read tok-again-0123456789abcdef")
    new = {"Authorization": "Bearer tok-again-0123456789abcdef"}
    r = again.get(f"/v1/jobs/{job_id}", headers=new)
    assert r.status_code == 404 and r.json()["error"] == "not_found", r.text
    assert again.get(f"/v1/jobs/{job_id}", headers=old).status_code == 401  # that key is gone
