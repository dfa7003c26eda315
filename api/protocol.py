"""uvicorn's HTTP/1.1 protocol with a deadline for a request's line and headers.

uvicorn times out an idle keep-alive connection only once it has answered a request on it, and
sets no limit at all on receiving a request's head: a client that connects and sends nothing,
or trickles a header a byte at a time, holds its connection (and a file descriptor) for ever,
and a few hundred such clients starve the server. :class:`HeaderDeadline` closes a connection
that has not delivered a whole request head within ``header_timeout_s``
(:class:`~vidprov.api.settings.ApiSettings`) of its start or of the end of its last answer;
bodies keep the uploads' own limits (:mod:`vidprov.api.uploads`).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from vidprov.api.settings import ApiSettings

log = logging.getLogger(__name__)


@functools.cache
def _timeout_s() -> float:
    return ApiSettings.from_env().header_timeout_s  # `vidprov serve` checked the settings


def _timeout_response() -> bytes:
    body = json.dumps(
        {"error": "timeout", "message": "the request's headers did not arrive in time"}
    ).encode()
    head = (
        "HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
        f"connection: close\r\ncontent-length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


class HeaderDeadline(H11Protocol):
    """:class:`H11Protocol` that closes a connection whose request head is late (see the
    module): silently when nothing of the next request came, with a 408 when part of it did."""

    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm()  # the next request's head is due in as long

    def connection_lost(self, exc: Exception | None) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
        self._head_timer = None
        if not self.transport.is_closing():
            self._head_timer = self.loop.call_later(_timeout_s(), self._late)

    def _late(self) -> None:
        self._head_timer = None
        # IDLE: h11 has not parsed a whole request head since the timer was armed
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        partial = bool(self.conn.trailing_data[0])
        if partial:
            self.transport.write(_timeout_response())
        log.info("%s: request head not received in %g s; closed", self.client, _timeout_s())
        self.transport.close()
