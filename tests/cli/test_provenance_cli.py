"""sign / verify / edit through the installed console script."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.test_cli import run
from vidprov.media import make_clip


def test_sign_verify_edit(tmp_path: Path) -> None:
    env = {"VIDPROV_HOME": str(tmp_path / "h")}
    assert run("keys", "init", env=env).returncode == 0
    src = make_clip(tmp_path / "s.mp4", seconds=3.0, width=640, height=360, fps=30, seed=2)
    wm = tmp_path / "w.mp4"
    assert run("watermark", "embed", str(src), str(wm), env=env).returncode == 0
    signed = tmp_path / "signed.mp4"
    p = run("sign", str(wm), str(signed), "--ai", "--model", "m1", "--prompt", "a cat", "--json",
            env=env)  # fmt: skip
    assert p.returncode == 0, p.stderr
    s = json.loads(p.stdout)
    assert len(s["soft_binding"]) == 3 and len(s["payloads"]) == 1
    v = json.loads(run("verify", str(signed), "--json", env=env).stdout)
    assert v["c2pa"]["state"] == "trusted" and v["recovered"] is None and v["established"]
    assert v["watermark"]["payload"] == s["payloads"][0]
    assert v["c2pa"]["manifest_id"] == s["manifest_id"]
    p = run("verify", str(signed), "--strict", env=env)
    assert p.returncode == 0 and "TRUSTED" in p.stdout and "origin established: yes" in p.stdout
    trim = tmp_path / "trim.mp4"
    p = run("edit", "trim", str(signed), str(trim), "--start", "1", "--end", "3", env=env)
    assert p.returncode == 0, p.stderr
    cat = tmp_path / "cat.mp4"
    p = run("edit", "concat", str(src), str(trim), str(cat), "--json", env=env)
    assert p.returncode == 0, p.stderr
    v = json.loads(run("verify", str(cat), "--json", env=env).stdout)
    assert v["c2pa"]["state"] == "trusted"
    assert [i["relationship"] for i in v["c2pa"]["ingredients"]] == ["componentOf"] * 2
    assert v["c2pa"]["composition"] == [
        {"start": 0.0, "end": 3.0, "kind": "unclaimed"},
        {"start": 3.0, "end": 5.0, "kind": "generated"},
    ]
    text = run("verify", str(cat), env=env).stdout
    assert "  composition: 0.00-3.00 s unclaimed, 3.00-5.00 s generated\n" in text, text


def test_errors_are_one_line_exit_2(tmp_path: Path) -> None:
    env = {"VIDPROV_HOME": str(tmp_path / "nokeys")}
    src = make_clip(tmp_path / "s.mp4", seconds=1.0, width=160, height=120, fps=30)
    missing = tmp_path / "missing.mp4"
    for args, said in (
        (("sign", str(src), str(tmp_path / "o.mp4")), "vidprov keys init"),  # no keys
        (("edit", "trim", str(src), str(tmp_path / "o.mp4"), "--start", "0", "--end", "1"),
         "vidprov keys init"),
        (("edit", "concat", str(src), str(src), str(tmp_path / "o.mp4")), "vidprov keys init"),
        # the command's own input before the missing keys (they were reported first)
        (("sign", str(src), str(tmp_path / "o.mkv")), "o.mkv: unsupported container"),
        (("sign", str(missing), str(tmp_path / "o.mp4")), f"{missing}: no such file"),
        (("edit", "trim", str(missing), str(tmp_path / "o.mp4"), "--start", "0", "--end", "1"),
         f"{missing}: no such file"),
        (("edit", "concat", str(src), str(missing), str(tmp_path / "o.mp4")),
         f"{missing}: no such file"),
        (("verify", str(src), "--trust-anchors", str(src)), "s.mp4"),  # not a PEM
        # a command line's mistake, with the help hint (it had none)
        (("edit", "concat", str(src), str(tmp_path / "t.mp4")), "(try 'vidprov edit concat -h')"),
        # with keys: the clip named (it named none)
        (("edit", "trim", str(src), str(tmp_path / "t.mp4"), "--start", "2", "--end", "1"),
         f"{src}: bad trim range"),
    ):  # fmt: skip
        if "bad trim range" in said:
            env = {"VIDPROV_HOME": str(tmp_path / "keys")}
            assert run("keys", "init", env=env).returncode == 0
        p = run(*args, env=env)
        assert p.returncode == 2, (args, p.stderr)
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("vidprov: error:"), (args, p.stderr)
        assert said in lines[0], (args, p.stderr)
    assert not (tmp_path / "o.mp4").exists() and not (tmp_path / "o.mkv").exists()


def test_verify_unsigned_reports_absent(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "s.mp4", seconds=1.0, width=160, height=120, fps=30)
    p = run("verify", str(src), "--json", "--no-watermark", env={"VIDPROV_HOME": str(tmp_path)})
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["c2pa"]["state"] == "absent"
    # --strict: the same report, and exit 1 as nothing vouches for the clip's origin
    p = run("verify", str(src), "--json", "--no-watermark", "--strict",
            env={"VIDPROV_HOME": str(tmp_path)})  # fmt: skip
    assert p.returncode == 1 and p.stderr == ""
    assert json.loads(p.stdout)["established"] is False
