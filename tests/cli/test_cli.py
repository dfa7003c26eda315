"""The CLI as a user meets it: the installed console script, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import av
import pytest
from click.testing import CliRunner

from vidprov import __version__
from vidprov.cli.main import cli
from vidprov.media import transcode

VIDPROV = Path(sys.executable).parent / "vidprov"


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VIDPROV), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def test_version() -> None:
    p = run("--version")
    assert p.returncode == 0 and __version__ in p.stdout


def test_info_json(clip: Path) -> None:
    p = run("info", str(clip), "--json")
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert (d["frames"], d["width"], d["height"], d["fps"]) == (30, 160, 120, "30/1")
    assert d["has_audio"] is True and d["audio_codec"] == "aac"


def test_info_human(clip: Path) -> None:
    r = CliRunner().invoke(cli, ["info", str(clip)])
    assert r.exit_code == 0 and "frames:    30" in r.output


@pytest.mark.parametrize("kind", ["truncated", "cut_in_a_frame", "empty", "missing", "text"])
def test_bad_input_is_one_line_exit_2(tmp_path: Path, clip: Path, kind: str) -> None:
    path = tmp_path / f"{kind}.mp4"
    if kind == "truncated":
        data = clip.read_bytes()
        path.write_bytes(data[: len(data) // 3])
    elif kind == "cut_in_a_frame":  # a warning that the last frame was cut came first
        fast = tmp_path / "fast.mp4"
        transcode(clip, fast)  # its index first: a cut file still opens
        with av.open(str(fast)) as c:
            p = [p for p in c.demux(video=0) if p.size][5]
            cut = p.pos + p.size // 2
        path.write_bytes(fast.read_bytes()[:cut])
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("not a video\n" * 20)
    p = run("info", str(path), "--json")
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and "Traceback" not in p.stderr
    assert json.loads(p.stdout) == {  # --json: the error as a record too
        "error": "media_error",
        "message": lines[0].removeprefix("vidprov: error: "),
        "path": str(path),
    }


def test_keys_init_creates_private_key_and_refuses_overwrite(tmp_path: Path) -> None:
    env = {"VIDPROV_HOME": str(tmp_path / "h")}
    p = run("keys", "init", "--json", env=env)
    assert p.returncode == 0, p.stderr
    key = Path(json.loads(p.stdout)["watermark_key"])
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    first = key.read_text()
    assert len(bytes.fromhex(first.strip())) == 32
    p = run("keys", "init", env=env)
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1
    assert key.read_text() == first
    assert run("keys", "init", "--force", env=env).returncode == 0
    assert key.read_text() != first
    second = key.read_text()
    pki = tmp_path / "h" / "c2pa"  # a PKI that cannot be written (a file where its folder was)
    for f in pki.iterdir():
        f.unlink()
    pki.rmdir()
    pki.write_text("in the way")
    p = run("keys", "init", "--force", env=env)
    assert p.returncode == 2 and len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert key.read_text() == second  # a failed init leaves the watermark key as it was


def test_demo_generates_signs_and_verifies(tmp_path: Path) -> None:
    r = CliRunner().invoke(cli, ["demo", "--out", str(tmp_path), "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    clip = d["generation"]["clips"][0]
    assert d["ok"] is True and Path(clip["path"]).is_file()
    assert (clip["width"], clip["height"]) >= (256, 256) and clip["frames"] / clip["fps"] >= 2
    assert d["verify"]["c2pa"]["state"] == "trusted"
    assert d["verify"]["watermark"]["payload"] == clip["payload"]
    scan = d["scan"]
    assert (scan["label"], scan["decided_by"]) == ("ai", "c2pa")
    assert scan["evidence"]["classifier"]["model"] == "forensic-rf"


def test_an_os_error_naming_a_file_is_one_line_not_a_traceback() -> None:
    import click

    from vidprov.cli.main import cli

    @click.command("explode")
    @click.argument("name")
    def explode(name: str) -> None:
        raise PermissionError(13, "Permission denied", name)

    @click.command("explode-nameless")
    def nameless() -> None:
        raise OSError("no file involved")

    cli.add_command(explode)
    cli.add_command(nameless)
    try:
        r = CliRunner().invoke(cli, ["explode", "secret.pem"])
        assert r.exit_code == 2
        assert r.stderr == "vidprov: error: secret.pem: Permission denied\n"
        r = CliRunner().invoke(cli, ["explode-nameless"])  # not about a file: not hidden
        assert isinstance(r.exception, OSError) and r.exit_code == 1
    finally:
        cli.commands.pop("explode")
        cli.commands.pop("explode-nameless")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["detector", "train", "--data", "d", "--model", "m", "--out", "o", "--windows", "0"],
            "Invalid value for '--windows': 0 is not in the range x>=1"
            " (try 'vidprov detector train -h')",
        ),
        (["scna"], "No such command 'scna'. Did you mean 'scan'? (try 'vidprov -h')"),
        (["--bogus"], "No such option '--bogus'. Did you mean '--verbose'? (try 'vidprov -h')"),
        (["scan"], "Missing argument 'FILES...' (try 'vidprov scan -h')"),
        # an unset shell variable: "" would otherwise be the current folder
        (["scan", ""], "Invalid value for 'FILES...': empty path (try 'vidprov scan -h')"),
        # Path() drops the slash: "newdir/" was written as a file called newdir
        (
            ["detector", "train", "--data", "d", "--out", "newdir/"],
            "Invalid value for '--out': newdir/ names a folder (it ends with /, /. or /..): give"
            " a file name (try 'vidprov detector train -h')",
        ),
        (
            ["watermark", "embed", "a.mp4", "x.mp4/."],  # Path() makes that x.mp4
            "Invalid value for 'DST': x.mp4/. names a folder (it ends with /, /. or /..): give"
            " a file name (try 'vidprov watermark embed -h')",
        ),
        (
            ["edit", "concat", "a.mp4", "b.mp4", "out/"],
            "out/ names a folder (it ends with /, /. or /..): give a file name"
            " (try 'vidprov edit concat -h')",
        ),
        (
            ["scan", "x.mp4", "--threshold", "1"],
            "Invalid value for '--threshold': 1.0 is not in the range 0<x<1"
            " (try 'vidprov scan -h')",
        ),
        (  # NaN passes a range check: it was a detector_error, not a usage error
            ["scan", "x.mp4", "--threshold", "nan"],
            "Invalid value for '--threshold': nan is not in the range 0<x<1"
            " (try 'vidprov scan -h')",
        ),
        (
            ["scan", "x.mp4", "--threshold", "0.5", "--no-classifier"],
            "--threshold and --no-classifier are alternatives: give one (try 'vidprov scan -h')",
        ),
        (
            ["keys", "api-add", "bob"],  # Click lays the choices out on three lines
            "Missing option '--scope'. Choose from: read, generate (try 'vidprov keys api-add -h')",
        ),
        (
            ["detector", "train", "--data", "d", "--out", "o", "--seed", "-5"],
            "Invalid value for '--seed': -5 is not in the range 0<=x<=4294967295"
            " (try 'vidprov detector train -h')",
        ),
        # these four were library errors, without the hint (watermark_error, provenance_error
        # and config_error in --json)
        (
            ["watermark", "embed", "a.mp4", "b.mp4", "--payload", "zz"],
            "Invalid value for '--payload': payload 'zz' is not hexadecimal"
            " (try 'vidprov watermark embed -h')",
        ),
        (
            ["sign", "a.mp4", "b.mp4", "--cert", "c.pem"],
            "give both --cert and --key, or neither (try 'vidprov sign -h')",
        ),
        (
            ["sign", "a.mp4", "b.mp4", "--prompt-hash", "xyz"],
            "Invalid value for --prompt-hash: prompt hash must be 64 hex digits (SHA-256)"
            " (try 'vidprov sign -h')",
        ),
        (
            ["scan", "a.mp4", "b.mp4", "--plot", "p.png"],
            "--plot takes exactly one input file (try 'vidprov scan -h')",
        ),
    ],
)
def test_a_malformed_command_line_is_one_line_exit_2(args: list[str], message: str) -> None:
    p = run(*args)
    assert p.returncode == 2
    assert p.stderr == f"vidprov: error: {message}\n" and p.stdout == ""


@pytest.mark.parametrize(
    ("args", "record"),
    [
        (["scan", "--jsonl", "--bogus", "x.mp4"], "jsonl"),
        (["info", "--json"], "json"),  # the missing argument
        (["detector", "eval", "--json", "--data", "d", "--mixed", "-1"], "json"),
        (["scan", "--bogus", "x.mp4", "--", "--json"], ""),  # a file named --json
        (["scna", "--json"], ""),  # no such command: nothing took the option
    ],
)
def test_with_json_a_malformed_command_line_is_a_record_too(args: list[str], record: str) -> None:
    p = run(*args)
    assert p.returncode == 2 and p.stderr.startswith("vidprov: error: ")
    if not record:
        assert p.stdout == ""
        return
    assert p.stdout.count("\n") == (1 if record == "jsonl" else 5)
    message = p.stderr.removeprefix("vidprov: error: ").rsplit(" (try ", 1)[0]
    assert json.loads(p.stdout) == {"error": "usage_error", "message": message, "path": None}


def test_control_characters_in_a_file_name_stay_on_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad\nname.mp4"
    bad.write_text("not a video")
    for args in (["info", str(bad)], ["scan", str(tmp_path)]):
        p = run(*args)
        assert p.returncode == 2, p.stderr
        assert p.stderr.count("\n") == 1 and "bad\\nname.mp4" in p.stderr, p.stderr


def test_no_arguments_still_prints_the_help() -> None:
    for args in ([], ["detector"]):
        p = run(*args)
        assert p.returncode == 2 and "Usage: vidprov" in p.stderr and "Commands:" in p.stderr


@pytest.mark.parametrize("ignored", [False, True])
def test_hang_up_unwinds_unless_ignored(tmp_path: Path, ignored: bool) -> None:
    """SIGHUP (the terminal closed) unwinds like SIGTERM, so a run's temp files go (exit 129);
    under ``nohup`` (SIGHUP ignored) the run goes on."""
    import signal
    import sys

    script = tmp_path / "hup.py"
    script.write_text(
        "import os, signal, time\n"
        "from pathlib import Path\n"
        "from vidprov.atomic import AtomicFile\n"
        "import vidprov.cli.main as m\n"
        "def cli(**kw):\n"
        f"    tmp = AtomicFile(Path({str(tmp_path / 'out.bin')!r}))\n"
        "    try:\n"
        "        Path(tmp.tmp).write_bytes(b'half')\n"
        "        os.kill(os.getpid(), signal.SIGHUP)\n"
        "        time.sleep(0.5)\n"
        "        tmp.commit()\n"
        "    except BaseException:\n"
        "        tmp.discard()\n"
        "        raise\n"
        "m.cli = cli\n"
        "m.main()\n"
    )
    p = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        # set either way: a suite run under nohup passes SIGHUP on ignored
        preexec_fn=lambda: signal.signal(
            signal.SIGHUP, signal.SIG_IGN if ignored else signal.SIG_DFL
        ),
    )
    if ignored:
        assert p.returncode == 0, p.stderr
        assert sorted(x.name for x in tmp_path.iterdir()) == ["hup.py", "out.bin"]
    else:
        assert p.returncode == 128 + signal.SIGHUP, p.stderr
        assert sorted(x.name for x in tmp_path.iterdir()) == ["hup.py"]
