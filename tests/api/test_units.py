"""Pieces of the API without a server: settings, keys, sniffing, error mapping."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from pathlib import Path

import numpy as np
import pytest

from vidprov.api.auth import KeyRing, add_key, digest_of, load_keyring, parse_keys
from vidprov.api.errors import ApiError, error_body, status_for
from vidprov.api.settings import ApiSettings
from vidprov.api.uploads import Upload, display_name, form_unescape, replace_text, sniff_suffix
from vidprov.cli.serve import is_loopback
from vidprov.errors import (
    ConfigError,
    DetectorError,
    GeneratorError,
    KeyError_,
    MediaError,
    ProvenanceError,
    WatermarkError,
)


def test_settings_round_trip_through_env() -> None:
    s = ApiSettings(max_upload_mb=3.5, max_concurrent=1, generate_models=("tiny-wan", "tiny-ltx"))
    assert ApiSettings.from_env(s.to_env()) == s
    assert ApiSettings.from_env({}) == ApiSettings()
    assert ApiSettings(state_dir=Path("/x")).state_path == Path("/x")


@pytest.mark.parametrize(
    "env",
    [
        {"VIDPROV_API_MAX_UPLOAD_MB": "lots"},
        {"VIDPROV_API_MAX_QUEUE": "0"},
        {"VIDPROV_API_MAX_UPLOAD_MB": "inf"},  # accepted, then every upload was a 500
        {"VIDPROV_API_REQUEST_TIMEOUT_S": "nan"},
    ],
)
def test_bad_settings_are_config_errors(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match=r"VIDPROV_API_MAX|max_queue|max_upload|request_time"):
        ApiSettings.from_env(env)


def test_settings_in_code_take_text_paths_and_refuse_wrong_types(tmp_path: Path) -> None:
    s = ApiSettings(state_dir=str(tmp_path / "st"), tmp_dir="~/up", generate_models="tiny-wan")
    assert s.state_path == tmp_path / "st" and s.tmp_dir == Path.home() / "up"
    assert s.generate_models == ("tiny-wan",)  # one name, not its letters
    assert ApiSettings(generate_models=["a", "b"]).generate_models == ("a", "b")
    assert ApiSettings(generate_models="a, b").generate_models == ("a", "b")  # as in the env
    assert type(ApiSettings(max_concurrent=np.int64(3)).max_concurrent) is int
    assert ApiSettings.from_env(s.to_env()) == s
    for bad, match in (
        ({"state_dir": 3}, "state_dir must be a path, got 3"),
        ({"trust_anchors": ""}, "trust_anchors must be a path, got ''"),
        ({"max_queue": "3"}, "max_queue must be a whole number, got '3'"),
        ({"max_concurrent": True}, "max_concurrent must be a whole number"),
        ({"max_concurrent": 1.5}, "max_concurrent must be a whole number"),  # env refuses it too
        ({"state_dir": "~nosuchuser-x/st"}, "state_dir: Could not determine home directory"),
        ({"generate_models": [1]}, "generate_models must be a list of names"),
        ({"api_keys": 5}, "api_keys must be text"),
    ):
        with pytest.raises(ConfigError, match=match):
            ApiSettings(**bad)  # type: ignore[arg-type]


def test_a_misspelt_setting_is_said_to_be_ignored(caplog: pytest.LogCaptureFixture) -> None:
    assert ApiSettings.from_env({"VIDPROV_API_MAX_UPLOADS_MB": "3"}) == ApiSettings()
    assert "VIDPROV_API_MAX_UPLOADS_MB is not a setting (a misspelling?); ignored" in caplog.text


def test_keys_file_format() -> None:
    token = "a-long-enough-token-123"
    text = f"""
    # comment
    alice  read           {token}
    bob    read,generate  {digest_of("bobs-token-0123456789")}   # trailing comment
    """
    ring = KeyRing(parse_keys(text, "keys"))
    assert not ring.open
    alice = ring.lookup(token)
    assert alice is not None and alice.scopes == {"read"}
    bob = ring.lookup("bobs-token-0123456789")
    assert bob is not None and bob.scopes == {"read", "generate"}
    assert ring.lookup("nope-nope-nope-nope") is None
    assert alice.digest == hashlib.sha256(token.encode()).digest()


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("alice read", "expected 'NAME SCOPES KEY'"),
        ("alice admin long-enough-token-xyz", "unknown scope"),
        ("alice read short", "shorter than 16"),
        ("alice read sha256:abcd", "64 hex digits"),
        ("a/b read long-enough-token-xyz", "bad key name"),
        ("a read long-enough-token-xyz; a read other-long-token-xyz", "repeated"),
    ],
)
def test_bad_keys_are_config_errors(text: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        parse_keys(text, "keys")


def test_add_key_keeps_only_the_hash(tmp_path: Path) -> None:
    path = tmp_path / "api_keys"
    token = add_key(path, "ingest", ("read",))
    assert token not in path.read_text()
    assert path.stat().st_mode & 0o077 == 0
    ring = load_keyring(path, None)
    key = ring.lookup(token)
    assert key is not None and key.name == "ingest"
    # named as the argument it is (it read "entry 2: key name 'ingest' repeated")
    with pytest.raises(ConfigError, match="a key named 'ingest' is already there") as err:
        add_key(path, "ingest", ("generate",))
    assert err.value.path == str(path)


def test_keys_file_not_utf8_or_without_last_newline(tmp_path: Path) -> None:
    from vidprov.api.auth import remove_key

    path = tmp_path / "api_keys"
    path.write_bytes(b"\xff\xfe\x00x\n")
    for call in (
        lambda: add_key(path, "carol", ("read",)),
        lambda: remove_key(path, "carol"),
        lambda: load_keyring(path, None),
    ):
        with pytest.raises(ConfigError, match="not UTF-8 text") as err:
            call()
        assert err.value.path == str(path)
    # an entry valid on its own, with no newline after it: the new one goes on a line of its own
    path.write_text("bob read " + digest_of("bob-token-long-enough"))
    token = add_key(path, "carol", ("read",))
    ring = load_keyring(path, None)
    assert {k.name for k in ring.keys} == {"bob", "carol"} and ring.lookup(token) is not None


def test_keyring_sources(home: Path) -> None:
    assert load_keyring(None, None).open
    (home).mkdir(parents=True, exist_ok=True)
    (home / "api_keys").write_text("x read long-enough-token-xyz\n")
    assert load_keyring(None, None).lookup("long-enough-token-xyz") is not None
    both = load_keyring(None, "y generate another-long-token-1")
    assert len(both.keys) == 2
    with pytest.raises(ConfigError, match="cannot read"):
        load_keyring(home / "missing", None)


def test_sniffing_and_display_names() -> None:
    assert sniff_suffix(b"\0\0\0\x20ftypisom", "x.avi") == ".mp4"
    assert sniff_suffix(b"\0\0\0\x14ftypqt  ", "x") == ".mov"
    assert sniff_suffix(b"RIFF\0\0\0\0AVI LIST", "x") == ".avi"
    assert sniff_suffix(b"\x1a\x45\xdf\xa3....", "x") == ".mkv"
    assert sniff_suffix(b"garbage", "clip.WEBM") == ".webm"
    assert sniff_suffix(b"garbage", "../../etc/passwd") == ".bin"
    assert display_name("../../etc/passwd") == "passwd"
    assert display_name("C:\\Users\\me\\clip.mp4") == "clip.mp4"
    assert display_name("a\x00b\nc.mp4") == "abc.mp4"
    # browsers and curl send '"', LF and CR in a file name as %22, %0A and %0D (it read so)
    assert display_name(form_unescape("My clip %22quotes%22 100%25.mp4")) == (
        'My clip "quotes" 100%25.mp4'
    )
    assert display_name(form_unescape("line%0Abreak%0D.mp4")) == "linebreak.mp4"
    assert display_name("") == display_name(None) == "upload"


def test_scrub_replaces_the_server_path(tmp_path: Path) -> None:
    up = Upload(tmp_path / "upload.mp4", "mine.mp4", 3)
    body = {"file": str(up.path), "notes": [f"not checked: {up.path}: bad"], "n": 1}
    assert up.scrub(body) == {"file": "mine.mp4", "notes": ["not checked: mine.mp4: bad"], "n": 1}


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (MediaError("x"), 422),
        (WatermarkError("x"), 422),
        (ProvenanceError("x"), 422),
        (GeneratorError("x"), 422),
        (ConfigError("x"), 400),
        (KeyError_("x"), 503),
        (DetectorError("x"), 503),
    ],
)
def test_library_errors_map_to_statuses(exc: Exception, status: int) -> None:
    assert status_for(exc) == status  # type: ignore[arg-type]
    code, body = error_body(exc)
    assert code == status and body["error"] == exc.code  # type: ignore[attr-defined]


def test_unexpected_errors_say_nothing() -> None:
    code, body = error_body(RuntimeError("/secret/path exploded"))
    assert code == 500 and "secret" not in str(body)
    assert error_body(ApiError(413, "too_large", "big", {"limit_bytes": 1}))[1] == {
        "error": "too_large",
        "message": "big",
        "limit_bytes": 1,
    }


def test_loopback_detection() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("::")
    assert not is_loopback("192.0.2.1") and not is_loopback("no-such-host.invalid")


def test_chromium_is_installed_with_apt_when_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.api import browser

    installed: list[list[str]] = []
    paths = {"apt-get": "/usr/bin/apt-get"}
    monkeypatch.setattr(browser.shutil, "which", paths.get)
    monkeypatch.setattr(browser.os, "geteuid", lambda: 0)

    def fake_run(cmd: list[str], **kwargs: object) -> object:
        installed.append(cmd)
        if "install" in cmd:
            paths["chromium"] = "/usr/bin/chromium"
        return type("R", (), {"returncode": 0, "stderr": ""})()

    monkeypatch.setattr(browser.subprocess, "run", fake_run)
    assert browser.chromium() == ("/usr/bin/chromium", "installed")
    assert installed[-1][:3] == ["apt-get", "install", "-y"] and installed[-1][-1] == "chromium"
    monkeypatch.setattr(browser.os, "geteuid", lambda: 1000)
    paths.pop("chromium")
    path, why = browser.chromium()
    assert path is None and "not root" in why


def test_remove_key_keeps_the_other_entries_and_comments(tmp_path: Path) -> None:
    from vidprov.api.auth import remove_key

    path = tmp_path / "keys"
    path.write_text(
        "# ingest workers\nalpha read sha256:" + "a" * 64 + "\n"
        "beta read 0123456789abcdef0123; gamma generate sha256:" + "b" * 64 + "  # pair\n"
    )
    remove_key(path, "beta")
    assert [k.name for k in parse_keys(path.read_text(), "k")] == ["alpha", "gamma"]
    assert path.read_text().startswith("# ingest workers\n") and "# pair" in path.read_text()
    assert path.stat().st_mode & 0o777 == 0o600
    with pytest.raises(ConfigError, match="no API key named 'beta'"):
        remove_key(path, "beta")


def test_a_request_cut_off_by_the_stop_gets_a_json_503(tmp_path: Path) -> None:
    """uvicorn cancels requests still open when its stop's grace ends; the wait for the job
    turns that into a JSON 503 naming the job (it was uvicorn's plain-text 500)."""
    import threading

    from vidprov.api.jobs import JobStore, Runner

    release = threading.Event()
    runner = Runner(JobStore(tmp_path, 60.0), max_concurrent=1, max_queue=4)
    job_id, future = runner.submit("scan", "me", lambda progress: release.wait(30))

    err = _cut_off(lambda: runner.wait(job_id, future, 60), 0.2)
    assert (err.status, err.code) == (503, "unavailable")
    assert err.body()["job_id"] == job_id and job_id in err.message
    release.set()
    runner.shutdown(grace=5)


def test_a_stop_signal_drops_queued_jobs_at_once(tmp_path: Path) -> None:
    """Queued jobs are dropped when SIGTERM arrives, not once uvicorn has waited for open
    requests (up to 10 s, in which they started and ran); the running one goes on."""
    import asyncio
    import os
    import signal
    import threading
    import time

    from vidprov.api.app import _on_stop_signal
    from vidprov.api.jobs import JobStore, Runner, TaskResult

    store = JobStore(tmp_path, 60.0)
    started, release = threading.Event(), threading.Event()

    def first_job(progress: object) -> TaskResult:
        started.set()
        release.wait(30)
        return TaskResult({})

    runner = Runner(store, max_concurrent=1, max_queue=4)
    running, first = runner.submit("scan", "me", first_job)
    queued, _ = runner.submit("scan", "me", lambda p: TaskResult({}))
    assert started.wait(30)  # running, not queued, when the signal comes
    seen: list[int] = []

    def uvicorns(signum: int, frame: object) -> None:
        seen.append(signum)

    before = signal.signal(signal.SIGTERM, uvicorns)
    loop = asyncio.new_event_loop()
    try:
        restore = _on_stop_signal(loop, runner.stopping)
        os.kill(os.getpid(), signal.SIGTERM)
        loop.run_until_complete(asyncio.sleep(0.1))  # the handler's call on the loop
        for _ in range(100):
            if store.get(queued).status == "failed":
                break
            time.sleep(0.05)
        restore()  # as the lifespan ends: the handler found is back
        assert signal.getsignal(signal.SIGTERM) is uvicorns
        os.kill(os.getpid(), signal.SIGTERM)
    finally:
        signal.signal(signal.SIGTERM, before)
        loop.close()
    assert seen == [signal.SIGTERM] * 2  # uvicorn's own handler still runs
    job = store.get(queued)
    assert (job.status, job.error["error"]) == ("failed", "worker_exited")
    assert store.get(running).status == "running" and not first.done()
    with pytest.raises(ApiError, match="stopping"):
        runner.submit("scan", "me", lambda p: TaskResult({}))
    release.set()
    runner.shutdown(grace=5)
    assert store.get(running).status == "done"


def test_a_body_cut_off_by_the_stop_gets_a_json_503() -> None:
    """The same while a request's body (an upload, a JSON body) is still arriving: it was
    uvicorn's plain-text 500 after a CancelledError traceback."""
    import asyncio

    from starlette.requests import Request

    from vidprov.api.uploads import timed_chunks

    async def trickle() -> dict:
        await asyncio.sleep(3600)  # the rest of the body never comes
        return {}

    request = Request({"type": "http", "method": "POST", "headers": []}, trickle)
    err = _cut_off(lambda: anext(timed_chunks(request, 60, 60, "upload", "x")), 0.1)
    assert (err.status, err.code) == (503, "unavailable")
    assert "stopping mid-upload" in err.message


def _cut_off(start: Callable[[], Awaitable[object]], after_s: float) -> ApiError:
    """The ApiError that what ``start`` makes raises when cancelled ``after_s`` into it, as
    uvicorn cancels the requests still open when its stop's grace ends."""
    import asyncio

    async def cut_off() -> None:
        task = asyncio.ensure_future(start())
        await asyncio.sleep(after_s)
        task.cancel()
        await task

    with pytest.raises(ApiError) as err:
        asyncio.run(cut_off())
    return err.value


def test_upload_folders_of_dead_workers_are_swept_at_start(tmp_path: Path) -> None:
    """A worker killed mid-upload (out of memory) never ran its ``finally``: its folder, a
    whole upload, stayed for good."""
    import os
    import subprocess
    import sys

    from vidprov.api.uploads import UPLOAD_PREFIX, sweep_stale_uploads

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f"{UPLOAD_PREFIX}{dead.pid}-abc"
    mine = tmp_path / f"{UPLOAD_PREFIX}{os.getpid()}-def"
    other = tmp_path / "unrelated"
    for d in (stale, mine, other):
        d.mkdir()
        (d / "upload.mp4").write_bytes(b"x" * 100)
    assert sweep_stale_uploads(tmp_path) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([mine.name, other.name])


def test_only_whole_server_paths_are_replaced() -> None:
    # a signed manifest's text that merely contains the temp folder's name stays as signed
    names = {"/tmp": "<tmp>", "/srv/home": "$VIDPROV_HOME"}
    kept = ["https://models.example.org/tmp/v2", "/tmpfiles/x", "/srv/homework", "file:///tmp/a"]
    assert replace_text(kept, names) == kept
    told = ["/tmp/up/x.mp4: bad", "key (/srv/home/watermark.key)", "in /tmp.", 'at "/tmp"']
    assert replace_text(told, names) == [
        "<tmp>/up/x.mp4: bad",
        "key ($VIDPROV_HOME/watermark.key)",
        "in <tmp>.",
        'at "<tmp>"',
    ]
    # a manifest's own fields are returned as signed, whatever they hold (a title of
    # "/tmp/clip.mp4" read "<tmp>/clip.mp4"); the server's text around them is not
    report = {
        "file": "/tmp/up/x.mp4",
        "c2pa": {"signer": "/tmp/s", "actions": [{"softwareAgent": {"name": "/tmp/m"}}]},
        "recovered": {"manifest": {"title": "/tmp/clip.mp4"}, "note": "see /tmp/up"},
    }
    assert replace_text(report, names) == {
        "file": "<tmp>/up/x.mp4",
        "c2pa": {"signer": "/tmp/s", "actions": [{"softwareAgent": {"name": "/tmp/m"}}]},
        "recovered": {"manifest": {"title": "/tmp/clip.mp4"}, "note": "see <tmp>/up"},
    }
    assert display_name("a\x85b\u2028c\u202egnp.exe") == "abcgnp.exe"


def test_a_job_database_from_before_cancelling_gains_the_flag(tmp_path: Path) -> None:
    import sqlite3

    from vidprov.api.jobs import JobStore

    old = (  # the table as the last version made it, with a job in it
        "CREATE TABLE jobs (id TEXT PRIMARY KEY, kind TEXT NOT NULL, owner TEXT NOT NULL, "
        "status TEXT NOT NULL, progress REAL NOT NULL DEFAULT 0, created REAL NOT NULL, "
        "started REAL, finished REAL, pid INTEGER NOT NULL, result TEXT, error TEXT, "
        "http_status INTEGER, file_path TEXT, file_name TEXT, headers TEXT)"
    )
    with sqlite3.connect(tmp_path / "jobs.sqlite") as db:
        db.execute(old)
        db.execute("INSERT INTO jobs (id, kind, owner, status, created, pid) "
                   "VALUES ('a', 'scan', 'o', 'done', 0, 1)")  # fmt: skip
    store = JobStore(tmp_path, 60.0)
    assert not store.cancel_requested("a") and not store.request_cancel("a")  # it is done
    job_id = store.create("scan", "o")
    assert store.request_cancel(job_id) and store.cancel_requested(job_id)


def test_a_queued_job_cancelled_through_another_worker_ends_there(tmp_path: Path) -> None:
    """With ``--workers 2`` a DELETE may reach the worker that does not hold the job: the flag
    is in the shared database, and the holder ends its queued job within half a second (it
    stayed queued, upload and all, until its turn came)."""
    import threading
    import time

    from vidprov.api.jobs import JobStore, Runner, TaskResult

    release, cleaned = threading.Event(), threading.Event()
    holder = Runner(JobStore(tmp_path, 60.0), max_concurrent=1, max_queue=4)
    other = JobStore(tmp_path, 60.0)  # the other worker's view of the same database
    holder.submit("scan", "me", lambda progress: TaskResult({"ok": release.wait(30)}))
    queued, done = holder.submit("scan", "me", lambda p: TaskResult({}), cleanup=cleaned.set)
    assert other.request_cancel(queued) and other.get(queued).to_dict()["cancel_requested"]
    assert cleaned.wait(5) and done.cancelled()  # its upload went while the first job runs
    for _ in range(50):
        job = other.get(queued)
        if job.status != "queued":
            break
        time.sleep(0.1)
    assert job.status == "failed" and job.error["error"] == "cancelled" and job.started is None
    assert holder.pending == 1 and not release.is_set()
    release.set()
    holder.shutdown(grace=5)
