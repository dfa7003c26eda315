"""API fixtures: apps built with private settings, a real uvicorn server on a free loopback
port, API keys per scope, and a clip whose first half carries the watermark."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from vidprov.api import ApiSettings, create_app
from vidprov.api.engine import Scanner
from vidprov.detector.verdict import Verdict
from vidprov.keys import load_watermark_key
from vidprov.media import EncodeOptions, VideoReader, VideoWriter, make_clip
from vidprov.watermark import embed

PAYLOAD = "0123456789abcdef"
TOKENS = {
    "reader": "tok-reader-0123456789abcdef",
    "maker": "tok-maker-0123456789abcdef",
    "both": "tok-both-0123456789abcdef",
}
KEYS = (
    f"reader read {TOKENS['reader']}; maker generate {TOKENS['maker']}; "
    f"both read,generate {TOKENS['both']}"
)
SMALL_GEN = {"frames": 17, "height": 128, "width": 128, "steps": 2}


Client = Callable[..., TestClient]  # make_client


def leftovers(settings: ApiSettings) -> list[Path]:
    """What is left in the app's upload folder (nothing, after every request)."""
    assert settings.tmp_dir is not None
    return list(settings.tmp_dir.glob("*")) if settings.tmp_dir.exists() else []


def wait_job(client: TestClient, job_id: str, headers: dict[str, str] | None = None) -> dict:
    """Poll a job until it is done or failed."""
    for _ in range(600):
        job = client.get(f"/v1/jobs/{job_id}", headers=headers or {}).json()
        if job["status"] in ("done", "failed"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish")


def auth(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[name]}"}


@pytest.fixture
def settings(tmp_path: Path, env_home: Path) -> ApiSettings:
    """Settings with private folders, under a keyed VIDPROV_HOME, open (no keys)."""
    return ApiSettings(
        state_dir=tmp_path / "state",
        tmp_dir=tmp_path / "uploads",
        max_upload_mb=4,
        max_frames=17,
        max_side=128,
        max_steps=2,
    )


@pytest.fixture
def make_client(settings: ApiSettings) -> Iterator[Callable[..., TestClient]]:
    """``make_client(scan=None, **setting_overrides)``: a TestClient on a fresh app (``scan``
    replaces the scanner; by default it is the app's own: ``scan_file`` with the shipped
    classifier)."""
    clients: list[TestClient] = []

    def make(scan: Scanner | None = None, **overrides: object) -> TestClient:
        app = create_app(replace(settings, **overrides), scanner=scan)
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for c in clients:
        c.__exit__(None, None, None)


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Session clips: ``plain`` (2 s 320x180), ``long`` (6 s 160x120)."""
    d = tmp_path_factory.mktemp("clips")
    return {
        "plain": make_clip(d / "plain.mp4", seconds=2, width=320, height=180, seed=2),
        "long": make_clip(d / "long.mp4", seconds=6, width=160, height=120, fps=10, seed=4),
    }


def half_marked(path: Path, key: bytes, seconds: float = 4.0) -> Path:
    """A 320x180 clip whose first half carries the watermark (payload :data:`PAYLOAD`)."""
    fps = 30
    src = make_clip(
        path.with_name("host-" + path.name), seconds=seconds, width=320, height=180, fps=fps, seed=7
    )
    with VideoReader(src) as r:
        frames = list(r.frames("yuv420p"))
    half = len(frames) // 2
    marked = list(embed(iter(frames[:half]), PAYLOAD, key))
    with VideoWriter(path, 320, 180, fps, EncodeOptions(crf=18)) as out:
        for f in [*marked, *frames[half:]]:
            out.write(f)
    src.unlink()
    return path


@pytest.fixture(scope="module")
def marked_clip(keyed_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    key = load_watermark_key(keyed_home / "watermark.key")
    return half_marked(tmp_path_factory.mktemp("marked") / "half-marked.mp4", key)


class SpinningScanner:
    """Reports progress every 20 ms until released (or stopped by what progress raises)."""

    def __init__(self) -> None:
        self.started, self.release = threading.Event(), threading.Event()
        self.stopped_by: list[str] = []

    def __call__(self, path: Path, progress: Callable[[float], None]) -> Verdict:
        self.started.set()
        try:
            while not self.release.wait(0.02):
                progress(0.001)
        except BaseException as exc:
            self.stopped_by.append(type(exc).__name__)
            raise
        return Verdict(str(path), "real", 0.1, (), 2.0, {}, "classifier")


@dataclass
class LiveServer:
    """A uvicorn server running ``app`` in a thread, on a free loopback port."""

    app: FastAPI
    url: str = ""
    server: uvicorn.Server | None = None
    thread: threading.Thread | None = None

    def start(self) -> LiveServer:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]})
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self.server is not None and self.thread is not None:
            self.server.should_exit = True
            self.thread.join(30)

    def client(self, who: str | None = None, timeout: float = 300) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=auth(who) if who else {}, timeout=timeout)


@pytest.fixture(scope="module")
def live(
    request: pytest.FixtureRequest, keyed_home: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """A real uvicorn server with API keys (reader / maker / both), under the keyed home; a
    test module may change its settings with a ``LIVE_SETTINGS`` dict."""
    root = tmp_path_factory.mktemp("live")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VIDPROV_HOME", str(keyed_home))
        settings = ApiSettings(
            api_keys=KEYS,
            state_dir=root / "state",
            tmp_dir=root / "uploads",
            max_upload_mb=4,
            max_frames=17,
            max_side=128,
            max_steps=2,
        )
        settings = replace(settings, **getattr(request.module, "LIVE_SETTINGS", {}))
        server = LiveServer(create_app(settings)).start()  # the default scanner
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Every log record at DEBUG and up, from every logger."""
    caplog.set_level(logging.DEBUG)
    return caplog
