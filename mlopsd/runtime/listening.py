"""What `mlopsd` says when it cannot start (its exit codes), and the listening socket."""

from __future__ import annotations

import socket
from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    ALREADY_RUNNING = 1
    CONFIG = 2
    STORE = 3
    BIND = 4
    HOME = 5


class StartError(Exception):
    def __init__(self, code: ExitCode, message: str) -> None:
        super().__init__(message)
        self.code = code



def bind_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit it on Linux. Without it a response written in two parts
    # (headers, body) waits for the client's delayed ACK: every request took 40+ ms.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        hint = " (in use: pick another with --port, or 0 for any free port)" if (
            exc.errno == 98) else ""
        raise StartError(ExitCode.BIND, f"cannot listen on {host}:{port}: {exc.strerror}{hint}") \
            from exc
    sock.listen(2048)
    sock.set_inheritable(False)
    return sock
