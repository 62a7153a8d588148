"""`uecity serve-sim`: a TCP server speaking the UnrealCV protocol, rendering with `sim`.

It behaves as the open-source UnrealCV server does, so that our client code meets the real
thing's behaviour: the `connected to <project>` greeting on accept, one client at a time (a
second connection is closed at once), replies carrying the request's id in order, and the
engine's timing — requests are drained on a game thread at most `max_requests_per_tick` per tick
of `tick_s` seconds, so every synchronous round trip costs at least a tick, while `vbatch N`
runs the next N requests together. Faults can be injected (a dropped connection after a given
number of requests, optionally with an engine restart that forgets every spawned actor), and
every request is logged with the tick it ran in, so tests can check the order of commands.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from uecity.errors import ExternalToolError
from uecity.unreal import wire
from uecity.unreal.sim_engine import PROJECT_NAME, SimEngine

log = logging.getLogger(__name__)

VBATCH_WAIT_S = 5.0
"""How long a `vbatch N` waits for its N requests before running what has arrived."""


@dataclass(frozen=True)
class LoggedRequest:
    tick: int
    connection: int
    request_id: int
    command: str


@dataclass
class FaultPlan:
    """Injected faults: drop the connection when the global request count reaches a value."""

    drop_at_requests: set[int] = field(default_factory=set)
    drop_every: int | None = None
    restart_engine_on_drop: bool = False

    def drops_at(self, count: int) -> bool:
        return count in self.drop_at_requests or bool(
            self.drop_every and count % self.drop_every == 0
        )


class SimServer:
    """The server; `start()` runs it on background threads, `serve_forever()` in the caller."""

    def __init__(
        self,
        engine_factory,  # type: ignore[no-untyped-def]  # () -> SimEngine: a restart calls it again
        host: str = "127.0.0.1",
        port: int = 9000,
        *,
        tick_s: float = 0.016,
        max_requests_per_tick: int = 32,
        faults: FaultPlan | None = None,
        log_path: Path | None = None,
        keep_log: bool = True,
    ) -> None:
        self._engine_factory = engine_factory
        self.engine: SimEngine = engine_factory()
        self.host, self.port = host, port
        self.tick_s = tick_s
        self.max_requests_per_tick = max_requests_per_tick
        self.faults = faults or FaultPlan()
        self.log_path = log_path
        # In memory for tests and benchmarks; a long-running `serve-sim` keeps none (use the
        # log file), since a video of 50 actors sends about a hundred requests per frame.
        self.keep_log = keep_log
        self.request_log: list[LoggedRequest] = []
        self.ticks = 0
        self.requests_handled = 0
        self.connections = 0
        self.refused_connections = 0
        self._requests: queue.Queue[tuple[int, socket.socket, wire.Request]] = queue.Queue()
        self._client: tuple[int, socket.socket] | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._listener: socket.socket | None = None
        self._threads: list[threading.Thread] = []
        self._log_file = None

    # --- life cycle
    def start(self) -> int:
        """Bind, listen and serve on background threads; return the bound port."""
        listener = socket.create_server((self.host, self.port), reuse_port=False)
        listener.settimeout(0.2)
        self._listener = listener
        self.port = listener.getsockname()[1]
        if self.log_path is not None:
            self._log_file = open(self.log_path, "a", encoding="utf-8")  # noqa: SIM115
        for target in (self._accept_loop, self._game_loop):
            thread = threading.Thread(
                target=target, daemon=True, name=f"serve-sim-{target.__name__}"
            )
            thread.start()
            self._threads.append(thread)
        log.info("serve-sim listening on %s:%d", self.host, self.port)
        return self.port

    def serve_forever(self) -> None:
        """Serve until `stop()` (or Ctrl-C in the caller's thread)."""
        if self._listener is None:
            self.start()
        try:
            while not self._stop.wait(0.5):
                pass
        finally:
            self.stop()

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            if self._client is not None:
                _close(self._client[1])
                self._client = None
        if self._listener is not None:
            _close(self._listener)
        for thread in self._threads:
            thread.join(timeout=2.0)
        if self._log_file is not None:
            self._log_file.close()

    def __enter__(self) -> SimServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- connections
    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stop.is_set():
            try:
                conn, address = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            conn.settimeout(None)  # blocking, whatever default timeout another thread set
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                busy = self._client is not None
                if not busy:
                    self.connections += 1
                    self._client = (self.connections, conn)
            if busy:  # one client at a time, as the engine's server does
                self.refused_connections += 1
                _close(conn)
                continue
            log.info("client %d connected from %s", self.connections, address)
            try:
                wire.send_message(conn, f"connected to {PROJECT_NAME}".encode())
            except OSError:
                self._drop(conn)
                continue
            threading.Thread(
                target=self._read_loop, args=(self.connections, conn), daemon=True
            ).start()

    def _read_loop(self, number: int, conn: socket.socket) -> None:
        while not self._stop.is_set():
            try:
                request = wire.Request.parse(wire.receive_message(conn))
            except (wire.ConnectionClosed, OSError):
                break
            except wire.ProtocolError as error:
                log.warning("client %d sent a bad message (%s); closing it", number, error)
                break
            self._requests.put((number, conn, request))
        self._drop(conn)

    def _drop(self, conn: socket.socket) -> None:
        with self._lock:
            if self._client is not None and self._client[1] is conn:
                self._client = None
        _close(conn)

    # --- the game thread
    def _game_loop(self) -> None:
        """One iteration per engine tick: run what was pending when the tick began."""
        while not self._stop.is_set():
            started = time.monotonic()
            if self.tick_s == 0 and self._requests.empty():
                # No engine timing asked for: wait for work instead of spinning.
                with self._requests.not_empty:
                    self._requests.not_empty.wait(timeout=0.05)
            pending = min(self._requests.qsize(), self.max_requests_per_tick)
            for _ in range(pending):
                item = self._requests.get_nowait()
                if item[2].command.startswith("vbatch"):
                    self._run_batch(item)
                    break  # a batch fills its tick
                self._run(item)
            self._tick_engine()
            self.ticks += 1
            remaining = started + self.tick_s - time.monotonic()
            if remaining > 0:
                time.sleep(remaining)

    def _tick_engine(self) -> None:
        try:
            self.engine.tick()
        except ExternalToolError as error:  # the engine's own traffic broke: serve on without it
            log.error("serve-sim: the engine's own traffic stopped: %s", error)
            self.engine.traffic = None

    def _run_batch(self, item: tuple[int, socket.socket, wire.Request]) -> None:
        _number, conn, request = item
        if not self._is_current(conn):
            return  # the connection went away; its queued requests die with it
        parts = request.command.split()
        if len(parts) != 2 or not parts[1].isdigit():
            self._reply(item, f"error vbatch takes a count, got '{request.command}'")
            return
        self._log(item)
        self._reply(item, "ok")
        batch = []
        other = None  # a request of the next client: this one is gone, so is the rest of its batch
        deadline = time.monotonic() + VBATCH_WAIT_S
        while len(batch) < int(parts[1]) and time.monotonic() < deadline:
            try:
                entry = self._requests.get(timeout=max(0.0, min(0.05, deadline - time.monotonic())))
            except queue.Empty:
                if not self._is_current(conn):
                    break
                continue
            if entry[1] is not conn:
                other = entry
                break
            batch.append(entry)
        for entry in batch:
            self._run(entry)
        if other is not None:
            if other[2].command.startswith("vbatch"):
                self._run_batch(other)
            else:
                self._run(other)

    def _is_current(self, conn: socket.socket) -> bool:
        with self._lock:
            return self._client is not None and self._client[1] is conn

    def _run(self, item: tuple[int, socket.socket, wire.Request]) -> None:
        number, conn, request = item
        if not self._is_current(conn):
            return  # the connection went away; its queued requests die with it
        self.requests_handled += 1
        self._log(item)
        if self.faults.drops_at(self.requests_handled):
            log.info(
                "fault injection: dropping client %d at request %d", number, self.requests_handled
            )
            if self.faults.restart_engine_on_drop:
                self.engine = self._engine_factory()
            self._drop(conn)
            return
        if request.command.startswith("vbatch"):
            body: str | bytes = "ok"  # already inside a batch: nothing more to gather
        else:
            body = self.engine.handle(request.command)
        self._reply(item, body)

    def _log(self, item: tuple[int, socket.socket, wire.Request]) -> None:
        number, _, request = item
        entry = LoggedRequest(self.ticks, number, request.request_id, request.command)
        if self.keep_log:
            self.request_log.append(entry)
        if self._log_file is not None:
            self._log_file.write(json.dumps(entry.__dict__) + "\n")
            self._log_file.flush()

    def _reply(self, item: tuple[int, socket.socket, wire.Request], body: str | bytes) -> None:
        _, conn, request = item
        try:
            wire.send_message(conn, wire.encode_reply(request.request_id, body))
        except OSError:
            self._drop(conn)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
