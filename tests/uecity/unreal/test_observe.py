"""Observe mode against the faithful `serve-sim`: whole-name rules over `vget /objects` (which
lists the engine's own actors) and the game time that really passed between captures."""

from __future__ import annotations

import itertools
import logging

import pytest

from tests.uecity.unreal.conftest import ServerFactory, open_session
from tests.uecity.unreal.ring_scene import ring_camera
from uecity.scene.spec import SceneSpec
from uecity.traffic.network import Network
from uecity.unreal.backend import UnrealCvRenderer
from uecity.unreal.catalog import AssetCatalog
from uecity.unreal.emulator.traffic import EngineTraffic
from uecity.unreal.observe import EngineObserver


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
