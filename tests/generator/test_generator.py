"""Tiny in-process pipelines through the signed generator: every output marked, signed, stored."""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pytest
import torch

from vidprov.errors import (
    GeneratorError,
    GeneratorMemoryError,
    MediaError,
    ProvenanceError,
    WatermarkError,
)
from vidprov.generator import (
    SignedGenerator,
    check_options,
    get_preset,
    list_presets,
    plan_request,
)
from vidprov.generator.presets import resolve_device
from vidprov.generator.request import MIN_SIDE
from vidprov.generator.run import to_uint8
from vidprov.provenance import ALG, ManifestStore, PkiPaths, verify_file
from vidprov.provenance.softbinding import payload_to_value

SMALL = {"frames": 17, "height": 128, "width": 128, "steps": 2}


@pytest.fixture
def offline(env_home: Path, monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """VIDPROV_HOME set, hub offline, and any socket connection recorded and refused."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    attempts: list[object] = []

    def refuse(self: socket.socket, address: object) -> None:
        attempts.append(address)
        raise OSError("network blocked by test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    return attempts


@pytest.mark.parametrize("model", ["tiny-wan", "tiny-ltx", "tiny-cogvideox"])
@pytest.mark.parametrize("k", [1, 2])
def test_outputs_are_marked_signed_and_resolvable(
    offline: list[object], keyed_home: Path, tmp_path: Path, model: str, k: int
) -> None:
    calls: list[int] = []
    r = SignedGenerator(model).generate(
        "a red fox in fresh snow",
        tmp_path / "g.mp4",
        seed=1,
        num_videos=k,
        progress=calls.append,
        **SMALL,
    )
    assert len(r.clips) == k and r.note  # smoke-test models say so
    # a step each, nothing else counted; then calls while each clip is marked, read back,
    # put through the re-upload check and signed: a chance to stop there too
    assert calls[: SMALL["steps"]] == [1] * SMALL["steps"] and calls.count(1) == SMALL["steps"]
    assert set(calls) == {0, 1} and calls.count(0) > 3 * SMALL["frames"] * k
    assert len({c.payload for c in r.clips}) == k  # a fresh payload per clip
    store = ManifestStore()
    anchors = PkiPaths.under(keyed_home).trust_anchors
    for c in r.clips:
        assert (c.width, c.height, c.frames) == (128, 128, 17)
        v = verify_file(c.path, anchors)
        assert v.c2pa.state == "trusted"
        assert v.c2pa.digital_source_type.endswith("trainedAlgorithmicMedia")
        assert v.watermark is not None and v.watermark.detected
        assert v.watermark.payload == c.payload
        assert c.manifest_id in store.find(ALG, payload_to_value(c.payload))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(Path(c.path).name for c in r.clips)
    assert offline == []


def test_a_progress_call_can_stop_the_marking_and_signing(
    offline: list[object], keyed_home: Path, tmp_path: Path
) -> None:
    """After its last step a generation marked, checked and signed the clip without a call,
    so a cancelled API job ran on to the end of that (16-18 s of a tiny model's run)."""

    class Stop(Exception):
        pass

    def stop(n: int) -> None:
        if n == 0:
            raise Stop

    with pytest.raises(Stop):
        SignedGenerator("tiny-wan").generate("a cat", tmp_path / "h.mp4", progress=stop, **SMALL)
    assert list(tmp_path.iterdir()) == []  # nothing of h.mp4


def test_a_bad_key_is_refused_before_any_model_is_built(
    offline: list[object], monkeypatch: pytest.MonkeyPatch
) -> None:
    import vidprov.generator.run as run

    monkeypatch.setattr(run, "create", lambda *a: pytest.fail("model built for a bad key"))
    with pytest.raises(WatermarkError, match="256 bits"):
        SignedGenerator("tiny-wan", key=b"x")


def test_latent_output_refused(offline: list[object], tmp_path: Path) -> None:
    g = SignedGenerator("tiny-wan")
    with pytest.raises(GeneratorError, match="latent"):
        g.generate("a cat", tmp_path / "g.mp4", output_type="latent", **SMALL)
    assert list(tmp_path.iterdir()) == []


class _FailingSigner:
    alg = "es256"

    def __init__(self, chain: str) -> None:
        self.certificate_chain_pem = chain

    def sign(self, data: bytes) -> bytes:
        raise RuntimeError("KMS unavailable")


def test_signing_failure_leaves_no_output(
    offline: list[object], keyed_home: Path, tmp_path: Path
) -> None:
    chain = PkiPaths.under(keyed_home).signer_chain.read_text()
    g = SignedGenerator("tiny-wan", signer=_FailingSigner(chain))
    with pytest.raises(ProvenanceError, match="KMS unavailable"):
        g.generate("a cat", tmp_path / "g.mp4", num_videos=2, **SMALL)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "error", [torch.OutOfMemoryError("CUDA out of memory"), RuntimeError("can't allocate memory")]
)
def test_out_of_memory_is_its_own_error(
    offline: list[object], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    g = SignedGenerator("tiny-wan")

    def exhausted(*args: object, **kwargs: object) -> None:
        raise error

    monkeypatch.setattr(g, "pipeline", exhausted)
    with pytest.raises(GeneratorMemoryError, match="out of memory generating 1x17 frames"):
        g.generate("a cat", tmp_path / "g.mp4", **SMALL)
    assert list(tmp_path.iterdir()) == []


def test_bad_frame_count(offline: list[object], tmp_path: Path) -> None:
    with pytest.raises(GeneratorError, match="k\\*4\\+1"):
        SignedGenerator("tiny-wan").generate(
            "a", tmp_path / "g.mp4", frames=16, height=128, width=128, steps=1
        )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"prompt": " \u200b\u3000"}, "prompt is blank"),
        ({"frames": 0}, "frames must be"),  # 0 was silently the preset's 49
        ({"height": -64}, "height must be"),
        ({"width": 160000}, "width must be"),
        ({"steps": 0}, "steps must be"),
        ({"fps": 0}, "fps must be"),
        ({"seed": -1}, "seed must be"),
        ({"seed": 2**70}, "seed must be"),
        ({"num_videos": 0}, "num_videos must be"),
        ({"frames": 16}, r"k\*4\+1"),
        ({"height": 100}, r"tiny-wan needs height divisible by 16 \(e.g. 96 or 112\), got 100"),
        ({"width": 72}, r"needs width divisible by 16 \(e.g. 64 or 80\), got 72"),
        # every clip is watermarked: below 64 px it cannot be (found after the model run)
        ({"width": 24}, r"width must be an integer in 64\.\.8192 \(the smallest frame that"),
        ({"frames": np.float64(17)}, "frames must be an integer"),
        ({"prompt": "a cat \udcff"}, "not valid text: it holds bytes that are not UTF-8"),
        ({"width": 528}, "tiny-wan needs width at most 512, got 528"),  # its position table
        ({"frames": 129}, "tiny-wan needs frames at most 125, got 129"),
    ],
)
def test_requests_are_checked_before_any_model_loads(
    tmp_path: Path, change: dict, message: str
) -> None:
    args = {"prompt": "a cat", "out": tmp_path / "g.mp4", **change}
    with pytest.raises(GeneratorError, match=message):
        plan_request(get_preset("tiny-wan"), **args)


@pytest.mark.parametrize(
    ("model", "change", "message"),
    [
        ("tiny-ltx", {"height": 112}, r"tiny-ltx needs height divisible by 32 \(e.g. 96 or 128\)"),
        ("tiny-ltx", {"width": 80}, r"needs width divisible by 32 \(e.g. 64 or 96\), got 80"),
        ("tiny-ltx2", {"height": 32}, r"height must be an integer in 64\.\.8192 \(the smallest"),
        ("tiny-cogvideox", {"frames": 13}, r"k\*8\+1"),  # 13 frames came out as 16
        ("tiny-cogvideox", {"width": 104}, "divisible by 16"),  # 8 passes diffusers' own check
        ("wan-2.1-t2v-1.3b", {"height": 100}, "divisible by 16"),
        ("wan-2.2-ti2v-5b", {"height": 720}, r"divisible by 32 \(e.g. 704 or 736\), got 720"),
        ("ltx-video", {"width": 720}, "divisible by 32"),
        ("ltx-2", {"height": 32}, "height must be an integer in 64"),
        ("cogvideox-2b", {"frames": 45}, r"k\*8\+1"),
    ],
)
def test_each_presets_own_rules_are_checked(model: str, change: dict, message: str) -> None:
    with pytest.raises(GeneratorError, match=message):
        check_options(get_preset(model), **change)


def test_every_preset_default_and_edge_passes_its_own_rules() -> None:
    for p in list_presets():
        assert check_options(p)["height"] == p.height
        m = p.size_multiple
        lowest = -(-max(p.min_side or 0, MIN_SIDE, m) // m) * m
        check_options(p, frames=p.frame_multiple + 1, height=lowest)
    assert check_options(get_preset("tiny-wan"), frames=125, width=512)["width"] == 512
    # any integer type: numpy's from a script's arithmetic too, given back as Python ints
    got = check_options(get_preset("tiny-wan"), frames=np.int64(17), seed=np.uint32(7))
    assert (got["frames"], got["seed"]) == (17, 7) and type(got["frames"]) is int


def test_request_defaults_outputs_and_devices(tmp_path: Path) -> None:
    plan = plan_request(get_preset("tiny-wan"), "a cat", tmp_path / "g.mp4", height=128)
    assert (plan.frames, plan.height, plan.width, plan.steps, plan.fps) == (49, 128, 256, 4, 24)
    many = plan_request(get_preset("tiny-wan"), "a", tmp_path / "g.mp4", num_videos=2)
    assert [p.name for p in many.paths] == ["g_0.mp4", "g_1.mp4"]
    with pytest.raises(ProvenanceError, match="unsupported container"):
        plan_request(get_preset("tiny-wan"), "a", tmp_path / "g.xyz")
    with pytest.raises(MediaError, match="output folder does not exist"):
        plan_request(get_preset("tiny-wan"), "a", tmp_path / "no" / "g.mp4")
    with pytest.raises(GeneratorError, match="unknown torch device"):
        resolve_device("bogus")
    if not torch.backends.mps.is_available():  # refused here, not after the pipeline is built
        with pytest.raises(GeneratorError, match="no MPS device on this machine"):
            resolve_device("mps")
    assert resolve_device("cpu") == "cpu"
    assert list(tmp_path.iterdir()) == []


def test_unknown_and_offline_models(offline: list[object], tmp_path: Path, monkeypatch) -> None:
    with pytest.raises(GeneratorError, match="unknown model"):
        SignedGenerator("no-such-model")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(GeneratorError, match="not present offline"):
        SignedGenerator("wan-2.1-t2v-1.3b")
    assert offline == []


def test_registry() -> None:
    names = {p.name for p in list_presets()}
    assert {
        "tiny-wan",
        "tiny-ltx",
        "tiny-cogvideox",
        "tiny-ltx2",
        "wan-2.1-t2v-1.3b",
        "ltx-video",
        "ltx-2",
        "cogvideox-2b",
    } <= names
    p = get_preset("tiny-wan")
    assert p.smoke_test and p.height >= 256 and p.frames / p.fps >= 2.0


def test_rounding() -> None:
    x = np.array([0.0, 0.4 / 255, 0.6 / 255, 0.5, 1.0, 1.2, -0.1], dtype=np.float32)
    assert to_uint8(x).tolist() == [0, 0, 1, 128, 255, 255, 0]


@pytest.mark.parametrize("index", ['{"_class_name": "NopePipeline"}', "[]"])
def test_a_broken_pipeline_folder_is_one_error_naming_it(tmp_path: Path, index: str) -> None:
    """diffusers fails on a broken folder in many ways (AttributeError, TypeError, ...): each
    is the folder's fault, said in one line, not a traceback."""
    from vidprov.generator.presets import create

    folder = tmp_path / "pipe"
    folder.mkdir()
    (folder / "model_index.json").write_text(index)
    with pytest.raises(GeneratorError, match="cannot load this pipeline folder") as err:
        create(str(folder), device="cpu")
    assert err.value.path == str(folder)


def test_an_unusable_store_fails_before_the_model_is_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vidprov.keys import init_keys

    init_keys(tmp_path / "h")
    (tmp_path / "h" / "manifests.sqlite").write_bytes(b"not a database, " * 64)
    monkeypatch.setenv("VIDPROV_HOME", str(tmp_path / "h"))
    built: list[str] = []
    monkeypatch.setattr("vidprov.generator.run.create", lambda *a: built.append("x"))
    with pytest.raises(ProvenanceError, match="manifest store unusable"):
        SignedGenerator("tiny-wan")
    assert built == []
