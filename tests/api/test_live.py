"""Every endpoint over real HTTP, against a uvicorn server on a free loopback port."""

from __future__ import annotations

import base64
import re
import socket
import sqlite3
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import KEYS, PAYLOAD, SMALL_GEN, TOKENS, LiveServer, SpinningScanner
from vidprov.api import ApiSettings, create_app
from vidprov.detector.verdict import Verdict
from vidprov.provenance import ALG, PkiPaths

SEEN: list[str] = []  # every response (status line, headers, text body) of this module


def record(r: httpx.Response) -> httpx.Response:
    text = r.text if "json" in r.headers.get("content-type", "") else ""
    SEEN.append(f"{r.status_code} {dict(r.headers)} {text}")
    return r


def upload(c: httpx.Client, endpoint: str, clip: Path, name: str | None = None) -> httpx.Response:
    with clip.open("rb") as f:
        return record(c.post(endpoint, files={"file": (name or clip.name, f, "video/mp4")}))


def wait_job(c: httpx.Client, job_id: str) -> dict:
    for _ in range(1200):
        job = record(c.get(f"/v1/jobs/{job_id}")).json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.25)
    raise AssertionError(f"job {job_id} did not finish")


@pytest.fixture(scope="module")
def generated(live: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """One clip made by POST /v1/generate (sync): the file and its headers."""
    with live.client("maker") as c:
        r = record(c.post("/v1/generate", json={"prompt": "a red fox in snow", **SMALL_GEN}))
    assert r.status_code == 200, r.text
    path = tmp_path_factory.mktemp("gen") / "generated.mp4"
    path.write_bytes(r.content)
    return {"path": path, "headers": r.headers}


def test_healthz_and_page(live: LiveServer) -> None:
    with live.client() as c:
        assert record(c.get("/healthz")).json()["auth"] == "keys"
        head = c.head("/healthz")  # uvicorn itself: headers, no body
        assert head.status_code == 200 and head.content == b""
        assert int(head.headers["content-length"]) == len(c.get("/healthz").content)
        assert "vidprov" in record(c.get("/")).text
        spec = record(c.get("/openapi.json")).json()
        assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
        assert record(c.get("/docs")).status_code == 200


def test_generate_sync_returns_a_signed_mp4(generated: dict[str, object]) -> None:
    headers = generated["headers"]
    assert isinstance(headers, httpx.Headers)
    assert headers["content-type"] == "video/mp4"
    assert re.fullmatch(r"[0-9a-f]{16}", headers["x-vidprov-payload"])
    assert headers["x-vidprov-manifest-id"].startswith("urn:")
    path = generated["path"]
    assert isinstance(path, Path) and path.read_bytes()[4:8] == b"ftyp"


def test_a_sync_clip_can_be_fetched_again_from_its_job(
    live: LiveServer, generated: dict[str, object]
) -> None:
    # a download cut short is not the end of the clip: it was deleted once sent, and a client
    # that went away mid-body (Starlette still ran the deletion) had lost it for good
    headers, path = generated["headers"], generated["path"]
    assert isinstance(headers, httpx.Headers) and isinstance(path, Path)
    with live.client("maker") as c:
        again = record(c.get(f"/v1/jobs/{headers['x-vidprov-job-id']}/file"))
        job = record(c.get(f"/v1/jobs/{headers['x-vidprov-job-id']}")).json()
    assert again.status_code == 200 and again.content == path.read_bytes()
    assert job["result"]["clips"][0]["download_url"].endswith("/file")


def test_verify_scan_and_detect_the_generated_clip(
    live: LiveServer, generated: dict[str, object]
) -> None:
    path, headers = generated["path"], generated["headers"]
    assert isinstance(path, Path) and isinstance(headers, httpx.Headers)
    with live.client("reader") as c:
        v = upload(c, "/v1/verify", path, "gen.mp4")
        assert v.status_code == 200, v.text
        rep = v.json()
        assert rep["file"] == "gen.mp4" and rep["c2pa"]["state"] == "trusted"
        assert rep["c2pa"]["manifest_id"] == headers["x-vidprov-manifest-id"]
        assert rep["watermark"]["payload"] == headers["x-vidprov-payload"]
        s = upload(c, "/v1/scan", path).json()
        assert s["label"] == "ai" and s["decided_by"] == "c2pa" and s["file"] == "generated.mp4"
        d = upload(c, "/v1/watermark/detect", path).json()
        assert d["detected"] and d["payload"] == headers["x-vidprov-payload"]


def test_verify_reports_a_truncated_signed_clip_as_the_cli_does(
    live: LiveServer, generated: dict[str, object], tmp_path: Path
) -> None:
    """The upload check refused it (422 "truncated"), where `vidprov verify` reports the
    manifest invalid: a damaged signed file is what verify is for."""
    path = generated["path"]
    assert isinstance(path, Path)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size * 2 // 3])
    with live.client("reader") as c:
        v = upload(c, "/v1/verify", cut)
        assert v.status_code == 200, v.text
        rep = v.json()
        assert rep["file"] == "cut.mp4" and rep["c2pa"]["state"] == "invalid"
        assert rep["established"] is False and "truncated" in rep["watermark"]["note"]
        assert upload(c, "/v1/scan", cut).status_code == 422  # other work still refuses it


def test_scan_of_a_half_marked_clip_has_a_timeline(live: LiveServer, marked_clip: Path) -> None:
    with live.client("reader") as c:
        r = upload(c, "/v1/scan?mode=job", marked_clip)
        assert r.status_code == 202
        job = wait_job(c, r.json()["id"])
        assert job["status"] == "done" and job["progress"] == 1.0
        v = job["result"]
        assert v["label"] == "mixed" and v["decided_by"] == "watermark"
        marked = [s for s in v["segments"] if s["source"] == "watermark" and s["label"] == "ai"]
        assert marked and marked[0]["start"] == 0 and marked[0]["end"] == pytest.approx(2, abs=0.6)
        assert v["evidence"]["watermark"]["payload"] == PAYLOAD
        d = upload(c, "/v1/watermark/detect?mode=job", marked_clip)
        reading = wait_job(c, d.json()["id"])["result"]
        assert reading["detected"] and reading["segments"][0]["payload"] == PAYLOAD


def test_manifests_and_soft_binding_matches(live: LiveServer, generated: dict[str, object]) -> None:
    headers = generated["headers"]
    assert isinstance(headers, httpx.Headers)
    mid, payload = headers["x-vidprov-manifest-id"], headers["x-vidprov-payload"]
    value = base64.b64encode(bytes.fromhex(payload)).decode()
    with live.client("reader") as c:
        want = {"matches": [{"manifestId": mid}]}
        assert (
            record(c.post("/v1/matches/byBinding", json={"alg": ALG, "value": value})).json()
            == want
        )
        assert (
            record(c.post("/v1/matches/byBinding", json={"alg": ALG, "value": payload})).json()
            == want
        )
        got = record(c.get("/v1/matches/byBinding", params={"alg": ALG, "value": value})).json()
        assert got == want
        other = record(c.post("/v1/matches/byBinding", json={"alg": "other.alg", "value": value}))
        assert other.status_code == 400 and other.json()["error"] == "unsupported_alg"
        bad = record(c.post("/v1/matches/byBinding", json={"alg": ALG, "value": "!!"}))
        assert bad.status_code == 400 and bad.json()["error"] == "bad_value"
        m = record(c.get(f"/v1/manifests/{mid}")).json()
        assert m["manifest_id"] == mid and m["manifest"]
        raw = record(c.get(f"/v1/manifests/{mid}", headers={"Accept": "application/c2pa"}))
        assert raw.headers["content-type"] == "application/c2pa" and len(raw.content) > 1000
        assert record(c.get("/v1/manifests/urn:c2pa:nope")).status_code == 404
        algs = record(c.get("/v1/services/supportedAlgorithms")).json()
        assert algs == {"watermarks": [{"alg": ALG}], "fingerprints": []}


def test_generate_as_a_job_with_a_download(live: LiveServer) -> None:
    with live.client("both") as c:
        r = record(
            c.post("/v1/generate?mode=job", json={"prompt": "a boat", "seed": 3, **SMALL_GEN})
        )
        assert r.status_code == 202
        job = wait_job(c, r.json()["id"])
        assert job["status"] == "done", job
        clip = job["result"]["clips"][0]
        assert job["download_url"] == clip["download_url"] == f"/v1/jobs/{job['id']}/file"
        assert clip["path"] == f"vidprov-{job['id']}.mp4"  # a name, not a server path
        for _ in range(2):  # kept for download until the job expires
            f = record(c.get(job["download_url"]))
            assert f.status_code == 200 and f.headers["x-vidprov-payload"] == clip["payload"]
            assert f.content[4:8] == b"ftyp"


def test_auth_over_http(live: LiveServer, marked_clip: Path) -> None:
    with live.client() as anon, live.client("maker") as maker, live.client("reader") as reader:
        assert upload(anon, "/v1/scan", marked_clip).status_code == 401
        assert upload(maker, "/v1/verify", marked_clip).status_code == 403
        assert record(reader.post("/v1/generate", json={"prompt": "x"})).status_code == 403
        assert record(anon.get("/v1/services/supportedAlgorithms")).status_code == 200


def test_oversize_and_garbage_over_http(live: LiveServer, tmp_path: Path) -> None:
    big = tmp_path / "big.mp4"
    big.write_bytes(b"\0" * (5 * 1024 * 1024))  # the live server allows 4 MB
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"this is not a video " * 1000)
    with live.client("reader") as c:
        r = upload(c, "/v1/scan", big)
        assert r.status_code == 413 and r.json()["error"] == "too_large"
        for route in ("/v1/scan", "/v1/verify"):  # verify takes a damaged clip, not this
            r = upload(c, route, garbage)
            assert r.status_code == 422 and r.json()["path"] == "garbage.mp4", r.text


def test_no_secret_in_any_response_or_log(
    live: LiveServer, keyed_home: Path, marked_clip: Path, all_logs: pytest.LogCaptureFixture
) -> None:
    with live.client("both") as c:  # some traffic while the logs are captured
        upload(c, "/v1/verify", marked_clip)
        record(c.post("/v1/generate", json={"prompt": "a cat", "seed": 5, **SMALL_GEN}))
    pki = PkiPaths.under(keyed_home)
    secrets = [(keyed_home / "watermark.key").read_text().strip()]
    for pem in (pki.signer_key, pki.intermediate_key, pki.root_key):
        body = pem.read_text().split("-----")[2].replace("\n", "")
        secrets += [body[:40], body[-40:]]
    secrets += ["tok-reader-0123456789abcdef", "tok-both-0123456789abcdef"]
    responses = "\n".join(SEEN)
    for _ in range(100):  # the access line is written once the response has gone out
        logs = "\n".join(r.getMessage() for r in all_logs.records)
        if "POST /v1/generate 200" in logs:
            break
        time.sleep(0.05)
    assert "POST /v1/generate 200" in logs  # the server did log, one line per request
    for secret in secrets:
        assert secret not in responses and secret not in logs
    assert str(keyed_home) not in responses


def open_upload(server: LiveServer, length: int, sent: int) -> socket.socket:
    """A raw connection that announces a ``length``-byte upload and sends ``sent`` bytes."""
    host, port = server.url.removeprefix("http://").split(":")
    head = (
        f"POST /v1/scan HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n"
        "Content-Type: multipart/form-data; boundary=b\r\n\r\n"
        '--b\r\nContent-Disposition: form-data; name="file"; filename="a.mp4"\r\n\r\n'
    )
    s = socket.create_connection((host, int(port)), timeout=10)
    s.sendall(head.encode() + b"\0" * sent)
    return s


def read_reply(s: socket.socket, until: bytes) -> str:
    """What the server sends on ``s`` until ``until`` appears or it closes (headers and body
    may come in two reads)."""
    data = b""
    while until not in data:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace")


def test_a_stalled_upload_is_408_and_leaves_nothing(env_home: Path, tmp_path: Path) -> None:
    settings = ApiSettings(
        state_dir=tmp_path / "state", tmp_dir=tmp_path / "up", upload_idle_timeout_s=0.5
    )
    server = LiveServer(create_app(settings)).start()
    try:
        with open_upload(server, 100_000, 1000) as s:  # then nothing more
            reply = read_reply(s, b"upload_timeout")
        assert reply.startswith("HTTP/1.1 408") and "upload_timeout" in reply
        assert list((tmp_path / "up").iterdir()) == []
    finally:
        server.stop()


def test_a_client_that_goes_away_mid_upload_is_no_crash(
    env_home: Path, tmp_path: Path, all_logs: pytest.LogCaptureFixture
) -> None:
    server = LiveServer(create_app(ApiSettings(state_dir=tmp_path / "s", tmp_dir=tmp_path / "up")))
    server.start()
    try:
        open_upload(server, 1_000_000, 100_000).close()  # hang up mid-upload
        for _ in range(100):
            if "client disconnected" in all_logs.text:
                break
            time.sleep(0.05)
        assert "client disconnected during the upload" in all_logs.text
        for _ in range(100):  # the access line, once the app has answered no one
            if "POST /v1/scan 499" in all_logs.text:
                break
            time.sleep(0.05)
        assert "POST /v1/scan 499" in all_logs.text  # not 400: the request was not bad
        assert "crashed" not in all_logs.text and "Traceback" not in all_logs.text
        assert list((tmp_path / "up").iterdir()) == []
    finally:
        server.stop()


def test_a_sync_request_whose_client_hangs_up_cancels_its_job(
    env_home: Path, tmp_path: Path, clips: dict[str, Path]
) -> None:
    """No one is left to take the answer (nor the job id, which only the answer names): the
    scan stops at its next progress report. Before, it ran on to the end, holding a worker."""
    spin = SpinningScanner()
    settings = ApiSettings(state_dir=tmp_path / "s", tmp_dir=tmp_path / "up")
    server = LiveServer(create_app(settings, scanner=spin)).start()
    try:
        data = clips["plain"].read_bytes()
        body = (
            b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.mp4"\r\n\r\n'
            + data
            + b"\r\n--b--\r\n"
        )
        head = (
            f"POST /v1/scan HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n"
            "Content-Type: multipart/form-data; boundary=b\r\n\r\n"
        )
        host, port = server.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as s:
            s.sendall(head.encode() + body)
            assert spin.started.wait(30)
            time.sleep(0.3)  # the job runs while the client waits
        for _ in range(200):
            if spin.stopped_by:
                break
            time.sleep(0.05)
        assert spin.stopped_by == ["JobCancelled"] and not spin.release.is_set()
        with sqlite3.connect(tmp_path / "s" / "jobs.sqlite") as db:
            rows = db.execute("SELECT status, error, http_status FROM jobs").fetchall()
        assert [(r[0], '"cancelled"' in r[1], r[2]) for r in rows] == [("failed", True, 409)]
        assert list((tmp_path / "up").iterdir()) == []  # its upload went with it
        # a client that stays is answered, however long it waits
        spin.started.clear()
        answer: list[httpx.Response] = []
        with server.client() as c, clips["plain"].open("rb") as f:
            waiting = threading.Thread(
                target=lambda: answer.append(c.post("/v1/scan", files={"file": ("b.mp4", f)}))
            )
            waiting.start()
            assert spin.started.wait(30)
            time.sleep(1.0)
            spin.release.set()
            waiting.join(30)
        assert answer[0].status_code == 200 and answer[0].json()["file"] == "b.mp4"
        assert spin.stopped_by == ["JobCancelled"]
    finally:
        spin.release.set()
        server.stop()


def _json_post(server: LiveServer, length: int, body: bytes, token: str | None) -> str:
    """A raw JSON POST announcing ``length`` bytes and sending ``body``; the reply's text."""
    host, port = server.url.removeprefix("http://").split(":")
    key = f"Authorization: Bearer {token}\r\n" if token else ""
    head = (
        f"POST /v1/generate HTTP/1.1\r\nHost: x\r\n{key}Content-Type: application/json\r\n"
        f"Content-Length: {length}\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(head.encode() + body)
        return read_reply(s, b"}")


def test_json_bodies_are_small_and_keyless_callers_are_refused_first(
    env_home: Path, tmp_path: Path
) -> None:
    """FastAPI reads a JSON body before the key check: a caller without a key made the server
    read 600 MB (RSS +1.2 GB) or wait forever on a body never finished, to hear 401."""
    settings = ApiSettings(
        api_keys=KEYS, state_dir=tmp_path / "s", tmp_dir=tmp_path / "up", upload_idle_timeout_s=0.5
    )
    server = LiveServer(create_app(settings)).start()
    try:
        huge = 600 << 20  # announced, never sent
        reply = _json_post(server, huge, b'{"prompt": "a', None)
        assert reply.startswith("HTTP/1.1 401") and '"unauthorized"' in reply
        reply = _json_post(server, huge, b'{"prompt": "a', TOKENS["maker"])
        assert reply.startswith("HTTP/1.1 413") and '"limit_bytes":65536' in reply
        reply = _json_post(server, 100, b'{"prompt":', TOKENS["maker"])  # then nothing more
        assert reply.startswith("HTTP/1.1 408") and '"body_timeout"' in reply
        with server.client("reader") as c:  # small bodies pass to the route as before
            r = c.post("/v1/generate", json={"prompt": "a cat"})
            assert r.status_code == 403 and r.json()["error"] == "forbidden"
            r = c.post("/v1/matches/byBinding", json={"alg": "x", "value": "AAAAAAAAAAA="})
            assert r.status_code == 400 and r.json()["error"] == "unsupported_alg"
    finally:
        server.stop()


def test_a_full_queue_answers_before_the_upload_is_sent(
    env_home: Path, tmp_path: Path, clips: dict[str, Path]
) -> None:
    """503 busy came only after the whole clip had been received and written to disk."""
    release, started = threading.Event(), threading.Event()

    def blocking(path: Path, progress: object) -> Verdict:
        started.set()
        release.wait(30)
        return Verdict(str(path), "real", 0.1, (), 2.0, {}, "classifier", ())

    settings = ApiSettings(state_dir=tmp_path / "s", tmp_dir=tmp_path / "up", max_queue=1)
    server = LiveServer(create_app(settings, scanner=blocking)).start()
    try:
        with server.client() as c, clips["plain"].open("rb") as f:
            job = c.post("/v1/scan?mode=job", files={"file": ("a.mp4", f)}).json()
        assert started.wait(30)
        with open_upload(server, 100_000_000, 0) as s:  # announced, not sent
            reply = read_reply(s, b"}")  # headers and body may come in two reads
        assert reply.startswith("HTTP/1.1 503") and '"busy"' in reply
        assert "retry-after: 5" in reply.lower()
        release.set()
        with server.client() as c:
            assert wait_job(c, job["id"])["status"] == "done"
        assert list((tmp_path / "up").iterdir()) == []
    finally:
        release.set()
        server.stop()
