"""Whether a mark survives a typical re-upload (H.264 CRF 28): the check the generator makes
before it releases a clip, and ``watermark embed --reupload-check`` on request."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from vidprov.atomic import AtomicFile
from vidprov.watermark.config import P_THRESHOLD, WatermarkConfig
from vidprov.watermark.results import COVER_SLACK, ReuploadCheck, covers_clip

#: the re-encode a platform's upload typically applies
REUPLOAD_CRF = 28
#: strengths the generator tries in turn until its mark survives that re-encode (small clips
#: need more); ``watermark embed --reupload-check`` names them when it refuses a mark
STRENGTHS = (1.0, 1.6, 2.5, 4.0)
#: after the re-upload the mark must clear the detection threshold by this factor and cover the
#: clip, so that other encoders' CRF 28 (other presets, other rate control, an RGB round trip,
#: another frame rate) still find it, over the whole clip. Near the threshold the outcome is
#: chaotic: on 2 s 256x256 clips marked at strength 1.0, the p-value after CRF 28 moved by up
#: to ten orders of magnitude between such encodes, and with a margin of 1e-3 three of 20 fresh
#: keys gave clips whose p-values here were 6e-13 to 2e-15 and whose payload was lost by
#: another CRF 28 encoder. At strength 1.6 the same clips read at about 1e-50.
REUPLOAD_MARGIN = 1e-10


def reupload_check(
    path: str | Path,
    key: bytes,
    payload: str,
    config: WatermarkConfig | None = None,
    progress: Callable[[int], None] | None = None,
) -> ReuploadCheck:
    """Re-encode ``path`` as an upload would (H.264 CRF 28, to a temp file beside it, removed
    after) and read ``payload`` back.

    Raises:
        MediaError: ``path`` cannot be read, or the temp file cannot be written.
    """
    from vidprov.media import EncodeOptions, transcode
    from vidprov.watermark.detect import detect_file

    probe = AtomicFile(Path(path))
    try:
        transcode(path, probe.tmp, EncodeOptions(crf=REUPLOAD_CRF, preset="medium"), progress)
        r = detect_file(probe.tmp, key, config, progress=progress)
    finally:
        probe.discard()
    spans = [(s.start, s.end) for s in r.segments if s.payload == payload]
    if not spans and r.payload == payload and r.duration <= COVER_SLACK:
        spans = [(0.0, r.duration)]  # a second or less may read as a whole, unplaced
    covered = covers_clip(spans, r.duration)
    survives = r.payload == payload and r.p_value <= P_THRESHOLD * REUPLOAD_MARGIN and covered
    return ReuploadCheck(REUPLOAD_CRF, r.payload, r.p_value, covered, survives)
