"""One engine session per run: the connection every video reuses, and what the run left in the
engine (actor names, cameras).

A real UnrealCV engine on Linux serves one TCP client per process, so a run never connects "to
check" and hangs up: the reachability check opens the session, every video of the run reuses
it, and it closes when the process ends. The session also owns the run's names: each actor
gets `uecity_<run token>_<n>`, never used twice on an engine (a destroyed actor holds its name
until garbage collection, and renaming a new one onto it is fatal in Unreal), and it finds the
sensor id of a camera it spawned (`vset /cameras/spawn` answers the actor's name, and the id is
its index in the sensor list, which shifts when another camera goes).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import secrets

from uecity.core.errors import ExternalToolError
from uecity.unreal.connection import (
    ConnectionLost,
    EngineCommandError,
    EngineUnreachable,
    UnrealCvConnection,
)

log = logging.getLogger(__name__)

_SESSIONS: dict[tuple, EngineSession] = {}


def session_for(key: tuple, make_connection) -> EngineSession:  # type: ignore[no-untyped-def]
    """The process's session for `key` (endpoint and time-outs), connected on first use."""
    session = _SESSIONS.get(key)
    if session is None or session.closed:
        session = _SESSIONS[key] = EngineSession(make_connection())
        session.connection.connect()
    return session


@atexit.register
def close_all_sessions() -> None:
    """Close every session of the process (at exit, or when a run is over)."""
    for session in list(_SESSIONS.values()):
        session.close()
    _SESSIONS.clear()


class EngineSession:
    """The connection of a run, its name counter and what it spawned."""

    def __init__(self, connection: UnrealCvConnection) -> None:
        self.connection = connection
        self.token = secrets.token_hex(4)
        """Makes this run's names unique on an engine that served other runs before."""
        self.reconnections = 0
        self.live: set[str] = set()
        """Actors (and cameras) this session spawned and has not seen destroyed."""
        self.closed = False
        self._counter = 0

    def new_name(self) -> str:
        """A name never used before on any engine: `uecity_<token>_<n>`."""
        self._counter += 1
        return f"uecity_{self.token}_{self._counter}"

    # --- cameras
    def spawn_camera(self) -> tuple[str, int]:
        """Spawn a camera; returns (its actor name, its sensor id).

        The id is found, not assumed: the camera is moved to a location no other camera has
        (the run token and a counter in it) and the sensor whose location reads back the
        same is ours. Raises `ConnectionLost` or `EngineCommandError`.
        """
        connection = self.connection
        name = str(connection.request("vset /cameras/spawn")).strip()
        self.live.add(name)
        self._counter += 1
        marker = (-1000.0 * self._counter, float(int(self.token, 16) % 1_000_000), -1.0e6)
        mark = "{:.3f} {:.3f} {:.3f}".format(*marker)
        connection.request(f"vset /object/{name}/location {mark}")
        sensors = str(connection.request("vget /cameras")).split()
        ids = list(range(len(sensors) - 1, 0, -1))  # the newest is usually last; 0 is the pawn
        replies = connection.request_batch([f"vget /camera/{i}/location" for i in ids])
        for cid, reply in zip(ids, replies, strict=True):
            if _numbers(reply) == marker:
                return name, cid
        raise EngineCommandError(
            f"the camera the engine spawned ({name}) is not in its sensor list "
            f"(`vget /cameras` answered {' '.join(sensors)!r})"
        )

    def destroy(self, names: list[str]) -> None:
        """Destroy actors of this session (errors ignored: the engine may have restarted)."""
        if names:
            self.connection.request_batch([f"vset /object/{n}/destroy" for n in names], check=False)
        self.live.difference_update(names)

    # --- reconnecting
    def reconnect(self, where: str) -> None:
        """Connect again after a drop and clear what the last connection left behind.

        A Windows engine answers a dropped client's queued requests to the next client, and a
        half-filled `vbatch` takes our next requests into it: `vbatch 1` and one request flush
        both (their replies are skipped as foreign). Then every actor this session may have
        left is destroyed, so the caller spawns afresh under new names. Raises
        `ConnectionLost` if the new connection drops too (the caller tries again), or
        `ExternalToolError` if the engine cannot be reached.
        """
        was_tcp = self.connection.transport == "tcp"
        self.reconnections += 1
        try:
            self.connection.connect()
        except EngineUnreachable as error:
            if error.silent and was_tcp:
                port = self.connection.endpoint.port
                raise ExternalToolError(
                    f"lost the Unreal Engine at {self.connection.endpoint} {where}, and it no "
                    "longer serves TCP clients: an UnrealCV engine on Linux serves one TCP "
                    "session per process. Restart the engine, then run the same command with "
                    "--resume to continue (finished videos are kept). On the engine's host, "
                    f"--endpoint unix:/tmp/unrealcv_{port}.socket survives a lost connection"
                ) from None
            raise ExternalToolError(f"lost the Unreal Engine {where}: {error}") from None
        self.connection.request_batch(["vbatch 1", "vget /unrealcv/status"], check=False)
        self.destroy(sorted(self.live))

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(ConnectionLost, ExternalToolError):
            if self.connection.connected:
                self.connection.drain()
        self.connection.close()


def _numbers(reply: str | bytes) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in str(reply).split())
    except ValueError:
        return ()
