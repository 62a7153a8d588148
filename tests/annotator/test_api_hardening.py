"""The annotator's server under wrong, raw, many and slow requests: every refusal is a 4xx
JSON answer, nothing leaks the dataset's path, bursts are served, idle clients are dropped."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

import pytest

from annotator import server as server_module
from annotator.api import AnnotatorApi
from annotator.server import AnnotatorServer, host_names, serve
from tests.annotator.test_api import get_json, request
from tests.factories import build_small_dataset
from uecity.dataset import Dataset


def raw(server: AnnotatorServer, data: bytes) -> bytes:
    """Send bytes as they are, read the answer to its end."""
    host, port = server.server_address[:2]
    with socket.create_connection((host, port), timeout=10) as connection:
        connection.sendall(data)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return answer


def json_error(answer: bytes) -> tuple[int, str]:
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    assert b"application/json" in head, head
    return status, json.loads(body)["error"]


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"PATCH /api/videos HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 405),
        (b"OPTIONS / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 405),
        (b"TRACE / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 405),
        (b"GET /\r\n", 400),  # HTTP/0.9
        (b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 414),
        (b"GET / HTTP/2.0\r\nHost: 127.0.0.1\r\n\r\n", 400),  # http.server's own: 505
        (b"NONSENSE\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\n\r\n", 400),  # no Host header
        (b"POST /api/vocabulary/motion_labels HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 415),
    ],
)
def test_raw_refusals_are_4xx_json(small_server: AnnotatorServer, data: bytes, status: int) -> None:
    got, message = json_error(raw(small_server, data))
    assert got == status and message, (got, message)


def test_head_answers_like_get_without_a_body(small_server: AnnotatorServer) -> None:
    for path in ("/", "/api/videos", "/api/videos/0001/frames/0"):
        status, body, response = request(small_server, "HEAD", path)
        assert status == 200 and body == b"" and int(response.getheader("Content-Length")) > 0


def test_broken_motion_file_is_a_4xx_without_the_absolute_path(
    small_server: AnnotatorServer, small_dataset: Dataset
) -> None:
    small_dataset.video("0001").motion_path.write_text("{ broken")
    for path in ("/api/videos/0001/motion", "/api/videos/0001/revision"):
        status, payload, _ = request(small_server, "GET", path)
        message = json.loads(payload)["error"]
        assert status == 409 and "videos/0001/motion.json" in message
        assert str(small_dataset.root) not in message and "/tmp" not in message
    listing = get_json(small_server, "/api/videos")  # the list still opens, with the reason
    first = listing["videos"][0]
    assert first["review"] is None and "malformed JSON" in first["motion_error"]
    assert str(small_dataset.root) not in json.dumps(listing)


def test_a_burst_of_connections_is_served_without_resets(small_server: AnnotatorServer) -> None:
    results: list[int | str] = []

    def one() -> None:
        try:
            status, _, _ = request(small_server, "GET", "/api/videos/0001/frames/0/boxes")
            results.append(status)
        except OSError as error:
            results.append(repr(error))

    threads = [threading.Thread(target=one) for _ in range(80)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert results == [200] * 80


def test_a_silent_connection_is_closed(
    small_dataset: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server_module._Handler, "timeout", 0.5)
    server = serve(small_dataset)
    server.start_in_thread()
    try:
        host, port = server.server_address[:2]
        with socket.create_connection((host, port), timeout=10) as connection:
            connection.sendall(b"GET /api/videos HTTP/1.1\r\n")  # and then nothing
            assert connection.recv(100) == b""  # closed by the server, not left hanging
    finally:
        server.shutdown()
        server.server_close()


def test_another_address_keeps_a_host_check(small_dataset: Dataset) -> None:
    server = serve(small_dataset, host="127.0.0.2", allow_hosts=["annotate.example"])
    server.start_in_thread()
    try:
        port = server.server_address[1]
        for host, status in (
            (f"127.0.0.2:{port}", 200),
            ("annotate.example", 200),
            ("evil.example", 400),
            (f"evil.example:{port}", 400),
        ):
            got, payload, _ = request(server, "GET", "/api/videos", headers={"Host": host})
            assert got == status, (host, payload)
    finally:
        server.shutdown()
        server.server_close()
    assert "evil.example" not in host_names("0.0.0.0")
    assert {"127.0.0.1", "localhost", "[::1]"} <= host_names("0.0.0.0")


def test_two_processes_adding_labels_both_keep_theirs(tmp_path: Path) -> None:
    root = build_small_dataset(tmp_path / "d").root
    first, second = AnnotatorApi(Dataset.open(root)), AnnotatorApi(Dataset.open(root))
    for api, label in ((first, "reversing"), (second, "making a U-turn"), (first, "parking")):
        answer = api.handle(
            "POST", "/api/vocabulary/motion_labels", json.dumps({"label": label}).encode()
        )
        assert answer.status == 200
    labels = Dataset.open(root).manifest.vocabulary.motion_labels
    assert labels[-3:] == ["reversing", "making a U-turn", "parking"]
    # each sees the other's labels without a restart, and may use them
    seen = json.loads(second.handle("GET", "/api/vocabulary", b"").body)["motion_labels"]
    assert seen[-3:] == labels[-3:]
