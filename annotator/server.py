"""The annotator's local web server: the page, its static files and the JSON API.

Standard library only (`http.server.ThreadingHTTPServer`): the tool serves one person on one
machine, and a framework would add a dependency without adding safety. It binds 127.0.0.1
unless told otherwise. Requests are checked before anything is read from disk:

- paths are percent-decoded once and must match a known route exactly; static files come from
  a fixed table built at start-up, so no client text becomes a file path (`..`, `%2e%2e` and
  absolute paths answer 404);
- writes must be `application/json` (a cross-site form cannot send that without a CORS
  preflight, which this server never grants) and at most `MAX_BODY_BYTES`;
- the `Host` header must name this machine (no DNS rebinding): on loopback one of its loopback
  names; on another address that address, this machine's host names, or a name given with
  `allow_hosts` (`--allow-host`);
- every refused request, including the ones `http.server` itself refuses (an unknown method, an
  over-long request line, HTTP/0.9), answers a 4xx JSON `{"error": ...}`; `HEAD` works.

Connections time out after `SOCKET_TIMEOUT_S` of silence, the listen backlog takes a burst of
connections, and stopping the server waits (briefly) only for requests being answered, never
for idle keep-alive connections a browser holds open.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import logging
import socket
import threading
import time
from collections.abc import Iterable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from annotator.api import MAX_BODY_BYTES, AnnotatorApi, Response, error_response
from uecity.dataset import Dataset

logger = logging.getLogger(__name__)

STATIC_FOLDER = Path(__file__).parent / "static"
_STATIC_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".png": "image/png",
    ".svg": "image/svg+xml",
}
_LOOPBACK_NAMES = {"127.0.0.1", "localhost", "[::1]"}
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
_WILDCARD_HOSTS = {"", "0.0.0.0", "::"}
SOCKET_TIMEOUT_S = 30.0  # a silent connection is closed after this (slow clients, idle tabs)
LISTEN_BACKLOG = 128  # a page opening many frames at once must not see resets
STOP_GRACE_S = 5.0  # how long stopping waits for requests being answered (saves)


def host_names(host: str, extra: Iterable[str] = ()) -> set[str]:
    """The `Host` header names (no port) accepted by a server bound to `host`."""
    names = set(_LOOPBACK_NAMES)
    if host not in LOOPBACK_HOSTS:
        names |= {socket.gethostname(), socket.getfqdn()}
        if host in _WILDCARD_HOSTS:  # every interface: the machine's own addresses
            with contextlib.suppress(OSError):
                names |= set(socket.gethostbyname_ex(socket.gethostname())[2])
        else:
            names.add(f"[{host}]" if ":" in host else host)
    names |= set(extra)
    return {name.lower() for name in names if name}


def _host_of(header: str) -> str:
    """The name in a `Host` header, without its port (`[::1]:80` → `[::1]`)."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[: header.find("]") + 1] if "]" in header else header
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def static_table(folder: Path = STATIC_FOLDER) -> dict[str, tuple[bytes, str]]:
    """URL path to (bytes, content type) for every file of the static folder, read once."""
    table = {}
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.suffix in _STATIC_TYPES:
            table[f"/static/{path.name}"] = (path.read_bytes(), _STATIC_TYPES[path.suffix])
    table["/"] = table["/static/index.html"]
    if "/static/favicon.svg" in table:
        table["/favicon.ico"] = table["/static/favicon.svg"]
    return table


class AnnotatorServer(ThreadingHTTPServer):
    """One dataset served at http://host:port/."""

    daemon_threads = True
    block_on_close = False  # idle keep-alive connections must not keep Ctrl+C waiting
    request_queue_size = LISTEN_BACKLOG

    def __init__(
        self,
        dataset: Dataset,
        host: str = "127.0.0.1",
        port: int = 0,
        allow_hosts: Iterable[str] = (),
    ):
        self.api = AnnotatorApi(dataset)
        self.static = static_table()
        self.allowed_hosts = host_names(host, allow_hosts)
        self._busy = 0  # requests being answered
        self._idle = threading.Condition()
        self._connections: set[socket.socket] = set()
        if ":" in host:
            self.address_family = socket.AF_INET6
        super().__init__((host, port), _Handler)

    def process_request(self, request: socket.socket, client_address: object) -> None:  # type: ignore[override]
        with self._idle:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: socket.socket) -> None:  # type: ignore[override]
        with self._idle:
            self._connections.discard(request)
        super().shutdown_request(request)

    def begin_request(self) -> None:
        with self._idle:
            self._busy += 1

    def end_request(self) -> None:
        with self._idle:
            self._busy -= 1
            self._idle.notify_all()

    def close(self, grace_s: float = STOP_GRACE_S) -> int:
        """Stop: close the listening socket, wait up to `grace_s` for requests being answered
        (a save finishes and is acknowledged, or never starts), then close every connection,
        idle keep-alive ones included; return how many requests were cut off."""
        self.server_close()
        deadline = time.monotonic() + grace_s
        with self._idle:
            while self._busy and time.monotonic() < deadline:
                self._idle.wait(deadline - time.monotonic())
            cut, connections = self._busy, list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        return cut

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"

    def start_in_thread(self) -> threading.Thread:
        """Serve in a daemon thread (for tests and benchmarks); stop with `shutdown()`."""
        thread = threading.Thread(
            target=self.serve_forever, kwargs={"poll_interval": 0.05}, name="annotator", daemon=True
        )
        thread.start()
        return thread


class _Handler(BaseHTTPRequestHandler):
    server: AnnotatorServer
    protocol_version = "HTTP/1.1"  # keep-alive: the page fetches many frames
    # Headers and body go out in two writes; with Nagle's algorithm on, the second waits for
    # the client's delayed ACK (~40 ms per request on Linux).
    disable_nagle_algorithm = True
    server_version = "uecity-annotator"
    sys_version = ""
    timeout = SOCKET_TIMEOUT_S

    def log_message(self, format: str, *args: object) -> None:
        logger.debug("%s %s", self.address_string(), format % args)

    def parse_request(self) -> bool:
        words = self.raw_requestline.split()
        if len(words) == 2:  # HTTP/0.9: http.server would wait for headers that never come
            self.command, self.request_version = words[0].decode("latin-1"), "HTTP/0.9"
            self.requestline = self.raw_requestline.decode("latin-1").rstrip("\r\n")
            self.send_error(400, "HTTP/0.9 requests are not supported: send HTTP/1.1")
            return False
        return super().parse_request()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """`http.server`'s own refusals (unknown method, long line, bad syntax) as JSON."""
        if code == HTTPStatus.NOT_IMPLEMENTED:
            code, message = 405, f"the method {str(self.command)[:20]!r} is not allowed here"
        elif code == HTTPStatus.HTTP_VERSION_NOT_SUPPORTED:
            code, message = 400, f"{message}: send HTTP/1.1"
        if code >= 500:
            logger.error("error %d answering %r: %s", code, self.requestline, message)
        if message is None:
            try:
                message = HTTPStatus(code).phrase
            except ValueError:
                message = "error"
        if getattr(self, "request_version", "") == "HTTP/0.9":
            self.request_version = "HTTP/1.0"  # so the status line and headers are written
        body = json.dumps({"error": message}).encode("utf-8")
        self.close_connection = True
        try:
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            if getattr(self, "command", "") != "HEAD":
                self.wfile.write(body)
        except OSError:
            logger.debug("client went away before the error answer")

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        self.server.begin_request()
        try:
            try:
                response = self._answer(method)
            except TimeoutError:
                self.close_connection = True
                response = error_response(408, "the request body did not arrive in time")
            except Exception:  # a bug: log it, tell the page, keep serving
                logger.exception("error answering %s %s", method, self.path)
                response = error_response(500, "internal error in the annotator (see its log)")
            self._send(response)
        finally:
            self.server.end_request()

    def _refuse(self, status: int, message: str) -> Response:
        """A refusal before the body is read: the connection closes, so an unread body can
        never be taken for the next request."""
        self.close_connection = True
        return error_response(status, message)

    def _answer(self, method: str) -> Response:
        host = _host_of(self.headers.get("Host") or "")
        if host not in self.server.allowed_hosts:
            return self._refuse(
                400,
                f"unexpected Host header '{host[:100]}' (start the annotator with "
                "--allow-host NAME to serve under another name)",
            )
        raw_path = urlsplit(self.path).path
        try:
            path = unquote(raw_path, errors="strict")
        except UnicodeDecodeError:
            return self._refuse(400, "the request path is not valid UTF-8")
        body = b""
        if method in {"PUT", "POST"}:
            content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip()
            if content_type != "application/json":
                return self._refuse(415, "send the request body as application/json")
            try:
                length = int(self.headers.get("Content-Length") or "")
            except ValueError:
                return self._refuse(411, "a Content-Length header is required")
            if not 0 <= length <= MAX_BODY_BYTES:
                return self._refuse(413, f"request body over {MAX_BODY_BYTES} bytes")
            body = self.rfile.read(length)
            if len(body) < length:
                return self._refuse(400, "the request body ended early")
        if path.startswith("/api/"):
            return self.server.api.handle(method, path, body)
        if method not in {"GET", "HEAD"}:
            return error_response(405, f"{method} is not allowed here")
        static = self.server.static.get(path)
        if static is None:
            return error_response(404, f"not found: {path}")
        data, content_type = static
        return Response(200, data, content_type=content_type, headers={"Cache-Control": "no-cache"})

    def _send(self, response: Response) -> None:
        body = response.body
        headers = dict(response.headers)
        accepts_gzip = "gzip" in (self.headers.get("Accept-Encoding") or "")
        if accepts_gzip and response.gzip_body is not None:
            body = response.gzip_body
            headers["Content-Encoding"] = "gzip"
        elif accepts_gzip and response.content_type == "application/json" and len(body) > 65536:
            body = gzip.compress(body, compresslevel=5)
            headers["Content-Encoding"] = "gzip"
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Referrer-Policy", "no-referrer")
            if response.content_type.startswith("text/html"):
                self.send_header(
                    "Content-Security-Policy",
                    "default-src 'self'; img-src 'self' blob:; style-src 'self'",
                )
            if "Cache-Control" not in headers:
                headers["Cache-Control"] = "no-store"
            if self.close_connection:
                headers["Connection"] = "close"
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        except OSError:  # broken pipe, reset, time-out: the client went away
            self.close_connection = True
            logger.debug("client went away before the answer to %s", self.path)


def serve(
    dataset: Dataset, host: str = "127.0.0.1", port: int = 0, allow_hosts: Iterable[str] = ()
) -> AnnotatorServer:
    """Make (but don't start) the server for `dataset`; port 0 picks a free port."""
    server = AnnotatorServer(dataset, host, port, allow_hosts)
    logger.info("annotator for %s at %s", dataset.root, server.url)
    return server
