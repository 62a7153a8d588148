"""One connection to an UnrealCV server, as the real 5.2 plugin serves it.

The PyPI client (`unrealcv` 1.3.2) opens the socket and reads the greeting; the requests and
replies are framed here. What this adds, and why (facts in docs/unreal.md):
- **Linux engines serve one TCP client per process**, then only their Unix socket
  `/tmp/unrealcv_<port>.socket`. A connection is therefore held for a whole run (never
  "connect to check, hang up"), `unix:<path>` endpoints are supported, and on the engine's host
  a TCP endpoint hands over to that socket when it exists (the official client's Linux path).
  A TCP client the engine accepts but never greets is reported as such.
- **Stale replies after a reconnect** (Windows engines keep a dropped client's queued requests
  and answer them to the next client): request ids run on across connections from a random
  start, and a reply whose id we are not waiting for is skipped, where the PyPI client asserts.
- **Bounded waits**: connecting retries with backoff up to a deadline; every reply is waited for
  at most `request_timeout_s`; a dropped socket is seen at once (`ConnectionLost`).
- **One write per batch**: a batch is framed here and written at once (the client writes, and
  with TCP_NODELAY sends, one packet per request).
- **Quiet**: the client's prints and log lines are silenced (shown at debug level).
- **Client defects worked around**: `from unrealcv import client` does not exist; the Unix mode
  of `UnrealCv_API` builds a TCP client for a path (we construct `unrealcv.Client(path,
  'unix')`); `get_obj_color` drops a channel (`parse_colour` here).
"""

from __future__ import annotations

import contextlib
import io
import logging
import queue
import random
import re
import socket
import threading
import time
import warnings
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from uecity.core.errors import ExternalToolError, MissingDependencyError, UsageError
from uecity.unreal import wire

log = logging.getLogger(__name__)

_COLOUR = re.compile(r"\(R=(\d+),G=(\d+),B=(\d+)(?:,A=(\d+))?\)")
GREETING_TIMEOUT_S = 3.0
"""A real engine greets at once on accept; a connection silent this long is not being served."""


class ConnectionLost(Exception):
    """The engine went away mid-request (dropped socket, engine restart, time-out)."""


class EngineCommandError(ExternalToolError):
    """The engine answered a command with `error …`."""


class EngineUnreachable(ExternalToolError):
    """No UnrealCV server served us at the endpoint before the deadline."""

    def __init__(self, message: str, *, silent: bool) -> None:
        super().__init__(message)
        self.silent = silent
        """A server accepted the TCP connection but never greeted (see `connect`)."""


@dataclass(frozen=True, eq=False)
class SentBatch:
    """Requests sent on a connection whose replies are not collected yet."""

    commands: tuple[str, ...]
    ids: tuple[int, ...]


@dataclass(frozen=True)
class Endpoint:
    """`HOST:PORT` over TCP, or `unix:PATH` (a Linux engine's socket on this host)."""

    host: str = "127.0.0.1"
    port: int = 9000
    path: str | None = None

    @classmethod
    def parse(cls, text: str) -> Endpoint:
        """`HOST:PORT`, `:PORT`, `[v6addr]:PORT` or `unix:PATH`; bad text is a UsageError."""
        if text.startswith("unix:"):
            path = text[len("unix:") :]
            if not path:
                raise UsageError(
                    f"endpoint '{text}' names no socket (unix:/tmp/unrealcv_9000.socket)"
                )
            found = re.search(r"unrealcv_(\d+)\.socket$", path)
            return cls("", int(found[1]) if found else 0, path)
        host, sep, port = text.rpartition(":")
        host = host.strip("[]") or "127.0.0.1"
        if not sep or not port.isdigit() or not 0 < int(port) < 65536:
            raise UsageError(
                f"endpoint '{text}' is not HOST:PORT (e.g. 127.0.0.1:9000) or unix:PATH"
            )
        return cls(host, int(port))

    @property
    def is_local(self) -> bool:
        return (
            self.path is not None
            or self.host in ("localhost", "::1")
            or self.host.startswith("127.")
        )

    @property
    def handover_socket(self) -> Path | None:
        """The Unix socket a same-host Linux engine moves to after its TCP session."""
        if self.path is not None or not self.is_local:
            return None
        return Path(f"/tmp/unrealcv_{self.port}.socket")

    def __str__(self) -> str:
        return f"unix:{self.path}" if self.path is not None else f"{self.host}:{self.port}"


def parse_colour(reply: str) -> tuple[int, int, int]:
    """`(R=12,G=34,B=56,A=255)` → (12, 34, 56); the client's own parser drops a channel."""
    match = _COLOUR.search(reply)
    if not match:
        raise EngineCommandError(f"cannot read a colour from the engine's reply {reply!r}")
    return int(match[1]), int(match[2]), int(match[3])


@contextlib.contextmanager
def _quiet() -> Iterator[io.StringIO]:
    """The client's prints and warnings silenced."""
    with contextlib.redirect_stdout(io.StringIO()) as printed, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield printed


def _import_client():  # type: ignore[no-untyped-def]
    try:
        import unrealcv
    except ImportError:
        raise MissingDependencyError(
            "the unrealcv backend needs the `unrealcv` package: pip install 'uecity[unreal]'"
        ) from None
    return unrealcv


class UnrealCvConnection:
    """One live connection; `connect()` again after `ConnectionLost` to get a fresh one."""

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        connect_timeout_s: float = 30.0,
        request_timeout_s: float = 60.0,
        greeting_timeout_s: float = GREETING_TIMEOUT_S,
    ) -> None:
        self.endpoint = endpoint
        self.connect_timeout_s = connect_timeout_s
        self.request_timeout_s = request_timeout_s
        self.greeting_timeout_s = min(greeting_timeout_s, connect_timeout_s)
        self.transport: str | None = None  # "tcp" or "unix" once connected
        self.foreign_replies = 0
        """Replies skipped because no request of ours was waiting for them."""
        self._client = None
        self._sock: socket.socket | None = None
        self._reader: threading.Thread | None = None
        self._replies: queue.Queue[tuple[int, str | bytes] | Exception] = queue.Queue()
        self._expected: deque[int] = deque()
        self._lock = threading.Lock()
        self._next_id = random.SystemRandom().randrange(10**6, 10**9)
        self._outstanding: deque[SentBatch] = deque()

    # --- connecting
    def _candidates(self) -> list[tuple[str, object]]:
        """Where to try, in order: the endpoint's socket, or (same host) the hand-over socket
        if it exists, then TCP."""
        endpoint = self.endpoint
        if endpoint.path is not None:
            return [("unix", endpoint.path)]
        handover = endpoint.handover_socket
        tcp = [("tcp", (endpoint.host, endpoint.port))]
        return [("unix", str(handover)), *tcp] if handover and handover.exists() else tcp

    def connect(self) -> None:
        """Connect, retrying with backoff until `connect_timeout_s` has passed."""
        unrealcv = _import_client()
        # The client logs its own errors to stderr ("Can not connect to …"); we report every
        # failure ourselves, naming the endpoint, so its lines show only when debugging.
        verbose = log.isEnabledFor(logging.DEBUG)
        logging.getLogger("unrealcv").setLevel(logging.DEBUG if verbose else logging.CRITICAL)
        self.close()
        deadline = time.monotonic() + self.connect_timeout_s
        delay, attempts, silent = 0.1, 0, False
        while True:
            attempts += 1
            for transport, address in self._candidates():
                outcome = self._try_connect(unrealcv, transport, address, deadline)
                if outcome == "ok":
                    log.info(
                        "connected to UnrealCV at %s over %s (attempt %d)",
                        self.endpoint, transport, attempts,
                    )  # fmt: skip
                    return
                silent = silent or (outcome == "silent" and transport == "tcp")
            if time.monotonic() + delay > deadline:
                raise self._unreachable(attempts, silent)
            time.sleep(delay)
            delay = min(delay * 2, 2.0)

    def _unreachable(self, attempts: int, silent: bool) -> EngineUnreachable:
        where = self.endpoint
        if silent:
            return EngineUnreachable(
                f"the UnrealCV server at {where} accepts TCP connections but never greets: "
                "an engine on Linux serves one TCP client per process (the next ones are never "
                "answered), and one on Windows makes a second client wait until the first "
                "leaves. Restart the engine (then run the same command with --resume), or on "
                f"the engine's host use --endpoint unix:/tmp/unrealcv_{where.port}.socket",
                silent=True,
            )
        return EngineUnreachable(
            f"no UnrealCV server answered at {where} within {self.connect_timeout_s:g} s "
            f"({attempts} attempts). Is the game running with the UnrealCV plugin on that port "
            "(or `uecity serve-sim`)?",
            silent=False,
        )

    def _try_connect(self, unrealcv, transport: str, address: object, deadline: float) -> str:  # type: ignore[no-untyped-def]
        """One attempt: "ok", "refused" (nothing there) or "silent" (accepted, never greeted)."""
        wait = max(0.05, min(self.greeting_timeout_s, deadline - time.monotonic()))
        client = unrealcv.Client(address, "unix" if transport == "unix" else "inet")
        previous = socket.getdefaulttimeout()
        # The client makes its socket inside connect(): the default time-out bounds the wait
        # for the connection and the server's greeting.
        socket.setdefaulttimeout(wait)
        started = time.monotonic()
        try:
            with _quiet() as printed:
                ok = bool(client.connect(timeout=wait, start_receive_thread=False))
            if printed.getvalue().strip():
                log.debug("unrealcv client: %s", printed.getvalue().strip())
        finally:
            socket.setdefaulttimeout(previous)
        if not ok or client.sock is None:
            return "silent" if time.monotonic() - started >= 0.9 * wait else "refused"
        self._client, self._sock, self.transport = client, client.sock, transport
        client.sock.settimeout(self.request_timeout_s)
        self._replies = queue.Queue()
        self._reader = threading.Thread(
            target=self._read_loop, args=(client.sock, self._replies), daemon=True,
            name="uecity-unrealcv-reader",
        )  # fmt: skip
        self._reader.start()
        return "ok"

    def close(self) -> None:
        client, sock, reader = self._client, self._sock, self._reader
        self._client = self._sock = self._reader = None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        if client is not None:
            with contextlib.suppress(Exception), _quiet():
                client.disconnect()
        if reader is not None and reader is not threading.current_thread():
            reader.join(timeout=2.0)
        with self._lock:
            self._expected.clear()
        self._outstanding.clear()

    @property
    def connected(self) -> bool:
        return self._sock is not None

    @property
    def outstanding(self) -> int:
        """Batches sent and not yet collected."""
        return len(self._outstanding)

    # --- the reader
    def _read_loop(self, sock: socket.socket, replies: queue.Queue) -> None:  # type: ignore[type-arg]
        """Read replies until the socket closes; hand on those we wait for, skip the rest."""
        while True:
            try:
                payload = _receive(sock)
            except (wire.ConnectionClosed, wire.ProtocolError, OSError) as error:
                replies.put(ConnectionError(str(error) or "connection closed"))
                return
            colon = payload.find(b":", 0, 16)
            if colon < 1 or not payload[:colon].isdigit():
                log.debug("skipped a reply without an id: %r", bytes(payload[:40]))
                continue
            request_id = int(payload[:colon])
            body = bytes(memoryview(payload)[colon + 1 :])  # the one copy of an image
            with self._lock:
                ours = bool(self._expected) and self._expected[0] == request_id
                if ours:
                    self._expected.popleft()
            if not ours:  # a request of an earlier connection, answered to us (Windows)
                self.foreign_replies += 1
                log.debug("skipped a reply to request %d, not ours", request_id)
                continue
            try:
                replies.put((request_id, body.decode("utf-8")))
            except UnicodeDecodeError:
                replies.put((request_id, body))  # an image

    # --- requests
    def request(self, command: str) -> str | bytes:
        """One synchronous request; an `error …` reply raises `EngineCommandError`."""
        return self.request_batch([command])[0]

    def request_batch(self, commands: Sequence[str], *, check: bool = True) -> list[str | bytes]:
        """Send `commands` pipelined and wait for all replies (in order)."""
        return self.collect(self.send_batch(commands), check=check)

    def send_batch(self, commands: Sequence[str]) -> SentBatch:
        """Send `commands` pipelined without waiting; `collect` their replies later.

        Replies come back in the order requests were sent, so batches are collected in the
        order they were sent.
        """
        sock = self._sock
        if sock is None:
            raise ConnectionLost(f"not connected to {self.endpoint}")
        ids = tuple(range(self._next_id, self._next_id + len(commands)))
        self._next_id += len(commands)
        sent = SentBatch(tuple(commands), ids)
        if not commands:
            return sent
        framed = b"".join(
            wire.encode_message(b"%d:%s" % (i, command.encode("utf-8")))
            for i, command in zip(ids, commands, strict=True)
        )
        with self._lock:
            self._expected.extend(ids)
        try:
            sock.sendall(framed)
        except OSError as error:
            self.close()
            raise ConnectionLost(f"connection to {self.endpoint} lost: {error}") from None
        self._outstanding.append(sent)
        return sent

    def collect(self, sent: SentBatch, *, check: bool = True) -> list[str | bytes]:
        """The replies to a batch from `send_batch`; an `error …` reply raises (with `check`)."""
        if not sent.commands:
            return []
        if sent not in self._outstanding:
            raise ConnectionLost(f"the connection to {self.endpoint} that sent the batch is gone")
        if self._outstanding[0] is not sent:
            raise RuntimeError("UnrealCV batches must be collected in the order they were sent")
        replies: list[str | bytes] = []
        for expected_id in sent.ids:
            try:
                item = self._replies.get(timeout=self.request_timeout_s)
            except queue.Empty:
                self.close()
                raise ConnectionLost(
                    f"no reply from {self.endpoint} within {self.request_timeout_s:g} s"
                ) from None
            if isinstance(item, Exception):
                self.close()
                raise ConnectionLost(f"connection to {self.endpoint} lost: {item}")
            assert item[0] == expected_id  # the reader hands on our replies only, in order
            replies.append(item[1])
        self._outstanding.popleft()
        if check:
            for command, reply in zip(sent.commands, replies, strict=True):
                if isinstance(reply, str) and reply.startswith("error"):
                    raise EngineCommandError(f"the engine refused `{command}`: {reply}")
        return replies

    def drain(self) -> None:
        """Collect and drop the replies of every batch still outstanding (errors included)."""
        while self._outstanding:
            self.collect(self._outstanding[0], check=False)


def _receive(sock: socket.socket) -> bytearray:
    """One whole message; a socket time-out while idle is not an error (the reader waits on)."""
    header = _read_exact(sock, wire.HEADER.size)
    magic, size = wire.HEADER.unpack(header)
    if magic != wire.MAGIC or size == 0 or size > wire.MAX_PAYLOAD_BYTES:
        raise wire.ProtocolError(f"bad message header (magic 0x{magic:08X}, size {size})")
    return _read_exact(sock, size)


def _read_exact(sock: socket.socket, size: int) -> bytearray:
    buffer = bytearray(size)
    view = memoryview(buffer)
    done = 0
    while done < size:
        try:
            got = sock.recv_into(view[done:], size - done)
        except TimeoutError:
            continue  # idle: the caller's own time-out decides when waiting is too long
        if not got:
            raise wire.ConnectionClosed(f"connection closed with {size - done} of {size} unread")
        done += got
    return buffer
