"""Observe mode against the faithful `serve-sim`: whole-name rules over `vget /objects` (which
lists the engine's own actors) and the game time that really passed between captures."""

from __future__ import annotations

import itertools
import logging
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.uecity.unreal.conftest import ServerFactory, open_session
from tests.uecity.unreal.ring_scene import ring_camera
from uecity.cli import app
from uecity.dataset import Dataset
from uecity.generate.run import execute_run, plan_run
from uecity.language.vocabulary import load_vocabulary
from uecity.records import MotionInterval
from uecity.scene.spec import SceneSpec, parse_spec
from uecity.traffic.network import Network
from uecity.unreal.backend import UnrealCvOptions, UnrealCvRenderer, UnrealCvSettings
from uecity.unreal.catalog import AssetCatalog
from uecity.unreal.connection import Endpoint
from uecity.unreal.emulator.traffic import EngineTraffic
from uecity.unreal.observe import EngineObserver
from uecity.validate import validate_dataset


def test_observe_records_measured_times_and_only_the_traffic(
    start_server: ServerFactory,
    network: Network,
    catalog: AssetCatalog,
    caplog: pytest.LogCaptureFixture,
) -> None:
    traffic = EngineTraffic(SceneSpec(), network, tick_s=0.01, seed=1)
    try:
        server = start_server(tick_s=0.01, traffic=traffic)
        observer = EngineObserver(UnrealCvRenderer(ring_camera(), open_session(server.port),
                                                   catalog), fps=20)  # fmt: skip
        observer.warm_up(0.3)
        with caplog.at_level(logging.WARNING):
            worlds = list(observer.frames(4))
        observer.close()
    finally:
        server.stop()  # before the traffic it ticks
        traffic.close()
    times = [w.time_s for w in worlds]
    assert times == observer.timestamps_s and times[0] == 0.0
    intervals = [b - a for a, b in itertools.pairwise(times)]
    assert all(i >= 0.05 for i in intervals)  # at least the 1/fps slept; as measured, not 1/fps
    names = {a.sumo_id for w in worlds for a in w.actors}
    assert names and all(n.startswith("traffic_") for n in names)  # not BP_Bush_C_1, not cameras


def test_observe_mode_never_invents_a_colour(
    start_server: ServerFactory, network: Network, tmp_path: Path
) -> None:
    """Engine actors whose colour was never seen well enough stay colourless in objects.json
    (not "grey"), the dataset validates, and `compose` refers to none of them by a colour."""
    spec = parse_spec(
        {
            "capture": {"width": 320, "height": 180, "fps": 10},
            "run": {
                "warmup_s": 0.2,
                "backend": "unrealcv",
                "mode": "observe",
                "frames": 6,
                "videos": 1,
            },
        }
    )
    traffic = EngineTraffic(SceneSpec(), network, tick_s=0.01, seed=1)
    try:
        server = start_server(tick_s=0.01, traffic=traffic)
        settings = UnrealCvSettings(
            endpoint=Endpoint("127.0.0.1", server.port),
            options=UnrealCvOptions(min_colour_pixels=10**9),  # no actor is ever seen enough
        )
        execute_run(plan_run(spec, tmp_path / "obs", unrealcv=settings))
    finally:
        server.stop()  # before the traffic it ticks
        traffic.close()
    video = Dataset.open(tmp_path / "obs").video("video_0000")
    objects = video.objects()
    assert objects and all(o.colour_name is None and o.colour_rgb is None for o in objects)
    assert validate_dataset(tmp_path / "obs").ok
    boxes = video.boxes()  # the annotator's step: every track "moving" over its life
    video.write_motion(
        [
            MotionInterval(
                track_id=o.track_id,
                label="moving",
                start=int(life.min()),
                end=int(life.max()),
                source="manual",
                author="test",
            )
            for o in objects
            for life in [boxes.by_track(o.track_id).frame]
        ]
    )
    result = CliRunner().invoke(
        app, ["compose", str(tmp_path / "obs"), "--min-objects", "1", "--min-frames", "1"]
    )
    assert result.exit_code == 0, result.output
    expressions = video.expressions()
    assert expressions  # category and position elements still make expressions
    colour_atoms = {a.id for a in load_vocabulary().atoms if a.attribute == "colour"}
    colour_words = {w for a in load_vocabulary().atoms if a.attribute == "colour"
                    for w in a.adjective}  # fmt: skip
    for expression in expressions:
        assert not colour_atoms & set(expression.atoms), expression.sentence
        assert not colour_words & set(expression.sentence.split()), expression.sentence
