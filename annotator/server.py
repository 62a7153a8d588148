"""The annotator's local web server: the page, its static files and the JSON API.

Standard library only (`http.server.ThreadingHTTPServer`): the tool serves one person on one
machine, and a framework would add a dependency without adding safety. It binds 127.0.0.1
unless told otherwise. Requests are checked before anything is read from disk:

- paths are percent-decoded once and must match a known route exactly; static files come from
  a fixed table built at start-up, so no client text becomes a file path (`..`, `%2e%2e` and
  absolute paths answer 404);
- writes must be `application/json` (a cross-site form cannot send that without a CORS
  preflight, which this server never grants) and at most `MAX_BODY_BYTES`;
- the `Host` header must name this machine when bound to loopback (no DNS rebinding).
"""

from __future__ import annotations

import gzip
import logging
import socket
import threading
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

    def __init__(self, dataset: Dataset, host: str = "127.0.0.1", port: int = 0):
        self.api = AnnotatorApi(dataset)
        self.static = static_table()
        self.loopback_only = host in {"127.0.0.1", "localhost", "::1"}
        if ":" in host:
            self.address_family = socket.AF_INET6
        super().__init__((host, port), _Handler)

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

    def log_message(self, format: str, *args: object) -> None:
        logger.debug("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        try:
            response = self._answer(method)
        except Exception:  # a bug: log it, tell the page, keep serving
            logger.exception("error answering %s %s", method, self.path)
            response = error_response(500, "internal error in the annotator (see its log)")
        self._send(response)

    def _answer(self, method: str) -> Response:
        if self.server.loopback_only:
            host = (self.headers.get("Host") or "").rsplit(":", 1)[0]
            if host not in _LOOPBACK_NAMES:
                return error_response(400, f"unexpected Host header '{host}'")
        raw_path = urlsplit(self.path).path
        try:
            path = unquote(raw_path, errors="strict")
        except UnicodeDecodeError:
            return error_response(400, "the request path is not valid UTF-8")
        body = b""
        if method in {"PUT", "POST"}:
            content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip()
            if content_type != "application/json":
                return error_response(415, "send the request body as application/json")
            try:
                length = int(self.headers.get("Content-Length") or "")
            except ValueError:
                return error_response(411, "a Content-Length header is required")
            if not 0 <= length <= MAX_BODY_BYTES:
                return error_response(413, f"request body over {MAX_BODY_BYTES} bytes")
            body = self.rfile.read(length)
        if path.startswith("/api/"):
            return self.server.api.handle(method, path, body)
        if method != "GET":
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
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            logger.debug("client went away before the answer to %s", self.path)


def serve(dataset: Dataset, host: str = "127.0.0.1", port: int = 0) -> AnnotatorServer:
    """Make (but don't start) the server for `dataset`; port 0 picks a free port."""
    server = AnnotatorServer(dataset, host, port)
    logger.info("annotator for %s at %s", dataset.root, server.url)
    return server
