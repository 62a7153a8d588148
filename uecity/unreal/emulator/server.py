"""The transport and game thread of `uecity serve-sim`, as the UnrealCV 5.2 server runs them.

Read from the plugin's `Server/UnixTcpServer.cpp` and `Server/UnrealcvServer.cpp`:
- **Linux**: the TCP listener (backlog 1) serves its first client until it leaves, then moves to
  the Unix socket `/tmp/unrealcv_<port>.socket` and accepts there forever; a later TCP client is
  let in by the kernel's backlog but never greeted. **Windows**: the listener serves one client
  at a time and accepts the next when it leaves; a second concurrent client waits un-greeted.
- **Greeting**: `connected to <project>` on accept.
- **One queue per engine, not per connection**: requests wait in the engine's queue; replies go
  to whichever client is connected when a request runs. Requests of a dropped client, and a
  half-filled `vbatch`, are not discarded: they run, and their replies go to the next client.
- **Ticks**: at most 32 requests are dequeued per engine tick (the `vbatch` line counts);
  `vbatch N` collects the next N requests, across ticks if need be, and runs them in the tick
  its N-th arrives. A legacy build (before 2026-03-04) answers `vbatch` with `ok`, ignores it,
  and runs every request queued at a tick.
Faults can be injected (a dropped connection after a given number of requests, optionally with
an engine restart), and every request is logged with the tick it ran in.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from uecity.core.errors import ExternalToolError
from uecity.unreal import wire
from uecity.unreal.emulator.engine import PROJECT_NAME, EngineCrashed, SimEngine

log = logging.getLogger(__name__)

MAX_REQUESTS_PER_TICK = 32  # `ProcessPendingRequest`'s MaxRequestsPerTick
_RAW_MESSAGE = re.compile(r"(\d+):(.*)", re.DOTALL)  # `MessageFormat`: (\d{1,}):(.*)


def unix_socket_path(port: int, folder: Path = Path("/tmp")) -> Path:
    """Where a Linux engine listens after its TCP session (`StartMessageServiceUDS`): /tmp."""
    return folder / f"unrealcv_{port}.socket"


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
    drop_on: dict[str, int] = field(default_factory=dict)
    """Command prefix → how many more times running such a command drops the connection."""

    def drops_at(self, count: int, command: str = "") -> bool:
        for prefix, left in self.drop_on.items():
            if left > 0 and command.startswith(prefix):
                self.drop_on[prefix] = left - 1
                return True
        return count in self.drop_at_requests or bool(
            self.drop_every and count % self.drop_every == 0
        )


@dataclass(frozen=True)
class _Request:
    connection: int
    request_id: int
    command: str


@dataclass(eq=False)
class _Client:
    number: int
    sock: socket.socket
    transport: str  # "tcp" or "unix"


class SimServer:
    """The server; `start()` runs it on background threads, `serve_forever()` in the caller."""

    def __init__(
        self,
        engine_factory,  # type: ignore[no-untyped-def]  # () -> SimEngine: a restart calls it again
        host: str = "127.0.0.1",
        port: int = 9000,
        *,
        tick_s: float = 0.016,
        faults: FaultPlan | None = None,
        log_path: Path | None = None,
        keep_log: bool = True,
        socket_folder: Path = Path("/tmp"),
    ) -> None:
        self._engine_factory = engine_factory
        self.engine: SimEngine = engine_factory()
        self.host, self.port = host, port
        self.tick_s = tick_s
        self.faults = faults or FaultPlan()
        self.log_path = log_path
        # In memory for tests and benchmarks; a long-running `serve-sim` keeps none (use the
        # log file), since a video of 50 actors sends about a hundred requests per frame.
        self.keep_log = keep_log
        self.socket_folder = socket_folder
        """Another folder than /tmp hides the socket from a client, as on another host."""
        self.request_log: list[LoggedRequest] = []
        self.ticks = 0
        self.requests_handled = 0
        self.connections = 0
        self.crashed: str | None = None
        """Why the engine crashed (it serves nobody any more), or None."""
        self._queue: deque[_Request] = deque()  # the engine's PendingRequest
        self._batch: list[_Request] = []
        self._batch_left = 0
        self._client: _Client | None = None
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._tcp: socket.socket | None = None
        self._unix: socket.socket | None = None
        self._tcp_used = False
        self._threads: list[threading.Thread] = []
        self._log_file = None

    @property
    def platform(self) -> str:
        return self.engine.behaviour.platform

    @property
    def socket_path(self) -> Path:
        return unix_socket_path(self.port, self.socket_folder)

    # --- life cycle
    def start(self) -> int:
        """Bind, listen and serve on background threads; return the bound port."""
        listener = socket.create_server((self.host, self.port), backlog=1)
        self._tcp = listener
        self.port = listener.getsockname()[1]
        if self.log_path is not None:
            self._log_file = open(self.log_path, "a", encoding="utf-8")  # noqa: SIM115
        self._spawn(self._tcp_loop)
        self._spawn(self._game_loop)
        log.info("serve-sim listening on %s:%d (%s)", self.host, self.port, self.platform)
        return self.port

    def _spawn(self, target, *args) -> None:  # type: ignore[no-untyped-def]
        thread = threading.Thread(target=target, args=args, daemon=True, name="serve-sim")
        thread.start()
        self._threads.append(thread)

    def serve_forever(self) -> None:
        """Serve until `stop()` (or Ctrl-C in the caller's thread); an engine crash raises."""
        if self._tcp is None:
            self.start()
        try:
            while not self._stop.wait(0.2):
                pass
        finally:
            self.stop()
        if self.crashed:
            raise ExternalToolError(f"serve-sim: the emulated engine crashed: {self.crashed}")

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            client, self._client = self._client, None
            self._wake.notify_all()
        if client is not None:
            _close(client.sock)
        for listener in (self._tcp, self._unix):
            if listener is not None:
                _close(listener)
        if self._unix is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.socket_path)
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout=2.0)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def __enter__(self) -> SimServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- connections
    def _tcp_loop(self) -> None:
        """The listener thread: accept, serve that client to its end, and again; on Linux only
        the first client comes by TCP, every later one by the Unix socket."""
        assert self._tcp is not None
        self._tcp.settimeout(0.2)
        while not self._stop.is_set():
            on_socket = self.platform == "linux" and self._tcp_used
            listener = self._unix_listener() if on_socket else self._tcp
            try:
                conn, _address = listener.accept()
            except (TimeoutError, OSError):
                continue
            if not on_socket:
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self._tcp_used = True
            self._serve(conn, "unix" if on_socket else "tcp")  # served on this thread

    def _unix_listener(self) -> socket.socket:
        """`StartMessageServiceUDS`: made when the TCP session ends, forever after."""
        if self._unix is None:
            path = self.socket_path
            with contextlib.suppress(OSError):
                path.unlink()
            listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            listener.bind(str(path))
            listener.listen(1)
            listener.settimeout(0.2)
            self._unix = listener
            log.info("serve-sim: TCP session over; listening on %s", path)
        return self._unix

    def _restart_transport(self) -> None:
        """A new engine process: a fresh TCP session, no Unix socket until it ends."""
        self._tcp_used = False
        if self._unix is not None:
            _close(self._unix)
            self._unix = None
            with contextlib.suppress(OSError):
                os.unlink(self.socket_path)

    def _serve(self, conn: socket.socket, transport: str) -> None:
        """Greet, then read requests into the engine's queue until the client leaves."""
        conn.settimeout(None)
        with self._lock:
            if self.crashed or self._stop.is_set():
                _close(conn)
                return
            self.connections += 1
            client = self._client = _Client(self.connections, conn, transport)
        log.info("client %d connected (%s)", client.number, transport)
        try:
            wire.send_message(conn, f"connected to {PROJECT_NAME}".encode())
            while not self._stop.is_set():
                payload = wire.receive_message(conn)
                match = _RAW_MESSAGE.fullmatch(payload.decode("utf-8", errors="replace"))
                if match is None:
                    log.warning("client %d sent a malformed message; ignored", client.number)
                    continue
                with self._lock:
                    self._queue.append(_Request(client.number, int(match[1]), match[2]))
                    self._wake.notify_all()
        except (wire.ConnectionClosed, wire.ProtocolError, OSError) as error:
            log.info("client %d left: %s", client.number, error)
        finally:
            self._drop(client)

    def _drop(self, client: _Client) -> None:
        with self._lock:
            if self._client is client:
                self._client = None
        _close(client.sock)

    # --- the game thread
    def _game_loop(self) -> None:
        """One iteration per engine tick: dequeue and run what the plugin's tick would."""
        while not self._stop.is_set():
            started = time.monotonic()
            if self.tick_s == 0:
                with self._lock:  # no engine timing asked for: wait for work, do not spin
                    if not self._queue:
                        self._wake.wait(timeout=0.05)
            try:
                self._process_pending()
                self._tick_engine()
            except EngineCrashed as error:
                self._crash(str(error))
                return
            self.ticks += 1
            remaining = started + self.tick_s - time.monotonic()
            if remaining > 0:
                time.sleep(remaining)

    def _process_pending(self) -> None:
        """`FUnrealcvServer::ProcessPendingRequest`, request by request."""
        legacy = self.engine.behaviour.legacy_vbatch
        with self._lock:
            count = len(self._queue) if legacy else min(len(self._queue), MAX_REQUESTS_PER_TICK)
            requests = [self._queue.popleft() for _ in range(count)]
        for request in requests:
            if request.command.startswith("vbatch"):
                self._log(request)
                if not legacy:
                    digits = re.match(r"\s*([-+]?\d+)", request.command[len("vbatch") :])
                    self._batch_left = int(digits[1]) if digits else 0  # FCString::Atoi
                self._reply(request, "ok")
                continue
            if self._batch_left <= 0:
                self._batch_left = 1
            self._batch.append(request)
            self._batch_left -= 1
            if self._batch_left == 0:
                batch, self._batch = self._batch, []
                for entry in batch:
                    self._run(entry)

    def _tick_engine(self) -> None:
        try:
            self.engine.tick()
        except ExternalToolError as error:  # the engine's own traffic broke: serve on without it
            log.error("serve-sim: the engine's own traffic stopped: %s", error)
            self.engine.traffic = None

    def _run(self, request: _Request) -> None:
        self.requests_handled += 1
        self._log(request)
        if self.faults.drops_at(self.requests_handled, request.command):
            self._inject_drop()
            return
        self._reply(request, self.engine.handle(request.command))

    def _inject_drop(self) -> None:
        with self._lock:
            client = self._client
        log.info("fault injection: dropping the client at request %d", self.requests_handled)
        if self.faults.restart_engine_on_drop:  # a new engine process: nothing survives
            self.engine = self._engine_factory()
            with self._lock:
                self._queue.clear()
            self._batch, self._batch_left = [], 0
        if client is not None:
            self._drop(client)
        if self.faults.restart_engine_on_drop:
            self._restart_transport()

    def _crash(self, reason: str) -> None:
        log.error("serve-sim: engine crash: %s", reason)
        self.crashed = reason
        self._stop.set()
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            _close(client.sock)

    def _log(self, request: _Request) -> None:
        entry = LoggedRequest(self.ticks, request.connection, request.request_id, request.command)
        if self.keep_log:
            self.request_log.append(entry)
        if self._log_file is not None:
            self._log_file.write(json.dumps(entry.__dict__) + "\n")
            self._log_file.flush()

    def _reply(self, request: _Request, body: str | bytes) -> None:
        """To the client connected now, whoever sent the request (`TcpServer->SendData`)."""
        with self._lock:
            client = self._client
        if client is None:
            return  # nobody to send it to: the reply is lost
        try:
            wire.send_message(client.sock, wire.encode_reply(request.request_id, body))
        except OSError:
            self._drop(client)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
