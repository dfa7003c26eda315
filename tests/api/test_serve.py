"""``vidprov serve`` as a user runs it: a real process, loopback rules, several workers."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from vidprov.api.auth import load_keyring

VIDPROV = str(Path(sys.executable).with_name("vidprov"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _hangup_default() -> None:
    """SIGHUP as a terminal's server gets it: a suite run under ``nohup`` passes it on
    ignored, and a server rightly keeps ignoring it then."""
    signal.signal(signal.SIGHUP, signal.SIG_DFL)


def _started(args: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    """``vidprov serve`` answering ``/healthz``: the process and its URL (killed if it never
    answers)."""
    port = free_port()
    proc = subprocess.Popen(
        [VIDPROV, "serve", "--port", str(port), *args],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_hangup_default,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(240):
            try:
                httpx.get(url + "/healthz", timeout=2)
                return proc, url
            except httpx.TransportError:
                if proc.poll() is not None:
                    raise AssertionError(f"serve exited: {proc.stderr.read()}") from None
                time.sleep(0.25)
        raise AssertionError("serve did not answer /healthz in 60 s")
    except BaseException:
        proc.kill()
        proc.wait()
        raise


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (Linux's /proc)."""
    found = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(d.name))
    return found


@contextmanager
def serving(args: list[str], env: dict[str, str]) -> Iterator[str]:
    with served(args, env) as (_, url):
        yield url


@contextmanager
def served(args: list[str], env: dict[str, str]) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """A ``vidprov serve`` process and its URL, stopped (SIGINT) at the end."""
    proc, url = _started(args, env)
    try:
        yield proc, url
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_refuses_a_public_bind_without_keys(home: Path) -> None:
    r = subprocess.run(
        [VIDPROV, "serve", "--host", "0.0.0.0", "--port", str(free_port())],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2
    assert "refusing to listen on 0.0.0.0 without API keys" in r.stderr


def test_loopback_without_keys_is_open_and_scans(tmp_path: Path, clips: dict[str, Path]) -> None:
    env = {"VIDPROV_HOME": str(tmp_path / "home")}  # no keys at all
    with serving([], env) as url:
        h = httpx.get(url + "/healthz").json()
        assert h["auth"] == "open"
        with clips["plain"].open("rb") as f:
            r = httpx.post(url + "/v1/scan", files={"file": ("p.mp4", f)}, timeout=300)
        assert r.status_code == 200, r.text
        v = r.json()  # the default path: manifest + (no key: no watermark) + shipped classifier
        assert v["file"] == "p.mp4" and v["evidence"]["classifier"]["model"]
        assert v["evidence"]["watermark"]["note"].startswith("not checked: no watermark key")
        assert str(tmp_path) not in r.text


def test_workers_share_jobs_and_settings(
    tmp_path: Path, keyed_home: Path, clips: dict[str, Path]
) -> None:
    keys = tmp_path / "keys"
    keys.write_text("ops read ops-token-0123456789abcdef\n")
    env = {"VIDPROV_HOME": str(keyed_home), "VIDPROV_API_STATE_DIR": str(tmp_path / "state")}
    args = ["--workers", "2", "--api-keys", str(keys), "--max-upload-mb", "3"]
    headers = {"Authorization": "Bearer ops-token-0123456789abcdef"}
    with served(args, env) as (serve, url):
        with clips["plain"].open("rb") as f:
            r = httpx.post(
                url + "/v1/verify?mode=job", files={"file": ("p.mp4", f)}, headers=headers
            )
        assert r.status_code == 202, r.text
        job_url = url + r.json()["status_url"]
        seen = set()
        for _ in range(40):  # a fresh connection each time: either worker may answer
            job = httpx.get(job_url, headers=headers).json()
            assert job["id"] == r.json()["id"]
            seen.add(job["status"])
            h = httpx.get(url + "/healthz").json()
            assert h["auth"] == "keys" and h["limits"]["max_upload_mb"] == 3
            if job["status"] == "done":
                break
            time.sleep(0.1)
        assert "done" in seen and job["result"]["file"] == "p.mp4"
        # the serve process killed with -9: its workers stop too (they served on, orphaned)
        workers = _children(serve.pid)
        assert len(workers) >= 2
        serve.kill()
        serve.wait()
        try:
            for _ in range(240):
                if not any(Path(f"/proc/{w}").exists() for w in workers):
                    break
                time.sleep(0.25)
            assert not any(Path(f"/proc/{w}").exists() for w in workers)
            with pytest.raises(httpx.TransportError):
                httpx.get(url + "/healthz", timeout=2)
        finally:  # none left serving on the port if they did not stop
            for w in workers:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(w, signal.SIGKILL)


def test_api_key_command(home: Path) -> None:
    r = subprocess.run(
        [VIDPROV, "keys", "api-add", "ingest", "--scope", "read", "--scope", "generate"],
        capture_output=True,
        text=True,
        env={**os.environ, "VIDPROV_HOME": str(home)},
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    token = r.stdout.strip()
    text = (home / "api_keys").read_text()
    assert token.startswith("vp_") and token not in text and "ingest read,generate sha256:" in text


def test_api_keys_are_removed_and_an_unseen_key_is_not_kept(home: Path) -> None:
    env = {**os.environ, "VIDPROV_HOME": str(home)}

    def keys(*args: str, stdout: int | None = subprocess.PIPE) -> subprocess.CompletedProcess:
        return subprocess.run(
            [VIDPROV, "keys", *args], stdout=stdout, stderr=subprocess.PIPE, text=True, env=env,
            timeout=60,
        )  # fmt: skip

    assert keys("api-add", "a", "--scope", "read").returncode == 0
    with open("/dev/full", "w") as full:  # the token could not be shown: no key is kept
        r = keys("api-add", "b", "--scope", "read", stdout=full.fileno())
    assert r.returncode == 1 and "cannot write the output" in r.stderr
    assert keys("api-remove", "b").returncode == 2  # never kept
    assert keys("api-add", "c", "--scope", "generate").returncode == 0
    r = keys("api-remove", "a")
    assert r.returncode == 0 and "restarted" in r.stdout
    ring = load_keyring(home / "api_keys", None)
    assert [k.name for k in ring.keys] == ["c"]
    r = keys("api-remove", "a")
    assert r.returncode == 2 and r.stderr.startswith("vidprov: error: ")
    assert "no API key named 'a'" in r.stderr and r.stderr.count("\n") == 1


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_a_stop_signal_stops_the_server_cleanly(tmp_path: Path, sig: signal.Signals) -> None:
    """SIGTERM and SIGHUP (the terminal closed) take uvicorn's normal stop: the app's shutdown
    and exit 0 (SIGHUP raised SystemExit inside the event loop; SIGTERM exited 143)."""
    proc, _ = _started([], {"VIDPROV_HOME": str(tmp_path / "home")})
    try:
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "Application shutdown complete" in err


def test_a_stop_while_the_app_loads_is_not_lost(tmp_path: Path) -> None:
    """SIGTERM before uvicorn has put in its own handlers (while the app loads) still stops
    the server: it used to be swallowed, and the server ran on."""
    proc = subprocess.Popen(
        [VIDPROV, "serve", "--port", str(free_port())],
        env={**os.environ, "VIDPROV_HOME": str(tmp_path / "home")},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            if "vidprov API on" in line:
                proc.send_signal(signal.SIGTERM)
                break
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0


def _answer(sock: socket.socket) -> bytes:
    """What the server sends until it closes the connection (10 s at most)."""
    sock.settimeout(10)
    data = b""
    while chunk := sock.recv(4096):
        data += chunk
    return data


def test_a_request_head_that_is_late_is_closed_but_a_slow_body_is_not(tmp_path: Path) -> None:
    """uvicorn waited for ever for a request's line and headers: a client that connected and
    sent nothing, or half a header, held its connection (slowloris)."""
    env = {"VIDPROV_HOME": str(tmp_path / "home"), "VIDPROV_API_HEADER_TIMEOUT_S": "1"}
    with serving([], env) as url:
        address = ("127.0.0.1", int(url.rsplit(":", 1)[1]))
        with socket.create_connection(address) as silent:
            assert _answer(silent) == b""  # closed, nothing said: no request began
        with socket.create_connection(address) as half:
            half.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            head, _, body = _answer(half).partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 408 ") and b'"error": "timeout"' in body
        with socket.create_connection(address) as slow:  # a body keeps the uploads' limits
            body = b'{"value": "a", "alg": "vidprov.watermark.1"}'
            slow.sendall(
                b"POST /v1/matches/byBinding HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
            )
            for i in range(3):
                time.sleep(0.7)
                slow.sendall(body[i * 16 : (i + 1) * 16])
            answer = _answer(slow)
            assert answer.startswith(b"HTTP/1.1 ") and not answer.startswith(b"HTTP/1.1 408")
        with socket.create_connection(address) as kept:  # the next request's head is due too
            kept.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\n")
            answer = _answer(kept)
            assert answer.startswith(b"HTTP/1.1 200 ") and b"HTTP/1.1 408 " in answer
