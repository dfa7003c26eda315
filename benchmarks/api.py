"""API benchmark: scan latency over loopback (1 and 8 concurrent clients) and the server
process's memory across 100 scans.

Usage: .venv/bin/python benchmarks/api.py [--data DIR] [--seconds 10] [--single 10]
       [--concurrent 8] [--concurrent-scans 32] [--memory-scans 100] [--max-concurrent 2]
Writes benchmarks/results/api.{json,md}. Runs ``vidprov serve`` as its own process (default
settings, the shipped classifier, a fresh VIDPROV_HOME with keys) and uploads a 10 s 854x480
camera clip (from ``--data``/``VIDPROV_DATA``, default ../shared/data/clips, looped), through
``POST /v1/scan`` as multipart, each client on its own connection.
"""

from __future__ import annotations

import argparse
import csv
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import httpx
from _common import RESULTS, data_dir, write_results

from vidprov.keys import init_keys
from vidprov.media import EncodeOptions, VideoReader, VideoWriter, make_clip, probe

VIDPROV = str(Path(sys.executable).with_name("vidprov"))
W, H, FPS = 854, 480, 30


def test_clip(data: Path, seconds: float, path: Path) -> tuple[Path, str]:
    """A camera clip looped to ``seconds`` at 854x480 (a synthetic one if there is no data)."""
    index = data / "index.csv"
    if not index.is_file():
        return make_clip(path, seconds=seconds, width=W, height=H, fps=FPS), "synthetic"
    with open(index) as fh:
        rows = [r for r in csv.DictReader(fh) if r["label"] == "real" and int(r["frames"]) >= 45]
    with VideoReader(data / rows[0]["file"]) as rd:
        src = [f.rgb for f in rd.frames("rgb24")]
    with VideoWriter(path, W, H, FPS, EncodeOptions(crf=23, preset="fast")) as w:
        for k in range(round(seconds * FPS)):
            w.write(cv2.resize(src[k % len(src)], (W, H), interpolation=cv2.INTER_AREA))
    return path, f"camera ({rows[0]['file']})"


def rss_mb(pid: int) -> float:
    """Resident memory of a process (MB), from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def start_server(home: Path, max_concurrent: int) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "VIDPROV_HOME": str(home)}
    cmd = [VIDPROV, "serve", "--port", str(port), "--max-concurrent", str(max_concurrent)]
    cmd += ["--max-upload-mb", "2048", "--log-level", "warning"]
    log = (home.parent / "server.log").open("wb")  # warnings and errors, e.g. a 500's traceback
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=log)
    url = f"http://127.0.0.1:{port}"
    for _ in range(240):
        try:
            httpx.get(url + "/healthz", timeout=2)
            return proc, url
        except httpx.TransportError:
            time.sleep(0.25)
    proc.kill()
    raise RuntimeError("server did not start")


def scan(url: str, clip: bytes) -> tuple[float, str]:
    """One scan on a fresh connection: its wall-clock latency in seconds and the label."""
    t0 = time.perf_counter()
    with httpx.Client(timeout=600) as c:
        r = c.post(url + "/v1/scan", files={"file": ("clip.mp4", clip, "video/mp4")})
    dt = time.perf_counter() - t0
    if r.status_code != 200:
        raise RuntimeError(f"scan -> {r.status_code}: {r.text[:300]}")
    return dt, r.json()["label"]


def run(url: str, clip: bytes, clients: int, total: int) -> dict[str, float]:
    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        lat = sorted(pool.map(lambda _: scan(url, clip)[0], range(total)))
    wall = time.perf_counter() - t0
    return {
        "clients": clients,
        "scans": total,
        "p50_s": round(statistics.median(lat), 3),
        "p95_s": round(lat[min(len(lat) - 1, round(0.95 * (len(lat) - 1)))], 3),
        "max_s": round(lat[-1], 3),
        "scans_per_min": round(60 * total / wall, 2),
    }


def memory(url: str, clip: bytes, pid: int, scans: int, clients: int) -> dict[str, object]:
    """RSS after every tenth of ``scans`` scans, and the peak sampled every 0.2 s."""
    peak, stop = [rss_mb(pid)], threading.Event()

    def sample() -> None:
        while not stop.wait(0.2):
            peak.append(rss_mb(pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    before = rss_mb(pid)
    trace, step = [round(before, 1)], max(1, scans // 10)
    done = 0
    while done < scans:
        n = min(step, scans - done)
        run(url, clip, clients, n)
        done += n
        trace.append(round(rss_mb(pid), 1))
    stop.set()
    sampler.join()
    return {
        "scans": scans,
        "clients": clients,
        "rss_before_mb": round(before, 1),
        "rss_after_mb": trace[-1],
        "rss_peak_mb": round(max(peak), 1),
        "rss_trace_mb": trace,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--single", type=int, default=10, help="scans with one client")
    ap.add_argument("--concurrent", type=int, default=8, help="concurrent clients")
    ap.add_argument("--concurrent-scans", type=int, default=32)
    ap.add_argument("--memory-scans", type=int, default=100)
    ap.add_argument("--max-concurrent", type=int, default=2, help="server's jobs at once")
    ap.add_argument("--out", default=str(RESULTS))
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="vidprov-bench-api-"))
    init_keys(work / "home")
    clip_path, source = test_clip(data_dir(a.data), a.seconds, work / "clip.mp4")
    info = probe(clip_path)
    clip = clip_path.read_bytes()
    t0 = time.time()
    proc, url = start_server(work / "home", a.max_concurrent)
    try:
        idle = rss_mb(proc.pid)
        first, label = scan(url, clip)  # loads the classifier
        result: dict[str, object] = {
            "clip": {
                "source": source,
                "width": info.width,
                "height": info.height,
                "fps": float(info.fps),
                "seconds": round(info.duration or 0, 2),
                "mb": round(len(clip) / 1e6, 2),
                "label": label,
            },
            "server": {"workers": 1, "max_concurrent": a.max_concurrent, "rss_idle_mb": idle},
            "first_scan_s": round(first, 3),
            "latency": [
                run(url, clip, 1, a.single),
                run(url, clip, a.concurrent, a.concurrent_scans),
            ],
            "memory": memory(url, clip, proc.pid, a.memory_scans, a.concurrent),
            "cpu_count": os.cpu_count(),
        }
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
    result["seconds"] = round(time.time() - t0, 1)
    write_results("api", result, markdown(result), a.out)


def markdown(r: dict) -> str:
    c, m = r["clip"], r["memory"]
    lines = [
        f"Scan of a {c['seconds']} s {c['width']}x{c['height']} {c['fps']:g} fps clip "
        f"({c['mb']} MB, {c['source']}; verdict `{c['label']}`) over loopback, one "
        f"`vidprov serve` worker running {r['server']['max_concurrent']} scans at once, "
        f"{r['cpu_count']} CPU cores:",
        "",
        "| clients | scans | p50 s | p95 s | max s | scans/min |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    lines += [
        f"| {x['clients']} | {x['scans']} | {x['p50_s']} | {x['p95_s']} | {x['max_s']} "
        f"| {x['scans_per_min']} |"
        for x in r["latency"]
    ]
    lines += [
        "",
        f"First scan (loads the classifier): {r['first_scan_s']} s.",
        "",
        "| server memory (RSS) | MB |",
        "| --- | --- |",
        f"| idle, before any scan | {r['server']['rss_idle_mb']:.1f} |",
        f"| before {m['scans']} scans (warmed up) | {m['rss_before_mb']} |",
        f"| after {m['scans']} scans | {m['rss_after_mb']} |",
        f"| peak during them | {m['rss_peak_mb']} |",
        f"| after each tenth | {', '.join(map(str, m['rss_trace_mb']))} |",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
