"""The annotator's HTTP API against a real server on 127.0.0.1 (ephemeral port)."""

from __future__ import annotations

import http.client
import json
import socket
from typing import Any

import pytest

from annotator.server import AnnotatorServer
from uecity.dataset import Dataset


def request(
    server: AnnotatorServer,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes, http.client.HTTPResponse]:
    host, port = server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=10)
    data = None if body is None else json.dumps(body).encode()
    all_headers = {"Content-Type": "application/json"} if data is not None else {}
    all_headers.update(headers or {})
    connection.request(method, path, body=data, headers=all_headers)
    response = connection.getresponse()
    payload = response.read()
    connection.close()
    return response.status, payload, response


def get_json(server: AnnotatorServer, path: str) -> Any:
    status, payload, _ = request(server, "GET", path)
    assert status == 200, payload
    return json.loads(payload)


def test_binds_loopback_by_default(small_server: AnnotatorServer) -> None:
    assert small_server.server_address[0] == "127.0.0.1"
    assert small_server.socket.getsockname()[0] == "127.0.0.1"


def test_page_and_static_files(small_server: AnnotatorServer) -> None:
    for path, kind in (
        ("/", "text/html"),
        ("/static/app.js", "text/javascript"),
        ("/static/style.css", "text/css"),
    ):
        status, _, response = request(small_server, "GET", path)
        assert status == 200 and response.getheader("Content-Type").startswith(kind)


def test_video_list_meta_and_boxes(small_server: AnnotatorServer) -> None:
    listing = get_json(small_server, "/api/videos")
    assert [v["video_id"] for v in listing["videos"]] == ["0001", "0002"]
    meta = get_json(small_server, "/api/videos/0001")
    assert (meta["width"], meta["height"], meta["num_frames"]) == (64, 48, 5)
    assert [t["track_id"] for t in meta["tracks"]] == [0, 1, 2]
    assert meta["tracks"][2]["first_frame"] == 3 and meta["tracks"][1]["last_frame"] == 2
    boxes = meta["boxes"]
    assert boxes["frame_offsets"] == [0, 2, 4, 6, 8, 10]
    assert boxes["track_id"][:2] == [0, 1]
    assert boxes["xyxy"][:4] == [2.0, 4.0, 20.0, 16.0]
    frame = get_json(small_server, "/api/videos/0001/frames/4/boxes")
    assert frame == {
        "frame": 4,
        "track_id": [0, 2],
        "xyxy": [[6.0, 4.0, 24.0, 16.0], [40.0, 20.0, 46.0, 40.0]],
    }


def test_frame_images(small_server: AnnotatorServer, small_dataset: Dataset) -> None:
    status, data, response = request(small_server, "GET", "/api/videos/0001/frames/2")
    assert status == 200 and response.getheader("Content-Type") == "image/png"
    assert data == small_dataset.video("0001").frame_path(2).read_bytes()
    status, _, response = request(small_server, "GET", "/api/videos/0002/frames/0")
    assert status == 200 and response.getheader("Content-Type") == "image/jpeg"


def test_big_payloads_are_gzipped(small_server: AnnotatorServer) -> None:
    status, _, response = request(
        small_server, "GET", "/api/videos/0001", headers={"Accept-Encoding": "gzip"}
    )
    assert status == 200 and response.getheader("Content-Encoding") == "gzip"


@pytest.mark.parametrize(
    "path",
    [
        "/api/videos/0001/frames/5",  # one past the end
        "/api/videos/0001/frames/-1",
        "/api/videos/0001/frames/1.5",
        "/api/videos/0001/frames/abc",
        "/api/videos/0001/frames/99999999999",
        "/api/videos/nope",
        "/api/videos/../../etc/passwd",
        "/api/videos/%2e%2e/%2e%2e/etc/passwd",
        "/api/videos/0001/frames/%2e%2e%2fvideo.json",
        "/static/../../../etc/passwd",
        "/static/%2e%2e/%2e%2e/etc/passwd",
        "/static/..%2f..%2fpyproject.toml",
        "/etc/passwd",
        "/api/nothing",
        "/api/videos/%ff",
    ],
)
def test_bad_paths_get_a_4xx_with_a_message(small_server: AnnotatorServer, path: str) -> None:
    status, payload, _ = request(small_server, "GET", path)
    assert 400 <= status < 500, (path, status)
    assert json.loads(payload)["error"]
    assert b"root:" not in payload


def test_raw_traversal_request_line(small_server: AnnotatorServer) -> None:
    """What curl --path-as-is would send: dots not normalised by any client."""
    host, port = small_server.server_address[:2]
    with socket.create_connection((host, port), timeout=5) as connection:
        connection.sendall(
            b"GET /static/../../../../etc/passwd HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Connection: close\r\n\r\n"
        )
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 404") and b"root:" not in answer


def test_motion_get_put_and_stale_revision(
    small_server: AnnotatorServer, small_dataset: Dataset
) -> None:
    motion = get_json(small_server, "/api/videos/0001/motion")
    assert motion["revision"] == 1 and len(motion["intervals"]) == 2
    new = [
        *motion["intervals"],
        {
            "track_id": 2,
            "label": "moving",
            "start": 3,
            "end": 4,
            "source": "manual",
            "author": "ada",
        },
    ]
    status, payload, _ = request(
        small_server, "PUT", "/api/videos/0001/motion", {"base_revision": 1, "intervals": new}
    )
    assert status == 200, payload
    saved = small_dataset.video("0001").motion()
    assert saved.revision == 2 and len(saved.intervals) == 3
    manual = next(i for i in saved.intervals if i.source == "manual")
    assert manual.author == "ada" and manual.timestamp is not None  # stamped by the server
    # a second tab still at revision 1 is refused and nothing changes
    status, payload, _ = request(
        small_server, "PUT", "/api/videos/0001/motion", {"base_revision": 1, "intervals": []}
    )
    assert status == 409 and "Conflict" in json.loads(payload)["error"]
    assert small_dataset.video("0001").motion() == saved


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (
            {
                "base_revision": 1,
                "intervals": [
                    {"track_id": 9, "label": "moving", "start": 0, "end": 1, "source": "auto"}
                ],
            },
            422,
        ),
        (
            {
                "base_revision": 1,
                "intervals": [
                    {"track_id": 0, "label": "moving", "start": 0, "end": 5, "source": "auto"}
                ],
            },
            422,
        ),
        (
            {
                "base_revision": 1,
                "intervals": [
                    {"track_id": 0, "label": "moving", "start": 0, "end": 2, "source": "auto"},
                    {"track_id": 0, "label": "moving", "start": 2, "end": 4, "source": "auto"},
                ],
            },
            422,
        ),
        (
            {
                "base_revision": 1,
                "intervals": [
                    {"track_id": 0, "label": "moving", "start": 0, "end": 1, "source": "manual"}
                ],
            },
            422,
        ),
        (
            {
                "base_revision": 1,
                "intervals": [
                    {"track_id": 0, "label": "moving", "start": 3, "end": 1, "source": "auto"}
                ],
            },
            400,
        ),
        (
            {
                "base_revision": 1,
                "intervals": [
                    {"track_id": 0, "label": "flying", "start": 0, "end": 1, "source": "auto"}
                ],
            },
            422,
        ),
        (
            {  # track 2 has boxes on frames 3-4 only
                "base_revision": 1,
                "intervals": [
                    {"track_id": 2, "label": "moving", "start": 1, "end": 4, "source": "auto"}
                ],
            },
            422,
        ),
        (
            {
                "base_revision": 1,
                "intervals": [
                    {
                        "track_id": 0,
                        "label": "moving",
                        "start": 0,
                        "end": 1,
                        "source": "manual",
                        "author": "  ",
                    }
                ],
            },
            422,
        ),
        (
            {
                "base_revision": 1,
                "intervals": [
                    {"track_id": -1, "label": "moving", "start": 0, "end": 1, "source": "auto"}
                ],
            },
            400,
        ),
        (
            {
                "base_revision": 1,
                "intervals": [
                    {"track_id": 0, "label": "moving", "start": 0, "end": 2**40, "source": "auto"}
                ],
            },
            400,
        ),
        ({"base_revision": 1}, 400),
        ({"base_revision": 1, "intervals": [], "extra": 1}, 400),
    ],
)
def test_bad_motion_puts_are_refused(
    small_server: AnnotatorServer, small_dataset: Dataset, body: Any, status: int
) -> None:
    got, payload, _ = request(small_server, "PUT", "/api/videos/0001/motion", body)
    assert got == status and json.loads(payload)["error"]
    assert small_dataset.video("0001").motion().revision == 1


def test_writes_need_json_and_a_sane_body(small_server: AnnotatorServer) -> None:
    status, _, _ = request(
        small_server, "PUT", "/api/videos/0001/motion", headers={"Content-Type": "text/plain"}
    )
    assert status == 415
    host, port = small_server.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=5)
    connection.request(
        "PUT",
        "/api/videos/0001/motion",
        body=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert connection.getresponse().status == 400
    status, _, _ = request(small_server, "DELETE", "/api/videos/0001/motion")
    assert status == 405


def test_foreign_host_header_is_refused(small_server: AnnotatorServer) -> None:
    status, _, _ = request(small_server, "GET", "/api/videos", headers={"Host": "evil.example"})
    assert status == 400


def edit(server: AnnotatorServer, body: dict[str, Any], author: str = "ada") -> tuple[int, Any]:
    status, payload, _ = request(
        server, "POST", "/api/videos/0001/motion/edits", {"author": author, **body}
    )
    return status, json.loads(payload)


def test_edits_name_their_interval_and_merge_onto_newer_revisions(
    small_server: AnnotatorServer, small_dataset: Dataset
) -> None:
    motion = get_json(small_server, "/api/videos/0001/motion")
    moving, stopped = motion["intervals"]  # track 0 'moving' 0-4, track 1 'stopped' 0-2
    status, answer = edit(
        small_server,
        {
            "base_revision": 1,
            "edit": "mark",
            "track_id": 2,
            "label": "turning left",
            "first_click": 4,
            "second_click": 3,
        },
    )
    assert status == 200 and answer["motion"]["revision"] == 2
    assert answer["selected"] == {
        **answer["selected"],
        "track_id": 2,
        "start": 3,
        "end": 4,
        "source": "manual",
        "author": "ada",
    }
    # a second annotator, still at revision 1, accepts another interval: merged, not refused
    status, answer = edit(
        small_server, {"base_revision": 1, "edit": "accept", "target": moving}, author="bo"
    )
    assert status == 200 and "merged onto revision 2" in answer["message"]
    accepted = answer["selected"]
    assert (accepted["source"], accepted["author"]) == ("auto", "bo")
    assert len(answer["motion"]["intervals"]) == 3
    # deleting `stopped` twice (a fast double Delete): the second is refused, nothing else goes
    status, answer = edit(small_server, {"base_revision": 3, "edit": "delete", "target": stopped})
    assert status == 200 and len(answer["motion"]["intervals"]) == 2
    assert answer["motion"]["history"] == [stopped]  # the generator's interval, kept
    status, answer = edit(small_server, {"base_revision": 4, "edit": "delete", "target": stopped})
    assert status == 409 and "no longer there" in answer["error"]
    # an edit of an interval someone changed meanwhile is refused too
    status, answer = edit(small_server, {"base_revision": 4, "edit": "accept", "target": moving})
    assert status == 409
    saved = small_dataset.video("0001").motion()
    assert saved.revision == 4 and len(saved.intervals) == 2 and saved.history[0].label == "stopped"


def test_mark_inside_an_automatic_interval_replaces_it_and_ends_are_clamped(
    small_server: AnnotatorServer, small_dataset: Dataset
) -> None:
    status, answer = edit(
        small_server,
        {
            "base_revision": 1,
            "edit": "mark",
            "track_id": 0,
            "label": "moving",
            "first_click": 1,
            "second_click": 2,
        },
    )
    assert status == 200, answer
    mine = [i for i in answer["motion"]["intervals"] if i["track_id"] == 0]
    assert [(i["start"], i["end"], i["source"]) for i in mine] == [(1, 2, "manual")]
    assert [(i["start"], i["end"]) for i in answer["motion"]["history"]] == [(0, 4)]
    # track 2 has boxes on frames 3-4 only: a mark from 0 is clamped, and says so
    status, answer = edit(
        small_server,
        {
            "base_revision": 2,
            "edit": "mark",
            "track_id": 2,
            "label": "moving",
            "first_click": 0,
            "second_click": 4,
        },
    )
    assert status == 200 and "clamped" in answer["message"]
    assert (answer["selected"]["start"], answer["selected"]["end"]) == (3, 4)
    status, answer = edit(
        small_server,
        {"base_revision": 3, "edit": "move", "target": answer["selected"], "start": 0},
    )
    assert status == 200 and answer["selected"]["start"] == 3


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"edit": "mark", "track_id": 2, "label": "flying"}, 422, "not a motion label"),
        ({"edit": "mark", "track_id": 7, "label": "moving"}, 422, "no track 7"),
        ({"edit": "mark", "track_id": -1, "label": "moving"}, 400, "track_id"),
        ({"edit": "mark", "track_id": 0, "label": "moving", "first_click": 2**40}, 400, "first"),
        ({"edit": "mark", "track_id": 0, "label": "moving", "second_click": 0}, 400, "first"),
        ({"edit": "move", "target": None}, 400, "needs 'target'"),
        ({"edit": "accept_all"}, 422, "say which"),
        ({"edit": "fly"}, 400, "edit"),
        ({"edit": "accept", "author": " "}, 400, "name"),
        ({"edit": "accept", "base_revision": 2**70}, 400, "base_revision"),
    ],
)
def test_bad_edits_are_refused_with_a_message(
    small_server: AnnotatorServer,
    small_dataset: Dataset,
    body: dict[str, Any],
    status: int,
    words: str,
) -> None:
    defaults = {"base_revision": 1, "first_click": 3, "second_click": 4}
    if "second_click" in body and "first_click" not in body:
        defaults.pop("first_click")
    got, answer = edit(small_server, {**defaults, **body})
    assert got == status and words in answer["error"], answer
    assert small_dataset.video("0001").motion().revision == 1


def test_bulk_accept_of_a_track_and_review_counts(small_server: AnnotatorServer) -> None:
    listing = get_json(small_server, "/api/videos")
    assert listing["videos"][0]["review"] == {"unreviewed": 2, "accepted": 0, "corrected": 0}
    status, answer = edit(small_server, {"base_revision": 1, "edit": "accept_all", "track_id": 1})
    assert status == 200 and "accepted 1 unreviewed" in answer["message"]
    listing = get_json(small_server, "/api/videos")
    assert listing["videos"][0]["review"] == {"unreviewed": 1, "accepted": 1, "corrected": 0}
    status, answer = edit(small_server, {"base_revision": 2, "edit": "accept_all", "track_id": 1})
    assert status == 200 and answer["motion"]["revision"] == 2  # nothing left: no new revision
    assert get_json(small_server, "/api/videos/0001/revision") == {
        "revision": 2,
        "motion_labels": get_json(small_server, "/api/vocabulary")["motion_labels"],
    }


def test_add_motion_label_persists_in_the_manifest(
    small_server: AnnotatorServer, small_dataset: Dataset
) -> None:
    status, payload, _ = request(
        small_server, "POST", "/api/vocabulary/motion_labels", {"label": "  making a U-turn "}
    )
    assert status == 200 and json.loads(payload)["motion_labels"][-1] == "making a U-turn"
    assert Dataset.open(small_dataset.root).manifest.vocabulary.motion_labels[-1] == (
        "making a U-turn"
    )
    status, _, _ = request(small_server, "POST", "/api/vocabulary/motion_labels", {"label": ""})
    assert status == 400
