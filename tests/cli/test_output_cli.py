"""Output that cannot be written, and options that exclude each other, through the console
script: one line on stderr, never a traceback, never a silent exit code 0."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from tests.cli.test_cli import VIDPROV, run

FULL = "vidprov: error: cannot write the output (No space left on device)\n"


def run_to(stdout: int, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run the CLI with ``stdout`` as its standard output; its exit code and stderr."""
    p = subprocess.run(
        [str(VIDPROV), *args],
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )
    return p.returncode, p.stderr


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("args", [["info"], ["info", "--json"], ["scan", "--json"]])
def test_a_full_stdout_is_one_line_exit_1(clip: Path, args: list[str]) -> None:
    with open("/dev/full", "w") as full:
        code, err = run_to(full.fileno(), *args, str(clip))
    assert (code, err) == (1, FULL)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("args", [["--help"], ["--version"], ["scan", "-h"]])
def test_help_and_version_to_a_full_stdout_are_one_line(args: list[str]) -> None:
    # click prints these itself, outside the commands: caught at the console script
    with open("/dev/full", "w") as full:
        code, err = run_to(full.fileno(), *args)
    assert (code, err) == (1, FULL)


def test_a_closed_stdout_is_an_error_not_exit_0(tmp_path: Path, clip: Path) -> None:
    # `vidprov verify CLIP >&-`: the report would be lost without a word
    p = subprocess.run(
        ["sh", "-c", '"$@" >&-', "sh", str(VIDPROV), "verify", str(clip), "--no-watermark"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "VIDPROV_HOME": str(tmp_path / "h")},
    )
    assert p.returncode == 1
    assert p.stderr == "vidprov: error: cannot write the output (standard output is closed)\n"


def test_a_reader_that_went_away_is_a_quiet_exit(clip: Path) -> None:
    # `vidprov info CLIP | head -c0`: the usual quiet exit, no traceback, no error line
    r, w = os.pipe()
    os.close(r)
    try:
        code, err = run_to(w, "info", "--json", str(clip))
    finally:
        os.close(w)
    assert (code, err) == (1, "")


def test_sign_refuses_a_prompt_and_a_prompt_hash(
    env_home: Path, tmp_path: Path, clip: Path
) -> None:
    other = hashlib.sha256(b"other").hexdigest()
    out = tmp_path / "o.mp4"
    both = ["--prompt", "hi", "--prompt-hash", other]
    for args in (both, both[2:] + both[:2]):
        p = run("sign", str(clip), str(out), *args)
        assert p.returncode == 2 and p.stdout == ""
        assert p.stderr == (
            "vidprov: error: --prompt and --prompt-hash are alternatives: give one"
            " (try 'vidprov sign -h')\n"
        )
        assert not out.exists()
    # the hash alone is what the manifest keeps
    p = run("sign", str(clip), str(out), "--prompt-hash", other)
    assert p.returncode == 0, p.stderr
    data = out.read_bytes()
    assert other.encode() in data and hashlib.sha256(b"hi").hexdigest().encode() not in data
