"""A small threaded HTTP server on 127.0.0.1 with Range support and fault injection.

It serves a folder the way a CDN or YouTube's media servers would (``Range`` →
``206 Partial Content``, ``Accept-Ranges: bytes``), so the real download code
(urllib, yt-dlp) runs against it unchanged. Tests and ``ovavebench demo`` use it.

Faults are set per URL path with :meth:`LocalServer.set_fault`:
``status`` (answer with that HTTP code, optionally only for the first ``times``
requests), ``truncate`` (send only the first N bytes of the body but announce
the full length), ``stall`` (sleep before answering), and a global ``latency``.

:meth:`LocalServer.set_quota` makes it behave like YouTube under pressure: each
egress (the client's address; :class:`ForwardingProxy` gives each proxy its own
127.0.0.N) may make so many requests per window, then is blocked for a while
(a 429, a bot-check or sign-in wall, or "no formats"). Every request is logged
with its time, egress and client, for budget checks.
"""

from __future__ import annotations

import os
import posixpath
import threading
import time
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import cast

_CONTENT_TYPES = {
    ".mp4": "video/mp4",
    ".webm": "video/webm",
    ".json": "application/json",
    ".csv": "text/csv",
    ".html": "text/html; charset=utf-8",
    ".txt": "text/plain",
    ".wav": "audio/wav",
    ".png": "image/png",
    ".gz": "application/gzip",
}


@dataclass
class Fault:
    """A fault injected for one URL path."""

    status: int | None = None  # answer with this HTTP status
    times: int | None = None  # only for the first N requests (None: always)
    truncate: int | None = None  # send only this many bytes of the body
    stall: float = 0.0  # seconds to sleep before answering
    served: int = 0


# Answers of a blocked egress, with the words YouTube uses (the reason phrase carries them to yt-dlp's message).
BLOCK_ANSWERS = {
    "rate_limit": (429, "Too Many Requests"),
    "bot_check": (403, "Sign in to confirm you're not a bot"),
    "sign_in": (403, "Please sign in"),
    "no_formats": (404, "No video formats found"),
}


@dataclass
class Quota:
    """Per egress: ``requests`` per ``window_s``; past that, ``answer`` for ``block_s`` (``inf``: for good)."""

    requests: int
    window_s: float
    block_s: float
    answer: str = "rate_limit"
    egresses: frozenset[str] | None = None  # only these client addresses (None: every egress)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
        return  # quiet: tests and the demo print their own progress

    def _resolve(self) -> Path | None:
        path = urllib.parse.urlsplit(self.path).path
        path = posixpath.normpath(urllib.parse.unquote(path)).lstrip("/")
        if path.startswith(".."):
            return None
        full = (self.server.root / path).resolve()
        if self.server.root not in full.parents and full != self.server.root:
            return None
        return full

    def _send_error(self, code: int) -> None:
        body = f"error {code}\n".encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        if code == 429:
            self.send_header("Retry-After", "1")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self) -> None:  # noqa: N802 - stdlib name
        self.do_GET()

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        srv = self.server
        srv.count_request(self.path)
        blocked = srv.check_quota(self.client_address[0], self.path, self.headers.get("User-Agent", ""))
        srv.throttle(self.client_address[0])
        if srv.latency:
            time.sleep(srv.latency)
        if blocked is not None:
            code, reason = BLOCK_ANSWERS[blocked]
            body = f"<html><body>{reason}</body></html>\n".encode()
            self.send_response(code, reason)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            return
        url_path = urllib.parse.urlsplit(self.path).path
        fault = srv.faults.get(url_path)
        if fault is not None:
            with srv.lock:
                active = fault.times is None or fault.served < fault.times
                fault.served += 1
            if active and fault.stall:
                time.sleep(fault.stall)
            if active and fault.status is not None:
                self._send_error(fault.status)
                return
        else:
            active = False
        full = self._resolve()
        if full is None or not full.is_file():
            self._send_error(404)
            return
        size = full.stat().st_size
        start, end = 0, size - 1
        range_header = self.headers.get("Range")
        partial = False
        if range_header and range_header.startswith("bytes="):
            spec = range_header[len("bytes=") :].split(",")[0].strip()
            first, _, last = spec.partition("-")
            try:
                if first:
                    start = int(first)
                    end = int(last) if last else size - 1
                else:  # suffix range: the last N bytes
                    start = max(0, size - int(last))
                end = min(end, size - 1)
            except ValueError:
                self._send_error(400)
                return
            if start >= size or start > end:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            partial = True
        length = end - start + 1
        self.send_response(206 if partial else 200)
        self.send_header("Content-Type", _CONTENT_TYPES.get(full.suffix, "application/octet-stream"))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(length))
        if partial:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        if self.command == "HEAD":
            return
        to_send = length
        if fault is not None and active and fault.truncate is not None:
            to_send = min(length, fault.truncate)
        with open(full, "rb") as handle:
            try:
                self.wfile.flush()
                self.connection.sendfile(handle, offset=start, count=to_send)  # zero-copy, little CPU
            except (BrokenPipeError, ConnectionResetError):
                return
        if to_send < length:
            self.close_connection = True  # the announced length was a lie: hang up


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, root: Path):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.root = root.resolve()
        self.faults: dict[str, Fault] = {}
        self.latency = 0.0
        self.lock = threading.Lock()
        self.requests: dict[str, int] = {}
        self.quota: Quota | None = None
        self.window: dict[str, list[float]] = {}  # egress → request times in the current window
        self.blocked_until: dict[str, float] = {}
        self.log: list[tuple[float, str, str, str]] = []  # (time, egress, path, user agent)
        self.rate = 0.0  # requests per second per egress (0: no limit)
        self.next_slot: dict[str, float] = {}

    def throttle(self, egress: str) -> None:
        """Serve each egress at most ``rate`` requests per second (requests wait for their slot)."""
        if not self.rate:
            return
        with self.lock:
            now = time.monotonic()
            slot = max(now, self.next_slot.get(egress, 0.0))
            self.next_slot[egress] = slot + 1.0 / self.rate
        if slot > now:
            time.sleep(slot - now)

    def check_quota(self, egress: str, path: str, agent: str) -> str | None:
        """Log the request; the answer to give if this egress is blocked now, else None."""
        now = time.monotonic()
        with self.lock:
            self.log.append((now, egress, urllib.parse.urlsplit(path).path, agent))
            quota = self.quota
            if quota is None or (quota.egresses is not None and egress not in quota.egresses):
                return None
            if now < self.blocked_until.get(egress, 0.0):
                return quota.answer
            times = [t for t in self.window.get(egress, []) if t > now - quota.window_s]
            if len(times) >= quota.requests:
                self.blocked_until[egress] = now + quota.block_s
                self.window[egress] = []  # after the block, a fresh window
                return quota.answer
            times.append(now)
            self.window[egress] = times
            return None

    def handle_error(self, request: object, client_address: object) -> None:
        import sys

        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return  # a client that hung up (ffmpeg closing a range request): not an error
        super().handle_error(request, client_address)  # type: ignore[arg-type]

    def count_request(self, path: str) -> None:
        with self.lock:
            key = urllib.parse.urlsplit(path).path
            self.requests[key] = self.requests.get(key, 0) + 1


class LocalServer:
    """Serve ``root`` on 127.0.0.1 (a free port) in a background thread.

    >>> with LocalServer(folder) as server:          # doctest: +SKIP
    ...     fetch_file(server.url("a.csv"), "out.csv")
    """

    def __init__(self, root: str | os.PathLike, latency: float = 0.0):
        self._server = _Server(Path(root))
        self._server.latency = latency
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        # an AF_INET server: its address is (host str, port int), never the bytes of a Unix socket
        host, port = cast("tuple[str, int]", self._server.server_address[:2])
        return f"http://{host}:{port}/"

    def url(self, relative_path: str) -> str:
        return self.base_url + urllib.parse.quote(relative_path.lstrip("/"))

    def set_fault(self, relative_path: str, **fault: object) -> None:
        """Inject a fault for the URL of ``relative_path`` (see :class:`Fault`)."""
        key = "/" + urllib.parse.quote(relative_path.lstrip("/"))
        self._server.faults[key] = Fault(**fault)  # type: ignore[arg-type]

    def clear_faults(self) -> None:
        self._server.faults.clear()

    def set_quota(self, quota: Quota | None) -> None:
        """Enforce ``quota`` per egress from now on (None lifts it, and every block)."""
        with self._server.lock:
            self._server.quota = quota
            self._server.window.clear()
            self._server.blocked_until.clear()

    def set_rate(self, requests_per_s: float) -> None:
        """Serve each egress at most this many requests per second (0 lifts the limit)."""
        with self._server.lock:
            self._server.rate = requests_per_s
            self._server.next_slot.clear()

    def request_log(self) -> list[tuple[float, str, str, str]]:
        """Every request so far: (monotonic time, egress address, path, user agent)."""
        with self._server.lock:
            return list(self._server.log)

    def request_count(self, relative_path: str) -> int:
        return self._server.requests.get("/" + urllib.parse.quote(relative_path.lstrip("/")), 0)

    def start(self) -> LocalServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _ProxyHandler(BaseHTTPRequestHandler):
    server: _ProxyServer
    protocol_version = "HTTP/1.1"
    _HOP = {
        "connection",
        "proxy-connection",
        "keep-alive",
        "te",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "proxy-authorization",
    }

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
        return

    def do_HEAD(self) -> None:  # noqa: N802 - stdlib name
        self.do_GET()

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        import http.client

        target = urllib.parse.urlsplit(self.path)
        if target.scheme != "http" or target.hostname not in ("127.0.0.1", "localhost"):
            self.send_error(403, "this test proxy forwards only to http://127.0.0.1")
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in self._HOP}
        connection = http.client.HTTPConnection(
            target.hostname, target.port or 80, timeout=60, source_address=(self.server.egress, 0)
        )
        try:
            connection.request(
                self.command, target.path + (f"?{target.query}" if target.query else ""), headers=headers
            )
            response = connection.getresponse()
            self.send_response(response.status, response.reason)
            for key, value in response.getheaders():
                if key.lower() not in self._HOP:
                    self.send_header(key, value)
            self.send_header("Connection", "close")
            self.end_headers()
            while self.command != "HEAD":
                chunk = response.read(1 << 16)
                if not chunk:
                    break
                self.wfile.write(chunk)
        except (ConnectionError, TimeoutError, http.client.HTTPException):
            pass
        finally:
            connection.close()
            self.close_connection = True


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, egress: str):
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.egress = egress


class ForwardingProxy:
    """A tiny HTTP proxy on 127.0.0.1 whose requests leave from ``egress`` (another loopback address).

    To :class:`LocalServer` each proxy is its own egress, as a proxy on another
    machine is to YouTube. Forwards only to http://127.0.0.1 (tests, benchmarks).
    """

    def __init__(self, egress: str):
        if not egress.startswith("127."):
            raise ValueError("a test egress is a loopback address (127.0.0.N)")
        self._server = _ProxyServer(egress)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        # an AF_INET server: its address is (host str, port int), never the bytes of a Unix socket
        host, port = cast("tuple[str, int]", self._server.server_address[:2])
        return f"http://{host}:{port}"

    def __enter__(self) -> ForwardingProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
