"""Audio a pipeline returns goes into the MP4 (AAC) and through watermark -> sign -> verify.

Two pipelines: the tiny in-process LTX-2 (a real ``diffusers.LTX2Pipeline`` with random
weights, audio from its own vocoder, rate from ``vocoder.config``), and a plain test double that
returns frames plus a mono waveform with its rate on the output, which is all the composition
wrapper looks at.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from vidprov.errors import GeneratorError
from vidprov.generator import SignedGenerator
from vidprov.media import probe, synth_frames
from vidprov.provenance import ALG, ManifestStore, PkiPaths, verify_file
from vidprov.provenance.softbinding import payload_to_value

SMALL = {"frames": 17, "height": 128, "width": 128, "steps": 2}


def _audio_track(path: str) -> tuple[int, int, float, np.ndarray]:
    """(rate, channels, stream duration in s, decoded samples) of the file's audio."""
    with av.open(path) as c:
        s = c.streams.audio[0]
        duration = float(s.duration * s.time_base)
        pcm = np.concatenate([f.to_ndarray() for f in c.decode(s)], axis=1)
        return s.rate, s.codec_context.channels, duration, pcm


@pytest.mark.parametrize("k", [1, 2])
def test_tiny_ltx2_audio_is_muxed_signed_and_marked(
    env_home: Path, keyed_home: Path, tmp_path: Path, k: int
) -> None:
    g = SignedGenerator("tiny-ltx2")
    rate = g.pipeline.vocoder.config.output_sampling_rate
    r = g.generate("a dog running in the rain", tmp_path / "g.mp4", seed=3, num_videos=k, **SMALL)
    anchors = PkiPaths.under(keyed_home).trust_anchors
    store = ManifestStore()
    video_s = 17 / 24
    for c in r.clips:
        assert (c.audio_sample_rate, c.audio_channels) == (rate, 2)
        assert c.audio_seconds == pytest.approx(video_s, abs=0.05)  # LTX-2 sizes audio to video
        info = probe(c.path)
        assert info.has_audio and info.audio_codec == "aac"
        got_rate, channels, seconds, pcm = _audio_track(c.path)
        assert (got_rate, channels) == (rate, 2)
        assert seconds == pytest.approx(c.audio_seconds, abs=1e-3)
        assert np.abs(pcm).max() > 1e-3  # not silence
        v = verify_file(c.path, anchors)
        assert v.c2pa.state == "trusted"
        assert v.watermark is not None and v.watermark.detected
        assert v.watermark.payload == c.payload
        assert c.manifest_id in store.find(ALG, payload_to_value(c.payload))


def test_signature_covers_the_audio(env_home: Path, keyed_home: Path, tmp_path: Path) -> None:
    r = SignedGenerator("tiny-ltx2").generate("a cat", tmp_path / "g.mp4", **SMALL)
    path = r.clips[0].path
    with av.open(path) as c:
        pos = next(p.pos for p in c.demux(c.streams.audio[0]) if p.size > 8)
    data = bytearray(Path(path).read_bytes())
    data[pos + 4] ^= 0x10  # one bit inside an audio packet
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(bytes(data))
    assert verify_file(bad, PkiPaths.under(keyed_home).trust_anchors).c2pa.state == "invalid"


@dataclass
class _Output:
    frames: np.ndarray
    audio: Any
    audio_sample_rate: int | None


class _AudioPipeline:
    """Not diffusers: frames with texture, and a mono tone per clip as ``(k, samples)``."""

    def __init__(self, rate: int | None, shape: str = "mono") -> None:
        self.rate, self.shape = rate, shape

    def __call__(self, prompt: list[str], num_frames: int, height: int, width: int, **kw: Any):
        k = len(prompt)
        clip = np.stack(list(synth_frames(num_frames, width, height, seed=5))) / 255.0
        n = round(num_frames / 24 * (self.rate or 22050))
        t = np.arange(n) / (self.rate or 22050)
        tone = np.stack([0.3 * np.sin(2 * np.pi * (300 + 100 * i) * t) for i in range(k)])
        audio = tone if self.shape == "mono" else np.stack([tone, tone], axis=-1)  # (k, n, 2)
        cb = kw["callback_on_step_end"]
        for i in range(kw["num_inference_steps"]):
            cb(self, i, None, {})
        return _Output(np.repeat(clip[None], k, axis=0), audio, self.rate)


@pytest.mark.parametrize(
    ("rate", "shape", "stored"), [(22050, "mono", 22050), (20000, "stereo", 48000)]
)
def test_any_pipeline_returning_audio(
    env_home: Path, keyed_home: Path, tmp_path: Path, rate: int, shape: str, stored: int
) -> None:
    g = SignedGenerator("fake-audio", _AudioPipeline(rate, shape))
    r = g.generate("a", tmp_path / "g.mp4", num_videos=2, **SMALL)
    for c in r.clips:
        got_rate, channels, seconds, _ = _audio_track(c.path)
        assert (got_rate, channels) == (stored, 1 if shape == "mono" else 2)
        assert (c.audio_sample_rate, c.audio_channels) == (got_rate, channels)
        assert seconds == pytest.approx(17 / 24, abs=2e-3)
        v = verify_file(c.path, PkiPaths.under(keyed_home).trust_anchors)
        assert v.c2pa.state == "trusted" and v.watermark.payload == c.payload


def test_audio_without_a_rate_is_refused(env_home: Path, tmp_path: Path) -> None:
    g = SignedGenerator("fake-audio", _AudioPipeline(None))
    with pytest.raises(GeneratorError, match="sample rate"):
        g.generate("a", tmp_path / "g.mp4", **SMALL)
    assert list(tmp_path.iterdir()) == []


def test_audio_of_the_wrong_batch_is_refused(env_home: Path, tmp_path: Path) -> None:
    class Short(_AudioPipeline):
        def __call__(self, prompt: list[str], *a: Any, **kw: Any) -> _Output:
            out = super().__call__(prompt, *a, **kw)
            return _Output(out.frames, out.audio[:1], out.audio_sample_rate)

    with pytest.raises(GeneratorError, match="audio"):
        SignedGenerator("fake-audio", Short(16000)).generate(
            "a", tmp_path / "g.mp4", num_videos=2, **SMALL
        )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (lambda f: np.where(f > 0.5, np.nan, f), "NaN or infinite"),  # would be black, signed
        (lambda f: f * 255.0, r"span 0\.\.\d+, not 0\.\.1"),  # would be white, signed
    ],
)
def test_frames_that_would_come_out_wrong_are_refused(
    env_home: Path, tmp_path: Path, spoil: Any, message: str
) -> None:
    class Spoilt(_AudioPipeline):
        def __call__(self, prompt: list[str], *a: Any, **kw: Any) -> _Output:
            out = super().__call__(prompt, *a, **kw)
            return _Output(spoil(out.frames), out.audio, out.audio_sample_rate)

    with pytest.raises(GeneratorError, match=message):
        SignedGenerator("fake", Spoilt(16000)).generate("a", tmp_path / "g.mp4", **SMALL)
    assert list(tmp_path.iterdir()) == []


def test_one_generator_shared_by_threads_runs_its_pipeline_one_call_at_a_time(
    env_home: Path, tmp_path: Path
) -> None:
    """Two threads on one generator shared its scheduler's state: one died with diffusers'
    IndexError (a library integrator's report), the other may have been denoised wrongly."""
    import threading
    import time

    inside, most = [0], [0]

    class Counting(_AudioPipeline):
        def __call__(self, prompt: list[str], *a: Any, **kw: Any) -> _Output:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
            time.sleep(0.3)  # long enough for the other thread to come in
            try:
                return super().__call__(prompt, *a, **kw)
            finally:
                inside[0] -= 1

    g = SignedGenerator("fake-audio", Counting(22050))
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            g.generate("a", tmp_path / f"g{i}.mp4", seed=i, **SMALL)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and most[0] == 1
    assert sorted(p.name for p in tmp_path.glob("g*.mp4")) == ["g0.mp4", "g1.mp4"]
