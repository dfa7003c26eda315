"""Raw audio arrays encoded to AAC alongside the video (VideoWriter(audio=PCMAudio(...)))."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from vidprov.errors import MediaError
from vidprov.media import PCMAudio, VideoWriter, probe


def _write(path: Path, audio: PCMAudio, frames: int = 24) -> None:
    with VideoWriter(path, 64, 64, 24, audio=audio) as w:
        for i in range(frames):
            w.write(np.full((64, 64, 3), 10 * i, np.uint8))


@pytest.mark.parametrize(
    ("rate", "channels", "stored"), [(16000, 2, 16000), (24000, 1, 24000), (22000, 2, 48000)]
)
def test_raw_audio_is_encoded_with_its_rate_and_length(
    tmp_path: Path, rate: int, channels: int, stored: int
) -> None:
    n = int(1.0 * rate)
    tone = 0.3 * np.sin(2 * np.pi * 440 * np.arange(n) / rate)
    audio = PCMAudio(np.stack([tone] * channels), rate)
    assert audio.stored_rate == stored
    _write(tmp_path / "a.mp4", audio)
    info = probe(tmp_path / "a.mp4")
    assert (info.audio_codec, info.audio_sample_rate, info.audio_channels) == (
        "aac",
        stored,
        channels,
    )
    with av.open(str(tmp_path / "a.mp4")) as c:
        s = c.streams.audio[0]
        assert float(s.duration * s.time_base) == pytest.approx(1.0, abs=2e-3)
        pcm = np.concatenate([f.to_ndarray() for f in c.decode(s)], axis=1)
    assert 0.25 < np.abs(pcm).max() < 0.4


@pytest.mark.parametrize(
    ("samples", "rate", "match"),
    [
        (np.zeros((3, 100)), 16000, "1 or 2 channels"),
        (np.zeros((2, 0)), 16000, "no samples"),
        (np.array([0.0, np.nan]), 16000, "non-finite"),
        (np.zeros(100), 10, "sample rate"),
        (np.zeros(100), float("nan"), "sample rate"),  # int(nan) raised ValueError
        (np.zeros(100), float("inf"), "sample rate"),  # and OverflowError
    ],
)
def test_bad_audio_is_a_typed_error(samples: np.ndarray, rate: int, match: str) -> None:
    with pytest.raises(MediaError, match=match):
        PCMAudio(samples, rate)


def test_audio_and_audio_from_are_exclusive(tmp_path: Path, clip: Path) -> None:
    with pytest.raises(MediaError, match="one of audio, audio_from and joined_audio"):
        VideoWriter(tmp_path / "a.mp4", 64, 64, 24, audio_from=clip, audio=PCMAudio([0.0], 8000))
    with pytest.raises(MediaError, match="one of audio, audio_from and joined_audio"):
        VideoWriter(tmp_path / "a.mp4", 64, 64, 24, audio_from=clip, joined_audio=True)


def test_integer_pcm_is_scaled_from_its_full_range() -> None:
    """int16 samples taken as floats would clip to +-1: full-scale noise instead of the sound."""
    tone = np.sin(np.linspace(0, 20 * np.pi, 4800))
    as_int16 = PCMAudio((tone * 16384).astype(np.int16), 48000).samples[0]
    as_uint8 = PCMAudio((tone * 64 + 128).astype(np.uint8), 48000).samples[0]
    assert np.abs(as_int16 - tone / 2).max() < 1e-4
    assert np.abs(as_uint8 - tone / 2).max() < 0.01
    assert PCMAudio([0, 1, -1], 48000).samples.tolist() == [[0.0, 1.0, -1.0]]  # values, not PCM
    with pytest.raises(MediaError, match="real numbers, got complex"):
        PCMAudio(tone.astype(np.complex64), 48000)
