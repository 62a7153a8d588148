"""UnrealCV framing over a real socket pair: whole messages, bad magic, short reads."""

from __future__ import annotations

import socket
import struct
import threading

import pytest

from uecity.unreal import wire


def test_messages_cross_a_socket_whole_and_in_order() -> None:
    a, b = socket.socketpair()
    with a, b:
        big = bytes(range(256)) * 20_000  # ~5 MB: several recv() calls
        sender = threading.Thread(
            target=lambda: [wire.send_message(a, p) for p in (b"0:vget /cameras", big, b"x")]
        )
        sender.start()
        assert wire.receive_message(b) == b"0:vget /cameras"
        assert wire.receive_message(b) == big
        assert wire.receive_message(b) == b"x"
        sender.join()


def test_header_is_magic_then_little_endian_size() -> None:
    assert wire.encode_message(b"ok")[:8] == struct.pack("<II", 0x9E2B83C1, 2)


def test_bad_magic_is_a_protocol_error() -> None:
    a, b = socket.socketpair()
    with a, b:
        a.sendall(struct.pack("<II", 0x12345678, 2) + b"ok")
        with pytest.raises(wire.ProtocolError, match="bad magic 0x12345678"):
            wire.receive_message(b)


def test_a_peer_that_closes_mid_message() -> None:
    a, b = socket.socketpair()
    with b:
        a.sendall(struct.pack("<II", wire.MAGIC, 10) + b"abc")
        a.close()
        with pytest.raises(wire.ConnectionClosed, match="7 of 10 bytes unread"):
            wire.receive_message(b)


@pytest.mark.parametrize("payload", [b"", b"x" * 0])
def test_empty_payloads_are_refused(payload: bytes) -> None:
    with pytest.raises(wire.ProtocolError, match="empty"):
        wire.encode_message(payload)


def test_requests_and_replies() -> None:
    request = wire.Request.parse(b"17:vset /object/car_3/location 1 2 3")
    assert request == wire.Request(17, "vset /object/car_3/location 1 2 3")
    assert wire.Request.parse(request.encode()) == request
    assert wire.split_reply(wire.encode_reply(17, b"\x89PNG")) == (17, b"\x89PNG")
    with pytest.raises(wire.ProtocolError, match="numeric id"):
        wire.Request.parse(b"vget /cameras")
