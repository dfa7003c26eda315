"""Opening inputs safely: every failure becomes a MediaError that names the file."""

from __future__ import annotations

import errno
import stat
from pathlib import Path

import av
import av.error

from vidprov.errors import MediaError

MAX_SIDE = 16384  # larger than any real video; beyond it a header is corrupt or hostile
_NOT_VIDEO_FORMATS = {"tty", "ansi", "bin", "xbin", "idf", "txt"}
_NOT_VIDEO_CODECS = {"ansi", "bintext", "xbin", "idf", "text"}


VIDEO_SUFFIXES = (  # what a folder scan picks up; every one opens through FFmpeg
    ".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".gif", ".y4m", ".ts", ".mts", ".m2ts",
    ".mpg", ".mpeg", ".3gp", ".flv", ".wmv", ".ogv",
)  # fmt: skip


def check_file(path: str | Path) -> Path:
    """Check that ``path`` is an existing, non-empty regular file.

    Raises:
        MediaError: an empty path (``Path("")`` is the current folder: an unset setting), missing,
            a folder, unreadable, a symlink loop, a name too long, or zero bytes.
    """
    if isinstance(path, str) and not path:
        raise MediaError('empty path "" (the current folder?): name a file')
    p = Path(path)
    try:
        st = p.stat()
    except OSError as exc:  # Path.exists() raises on some of these (EACCES, ENAMETOOLONG)
        raise MediaError(stat_reason(exc), p) from exc
    if not stat.S_ISREG(st.st_mode):
        raise MediaError("not a regular file", p)
    if st.st_size == 0:
        raise MediaError("file is empty (0 bytes)", p)
    return p


def stat_reason(exc: OSError) -> str:
    """Why a path could not be looked at, in a few words."""
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        return "no such file"
    if exc.errno == errno.ELOOP:
        return "symlink loop"
    return f"cannot read ({exc.strerror or type(exc).__name__})"


def ffmpeg_reason(exc: BaseException) -> str:
    """A short reason from an FFmpeg error, without the file name it often repeats."""
    if isinstance(exc, av.error.FFmpegError):
        return str(exc.strerror or exc).strip()
    return str(exc).strip() or type(exc).__name__


def open_input(path: str | Path) -> tuple[Path, av.container.InputContainer]:
    """Open a video for reading and check it has a plausible video stream.

    Returns:
        the path and the open container (the caller closes it).

    Raises:
        MediaError: missing, empty, not a video, a raw stream without timestamps, no video
            stream, or absurd dimensions.
    """
    p = check_file(path)
    try:
        container = av.open(str(p), mode="r", metadata_errors="ignore")
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as exc:
        if getattr(exc, "errno", None) == errno.EACCES:
            raise MediaError("cannot read (permission denied)", p) from exc
        raise MediaError(
            f"not a readable video: truncated, corrupt or not a video ({ffmpeg_reason(exc)})", p
        ) from exc
    try:
        fmt = container.format.name.split(",")[0]
        if fmt in _NOT_VIDEO_FORMATS or fmt.endswith("_pipe") or fmt == "image2":
            raise MediaError(f"not a video file (detected format: {fmt})", p)
        if container.format.flags & av.format.Flags.no_timestamps.value:  # raw H.264, HEVC, AV1
            raise MediaError(
                f"a raw {fmt} stream has no timestamps (its frame rate would be a guess): "
                "put it in a container (MP4, MKV) first",
                p,
            )
        if not container.streams.video:
            raise MediaError("no video stream in file", p)
        vs = main_video(container)
        if vs.codec_context is None:  # a damaged track header, or a codec FFmpeg lacks
            raise MediaError("not a readable video: its video track names no known codec", p)
        if vs.codec_context.name in _NOT_VIDEO_CODECS:
            raise MediaError(f"not a video file (detected {vs.codec_context.name})", p)
        w, h = vs.codec_context.width, vs.codec_context.height
        if not (0 < w <= MAX_SIDE and 0 < h <= MAX_SIDE):
            raise MediaError(f"absurd video dimensions {w}x{h}", p)
    except BaseException:
        container.close()
        raise
    return p, container


def main_video(container: av.container.InputContainer) -> av.video.stream.VideoStream:
    """The clip's video stream: of those whose index counts their frames, the longest (a
    thumbnail track marked default, as some phones and editors write, is not the clip); else
    FFmpeg's best (``av_find_best_stream``: cover pictures skipped); else the first."""
    try:
        best = container.streams.best("video")
    except (av.error.FFmpegError, ValueError):
        best = None
    pictures = av.stream.Disposition.attached_pic
    counted = [s for s in container.streams.video if s.frames and not (s.disposition & pictures)]
    longest = max(counted, key=lambda s: s.frames, default=None)
    if longest is not None and (best is None or (best.frames or 0) < longest.frames):
        return longest
    return best if best is not None else container.streams.video[0]
