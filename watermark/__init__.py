"""Keyed invisible video watermark: 64-bit payload, informed spread spectrum on luma."""

from vidprov.watermark.coding import parse_payload
from vidprov.watermark.config import WatermarkConfig
from vidprov.watermark.detect import detect, detect_file
from vidprov.watermark.durable import reupload_check
from vidprov.watermark.embed import embed, embed_file, random_payload
from vidprov.watermark.results import (
    EmbedResult,
    ReuploadCheck,
    WatermarkReading,
    WatermarkSegment,
    covers_clip,
)

__all__ = [
    "EmbedResult",
    "ReuploadCheck",
    "WatermarkConfig",
    "WatermarkReading",
    "WatermarkSegment",
    "covers_clip",
    "detect",
    "detect_file",
    "embed",
    "embed_file",
    "parse_payload",
    "random_payload",
    "reupload_check",
]
