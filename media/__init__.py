"""Streaming video I/O on PyAV: open, probe, iterate frames (RGB or Y/U/V), write H.264 (with
audio copied from a source or encoded from raw samples)."""

from vidprov.media._audio import PCMAudio
from vidprov.media._open import VIDEO_SUFFIXES
from vidprov.media.frames import Frame, FrameChunk, YUVFrame
from vidprov.media.info import Display, VideoInfo, probe, read_display
from vidprov.media.reader import VideoReader, iter_frames, open_video
from vidprov.media.synth import make_clip, synth_frames
from vidprov.media.transcode import TranscodeResult, transcode
from vidprov.media.writer import EncodeOptions, VideoWriter

__all__ = [
    "VIDEO_SUFFIXES",
    "Display",
    "EncodeOptions",
    "Frame",
    "FrameChunk",
    "PCMAudio",
    "TranscodeResult",
    "VideoInfo",
    "VideoReader",
    "VideoWriter",
    "YUVFrame",
    "iter_frames",
    "make_clip",
    "open_video",
    "probe",
    "read_display",
    "synth_frames",
    "transcode",
]
