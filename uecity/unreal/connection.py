"""A connection to an UnrealCV server through the PyPI `unrealcv` client (1.3.2), made safe.

What this adds to the client, and why:
- **Bounded waits.** The client's sockets block forever and `request_batch` waits without a
  timeout; an engine that hangs would hang us. Every socket here has a timeout, and connecting
  retries with exponential backoff only up to a total deadline, then fails with a clear error.
- **Fast failure on a dropped connection.** The client retries reading a dead socket ten times
  with backoff (about a minute) before giving up; we set that to zero, so a drop is seen at
  once and the caller can reconnect and resume (see `uecity.unreal.backend`).
- **One write per batch.** The client writes each request on its own (with TCP_NODELAY: a
  packet and a system call each); a batch is framed here and written at once.
- **Quiet.** The client prints to stdout on connect, warns that our server does not list its
  commands, and logs its own errors to stderr; all are silenced (shown at debug level), since
  we report every failure ourselves.
- **Defects worked around:** `from unrealcv import client` does not exist, so we construct
  `unrealcv.Client((host, port))`; the Unix-socket mode of `UnrealCv_API` never connects, so we
  use TCP; `get_obj_color` drops a channel, so colours are parsed here (`parse_colour`).
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import socket
import time
import warnings
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from queue import Empty

from uecity.errors import ExternalToolError, MissingDependencyError, UsageError
from uecity.unreal import wire

log = logging.getLogger(__name__)

_COLOUR = re.compile(r"\(R=(\d+),G=(\d+),B=(\d+)(?:,A=(\d+))?\)")


class ConnectionLost(Exception):
    """The engine went away mid-request (dropped socket, engine restart, time-out)."""


class EngineCommandError(ExternalToolError):
    """The engine answered a command with `error …`."""


@dataclass(frozen=True, eq=False)
class SentBatch:
    """Requests sent on a connection whose replies are not collected yet."""

    commands: tuple[str, ...]


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> Endpoint:
        """`HOST:PORT` (or `:PORT`, or `[v6addr]:PORT`) → Endpoint; bad text is a UsageError."""
        host, sep, port = text.rpartition(":")
        host = host.strip("[]") or "127.0.0.1"
        if not sep or not port.isdigit() or not 0 < int(port) < 65536:
            raise UsageError(f"endpoint '{text}' is not HOST:PORT (e.g. 127.0.0.1:9000)")
        return cls(host, int(port))

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


def parse_colour(reply: str) -> tuple[int, int, int]:
    """`(R=12,G=34,B=56,A=255)` → (12, 34, 56); the client's own parser drops a channel."""
    match = _COLOUR.search(reply)
    if not match:
        raise EngineCommandError(f"cannot read a colour from the engine's reply {reply!r}")
    return int(match[1]), int(match[2]), int(match[3])


def _quiet_receive_loop(client):  # type: ignore[no-untyped-def]
    """The client's receive thread, minus the traceback it prints when the socket drops.

    The client's loop raises `ConnectionError` out of its thread on a drop (after queueing the
    error for the waiting request); we pass the error on the same way and end quietly.
    """
    loop = client.receive_loop_queue

    def run() -> None:
        try:
            loop()
        except (ConnectionError, OSError, AssertionError) as error:
            log.debug("unrealcv receive thread ended: %s", error)
            client.recv_data_q.put(ConnectionError(str(error)))

    return run


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The client's prints and warnings silenced."""
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


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
    ) -> None:
        self.endpoint = endpoint
        self.connect_timeout_s = connect_timeout_s
        self.request_timeout_s = request_timeout_s
        self._client = None
        self._outstanding: deque[SentBatch] = deque()

    # --- connecting
    def connect(self) -> None:
        """Connect, retrying with backoff until `connect_timeout_s` has passed."""
        unrealcv = _import_client()
        # The client logs its own errors to stderr ("Can not connect to …"); we report every
        # failure ourselves, naming the endpoint, so its lines show only when debugging.
        verbose = log.isEnabledFor(logging.DEBUG)
        logging.getLogger("unrealcv").setLevel(logging.DEBUG if verbose else logging.CRITICAL)
        self.close()
        deadline = time.monotonic() + self.connect_timeout_s
        delay = 0.1
        attempts = 0
        while True:
            attempts += 1
            client = unrealcv.Client((self.endpoint.host, self.endpoint.port))
            client.RECONNECT_ATTEMPTS = 0  # a dead socket is reported at once, not after ~1 min
            client.receive_loop_queue = _quiet_receive_loop(client)
            if self._try_connect(client, deadline):
                self._client = client
                log.info("connected to UnrealCV at %s (attempt %d)", self.endpoint, attempts)
                return
            if time.monotonic() + delay > deadline:
                raise ExternalToolError(
                    f"no UnrealCV server answered at {self.endpoint} within "
                    f"{self.connect_timeout_s:g} s ({attempts} attempts). Is the game running "
                    "with the UnrealCV plugin on that port (or `uecity serve-sim`)?"
                )
            time.sleep(delay)
            delay = min(delay * 2, 2.0)

    def _try_connect(self, client, deadline: float) -> bool:  # type: ignore[no-untyped-def]
        remaining = max(0.05, deadline - time.monotonic())
        previous = socket.getdefaulttimeout()
        # The client makes its socket inside connect(); the default timeout bounds the wait for
        # the server's greeting, then stays on the socket to bound every later read.
        socket.setdefaulttimeout(min(remaining, self.request_timeout_s))
        try:
            with (
                contextlib.redirect_stdout(io.StringIO()) as printed,
                warnings.catch_warnings(),
            ):
                warnings.simplefilter("ignore")
                ok = bool(client.connect(timeout=remaining))
            if printed.getvalue().strip():
                log.debug("unrealcv client: %s", printed.getvalue().strip())
        finally:
            socket.setdefaulttimeout(previous)
        if ok and client.sock is not None:
            client.sock.settimeout(self.request_timeout_s)
        return ok

    def close(self) -> None:
        if self._client is not None:
            with contextlib.suppress(Exception), contextlib.redirect_stdout(io.StringIO()):
                self._client.disconnect()
            self._client = None
        self._outstanding.clear()

    @property
    def connected(self) -> bool:
        return self._client is not None and self._client.isconnected()

    @property
    def outstanding(self) -> int:
        """Batches sent and not yet collected."""
        return len(self._outstanding)

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
        client = self._client
        if client is None or not client.isconnected():
            raise ConnectionLost(f"not connected to {self.endpoint}")
        sent = SentBatch(tuple(commands))
        if not commands:
            return sent
        first = client.send_message_id
        framed = b"".join(
            wire.encode_message(b"%d:%s" % (first + k, command.encode("utf-8")))
            for k, command in enumerate(commands)
        )
        try:
            client.sock.sendall(framed)
            client.send_message_id += len(commands)
        except (ConnectionError, OSError, AttributeError) as error:
            self.close()
            raise ConnectionLost(f"connection to {self.endpoint} lost: {error}") from None
        client.recv_num_q.put(-len(commands))  # the receive thread reads this many replies
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
        client = self._client
        assert client is not None  # close() forgets every outstanding batch
        try:
            with _quiet():
                replies = self._collect_replies(client, len(sent.commands))
        except (ConnectionError, OSError, TimeoutError, AssertionError) as error:
            self.close()
            raise ConnectionLost(f"connection to {self.endpoint} lost: {error}") from None
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

    def _collect_replies(self, client, count: int) -> list[str | bytes]:  # type: ignore[no-untyped-def]
        # The client's receive thread fills its reply queue; its request_batch waits on that
        # queue without a time-out, we read it with one.
        replies: list[str | bytes] = []
        for _ in range(count):
            try:
                reply = client.recv_data_q.get(timeout=self.request_timeout_s)
            except Empty:
                raise TimeoutError(f"no reply within {self.request_timeout_s:g} s") from None
            if reply is None or isinstance(reply, Exception):
                raise ConnectionError(str(reply) if reply else "connection closed")
            replies.append(reply)
        return replies
