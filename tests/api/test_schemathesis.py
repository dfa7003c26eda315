"""A schemathesis run over /openapi.json against the live server: no server errors, and
every other check (documented statuses, content types, schemas, Allow headers, negative
data rejected) passes too, with the exceptions explained in ``schemathesis.toml``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.api.conftest import TOKENS, LiveServer
from vidprov.media import make_clip
from vidprov.provenance import ManifestStore, SignOptions, load_signer, sign_file

SCHEMATHESIS = str(Path(sys.executable).with_name("schemathesis"))
CONFIG = Path(__file__).with_name("schemathesis.toml")
# Every generation the run asks for really runs: keep them tiny so the run stays short.
LIVE_SETTINGS = {"max_frames": 5, "max_side": 64, "max_steps": 1}


def test_schemathesis_run(live: LiveServer, keyed_home: Path, tmp_path: Path) -> None:
    # A stored manifest, so GET /v1/manifests/{id} is tested beyond its 404.
    clip = make_clip(tmp_path / "c.mp4", seconds=1, width=160, height=120)
    store = ManifestStore(keyed_home / "manifests.sqlite")
    signer = load_signer(home=keyed_home)
    signed = sign_file(clip, tmp_path / "s.mp4", SignOptions(), signer, store=store)
    cmd = [
        SCHEMATHESIS,
        "--config-file",
        str(CONFIG),
        "run",
        f"{live.url}/openapi.json",
        "--checks",
        "all",
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        "6",
        "--seed",
        "7",
        "--workers",
        "1",
        "--request-timeout",
        "120",
        # `--checks all` holds every response to 10 s, and the first generate request loads
        # its model (10-13 s on this machine, machine idle): the request timeout is the limit
        "--max-response-time",
        "120",
        "--suppress-health-check",
        "all",
        "--header",
        f"Authorization: Bearer {TOKENS['both']}",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path),
        "--no-color",
    ]
    env = {**os.environ, "MANIFEST_ID": signed.manifest_id}
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env, cwd=tmp_path)
    summary = r.stdout[r.stdout.rfind("SUMMARY") :]
    print(summary)
    assert r.returncode == 0, r.stdout[-8000:] + r.stderr[-2000:]
    assert "Not a server error" not in r.stdout and "generated" in summary
