"""The UnrealCV wire protocol: framing of messages on a TCP (or Unix) stream.

Every message, both ways: uint32 magic `0x9E2B83C1`, uint32 payload size (little-endian),
then the payload. Requests are UTF-8 `<id>:<command>`; replies `<id>:<body>` where the body is
text or raw bytes (PNG, BMP, NPY). This module is shared by our server (`uecity serve-sim`) and
by tests that speak to a server without the PyPI client.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

MAGIC = 0x9E2B83C1
HEADER = struct.Struct("<II")
MAX_PAYLOAD_BYTES = 256 * 1024 * 1024
"""The engine refuses payloads over 256 MiB; so do we."""


class ProtocolError(Exception):
    """The peer sent something that is not an UnrealCV message."""


class ConnectionClosed(Exception):
    """The peer closed the connection (cleanly or not) before a whole message arrived."""


def encode_message(payload: bytes) -> bytes:
    if not payload:
        raise ProtocolError("empty payloads are not allowed by the protocol")
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ProtocolError(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    return HEADER.pack(MAGIC, len(payload)) + payload


def send_message(sock: socket.socket, payload: bytes) -> None:
    sock.sendall(encode_message(payload))


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    chunks = []
    remaining = size
    while remaining:
        try:
            chunk = sock.recv(min(remaining, 1 << 20))
        except (ConnectionResetError, BrokenPipeError) as error:
            raise ConnectionClosed(str(error)) from None
        if not chunk:
            raise ConnectionClosed(f"connection closed with {remaining} of {size} bytes unread")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def receive_message(sock: socket.socket) -> bytes:
    """Read one whole message; raises `ConnectionClosed` or `ProtocolError`."""
    magic, size = HEADER.unpack(_recv_exact(sock, HEADER.size))
    if magic != MAGIC:
        raise ProtocolError(f"bad magic 0x{magic:08X} (expected 0x{MAGIC:08X})")
    if size == 0 or size > MAX_PAYLOAD_BYTES:
        raise ProtocolError(f"bad payload size {size}")
    return _recv_exact(sock, size)


@dataclass(frozen=True)
class Request:
    """A parsed request payload `<id>:<command>`."""

    request_id: int
    command: str

    @classmethod
    def parse(cls, payload: bytes) -> Request:
        head, sep, command = payload.partition(b":")
        if not sep or not head.isdigit():
            raise ProtocolError(f"request without a numeric id: {payload[:40]!r}")
        return cls(int(head), command.decode("utf-8", errors="replace").strip())

    def encode(self) -> bytes:
        return f"{self.request_id}:{self.command}".encode()


def encode_reply(request_id: int, body: bytes | str) -> bytes:
    """The payload of a reply: `<id>:` followed by the text or bytes of the body."""
    data = body.encode() if isinstance(body, str) else body
    return f"{request_id}:".encode() + data


def split_reply(payload: bytes) -> tuple[int, bytes]:
    """(request id, body bytes) of a reply payload."""
    head, sep, body = payload.partition(b":")
    if not sep or not head.isdigit():
        raise ProtocolError(f"reply without a numeric id: {payload[:40]!r}")
    return int(head), body
