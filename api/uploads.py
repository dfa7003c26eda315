"""Uploads: a multipart body streamed into a private temp folder, with size and time limits.

The client's file name is only ever *shown* (sanitised, in JSON); the file on disk gets a
server-chosen name whose suffix comes from sniffing the bytes (C2PA needs it to pick a MIME
type). :meth:`Upload.cleanup` removes the folder; callers run it in a ``finally``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from vidprov.api.errors import ApiError, client_gone
from vidprov.api.jobs import server_stopping, worker_gone
from vidprov.api.settings import ApiSettings
from vidprov.media import VIDEO_SUFFIXES
from vidprov.provenance.manifest import HEAD_BYTES, sniff_container

log = logging.getLogger(__name__)

FIELD = "file"
SLACK = 64 * 1024  # multipart framing and small fields on top of the file itself


def too_large(limit: int, what: str = "upload") -> ApiError:
    """The 413 for an upload over ``limit`` bytes."""
    return ApiError(
        413,
        "too_large",
        f"{what} exceeds the {limit / (1024 * 1024):.4g} MB upload limit",
        {"limit_bytes": limit},
    )


@dataclass(frozen=True)
class Upload:
    """A received file: the server-side ``path`` (never shown to clients), the name to show,
    and its size in bytes."""

    path: Path
    filename: str
    size: int

    def cleanup(self) -> None:
        """Remove the upload's private folder and everything in it."""
        shutil.rmtree(self.path.parent, ignore_errors=True)

    def scrub(self, value: Any) -> Any:
        """``value`` (a JSON-ready structure) with the server path replaced by the file name."""
        return replace_text(value, {str(self.path): self.filename})


#: keys of a verify report (and of a scan's evidence) whose values are a signed manifest's
#: own text, returned as signed: a title or model path of ``/tmp/...`` is the signer's, not
#: this server's folder (it read ``<tmp>/...``, unlike the same manifest's ``/v1/manifests``)
SIGNED_KEYS = frozenset(
    {"signer", "organization", "claim_generator", "actions", "ingredients", "manifest"}
)


def replace_text(value: Any, mapping: dict[str, str]) -> Any:
    """``value`` (a JSON-ready structure) with every string's occurrences of the ``mapping``'s
    keys (paths) replaced, longest key first, except under :data:`SIGNED_KEYS`; only whole
    paths count: ``/tmp`` in ``/tmp/x`` or ``(/tmp)``, not in ``https://host/tmp/x`` or
    ``/tmpfiles``."""
    patterns = [(_whole_path(old), mapping[old]) for old in sorted(mapping, key=len, reverse=True)]
    return _replace(value, patterns)


def _whole_path(path: str) -> re.Pattern[str]:
    # before: the start, a space or an opening mark; after: the end, "/", a space, a closing
    # mark or punctuation ("." only at a sentence's end)
    return re.compile(
        r"(?<![^\s\"'(\[<=,;])" + re.escape(path) + r"(?=$|[/\s\"')\]>,;:]|\.(?:\s|$))"
    )


def _replace(value: Any, patterns: list[tuple[re.Pattern[str], str]]) -> Any:
    if isinstance(value, str):
        for pattern, new in patterns:
            value = pattern.sub(lambda _m, new=new: new, value)
        return value
    if isinstance(value, dict):
        return {k: v if k in SIGNED_KEYS else _replace(v, patterns) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_replace(v, patterns) for v in value]
    return value


def display_name(raw: str | None) -> str:
    """A client file name fit for display: the last path component, with no character that
    is not printable (control and format characters, such as U+202E, which reverses the text
    after it and can make a name that ends in ``.exe`` read as one that ends in ``.mp4``, or line
    separators)."""
    name = re.split(r"[\\/]", raw or "")[-1]
    name = "".join(c for c in name if c.isprintable()).strip()[:200]
    return name or "upload"


#: what browsers (the HTML standard's multipart encoding) and curl write for ``"``, LF and CR
#: in a part's file name
_FORM_ESCAPES = {"%22": '"', "%0A": "\n", "%0D": "\r"}


def form_unescape(name: str) -> str:
    """A multipart file name as the client's file was named: ``a %22q%22.mp4`` is ``a "q".mp4``
    (other ``%`` sequences are left as they are: a browser does not escape ``%`` itself)."""
    return re.sub("%22|%0A|%0D", lambda m: _FORM_ESCAPES[m.group()], name)


def sniff_suffix(head: bytes, client_name: str) -> str:
    """The suffix the saved file gets: from its first bytes, else the client's known suffix."""
    container = sniff_container(head)
    if container is not None:
        return container.suffix
    suffix = Path(client_name).suffix.lower()
    return suffix if suffix in VIDEO_SUFFIXES else ".bin"


class _Sink:
    """Multipart callbacks that write the ``file`` part to disk and ignore other parts."""

    def __init__(self, folder: Path, limit: int) -> None:
        self.folder, self.limit = folder, limit
        self.raw = folder / "upload.part"
        self.out: BinaryIO | None = None
        self.headers: dict[bytes, bytes] = {}
        self.field, self.value = b"", b""
        self.found = False
        self.current = False
        self.complete = False  # the file part's closing boundary was seen
        self.ended = False  # the body's closing boundary was seen
        self.filename = "upload"
        self.size = 0
        self.head = b""

    def callbacks(self) -> dict[str, Any]:
        return {
            "on_part_begin": self.part_begin,
            "on_header_field": lambda d, s, e: setattr(self, "field", self.field + d[s:e]),
            "on_header_value": lambda d, s, e: setattr(self, "value", self.value + d[s:e]),
            "on_header_end": self.header_end,
            "on_headers_finished": self.headers_finished,
            "on_part_data": self.part_data,
            "on_part_end": self.part_end,
            "on_end": lambda: setattr(self, "ended", True),
        }

    def part_begin(self) -> None:
        self.headers, self.current = {}, False

    def header_end(self) -> None:
        self.headers[self.field.lower()] = self.value
        self.field, self.value = b"", b""

    def headers_finished(self) -> None:
        _, params = parse_options_header(self.headers.get(b"content-disposition", b""))
        if params.get(b"name") != FIELD.encode():
            return
        if self.found:
            raise ApiError(400, "bad_multipart", f"more than one form field '{FIELD}': send one")
        self.found = self.current = True
        raw = params.get(b"filename", b"").decode("utf-8", "replace")
        self.filename = display_name(form_unescape(raw))
        self.out = self.raw.open("wb")

    def part_data(self, data: bytes, start: int, end: int) -> None:
        if not self.current or self.out is None:
            return
        chunk = data[start:end]
        self.size += len(chunk)
        if self.size > self.limit:
            raise too_large(self.limit)
        if len(self.head) < HEAD_BYTES:
            self.head += chunk[: HEAD_BYTES - len(self.head)]
        self.out.write(chunk)

    def part_end(self) -> None:
        if self.current and self.out is not None:
            self.out.close()
            self.complete = True
        self.current = False

    def close(self) -> None:
        if self.out is not None and not self.out.closed:
            self.out.close()


def _boundary(request: Request) -> bytes:
    """The multipart boundary from the request's ``Content-Type``.

    Raises:
        ApiError: 415 for another media type; 400 ``bad_multipart`` for multipart/form-data
            without a boundary (the body cannot be split into its parts).
    """
    kind, params = parse_options_header(request.headers.get("content-type"))
    if kind != b"multipart/form-data":
        raise ApiError(
            415,
            "unsupported_media_type",
            f"send the video as multipart/form-data in the form field '{FIELD}'",
        )
    # parameter names are case-insensitive (RFC 2045), the parser keeps them as sent
    boundary = {k.lower(): v for k, v in params.items()}.get(b"boundary")
    if not boundary:
        raise ApiError(
            400,
            "bad_multipart",
            "the Content-Type multipart/form-data has no boundary parameter "
            "(e.g. multipart/form-data; boundary=XYZ): the body cannot be split into its parts",
        )
    return boundary


def check_length(request: Request, cap: int, refuse: Callable[[int], ApiError]) -> None:
    """Refuse a body whose ``Content-Length`` is over ``cap`` with ``refuse(length)``, before
    any of it is read.

    Raises:
        ApiError: 400 for a ``Content-Length`` that is not a number; ``refuse(length)``.
    """
    length = request.headers.get("content-length")
    if length is None:
        return
    if not length.isdigit():
        raise ApiError(400, "bad_request", "Content-Length is not a number")
    if int(length) > cap:
        raise refuse(int(length))


async def timed_chunks(
    request: Request, idle_s: float, total_s: float, what: str, code: str
) -> AsyncIterator[bytes]:
    """The request body's chunks as they arrive (``what`` names it in messages).

    Raises:
        ApiError: 408 ``code`` when it pauses longer than ``idle_s`` or takes longer than
            ``total_s`` in all; 499 when the client goes away; 503 when the server stopping
            cancels the request (it was uvicorn's plain-text 500).
    """
    deadline = time.monotonic() + total_s
    stream = request.stream().__aiter__()
    total = 0
    while True:
        wait = min(idle_s, deadline - time.monotonic())
        try:
            chunk = await asyncio.wait_for(stream.__anext__(), timeout=max(wait, 0.001))
        except StopAsyncIteration:
            return
        except ClientDisconnect as exc:
            log.info("client disconnected during the %s, after %d bytes", what, total)
            raise client_gone(f"the client went away mid-{what}") from exc
        except TimeoutError as exc:
            raise ApiError(408, code, f"the {what} was too slow; try again") from exc
        except asyncio.CancelledError as exc:  # the server stopping cut the request off
            raise server_stopping(f"the server is stopping mid-{what}") from exc
        total += len(chunk)
        yield chunk


UPLOAD_PREFIX = "vidprov-upload-"  # then the receiving process's pid


def sweep_stale_uploads(tmp_dir: Path | None) -> int:
    """Remove upload folders left by worker processes that are gone (killed, out of memory:
    their ``finally`` never ran); how many went. Folders of live processes stay.
    """
    root = tmp_dir if tmp_dir is not None else Path(tempfile.gettempdir())
    gone = 0
    for folder in root.glob(UPLOAD_PREFIX + "*-*"):
        pid = folder.name.removeprefix(UPLOAD_PREFIX).split("-", 1)[0]
        try:
            stale = pid.isdigit() and worker_gone(int(pid), folder.stat().st_mtime)
        except OSError:
            continue
        if stale:
            shutil.rmtree(folder, ignore_errors=True)
            gone += 1
    if gone:
        log.info("removed %d upload folder(s) left by worker processes that are gone", gone)
    return gone


async def receive_upload(request: Request, settings: ApiSettings) -> Upload:
    """Stream the request's ``file`` field into a new private temp folder.

    Raises:
        ApiError: 415 not multipart, 413 over the size limit, 408 too slow, 400 malformed
            (no boundary, cut short, two ``file`` fields), 422 no ``file`` field. Nothing is
            left on disk when it raises.
    """
    limit = settings.max_upload_bytes
    boundary = _boundary(request)
    check_length(request, limit + SLACK, lambda n: too_large(limit, f"an upload of {n} bytes"))
    if settings.tmp_dir is not None:
        settings.tmp_dir.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=f"{UPLOAD_PREFIX}{os.getpid()}-", dir=settings.tmp_dir))
    sink = _Sink(folder, limit)
    try:
        parser = MultipartParser(boundary, sink.callbacks())  # type: ignore[arg-type]
        await _feed(request, parser, settings, limit + SLACK)
        parser.finalize()
        sink.close()
        if not sink.found:
            raise ApiError(422, "missing_file", f"no form field '{FIELD}' with a file in the body")
        if not (sink.complete and sink.ended):
            # a body cut short would otherwise be scanned as if it were the whole file
            raise ApiError(
                400,
                "bad_multipart",
                "the body ended before the multipart's closing boundary (upload cut short?)",
            )
        path = folder / ("upload" + sniff_suffix(sink.head, sink.filename))
        sink.raw.rename(path)
    except FormParserError as exc:
        sink.close()
        shutil.rmtree(folder, ignore_errors=True)
        raise ApiError(400, "bad_multipart", f"malformed multipart body ({exc})") from exc
    except BaseException:
        sink.close()
        shutil.rmtree(folder, ignore_errors=True)
        raise
    log.info("received upload %r, %d bytes", sink.filename, sink.size)
    return Upload(path, sink.filename, sink.size)


async def _feed(request: Request, parser: MultipartParser, settings: ApiSettings, cap: int) -> None:
    total = 0
    idle, whole = settings.upload_idle_timeout_s, settings.upload_timeout_s
    async for chunk in timed_chunks(request, idle, whole, "upload", "upload_timeout"):
        total += len(chunk)
        if total > cap:
            raise too_large(cap - SLACK)
        if chunk:
            parser.write(chunk)
