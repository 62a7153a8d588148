"""SUMO through libsumo, in process: one `WorldState` of typed actor records per frame.

libsumo is a process-wide singleton, so one process runs one simulation at a time (the run
gives each video its own worker call). State is read through subscriptions, one bulk read per
step. SUMO's errors are captured through its `--error-log` and raised with SUMO's own words.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from uecity.core.errors import ExternalToolError
from uecity.traffic.demand import ActorSpec, Demand
from uecity.traffic.network import Network

log = logging.getLogger(__name__)

# SUMO signal bits (TraCI vehicle signals).
BLINKER_RIGHT = 1
BLINKER_LEFT = 2
BRAKE_LIGHT = 8
STOP_PARKING = 2  # bit of VAR_STOPSTATE
JUNCTION = "C"  # node id of the junction in every template


@dataclass(frozen=True)
class ActorState:
    """One actor at one instant, in the network frame (metres, radians CCW from east)."""

    sumo_id: str
    spec: ActorSpec
    x: float  # centre of the footprint
    y: float
    z: float  # ground height under the actor
    heading: float
    speed: float
    acceleration: float
    lane: str
    blinker_left: bool = False
    blinker_right: bool = False
    braking: bool = False
    stopped: bool = False
    parked: bool = False

    @property
    def on_junction(self) -> bool:
        """Inside the junction on an internal lane (not a crossing or walking area)."""
        kind = self.lane.split("_")[1][:1] if self.lane.startswith(f":{JUNCTION}_") else ""
        return kind.isdigit()

    @property
    def on_crossing(self) -> bool:
        return self.lane.startswith(f":{JUNCTION}_c")


@dataclass(frozen=True)
class WorldState:
    """Every actor alive at one frame of the recording."""

    frame: int
    time_s: float
    actors: tuple[ActorState, ...]


def _vehicle_vars(libsumo) -> list[int]:
    return [
        libsumo.VAR_POSITION3D,
        libsumo.VAR_ANGLE,
        libsumo.VAR_SPEED,
        libsumo.VAR_ACCELERATION,
        libsumo.VAR_SIGNALS,
        libsumo.VAR_LANE_ID,
        libsumo.VAR_STOPSTATE,
    ]


def _person_vars(libsumo) -> list[int]:
    return [libsumo.VAR_POSITION3D, libsumo.VAR_ANGLE, libsumo.VAR_SPEED, libsumo.VAR_LANE_ID]


class TrafficSimulation:
    """A running SUMO simulation of one video. Use as a context manager."""

    def __init__(
        self, network: Network, demand: Demand, fps: float, sumo_seed: int, workdir: Path
    ) -> None:
        self.network = network
        self.demand = demand
        self.step_s = 1.0 / fps
        self.sumo_seed = sumo_seed
        self.workdir = workdir
        self._libsumo = None
        self._error_log = workdir / "sumo-errors.log"

    def __enter__(self) -> TrafficSimulation:
        import libsumo

        self._libsumo = libsumo
        args = [
            "sumo",
            "--net-file",
            str(self.network.net_file),
            "--route-files",
            str(self.demand.routes_file),
            "--step-length",
            f"{self.step_s:.6f}",
            "--seed",
            str(self.sumo_seed),
            "--no-step-log",
            "true",
            "--no-warnings",
            "true",
            "--time-to-teleport",
            "120",
            "--collision.action",
            "none",
            "--default.action-step-length",
            f"{self.step_s:.6f}",
            "--error-log",
            str(self._error_log),
        ]
        if self.network.additional_file is not None:
            args += ["--additional-files", str(self.network.additional_file)]
        try:
            libsumo.start(args)
        except Exception as error:
            raise ExternalToolError(f"SUMO failed to start: {self._sumo_message(error)}") from error
        return self

    def __exit__(self, *exc) -> None:
        if self._libsumo is not None:
            try:
                self._libsumo.close()
            except Exception:  # pragma: no cover - closing a failed start
                log.debug("libsumo.close failed", exc_info=True)
            self._libsumo = None

    def _sumo_message(self, error: Exception) -> str:
        try:
            text = self._error_log.read_text().strip()
        except OSError:
            text = ""
        said = str(error).strip()
        if said.startswith("<"):  # a bare SWIG proxy, not a message
            said = ""
        return " ".join(t for t in (text, said) if t) or "no message from SUMO"

    def _step(self) -> None:
        ls = self._libsumo
        try:
            ls.simulationStep()
        except Exception as error:
            raise ExternalToolError(f"SUMO failed: {self._sumo_message(error)}") from error
        for vid in ls.simulation.getDepartedIDList():
            ls.vehicle.subscribe(vid, _vehicle_vars(ls))
        for pid in ls.simulation.getDepartedPersonIDList():
            ls.person.subscribe(pid, _person_vars(ls))

    def warm_up(self, seconds: float) -> None:
        """Run the traffic before recording so that the scene is populated when it starts."""
        for _ in range(round(seconds / self.step_s)):
            self._step()

    @property
    def frame_times_s(self) -> None:
        """SUMO steps exactly 1/fps per frame: no measured times to record."""
        return None

    def frames(self, count: int) -> Iterator[WorldState]:
        """Step the simulation once per frame and yield each frame's world state."""
        ls = self._libsumo
        actors = self.demand.actors
        for frame in range(count):
            self._step()
            time_s = ls.simulation.getTime()
            states: list[ActorState] = []
            for vid, v in sorted(ls.vehicle.getAllSubscriptionResults().items()):
                spec = actors.get(vid)
                if spec is None:
                    continue
                fx, fy, fz = v[ls.VAR_POSITION3D]
                heading = math.radians(90.0 - v[ls.VAR_ANGLE])
                half = spec.size_m[0] / 2
                signals = int(v[ls.VAR_SIGNALS])
                speed = float(v[ls.VAR_SPEED])
                cx, cy = fx - math.cos(heading) * half, fy - math.sin(heading) * half
                parked = bool(int(v[ls.VAR_STOPSTATE]) & STOP_PARKING)
                if parked and spec.parked_pose is not None:
                    # SUMO moves parked vehicles beside their lane; ours park in the lane.
                    cx, cy, heading = spec.parked_pose
                states.append(
                    ActorState(
                        vid,
                        spec,
                        cx,
                        cy,
                        fz,
                        heading,
                        speed,
                        float(v[ls.VAR_ACCELERATION]),
                        v[ls.VAR_LANE_ID],
                        blinker_left=bool(signals & BLINKER_LEFT),
                        blinker_right=bool(signals & BLINKER_RIGHT),
                        braking=bool(signals & BRAKE_LIGHT),
                        stopped=speed < 0.1,
                        parked=parked,
                    )
                )
            for pid, p in sorted(ls.person.getAllSubscriptionResults().items()):
                spec = actors.get(pid)
                if spec is None:
                    continue
                x, y, z = p[ls.VAR_POSITION3D]
                speed = float(p[ls.VAR_SPEED])
                states.append(
                    ActorState(
                        pid,
                        spec,
                        x,
                        y,
                        z,
                        math.radians(90.0 - p[ls.VAR_ANGLE]),
                        speed,
                        0.0,
                        p[ls.VAR_LANE_ID],
                        stopped=speed < 0.1,
                    )
                )
            yield WorldState(frame, float(time_s), tuple(states))


def sumo_seed(rng: np.random.Generator) -> int:
    """SUMO's own seed, derived from the video's generator."""
    return int(rng.integers(0, 2**31 - 1))
