"""``vidprov generate`` and ``vidprov serve`` refuse what cannot work in one line, exit code 2,
before the expensive part (a model load, uvicorn's start-up)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from vidprov.cli.main import cli

VIDPROV = str(Path(sys.executable).with_name("vidprov"))


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [VIDPROV, *args], capture_output=True, text=True, timeout=120, env=dict(os.environ)
    )


def test_generate_refuses_a_size_the_preset_cannot_make(env_home: Path, tmp_path: Path) -> None:
    out = tmp_path / "e.mp4"
    p = run(
        "generate", "x", "--out", str(out), "--frames", "17", "--height", "100", "--width", "128"
    )
    assert p.returncode == 2
    assert p.stderr == (
        "vidprov: error: Invalid value for '--height': tiny-wan needs height divisible by 16 "
        "(e.g. 96 or 112), got 100 (try 'vidprov generate -h')\n"
    )
    assert p.stdout == "" and not out.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--height", "100"], "tiny-wan needs height divisible by 16 (e.g. 96 or 112), got 100"),
        (["--width", "528"], "tiny-wan needs width at most 512, got 528"),
        (["--frames", "129"], "tiny-wan needs frames at most 125, got 129"),
        (["--frames", "0"], "frames must be an integer in 1..4097, got 0"),
        (["--num-videos", "65"], "num_videos must be an integer in 1..64, got 65"),
        (["--seed", "-1"], "seed must be an integer in"),
        (["--model", "tiny-ltx", "--width", "112"], "tiny-ltx needs width divisible by 32"),
        (
            ["--model", "tiny-ltx2", "--height", "32"],
            "height must be an integer in 64..8192 (the smallest frame that carries the watermark",
        ),
        (["--model", "tiny-cogvideox", "--frames", "13"], "tiny-cogvideox needs frames = k*8+1"),
        (
            ["--model", "wan-2.2-ti2v-5b", "--height", "720"],
            "wan-2.2-ti2v-5b needs height divisible by 32",
        ),
    ],
)
def test_generate_checks_each_presets_rules_before_building_it(
    env_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    built: list[str] = []

    def create(name: str, *args: object, **kwargs: object) -> None:
        built.append(name)
        raise AssertionError(f"{name} was built before the request was checked")

    monkeypatch.setattr("vidprov.generator.run.create", create)
    r = CliRunner().invoke(cli, ["generate", "a cat", "--out", str(tmp_path / "g.mp4"), *args])
    assert built == [] and r.exit_code == 2, r.output
    flag = next(a for a in args if a.startswith("--") and a != "--model")
    assert r.stderr.startswith(f"vidprov: error: Invalid value for '{flag}': {message}")
    assert r.stderr.endswith(" generate -h')\n") and r.stderr.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port another socket is listening on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield int(s.getsockname()[1])


@pytest.mark.parametrize("workers", ["1", "2"])
def test_serve_on_a_port_in_use_is_one_line_exit_2(
    home: Path, taken_port: int, workers: str
) -> None:
    p = run("serve", "--port", str(taken_port), "--workers", workers)
    assert p.returncode == 2
    assert p.stderr == (
        f"vidprov: error: cannot listen on 127.0.0.1:{taken_port} (address already in use)\n"
    )
    assert p.stdout == ""
