"""Traffic that the engine moves itself, for `uecity serve-sim --traffic`.

In observe mode uecity does not own the poses: the engine runs its own traffic (in Unreal, e.g.
its traffic system or a city sample) and uecity reads the actors back every frame. To test that
path without Unreal Engine, `serve-sim --traffic` runs a SUMO simulation inside the server and
advances it by one engine tick per tick while the game is not paused, as a game's traffic
would. Its actors appear as runtime-spawned objects named `traffic_<type>_<n>`, without a mask
colour until the client sets one (as UnrealCV's runtime actors).
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from uecity.scene.spec import SceneSpec
from uecity.traffic.demand import build_demand
from uecity.traffic.network import Network
from uecity.traffic.simulation import TrafficSimulation, WorldState

TRAFFIC_HOURS = 2.0
"""How much demand the server plans; a recording session is far shorter."""


class EngineTraffic:
    """A SUMO simulation stepped by the engine's ticks; `step()` gives the next world state."""

    def __init__(self, spec: SceneSpec, network: Network, tick_s: float, seed: int = 0) -> None:
        self._stack = contextlib.ExitStack()
        folder = Path(self._stack.enter_context(tempfile.TemporaryDirectory(prefix="uecity-")))
        rng = np.random.default_rng(seed)
        demand = build_demand(spec.demand, network, TRAFFIC_HOURS * 3600, folder, rng)
        simulation = TrafficSimulation(network, demand, 1.0 / max(tick_s, 1e-3), seed, folder)
        self._simulation = self._stack.enter_context(simulation)
        self._simulation.warm_up(spec.run.warmup_s)
        self._frames: Iterator[WorldState] = self._simulation.frames(10**9)
        self.world: WorldState = next(self._frames)

    def step(self) -> WorldState:
        self.world = next(self._frames)
        return self.world

    def close(self) -> None:
        self._stack.close()
