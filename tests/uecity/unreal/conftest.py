"""A real UnrealCV-protocol server (`serve-sim`) on an ephemeral loopback port, per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from uecity.scene.spec import IntersectionSpec
from uecity.traffic.network import Network, build_network
from uecity.unreal.catalog import AssetCatalog, load_catalog
from uecity.unreal.connection import Endpoint, UnrealCvConnection
from uecity.unreal.emulator.engine import EngineBehaviour, SimEngine
from uecity.unreal.emulator.server import FaultPlan, SimServer
from uecity.unreal.emulator.traffic import EngineTraffic
from uecity.unreal.session import EngineSession, close_all_sessions


@pytest.fixture(scope="session")
def network(tmp_path_factory: pytest.TempPathFactory) -> Network:
    return build_network(IntersectionSpec(), tmp_path_factory.mktemp("net"))


@pytest.fixture(scope="session")
def catalog() -> AssetCatalog:
    return load_catalog()


ServerFactory = Callable[..., SimServer]


def open_session(port: int | str, **timeouts: float) -> EngineSession:
    """A connected engine session to serve-sim on `port` (or an endpoint's text)."""
    endpoint = Endpoint.parse(port if isinstance(port, str) else f"127.0.0.1:{port}")
    options = {"connect_timeout_s": 5.0, "request_timeout_s": 10.0, **timeouts}
    session = EngineSession(UnrealCvConnection(endpoint, **options))
    session.connection.connect()
    return session


@pytest.fixture()
def start_server(network: Network, catalog: AssetCatalog) -> Iterator[ServerFactory]:
    servers: list[SimServer] = []

    def start(
        *,
        tick_s: float = 0.0,
        faults: FaultPlan | None = None,
        log_path: Path | None = None,
        traffic: EngineTraffic | None = None,
        engine_catalog: AssetCatalog | None = None,
        behaviour: EngineBehaviour | None = None,
        loaded_classes: frozenset[str] | None = None,
        socket_folder: Path = Path("/tmp"),
    ) -> SimServer:
        assets = engine_catalog or catalog  # what the engine's meshes really are
        server = SimServer(
            lambda: SimEngine(
                network, assets, behaviour or EngineBehaviour(), loaded_classes=loaded_classes,
                traffic=traffic,
            ),
            "127.0.0.1", 0, tick_s=tick_s, faults=faults, log_path=log_path,
            socket_folder=socket_folder,
        )  # fmt: skip
        server.start()
        servers.append(server)
        return server

    yield start
    close_all_sessions()  # a run's session outlives its videos, not the test
    for server in servers:
        server.stop()
