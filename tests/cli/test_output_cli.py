"""Output that cannot be written, and options that exclude each other, through the console
script: one line on stderr, never a traceback, never a silent exit code 0."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
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


@pytest.mark.parametrize("args", [["info", "--json"], ["scan", "--jsonl", "--no-classifier"]])
def test_a_file_name_that_is_not_utf8_is_strict_json(
    tmp_path: Path, clip: Path, args: list[str]
) -> None:
    # Python keeps the byte 0xE9 as a lone surrogate, which json.dumps wrote as "\udce9":
    # strict parsers (and UTF-8 encoders) refuse it
    name = os.path.join(os.fsencode(tmp_path), b"caf\xe9.mp4")
    with open(clip, "rb") as src, open(name, "wb") as dst:
        dst.write(src.read())
    p = subprocess.run(
        [os.fsencode(VIDPROV), *(a.encode() for a in args), name],
        capture_output=True,
        timeout=120,
        env={**os.environ, "VIDPROV_HOME": str(tmp_path / "h")},
    )
    assert p.returncode == 0, p.stderr
    out = p.stdout.decode("utf-8")  # strict
    assert "\\ud" not in out
    doc = json.loads(out)
    assert doc["file" if "scan" in args else "path"].endswith("caf\\xe9.mp4")


@pytest.mark.parametrize(
    "args",
    [["info"], ["verify", "--no-watermark"], ["watermark", "detect"], ["edit", "trim"]],
)
def test_with_json_an_error_is_also_a_record_on_stdout(tmp_path: Path, args: list[str]) -> None:
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video\n")
    extra = ["out.mp4", "--start", "0", "--end", "1"] if args[0] == "edit" else []
    env = {**os.environ, "VIDPROV_HOME": str(tmp_path / "h")}
    subprocess.run([str(VIDPROV), "keys", "init"], capture_output=True, env=env, check=True)
    plain = subprocess.run(
        [str(VIDPROV), *args, str(bad), *extra], capture_output=True, text=True, env=env
    )
    p = subprocess.run(
        [str(VIDPROV), *args, str(bad), *extra, "--json"], capture_output=True, text=True, env=env
    )
    assert (plain.returncode, plain.stdout) == (2, "")  # without --json: the stderr line alone
    assert p.returncode == 2 and p.stderr == plain.stderr and p.stderr.count("\n") == 1
    record = json.loads(p.stdout)
    assert record["path"] == str(bad) and record["error"] == "media_error"
    assert p.stderr == f"vidprov: error: {record['message']}\n"


def test_with_jsonl_a_setup_error_is_one_record_line_on_stdout(tmp_path: Path, clip: Path) -> None:
    missing = tmp_path / "anchors.pem"
    p = run("scan", str(clip), "--jsonl", "--no-classifier", "--trust-anchors", str(missing))
    assert p.returncode == 2 and len(p.stderr.splitlines()) == 1
    [line] = p.stdout.splitlines()
    record = json.loads(line)
    assert record["path"] == str(missing) and record["error"] and record["message"]


def test_an_interrupted_json_scan_prints_the_files_finished(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """--json printed one document at the end, so Ctrl-C lost every finished verdict."""
    from click.testing import CliRunner

    import vidprov.detector
    from vidprov.cli.main import cli
    from vidprov.detector.verdict import Verdict

    def scans(items: list[Path], **_: object) -> object:
        yield Verdict(str(items[0]), "real", 0.1, (), 2.0, {}, "classifier")
        raise KeyboardInterrupt

    monkeypatch.setattr(vidprov.detector, "scan_many", scans)
    a, b = tmp_path / "a.mp4", tmp_path / "b.mp4"
    r = CliRunner().invoke(cli, ["scan", str(a), str(b), "--json"])
    assert r.exit_code == 130 and "interrupted" in r.stderr
    (record,) = json.loads(r.stdout)
    assert record["file"] == str(a) and record["label"] == "real"


@pytest.mark.parametrize(("option", "value"), [("--crf", "52"), ("--strength", "0")])
def test_embed_ranges_are_checked_as_options_with_the_help_hint(option: str, value: str) -> None:
    """They were the library's "crf must be in 0..51", with no hint, and -h gave no range."""
    from click.testing import CliRunner

    from vidprov.cli.main import cli

    r = CliRunner().invoke(
        cli, ["watermark", "embed", "a.mp4", "b.mp4", option, value], prog_name="vidprov"
    )
    assert r.exit_code == 2 and "(try 'vidprov watermark embed -h')" in r.stderr
    assert "0<=x<=51" in CliRunner().invoke(cli, ["watermark", "embed", "-h"]).stdout


INTERRUPT_WHILE_LOADING = """
import os, signal, sys
# as at a terminal: a shell starts a background job (a CI step, say) with SIGINT ignored
signal.signal(signal.SIGINT, signal.default_int_handler)
from vidprov.cli.entry import main

SIG = signal.Signals[sys.argv[1]]
signal.signal(signal.SIGHUP, signal.SIG_DFL)  # as at a terminal (a suite run under nohup)

class Interrupt:  # a real signal, delivered while the command line's modules load
    @staticmethod
    def find_spec(name, *args):
        if name == "vidprov.cli.main":
            os.kill(os.getpid(), SIG)

sys.meta_path.insert(0, Interrupt)
sys.argv = ["vidprov", "--version"]
main()
"""


@pytest.mark.parametrize(
    ("sig", "code", "stderr"),
    [("SIGINT", 130, "vidprov: interrupted\n"), ("SIGTERM", 143, ""), ("SIGHUP", 129, "")],
)
def test_a_signal_while_the_cli_loads_ends_it_as_later(sig: str, code: int, stderr: str) -> None:
    """The imports take a second or more; a Ctrl-C then printed a KeyboardInterrupt traceback,
    and SIGTERM and SIGHUP killed it outright (-15, -1) where a command gets 143 and 129."""
    from importlib.metadata import entry_points

    (script,) = entry_points(group="console_scripts", name="vidprov")
    assert script.value == "vidprov.cli.entry:main"  # the console script runs the guard
    p = subprocess.run(
        [sys.executable, "-c", INTERRUPT_WHILE_LOADING, sig],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (p.returncode, p.stderr, p.stdout) == (code, stderr, "")


SIGNAL_AFTER_THE_OUTPUT = """
import atexit, os, signal, sys, time
from vidprov.cli.entry import main

SIG = signal.Signals[sys.argv[1]]
signal.signal(signal.SIGHUP, signal.SIG_DFL)  # as at a terminal (a suite run under nohup)
signal.signal(signal.SIGINT, signal.default_int_handler)  # a suite started in the background

def late():  # after the command has printed its result: the interpreter is shutting down
    os.kill(os.getpid(), SIG)
    time.sleep(2)  # the handler runs at the next bytecode
    sys.stderr.write("not stopped\\n")

atexit.register(late)
sys.argv = ["vidprov", *sys.argv[2:]]
main()
"""


@pytest.mark.parametrize(
    ("sig", "args", "code"),
    [("SIGINT", ["detector", "list"], 0), ("SIGTERM", ["info", "/"], 2)],
)
def test_a_signal_after_the_result_is_printed_exits_with_the_commands_code(
    sig: str, args: list[str], code: int
) -> None:
    """The interpreter's teardown takes seconds once torch is loaded (generate: about 3 s after
    its clip was written, scan 0.6 s); a Ctrl-C then printed a KeyboardInterrupt traceback
    ("Exception ignored in atexit callback"), and other moments gave click's "Aborted!" and
    exit 1 or death by SIGINT. (The command now skips the teardown: the signal comes from an
    exit handler, which still runs.)"""
    p = subprocess.run(
        [sys.executable, "-c", SIGNAL_AFTER_THE_OUTPUT, sig, *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == code, p.stderr
    assert "Traceback" not in p.stderr and "not stopped" not in p.stderr, p.stderr
    if code == 0:
        assert "forensic-rf" in p.stdout  # the whole result came out
    else:
        assert p.stderr.startswith("vidprov: error: /: ")


def test_text_the_terminals_encoding_lacks_is_escaped_not_a_traceback() -> None:
    """A Latin-1 terminal and the list's "…" ended in a UnicodeEncodeError traceback."""
    p = subprocess.run(
        [str(VIDPROV), "detector", "list"],
        capture_output=True,
        timeout=120,
        env={**os.environ, "PYTHONIOENCODING": "latin-1"},
    )
    assert p.returncode == 0 and p.stderr == b"", p.stderr
    assert b"\\u2026" in p.stdout and "…".encode() not in p.stdout


def test_scan_refuses_a_model_it_is_told_not_to_use(clip: Path, tmp_path: Path) -> None:
    """--model with --no-classifier loaded the model (and failed on a bad one) for nothing."""
    p = run("scan", str(clip), "--no-classifier", "--model", str(tmp_path / "missing.joblib"))
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr == (
        "vidprov: error: --model and --no-classifier are alternatives: give one"
        " (try 'vidprov scan -h')\n"
    )


def test_a_p_value_that_underflowed_is_not_printed_as_zero() -> None:
    from vidprov.cli._util import p_text

    assert p_text(3.2e-9) == "= 3.2e-09"
    assert p_text(0.0) == "< 1e-300"  # a Chernoff bound past the smallest double is not 0
