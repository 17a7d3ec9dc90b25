"""Each response goes out in one write: the headers a handler sends are joined with the body
that follows them in the same turn of the event loop; alone, they go out a turn later."""

from __future__ import annotations

import asyncio
import http.client
import socket

import pytest

from mlopsd.runtime.http_protocol import JOIN_BYTES, OneWriteTransport
from tests.daemon_process import DaemonProcess


class Sent(asyncio.Transport):
    """What reached the socket, write by write (the kernel's side of the transport)."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True


async def _turn() -> None:
    await asyncio.sleep(0)
    await asyncio.sleep(0)


def test_headers_and_body_written_in_one_turn_go_out_as_one_write() -> None:
    async def scenario() -> None:
        sent = Sent()
        transport = OneWriteTransport(sent, asyncio.get_running_loop())
        transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
        transport.write(b"{}")
        assert sent.writes == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"]
        transport.write(b"HTTP/1.1 200 OK\r\n\r\n")  # a stream's headers: nothing follows
        assert sent.writes[1:] == []
        await _turn()
        assert sent.writes[1:] == [b"HTTP/1.1 200 OK\r\n\r\n"]
        big = b"x" * (JOIN_BYTES + 1)
        transport.write(b"headers")
        transport.write(big)  # not copied behind the headers: two writes, in order
        assert sent.writes[2:] == [b"headers", big]
        transport.write(b"last words")
        transport.close()  # what is held goes out before the connection closes
        assert sent.writes[4:] == [b"last words"] and sent.closed

    asyncio.run(scenario())


@pytest.fixture(scope="module")
def d(tmp_path_factory: pytest.TempPathFactory) -> DaemonProcess:
    proc = DaemonProcess(tmp_path_factory.mktemp("one-write") / "home").start()
    yield proc
    proc.stop()


def test_the_daemon_answers_keep_alive_requests_and_lone_writes_through_it(
        d: DaemonProcess) -> None:
    host, port = d.client.base_url.split("//", 1)[1].rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    for _ in range(50):  # one connection: every reply whole, none held back
        conn.request("GET", "/api/v1/status")
        reply = conn.getresponse()
        assert reply.status == 200 and reply.read().startswith(b"{")
    conn.close()
    # A lone write that nothing follows must still go out: a client that sends
    # `Expect: 100-continue` waits for the interim reply before it sends its body.
    body = b'{"kind": "no-such-kind", "params": {}}'
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"POST /api/v1/jobs HTTP/1.1\r\nhost: x\r\ncontent-type: "
                     b"application/json\r\nauthorization: Bearer "
                     + d.home.read_token().encode() + b"\r\nexpect: 100-continue\r\n"
                     b"content-length: " + str(len(body)).encode() + b"\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 100 Continue")
        sock.sendall(body)
        reply = sock.recv(65536)
        assert reply.startswith(b"HTTP/1.1 4") and b"no-such-kind" in reply
