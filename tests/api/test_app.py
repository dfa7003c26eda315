"""The app in-process (TestClient): limits, errors, auth, jobs, timeouts, the page."""

from __future__ import annotations

import errno
import sqlite3
import threading
from fractions import Fraction
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import KEYS, Client, SpinningScanner, auth, leftovers, wait_job
from tests.streams import encoded
from vidprov.api import ApiSettings, create_app
from vidprov.detector.verdict import Verdict
from vidprov.errors import MediaError


def up(path: Path, name: str | None = None) -> dict[str, tuple[str, bytes, str]]:
    return {"file": (name or path.name, path.read_bytes(), "video/mp4")}


def test_create_app_does_no_work_at_import() -> None:
    import subprocess
    import sys

    code = (
        "import sys, vidprov.api; "
        "print(any(m in sys.modules for m in ('torch', 'c2pa', 'vidprov.detector.scan')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_health_and_page(make_client: Client) -> None:
    c = make_client()
    h = c.get("/healthz").json()
    assert h["status"] == "ok" and h["auth"] == "open" and h["limits"]["max_upload_mb"] == 4
    page = c.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "http://" not in page.text and "https://" not in page.text  # no CDN
    for name in ("app.js", "app.css"):
        r = c.get(f"/static/{name}")
        assert r.status_code == 200 and "https://" not in r.text
    assert c.get("/static/..%2f..%2fpyproject.toml").status_code == 404
    assert c.get("/static/index.htm").json()["error"] == "not_found"
    spec = c.get("/openapi.json").json()
    assert {"/v1/scan", "/v1/verify", "/v1/watermark/detect", "/v1/generate"} <= set(spec["paths"])
    assert {"/v1/matches/byBinding", "/v1/manifests/{manifest_id}", "/v1/jobs/{job_id}"} <= set(
        spec["paths"]
    )
    # statuses the middleware and the query check answer are documented too
    for path, method in (("/v1/generate", "post"), ("/v1/matches/byBinding", "post")):
        assert {"408", "413", "422"} <= set(spec["paths"][path][method]["responses"]), path
    assert "422" in spec["paths"]["/v1/services/supportedAlgorithms"]["get"]["responses"]


def test_scan_names_the_upload_not_the_server_path(
    make_client: Client, clips: dict[str, Path], settings: ApiSettings
) -> None:
    c = make_client()
    r = c.post("/v1/scan", files=up(clips["plain"], "holiday clip.mp4"))
    assert r.status_code == 200, r.text
    v = r.json()
    assert v["file"] == "holiday clip.mp4" and v["label"] in ("ai", "mixed", "real")
    assert str(settings.tmp_dir) not in r.text
    assert leftovers(settings) == []


def test_scan_takes_the_classifier_threshold_as_the_cli_does(
    make_client: Client, clips: dict[str, Path]
) -> None:
    c = make_client()
    base = c.post("/v1/scan", files=up(clips["plain"]))
    assert base.status_code == 200, base.text
    score = base.json()["evidence"]["classifier"]["score"]  # the highest segment's
    low, high = round(score / 2, 4), round((1 + score) / 2, 4)  # on either side of it
    v = c.post(f"/v1/scan?threshold={low}", files=up(clips["plain"])).json()
    assert v["label"] in ("ai", "mixed") and v["evidence"]["classifier"]["threshold"] == low
    v = c.post(f"/v1/scan?threshold={high}&mode=sync", files=up(clips["plain"])).json()
    assert v["label"] == "real" and v["evidence"]["classifier"]["threshold"] == high
    again = c.post("/v1/scan", files=up(clips["plain"])).json()  # the shared model is as it was
    assert (
        again["evidence"]["classifier"]["threshold"]
        == base.json()["evidence"]["classifier"]["threshold"]
    )
    for bad in ("0", "1", "1.5", "nan", "-inf", "x"):
        r = c.post(f"/v1/scan?threshold={bad}", files=up(clips["plain"]))
        assert r.status_code == 422, (bad, r.text)
        assert "threshold" in r.text
        assert bad != "nan" or "less than 1" not in r.text, r.text
    # a scanner of its own that takes no threshold: said so (it was a 500), and without one
    # the request runs as before
    slow = SlowScanner()
    slow.release.set()
    c = make_client(scan=slow)
    r = c.post("/v1/scan?threshold=0.5", files=up(clips["plain"]))
    assert r.status_code == 422 and r.json()["error"] == "unsupported_parameter", r.text
    assert slow.calls == 0 and c.post("/v1/scan", files=up(clips["plain"])).status_code == 200


def test_bad_uploads_are_4xx_and_leave_nothing(
    make_client: Client, clips: dict[str, Path], settings: ApiSettings
) -> None:
    c = make_client()
    garbage = c.post("/v1/scan", files={"file": ("x.mp4", b"not a video" * 100, "video/mp4")})
    assert garbage.status_code == 422 and garbage.json()["error"] == "media_error"
    assert garbage.json()["path"] == "x.mp4" and str(settings.tmp_dir) not in garbage.text
    empty = c.post("/v1/verify", files={"file": ("e.mp4", b"", "video/mp4")})
    assert empty.status_code == 422 and "empty" in empty.json()["message"]
    raw = c.post(
        "/v1/scan", content=clips["plain"].read_bytes(), headers={"content-type": "video/mp4"}
    )
    assert raw.status_code == 415 and raw.json()["error"] == "unsupported_media_type"
    other = c.post("/v1/scan", files={"video": ("a.mp4", b"x", "video/mp4")})
    assert other.status_code == 422 and other.json()["error"] == "missing_file"
    broken = c.post(
        "/v1/scan",
        content=b'--xyz\r\nContent-Disposition: form-data; name="file"\r\n\r\nabc',
        headers={"content-type": "multipart/form-data; boundary=xyz"},
    )
    assert 400 <= broken.status_code < 500
    assert leftovers(settings) == []


def test_oversize_is_413_with_a_clear_body(
    make_client: Client, settings: ApiSettings, tmp_path: Path
) -> None:
    c = make_client(max_upload_mb=0.05)
    big = tmp_path / "big.mp4"
    big.write_bytes(b"\0" * 200_000)
    r = c.post("/v1/scan", files=up(big))
    assert r.status_code == 413
    body = r.json()
    assert body["error"] == "too_large" and body["limit_bytes"] == int(0.05 * 1024 * 1024)
    assert "0.05 MB" in body["message"]

    def chunks():  # no Content-Length: the limit is enforced while streaming
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.mp4"\r\n\r\n'
        for _ in range(40):
            yield b"\0" * 10_000
        yield b"\r\n--b--\r\n"

    r = c.post(
        "/v1/scan", content=chunks(), headers={"content-type": "multipart/form-data; boundary=b"}
    )
    assert r.status_code == 413 and r.json()["error"] == "too_large"
    assert leftovers(settings) == []


def test_duration_frame_size_and_frame_rate_limits_are_413(
    make_client: Client, clips: dict[str, Path], settings: ApiSettings, tmp_path: Path
) -> None:
    r = make_client(max_duration_s=3).post("/v1/scan", files=up(clips["long"]))
    assert r.status_code == 413 and r.json()["error"] == "too_long"
    assert r.json()["limit_s"] == 3 and r.json()["duration_s"] == pytest.approx(6, abs=0.2)
    r = make_client(max_pixels=320 * 100).post("/v1/verify", files=up(clips["plain"]))
    assert r.status_code == 413 and r.json()["error"] == "frames_too_large"
    r = make_client(max_fps=20).post("/v1/scan", files=up(clips["plain"]))  # 30 fps
    assert r.status_code == 413 and r.json()["error"] == "too_many_frames"
    assert (r.json()["limit_fps"], r.json()["frames"]) == (20, 60)
    assert make_client(max_fps=30).post("/v1/verify", files=up(clips["plain"])).status_code == 200
    # 245 frames at 240 fps: 240 x 1.0208333 s is 244.99999999999997 (it was refused)
    fast = encoded(tmp_path / "fast.mp4", list(range(245)), Fraction(1, 240), rate=240)
    assert make_client().post("/v1/verify", files=up(fast)).status_code == 200
    assert leftovers(settings) == []


def test_auth_by_scope(make_client: Client, clips: dict[str, Path]) -> None:
    c = make_client(api_keys=KEYS)
    assert c.get("/healthz").json()["auth"] == "keys"
    r = c.post("/v1/scan", files=up(clips["plain"]))
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
    r = c.post(
        "/v1/scan",
        files=up(clips["plain"]),
        headers={"Authorization": "Bearer wrong-key-0123456789"},
    )
    assert r.status_code == 401 and r.json()["message"] == "unknown API key"
    r = c.post("/v1/scan", files=up(clips["plain"]), headers={"Authorization": "Basic abc"})
    assert r.status_code == 401
    r = c.post("/v1/scan", files=up(clips["plain"]), headers=auth("maker"))
    assert r.status_code == 403 and "read" in r.json()["message"]
    r = c.post("/v1/generate", json={"prompt": "x"}, headers=auth("reader"))
    assert r.status_code == 403 and "generate" in r.json()["message"]
    assert c.get("/v1/manifests/urn:x", headers=auth("maker")).status_code == 403
    assert c.get("/v1/manifests/urn:x", headers=auth("reader")).status_code == 404
    assert c.post("/v1/scan", files=up(clips["plain"]), headers=auth("reader")).status_code == 200


def test_jobs_are_private_to_their_key(make_client: Client, clips: dict[str, Path]) -> None:
    c = make_client(api_keys=KEYS)
    r = c.post("/v1/verify?mode=job", files=up(clips["plain"]), headers=auth("reader"))
    assert r.status_code == 202 and r.headers["location"] == f"/v1/jobs/{r.json()['id']}"
    job_id = r.json()["id"]
    assert c.get(f"/v1/jobs/{job_id}", headers=auth("both")).status_code == 404
    assert c.get(f"/v1/jobs/{job_id}").status_code == 401
    job = wait_job(c, job_id, auth("reader"))
    assert job["status"] == "done" and job["result"]["c2pa"]["state"] == "absent"
    assert job["result"]["file"] == "plain.mp4"
    r = c.get(f"/v1/jobs/{job_id}/file", headers=auth("reader"))  # a verify job: no file
    assert r.status_code == 404 and r.json()["error"] == "no_file"
    assert c.get("/v1/jobs/not-a-job", headers=auth("reader")).status_code == 422


class SlowScanner:
    """Blocks until released; counts calls."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.calls = 0

    def __call__(self, path: Path, progress: object) -> Verdict:
        self.calls += 1
        self.release.wait(30)
        return Verdict(str(path), "real", 0.1, (), 2.0, {}, "classifier")


def test_sync_timeout_is_504_and_the_job_carries_on(
    make_client: Client, clips: dict[str, Path], settings: ApiSettings
) -> None:
    slow = SlowScanner()
    c = make_client(scan=slow, request_timeout_s=0.5)
    r = c.post("/v1/scan", files=up(clips["plain"]))
    assert r.status_code == 504 and r.json()["error"] == "timeout"
    job_id = r.json()["job_id"]
    assert c.get(f"/v1/jobs/{job_id}").json()["status"] == "running"
    slow.release.set()
    job = wait_job(c, job_id)
    assert job["status"] == "done" and job["result"]["file"] == "plain.mp4"
    assert leftovers(settings) == []


def test_full_queue_is_503(
    make_client: Client, clips: dict[str, Path], settings: ApiSettings
) -> None:
    slow = SlowScanner()
    c = make_client(scan=slow, max_queue=1, max_concurrent=1)
    first = c.post("/v1/scan?mode=job", files=up(clips["plain"]))
    assert first.status_code == 202
    r = c.post("/v1/scan?mode=job", files=up(clips["plain"]))
    assert r.status_code == 503 and r.headers["retry-after"] == "5"
    slow.release.set()
    assert wait_job(c, first.json()["id"])["status"] == "done"
    assert leftovers(settings) == []


def test_a_job_is_cancelled_queued_or_running(
    make_client: Client, clips: dict[str, Path], settings: ApiSettings
) -> None:
    spin = SpinningScanner()
    c = make_client(scan=spin, max_concurrent=1)
    running = c.post("/v1/scan?mode=job", files=up(clips["plain"])).json()["id"]
    assert spin.started.wait(30)
    queued = c.post("/v1/scan?mode=job", files=up(clips["plain"])).json()["id"]
    r = c.delete(f"/v1/jobs/{queued}")  # ends at once: it never ran
    assert r.status_code == 202 and r.json()["status"] == "failed"
    assert r.json()["error"]["error"] == "cancelled" and r.json()["http_status"] == 409
    r = c.delete(f"/v1/jobs/{running}")
    assert r.status_code == 202 and r.json()["status"] in ("running", "failed")  # a race
    job = wait_job(c, running)  # stopped at a progress report, not by the release
    assert job["status"] == "failed" and job["error"]["error"] == "cancelled"
    assert spin.stopped_by == ["JobCancelled"] and not spin.release.is_set()
    assert leftovers(settings) == []  # both uploads removed
    r = c.delete(f"/v1/jobs/{running}")  # again: the same answer, not an error
    assert r.status_code == 200 and r.json() == job
    spin.release.set()
    done = c.post("/v1/scan?mode=job", files=up(clips["plain"])).json()["id"]
    assert wait_job(c, done)["status"] == "done"
    r = c.delete(f"/v1/jobs/{done}")
    assert r.status_code == 409 and r.json()["error"] == "finished"
    assert c.delete("/v1/jobs/" + "0" * 32).status_code == 404


def test_a_request_waiting_on_a_cancelled_job_gets_409(
    make_client: Client, clips: dict[str, Path], settings: ApiSettings
) -> None:
    spin = SpinningScanner()
    c = make_client(scan=spin)
    answer: list[httpx.Response] = []
    waiting = threading.Thread(
        target=lambda: answer.append(c.post("/v1/scan", files=up(clips["plain"])))
    )
    waiting.start()
    assert spin.started.wait(30)
    with sqlite3.connect(settings.state_path / "jobs.sqlite") as db:  # its id is not out yet
        (job_id,) = db.execute("SELECT id FROM jobs WHERE status = 'running'").fetchone()
    assert c.delete(f"/v1/jobs/{job_id}").status_code == 202
    waiting.join(30)
    assert answer[0].status_code == 409
    assert answer[0].json() == {
        "error": "cancelled",
        "message": f"job {job_id} was cancelled",
        "job_id": job_id,
    }


def test_a_crash_is_a_bare_500(make_client: Client, clips: dict[str, Path], all_logs) -> None:
    def broken(path: Path, progress: object) -> Verdict:
        raise RuntimeError(f"boom at {path}")

    c = make_client(scan=broken)
    r = c.post("/v1/scan", files=up(clips["plain"]))
    assert r.status_code == 500
    assert r.json() == {
        "error": "internal_error",
        "message": "internal error (logged on the server)",
    }
    assert "boom" in all_logs.text  # the traceback went to the log


def test_a_full_disk_is_507_not_a_crash(make_client: Client, clips: dict[str, Path]) -> None:
    """No room left where uploads or outputs go is the server's condition, said as such: an
    upload into a full folder was a bare 500 "internal_error" with a traceback."""

    def full(path: Path, progress: object) -> Verdict:
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    r = make_client(scan=full).post("/v1/scan", files=up(clips["plain"]))
    assert r.status_code == 507
    assert r.json()["error"] == "insufficient_storage" and "tmp" not in r.text


def test_failed_job_reports_the_error(make_client: Client, clips: dict[str, Path]) -> None:
    def refuses(path: Path, progress: object) -> Verdict:
        raise MediaError("only 1 frame(s): nothing to scan", path)

    c = make_client(scan=refuses)
    r = c.post("/v1/scan?mode=job", files=up(clips["plain"], "mine.mp4"))
    assert r.status_code == 202
    job = wait_job(c, r.json()["id"])
    assert job["status"] == "failed" and job["http_status"] == 422
    assert job["error"] == {
        "error": "media_error",
        "message": "mine.mp4: only 1 frame(s): nothing to scan",
        "path": "mine.mp4",
    }
    assert c.post("/v1/scan", files=up(clips["plain"])).status_code == 422


def test_generate_limits_and_models(make_client: Client) -> None:
    c = make_client()
    r = c.post("/v1/generate", json={"prompt": "a fox", "frames": 33})
    assert r.status_code == 422 and r.json()["error"] == "over_limit"
    r = c.post("/v1/generate", json={"prompt": "a fox", **{"frames": 17, "steps": 2}})
    assert r.status_code == 422 and "default height" in r.json()["message"]
    r = c.post("/v1/generate", json={"prompt": "a fox", "model": "/etc"})
    assert r.status_code == 422 and r.json()["error"] == "unknown_model"
    r = c.post("/v1/generate", json={"prompt": ""})
    assert r.status_code == 422 and r.json()["error"] == "invalid_request"
    small = {"frames": 17, "width": 128, "steps": 1}
    r = c.post("/v1/generate", json={"prompt": "x", "height": 100, **small})
    assert r.status_code == 422 and r.json()["error"] == "generator_error"
    assert "height divisible by 16" in r.json()["message"]  # the model's rule, before any job
    r = c.post("/v1/generate?mode=job", json={"prompt": "x", "height": 100, **small})
    assert r.status_code == 422  # not a 202 for a job bound to fail
    r = c.post(
        "/v1/generate", json={"prompt": "x", "frames": 16, "height": 128, "width": 128, "steps": 1}
    )
    assert r.status_code == 422 and r.json()["error"] == "generator_error"
    assert "/" not in r.json()["message"].split("frames")[0]


def test_without_keys_generation_and_detection_are_503(
    tmp_path: Path, home: Path, clips: dict[str, Path]
) -> None:
    app = create_app(ApiSettings(state_dir=tmp_path / "s", tmp_dir=tmp_path / "u"))
    with TestClient(app) as c:
        r = c.post("/v1/generate", json={"prompt": "x", "frames": 17, "height": 128, "width": 128})
        assert r.status_code == 503 and r.json()["error"] == "not_configured"
        r = c.post("/v1/watermark/detect", files=up(clips["plain"]))
        assert r.status_code == 503 and "watermark key" in r.json()["message"]
        r = c.post("/v1/verify", files=up(clips["plain"]))
        assert r.status_code == 200 and r.json()["watermark"]["detected"] is None
