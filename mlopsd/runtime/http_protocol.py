"""Uvicorn's httptools protocol, with each response sent in one write instead of two.

Uvicorn writes a response's status line and headers, then its body, as two writes: two
`send` calls and two TCP segments over loopback, where a one-row prediction is ~150 µs of
work in all and the first `send` alone (the kernel's loopback path, waking the client) was
a third of it. Here a connection's transport holds a small write until the next one in the
same turn of the event loop — the body that follows its headers — and sends both at once;
a write that nothing follows in that turn (a stream's headers, a 100 Continue) goes out at
the start of the next turn.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

HOLD_BYTES = 4096
"""Only writes this small are held (headers); larger ones go out as they are."""
JOIN_BYTES = 256 << 10
"""A held write is copied in front of a following write up to this size; a larger body
goes out after it in a write of its own (copying it would cost more than a `send`)."""


class OneWriteTransport:
    """A transport that joins a small write with the one after it (same loop turn)."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._held is not None:
            held, self._held = self._held, None
            if len(data) <= JOIN_BYTES:
                self._transport.write(held + bytes(data))
                return
            self._transport.write(held)
            self._transport.write(data)
        elif len(data) <= HOLD_BYTES and not self._transport.is_closing():
            self._held = bytes(data)
            self._loop.call_soon(self.flush)
        else:
            self._transport.write(data)

    def flush(self) -> None:
        if self._held is not None:
            held, self._held = self._held, None
            if not self._transport.is_closing():
                self._transport.write(held)

    def writelines(self, lines: Any) -> None:
        self.write(b"".join(lines))

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def abort(self) -> None:
        self._held = None
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class OneWriteHttpProtocol(HttpToolsProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(OneWriteTransport(transport, self.loop))  # type: ignore[arg-type]
