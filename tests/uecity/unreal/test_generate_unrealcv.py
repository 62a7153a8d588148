"""`uecity generate --backend unrealcv` end to end against `serve-sim` on a real socket."""

from __future__ import annotations

import time
from itertools import pairwise
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from tests.uecity.unreal.conftest import ServerFactory
from uecity.cli import app
from uecity.dataset import Dataset
from uecity.unreal.catalog import DEFAULT_CATALOG, AssetCatalog, AssetEntry
from uecity.unreal.emulator.engine import EngineBehaviour
from uecity.unreal.emulator.server import FaultPlan
from uecity.validate import validate_dataset

runner = CliRunner()
SMALL = ["--videos", "1", "--frames", "12", "--seed", "3"]


@pytest.fixture(scope="module")
def spec_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("spec") / "small.yaml"
    path.write_text(
        yaml.safe_dump(
            {"capture": {"width": 320, "height": 180, "fps": 10}, "run": {"warmup_s": 20}}
        )
    )
    return path


def generate(spec_file: Path, out: Path, *args: str) -> object:
    return runner.invoke(app, ["generate", str(spec_file), "--out", str(out), *SMALL, *args])


def boxes(out: Path) -> pd.DataFrame:
    dataset = Dataset.open(out)
    return dataset.video(dataset.videos[0]).boxes().to_arrow().to_pandas()


@pytest.fixture(scope="module")
def sim_boxes(spec_file: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    """The `sim` backend's boxes for the same spec and seed, per video."""
    out = tmp_path_factory.mktemp("sim") / "sim"
    result = generate(spec_file, out, "--videos", "2")
    assert result.exit_code == 0, result.output
    dataset = Dataset.open(out)
    return {v: dataset.video(v).boxes().to_arrow().to_pandas() for v in dataset.videos}


@pytest.mark.parametrize(
    ("platform", "faults"),
    [("linux", None), ("windows", FaultPlan(drop_at_requests={150, 420, 900}))],
)
def test_unreal_boxes_match_the_sim_backends(
    start_server: ServerFactory,
    spec_file: Path,
    tmp_path: Path,
    sim_boxes: dict[str, pd.DataFrame],
    platform: str,
    faults: FaultPlan | None,
) -> None:
    """The issue's bar: a cooked build on Linux (one TCP session) and on Windows (with drops),
    two videos, boxes within 1 px of the sim backend for the same spec and seed."""
    server = start_server(
        faults=faults, behaviour=EngineBehaviour(platform=platform, build="packaged")
    )  # type: ignore[arg-type]
    endpoint = f"127.0.0.1:{server.port}"
    result = generate(spec_file, tmp_path / "ue", "--backend", "unrealcv", "--endpoint", endpoint,
                      "--videos", "2")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert validate_dataset(tmp_path / "ue").ok
    if faults is None:
        assert server.connections == 1  # one connection for the whole run
    else:
        assert server.connections >= 3  # really dropped, and resumed
    dataset = Dataset.open(tmp_path / "ue")
    assert dataset.videos == ["video_0000", "video_0001"]
    for video_id in dataset.videos:
        ue, sim = dataset.video(video_id).boxes().to_arrow().to_pandas(), sim_boxes[video_id]
        both = ue.merge(sim, on=["frame", "track_id"], suffixes=("_ue", "_sim"))
        assert len(both) == len(sim) == len(ue) > 50
        for c in ("x1", "y1", "x2", "y2"):
            assert (both[f"{c}_ue"] - both[f"{c}_sim"]).abs().max() <= 1.0
        assert dataset.video(video_id).info.backend == "unrealcv"
        objects = dataset.video(video_id).objects()
        assert all(o.asset and o.asset.startswith("/Game/UECity/") for o in objects)
    spawned = [e.command.split()[-1] for e in server.request_log if "/objects/spawn" in e.command]
    assert len(spawned) == len(set(spawned))  # no name twice
    leftovers = [n for n in server.engine.objects if n.startswith(("uecity_", "FusionCamera"))]
    assert leftovers == []  # actors and cameras destroyed with their video


def test_a_linux_engine_lost_over_tcp_is_one_clear_error_and_resume_continues(
    start_server: ServerFactory, spec_file: Path, tmp_path: Path
) -> None:
    hidden = tmp_path / "engine-host"  # its Unix socket is not on this host
    hidden.mkdir()
    server = start_server(faults=FaultPlan(drop_at_requests={800}), socket_folder=hidden)
    args = ["--backend", "unrealcv", "--endpoint", f"127.0.0.1:{server.port}", "--videos", "2",
            "--connect-timeout", "2"]  # fmt: skip
    result = generate(spec_file, tmp_path / "ue", *args)
    assert result.exit_code == 6, result.output
    assert "Restart the engine, then run the same command with --resume" in result.output
    assert "Traceback" not in result.output
    done = sorted(p.name for p in (tmp_path / "ue" / "videos").iterdir())
    assert done == ["video_0000"]  # the finished video is kept
    restarted = start_server(socket_folder=hidden)  # the engine, started again
    args[3] = f"127.0.0.1:{restarted.port}"
    result = generate(spec_file, tmp_path / "ue", *args, "--resume")
    assert result.exit_code == 0, result.output
    assert Dataset.open(tmp_path / "ue").videos == ["video_0000", "video_0001"]
    assert validate_dataset(tmp_path / "ue").ok


def test_frequent_drops_end_in_one_clear_error_not_a_traceback(
    start_server: ServerFactory, spec_file: Path, tmp_path: Path
) -> None:
    """Issue 16: `serve-sim --drop-every 15` let `ConnectionLost` escape a reconnection."""
    server = start_server(
        faults=FaultPlan(drop_every=15), behaviour=EngineBehaviour(platform="windows")
    )
    result = generate(spec_file, tmp_path / "ue", "--backend", "unrealcv", "--endpoint",
                      f"127.0.0.1:{server.port}", "--connect-timeout", "2")  # fmt: skip
    assert result.exit_code == 6, result.output
    assert isinstance(result.exception, SystemExit)
    assert "lost the Unreal Engine" in result.output and "Traceback" not in result.output


def test_the_request_timeout_is_set_from_the_command_line(spec_file: Path, tmp_path: Path) -> None:
    import socket
    import threading

    from uecity.unreal import wire

    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def greet_and_hang() -> None:  # an engine that greets, then never answers
        conn, _ = listener.accept()
        wire.send_message(conn, b"connected to Hung")
        held.append(conn)

    threading.Thread(target=greet_and_hang, daemon=True).start()
    started = time.monotonic()
    result = generate(spec_file, tmp_path / "ue", "--backend", "unrealcv", "--endpoint",
                      f"127.0.0.1:{listener.getsockname()[1]}", "--connect-timeout", "1",
                      "--request-timeout", "0.5")  # fmt: skip
    listener.close()
    assert result.exit_code == 6, result.output
    assert "within 0.5 s" in result.output and time.monotonic() - started < 30


def test_meshes_bigger_than_the_catalog_says_are_reported(
    start_server: ServerFactory,
    spec_file: Path,
    tmp_path: Path,
    catalog: AssetCatalog,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def grown(asset: AssetEntry) -> AssetEntry:
        big = asset.category == "vehicle" and asset.type == "car"
        size = tuple(s * (1.5 if big else 1.0) for s in asset.size_m)
        return asset.model_copy(update={"size_m": size})

    engine_catalog = catalog.model_copy(update={"assets": [grown(a) for a in catalog.assets]})
    for engine, warned in ((None, False), (engine_catalog, True)):
        caplog.clear()
        server = start_server(engine_catalog=engine)
        args = ["--backend", "unrealcv", "--endpoint", f"127.0.0.1:{server.port}"]
        result = generate(spec_file, tmp_path / str(warned), *args)
        assert result.exit_code == 0, result.output
        cut = [r.getMessage() for r in caplog.records if "beyond their projected" in r.message]
        assert bool(cut) is warned, cut
    assert "/Game/UECity/Vehicles/BP_Car" in cut[0] and "BP_Bus" not in cut[0]


def test_dropped_connections_leave_a_complete_identical_dataset(
    start_server: ServerFactory, spec_file: Path, tmp_path: Path
) -> None:
    clean = start_server()
    args = ["--backend", "unrealcv", "--endpoint", f"127.0.0.1:{clean.port}"]
    assert generate(spec_file, tmp_path / "clean", *args).exit_code == 0
    faulty = start_server(faults=FaultPlan(drop_every=400, restart_engine_on_drop=True),
                          behaviour=EngineBehaviour(platform="windows"))  # fmt: skip
    args = ["--backend", "unrealcv", "--endpoint", f"127.0.0.1:{faulty.port}"]
    result = generate(spec_file, tmp_path / "faulty", *args)
    assert result.exit_code == 0, result.output
    assert faulty.connections >= 3  # it really was dropped, and came back
    pd.testing.assert_frame_equal(boxes(tmp_path / "faulty"), boxes(tmp_path / "clean"))
    frames = sorted(p.name for p in (tmp_path / "faulty/videos/video_0000/frames").iterdir())
    assert frames == [f"{i:06d}.jpg" for i in range(12)]


def test_an_endpoint_that_never_answers_fails_fast_and_writes_nothing(
    spec_file: Path, tmp_path: Path
) -> None:
    import socket

    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never greets
        endpoint = f"127.0.0.1:{silent.getsockname()[1]}"
        started = time.monotonic()
        result = generate(spec_file, tmp_path / "out", "--backend", "unrealcv", "--endpoint",
                          endpoint, "--connect-timeout", "1")  # fmt: skip
    assert result.exit_code == 6
    assert f"the UnrealCV server at {endpoint} accepts TCP connections but never greets" in (
        result.output
    )
    assert time.monotonic() - started < 10
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--workers", "2"], 2, "--workers must be 1 with the unrealcv backend"),
        (["--endpoint", "localhost"], 2, "is not HOST:PORT"),
        (["--endpoint", "unix:"], 2, "names no socket"),
    ],
)
def test_impossible_unreal_requests_are_refused(
    spec_file: Path, tmp_path: Path, args: list[str], code: int, message: str
) -> None:
    result = generate(spec_file, tmp_path / "out", "--backend", "unrealcv", *args)
    assert result.exit_code == code, result.output
    assert message in result.output
    assert not (tmp_path / "out").exists()


def test_a_catalog_without_an_asset_is_refused_before_the_run(
    start_server: ServerFactory, spec_file: Path, tmp_path: Path
) -> None:
    catalog = yaml.safe_load(DEFAULT_CATALOG.read_text())
    catalog["assets"] = [a for a in catalog["assets"] if a["type"] != "bus"]
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(catalog))
    server = start_server()
    result = generate(spec_file, tmp_path / "out", "--backend", "unrealcv", "--endpoint",
                      f"127.0.0.1:{server.port}", "--catalog", str(path))  # fmt: skip
    assert result.exit_code == 3, result.output
    assert "no asset for vehicle/bus" in result.output
    assert not (tmp_path / "out").exists()
    assert server.connections == 0


def test_observe_mode_records_the_engines_own_traffic(
    start_server: ServerFactory, network: object, tmp_path: Path
) -> None:
    from uecity.scene.spec import SceneSpec
    from uecity.unreal.emulator.traffic import EngineTraffic

    traffic = EngineTraffic(SceneSpec(), network, tick_s=0.01, seed=1)  # type: ignore[arg-type]
    try:
        server = start_server(tick_s=0.01, traffic=traffic)
        spec = tmp_path / "observe.yaml"
        spec.write_text(yaml.safe_dump({
            "capture": {"width": 320, "height": 180, "fps": 10},
            "run": {"warmup_s": 0.2, "backend": "unrealcv", "mode": "observe"},
        }))  # fmt: skip
        result = runner.invoke(app, ["generate", str(spec), "--out", str(tmp_path / "obs"),
                                     "--videos", "1", "--frames", "8", "--endpoint",
                                     f"127.0.0.1:{server.port}"])  # fmt: skip
    finally:
        server.stop()  # before the traffic it ticks
        traffic.close()
    assert result.exit_code == 0, result.output
    assert validate_dataset(tmp_path / "obs").ok
    video = Dataset.open(tmp_path / "obs").video("video_0000")
    objects = video.objects()
    assert len(objects) >= 5
    assert {o.category for o in objects} <= {"vehicle", "pedestrian"}
    assert all(o.asset and o.asset.startswith("engine/traffic_") for o in objects)
    assert any(o.colour_name is not None for o in objects)  # estimated where seen enough
    assert video.motion().intervals == []  # left to the annotator
    times = video.info.frame_times_s  # the measured game times, not frame / fps
    assert times is not None and len(times) == 8 and times[0] == 0.0
    assert all(b > a for a, b in pairwise(times))
    table = video.boxes().to_arrow().to_pandas()
    assert table.frame.nunique() == 8 and len(table) > 20
    # The engine's traffic moved between frames: some actor's box changed.
    moved = table.groupby("track_id").x1.agg(lambda x: x.max() - x.min())
    assert moved.max() > 1.0


def test_observe_mode_records_what_the_catalogs_name_rules_say(
    start_server: ServerFactory,
    network: object,
    tmp_path: Path,
    catalog: AssetCatalog,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from uecity.scene.spec import SceneSpec
    from uecity.unreal.emulator.traffic import EngineTraffic

    vehicles = [a.model_dump() for a in catalog.assets if a.category == "vehicle"]
    rules = [
        {"pattern": r"^traffic_(car|suv)_\d+$", "category": "vehicle", "type": r"\1"},
        {"pattern": r"traffic_(adult|child)_\d+", "category": "pedestrian", "type": r"\1"},
    ]
    catalog_file = tmp_path / "catalog.yaml"
    catalog_file.write_text(yaml.safe_dump({"assets": vehicles, "observe": rules}))
    spec = tmp_path / "observe.yaml"
    spec.write_text(
        yaml.safe_dump(
            {
                "capture": {"width": 320, "height": 180, "fps": 10},
                "run": {"warmup_s": 0.2, "backend": "unrealcv", "mode": "observe"},
            }
        )
    )  # fmt: skip  (its demand has pedestrians, which this catalog has no asset for)
    traffic = EngineTraffic(SceneSpec(), network, tick_s=0.01, seed=1)  # type: ignore[arg-type]
    try:
        server = start_server(tick_s=0.01, traffic=traffic)
        result = runner.invoke(app, ["generate", str(spec), "--out", str(tmp_path / "obs"),
                                     "--videos", "1", "--frames", "6", "--endpoint",
                                     f"127.0.0.1:{server.port}", "--catalog",
                                     str(catalog_file)])  # fmt: skip
    finally:
        server.stop()  # before the traffic it ticks
        traffic.close()
    assert result.exit_code == 0, result.output
    objects = Dataset.open(tmp_path / "obs").video("video_0000").objects()
    assert objects and {(o.category, o.type) for o in objects} <= {("vehicle", "car"),
                                                                    ("vehicle", "suv")}  # fmt: skip
    skipped = [r.getMessage() for r in caplog.records if "no asset in the catalog" in r.message]
    kinds = [m.rsplit("; ", 1)[1].split()[0] for m in skipped]  # once per kind, not per actor
    assert (
        kinds
        and sorted(kinds) == sorted(set(kinds))
        and set(kinds) <= {"pedestrian/adult", "pedestrian/child"}
    )


def test_observe_mode_needs_an_engine(spec_file: Path, tmp_path: Path) -> None:
    result = generate(spec_file, tmp_path / "out", "--mode", "observe")
    assert result.exit_code == 2  # a command-line value that conflicts with the spec
    assert "use backend unrealcv" in result.output
