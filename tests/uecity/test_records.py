"""Every record type round-trips through its file format; invalid records are refused."""

from __future__ import annotations

import string
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tests.factories import as_video_boxes, build_small_dataset
from uecity.core.record_io import read_record, write_record
from uecity.dataset import Dataset
from uecity.records import (
    BoxRow,
    CameraExtrinsics,
    CameraIntrinsics,
    CameraModel,
    DatasetManifest,
    Expression,
    GeneratorInfo,
    LogicNode,
    MotionFile,
    MotionInterval,
    ObjectRecord,
    ObjectsFile,
    VideoInfo,
    Vocabulary,
)

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
text = st.text(min_size=1, max_size=20)
video_ids = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,10}", fullmatch=True)
track_ids = st.integers(0, 2**31 - 1)
frames = st.integers(0, 100_000)
slugs = st.from_regex(r"[a-z0-9]{1,8}(?:[-_][a-z0-9]{1,8}){0,3}", fullmatch=True)
rgb = st.tuples(*[st.integers(0, 255)] * 3)

manifests = st.builds(
    DatasetManifest,
    name=text,
    videos=st.lists(video_ids, unique=True, max_size=5),
    vocabulary=st.builds(Vocabulary, motion_labels=st.lists(text, max_size=4)),
    generator=st.builds(GeneratorInfo, name=text, version=text),
    spec=st.none() | st.dictionaries(st.text(string.ascii_letters, min_size=1), st.integers()),
    seed=st.none() | st.integers(0, 2**63),
).map(lambda m: m.model_copy(update={"splits": {"train": m.videos[:1]}}))


@st.composite
def video_infos(draw: st.DrawFn) -> VideoInfo:
    width, height = draw(st.integers(16, 4096)), draw(st.integers(16, 4096))
    return VideoInfo(
        video_id=draw(video_ids),
        width=width,
        height=height,
        fps=draw(st.floats(0.5, 240)),
        num_frames=draw(st.integers(0, 10_000)),
        image_format=draw(st.sampled_from(["jpg", "png"])),
        backend=draw(text),
        seed=draw(st.none() | st.integers(0, 2**32)),
        camera=CameraModel(
            intrinsics=CameraIntrinsics(
                fx=draw(st.floats(1, 1e4)),
                fy=draw(st.floats(1, 1e4)),
                cx=draw(st.floats(0, width)),
                cy=draw(st.floats(0, height)),
            ),
            extrinsics=CameraExtrinsics(
                position_m=draw(st.tuples(finite, finite, finite)),
                yaw_deg=draw(st.floats(-360, 360)),
                pitch_deg=draw(st.floats(-90, 90)),
                roll_deg=draw(st.floats(-180, 180)),
            ),
        ),
        scene=draw(
            st.dictionaries(
                st.text(string.ascii_letters, min_size=1),
                st.integers() | st.booleans() | text,
                max_size=3,
            )
        ),
    )


objects_files = st.lists(
    st.builds(
        ObjectRecord,
        track_id=track_ids,
        category=st.sampled_from(["vehicle", "pedestrian", "cyclist"]),
        type=text,
        colour_name=st.none() | text,
        colour_rgb=st.none() | rgb,
        size_m=st.none() | st.tuples(*[st.floats(0.01, 30)] * 3),
        asset=st.none() | text,
    ),
    unique_by=lambda o: o.track_id,
    max_size=6,
).map(lambda objects: ObjectsFile(objects=objects))


@st.composite
def intervals(draw: st.DrawFn) -> MotionInterval:
    start = draw(frames)
    return MotionInterval(
        track_id=draw(track_ids),
        label=draw(text),
        start=start,
        end=start + draw(st.integers(0, 1000)),
        source=draw(st.sampled_from(["auto", "manual"])),
        author=draw(st.none() | text),
        timestamp=draw(st.none() | st.datetimes(timezones=st.just(__import__("datetime").UTC))),
    )


motion_files = st.builds(
    MotionFile, revision=st.integers(0, 10**6), intervals=st.lists(intervals(), max_size=5)
)

atoms = st.builds(LogicNode, op=st.just("atom"), atom=text)
logic = st.recursive(
    atoms,
    lambda children: st.builds(
        LogicNode,
        op=st.sampled_from(["and", "or"]),
        args=st.lists(children, min_size=2, max_size=3),
    ),
    max_leaves=6,
)
expressions = st.builds(
    Expression,
    label=st.dictionaries(
        frames.map(str), st.lists(track_ids, unique=True, max_size=4), max_size=6
    ),
    video_name=video_ids,
    sentence=text,
    expression_id=slugs,
    atoms=st.lists(text, max_size=4),
    logic=st.none() | logic,
)

JSON_RECORDS = {
    "manifest": (manifests, DatasetManifest),
    "video": (video_infos(), VideoInfo),
    "objects": (objects_files, ObjectsFile),
    "motion": (motion_files, MotionFile),
    "expression": (expressions, Expression),
}


@pytest.mark.parametrize("kind", list(JSON_RECORDS))
def test_json_records_round_trip(tmp_path: Path, kind: str) -> None:
    strategy, model = JSON_RECORDS[kind]

    @settings(
        max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(record=strategy)
    def round_trip(record: object) -> None:
        path = tmp_path / f"{kind}.json"
        write_record(path, record)
        assert read_record(path, model) == record
        first = path.read_bytes()
        write_record(path, read_record(path, model))
        assert path.read_bytes() == first  # same record, same bytes

    round_trip()


@st.composite
def box_rows(draw: st.DrawFn) -> BoxRow:
    x1, y1 = draw(st.floats(0, 1000)), draw(st.floats(0, 1000))
    amodal = draw(st.booleans())
    return BoxRow(
        frame=draw(st.integers(0, 2**31 - 1)),
        track_id=draw(track_ids),
        x1=x1,
        y1=y1,
        x2=x1 + draw(st.floats(0.01, 500)),
        y2=y1 + draw(st.floats(0.01, 500)),
        visibility=draw(st.floats(0, 1, width=32)),
        truncation=draw(st.floats(0, 1, width=32)),
        **(
            {"amodal_x1": x1 - 1, "amodal_y1": y1 - 1, "amodal_x2": x1 + 9, "amodal_y2": y1 + 9}
            if amodal
            else {}
        ),
    )


def test_box_rows_round_trip_through_parquet(tmp_path: Path) -> None:
    dataset = build_small_dataset(tmp_path / "d", videos=("v",))
    video = dataset.video("v")

    @settings(max_examples=40, deadline=None)
    @given(
        rows=st.lists(box_rows(), max_size=8, unique_by=lambda r: (r.frame, r.track_id)),
        with_amodal=st.booleans(),
    )
    def round_trip(rows: list[BoxRow], with_amodal: bool) -> None:
        if not with_amodal:
            rows = [
                r.model_copy(
                    update={
                        "amodal_x1": None,
                        "amodal_y1": None,
                        "amodal_x2": None,
                        "amodal_y2": None,
                    }
                )
                for r in rows
            ]
        columns = list(BoxRow.model_fields) if with_amodal else list(BoxRow.model_fields)[:8]
        frame = pd.DataFrame([r.model_dump() for r in rows], columns=columns)
        video.write_boxes(as_video_boxes(frame))
        back = [BoxRow.model_validate(r) for r in video.boxes().to_arrow().to_pylist()]
        assert back == sorted(rows, key=lambda r: (r.frame, r.track_id))
        assert len(video.boxes()) == len(rows)

    round_trip()


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda: BoxRow(frame=0, track_id=0, x1=5, y1=0, x2=5, y2=3, visibility=1, truncation=0),
            "empty or inverted box",
        ),
        (
            lambda: MotionInterval(track_id=0, label="x", start=4, end=3, source="auto"),
            "before it starts",
        ),
        (
            lambda: MotionInterval(track_id=0, label="x", start=0, end=3, source="robot"),
            "'auto' or 'manual'",
        ),
        (
            lambda: ObjectsFile(
                objects=[ObjectRecord(track_id=1, category="vehicle", type="car")] * 2
            ),
            "track ids listed twice",
        ),
        (lambda: LogicNode(op="and", args=[LogicNode(op="atom", atom="a")]), "two or more"),
        (
            lambda: Expression(
                label={"1": [2, 2]}, video_name="v", sentence="s", expression_id="e"
            ),
            "lists a track id twice",
        ),
        (
            lambda: Expression(label={}, video_name="v", sentence="s", expression_id="Bad Id"),
            "should match pattern",
        ),
        (
            lambda: DatasetManifest(
                name="n", videos=["a", "a"], generator=GeneratorInfo(name="g", version="1")
            ),
            "listed twice",
        ),
        (lambda: ObjectRecord(track_id=-1, category="vehicle", type="car"), "greater than"),
        (lambda: _video_with_times((0.0, 0.1)), "2 times for 3 frames"),
        (lambda: _video_with_times((0.0, 0.2, 0.1)), "must not decrease"),
    ],
)
def test_invalid_records_are_refused(build, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        build()


def test_logic_tree_lists_its_atoms() -> None:
    tree = LogicNode(
        op="or",
        args=[
            LogicNode(
                op="and",
                args=[
                    LogicNode(op="atom", atom="type=car"),
                    LogicNode(op="atom", atom="motion=turning-left"),
                ],
            ),
            LogicNode(op="atom", atom="category=pedestrian"),
        ],
    )
    assert tree.atoms() == ["type=car", "motion=turning-left", "category=pedestrian"]


def test_dataset_opened_again_equals_what_was_written(tmp_path: Path) -> None:
    written = build_small_dataset(tmp_path / "d")
    opened = Dataset.open(tmp_path / "d")
    assert opened.manifest == written.manifest
    assert opened.video("0001").expressions()[0].referents_at(3) == [0]


def _video_with_times(times: tuple[float, ...] | None) -> VideoInfo:
    camera = CameraModel(
        intrinsics=CameraIntrinsics(fx=100, fy=100, cx=32, cy=16),
        extrinsics=CameraExtrinsics(position_m=(0, 0, 10), yaw_deg=0, pitch_deg=-30),
    )
    return VideoInfo(
        video_id="v", width=64, height=32, fps=10, num_frames=3, image_format="jpg",
        backend="unrealcv", camera=camera, frame_times_s=times,
    )  # fmt: skip


def test_frame_times_are_written_only_where_measured() -> None:
    assert "frame_times_s" not in _video_with_times(None).model_dump(mode="json")
    measured = _video_with_times((0.0, 0.13, 0.21)).model_dump(mode="json")
    assert measured["frame_times_s"] == [0.0, 0.13, 0.21]
