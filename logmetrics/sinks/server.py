"""The HTTP side of `run`: /metrics for Prometheus and /healthz for liveness probes.

One asyncio loop in one thread serves every connection, so idle or slow clients
cost a socket, not a thread: each connection has `timeout` seconds in all to
send its request and take the answer, at most `max_connections` are open at
once (the rest are refused at accept), and the listen backlog is real. The
exposition is rendered in one worker thread and shared: concurrent scrapes, and
scrapes within `cache_s` of the last render, get the same bytes (gzip too, when
asked). Nothing here waits on parsing, and the loop never runs a regex: /healthz
and /metrics answer while a line is being processed.

Only GET and HEAD of the two paths; anything that is not HTTP/1.x (a TLS hello,
garbage) gets 400 and is closed at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import logging
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson
from prometheus_client import CONTENT_TYPE_LATEST

__all__ = ["HealthFn", "MetricsServer", "parse_listen"]

HealthFn = Callable[[], tuple[bool, dict[str, Any]]]  # (healthy, details)

log = logging.getLogger("logmetrics.server")

_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}
_MAX_HEAD = 8192  # request line + headers


def parse_listen(listen: str) -> tuple[str, int]:
    """`HOST:PORT` (or `[::1]:PORT`) → (host, port); Settings has validated the shape already."""
    host, _, port = listen.rpartition(":")
    return host.strip("[]") or "0.0.0.0", int(port)


class _Exposition:
    """The last rendered /metrics body, shared by every scrape within `cache_s` (one render at a time)."""

    def __init__(self, render: Callable[[], bytes], cache_s: float, pool: ThreadPoolExecutor) -> None:
        self._render, self._cache_s, self._pool = render, cache_s, pool
        self._body = b""
        self._at = -1e9
        self._gz: tuple[bytes, bytes] = (b"", gzip.compress(b""))  # (body, its gzip)
        self._pending: asyncio.Future[bytes] | None = None

    def _rendered(self, fut: asyncio.Future[bytes]) -> None:
        self._pending = None
        if not fut.cancelled() and fut.exception() is None:
            self._body, self._at = fut.result(), time.monotonic()

    async def body(self, gz: bool) -> bytes:
        if time.monotonic() - self._at < self._cache_s:
            body = self._body
        else:
            if self._pending is None:
                self._pending = asyncio.get_running_loop().run_in_executor(self._pool, self._render)
                self._pending.add_done_callback(self._rendered)
            # shielded: a scrape that times out must not cancel the render the others wait for
            body = await asyncio.shield(self._pending)
        if not gz:
            return body
        if self._gz[0] is not body:
            self._gz = (body, gzip.compress(body, compresslevel=5))
        return self._gz[1]


class MetricsServer:
    """Serves /metrics and /healthz on `listen` until `close()`."""

    def __init__(self, listen: str, render: Callable[[], bytes], health: HealthFn, *, timeout: float = 10.0,
                 max_connections: int = 512, backlog: int = 512, cache_s: float = 1.0) -> None:
        host, port = parse_listen(listen)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._sock = socket.create_server((host, port), family=family, backlog=backlog, reuse_port=False)
        self.address = self._sock.getsockname()
        self._health = health
        self._timeout = timeout
        self._max_connections = max_connections
        self._open = 0
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="logmetrics-render")
        self._exposition = _Exposition(render, cache_s, self._pool)
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.AbstractServer | None = None
        ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(ready,), name="logmetrics-http", daemon=True)
        self._thread.start()
        ready.wait(5.0)

    @property
    def port(self) -> int:
        return int(self.address[1])

    def close(self) -> None:
        """Stop accepting, drop open connections, end the thread (within about a second)."""
        if self._loop.is_running():
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=2.0)
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- the loop ------------------------------------------------------------------------------------

    def _serve(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._server = self._loop.run_until_complete(
                asyncio.start_server(self._connection, sock=self._sock, limit=_MAX_HEAD))
            ready.set()
            self._loop.run_forever()
        finally:
            ready.set()
            if self._server is not None:
                self._server.close()
            for task in asyncio.all_tasks(self._loop):
                task.cancel()
            with contextlib.suppress(Exception):
                self._loop.run_until_complete(asyncio.sleep(0))
            self._loop.close()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._open >= self._max_connections:
            writer.transport.abort()  # over the limit: refused, costs nothing
            return
        self._open += 1
        try:
            await asyncio.wait_for(self._exchange(reader, writer), self._timeout)
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                ValueError):
            writer.transport.abort()  # idle, too slow, or gone: drop it
        finally:
            self._open -= 1

    async def _exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        first = await reader.readline()
        parts = first.split()
        if len(parts) != 3 or not parts[2].startswith(b"HTTP/1.") or not first.endswith(b"\n"):
            await self._send(writer, 400, "text/plain; charset=utf-8", b"not an HTTP/1.x request\n", head=False)
            return
        method, target = parts[0], parts[1]
        gz = False
        while True:  # headers: only Accept-Encoding matters
            line = await reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"accept-encoding" and b"gzip" in value.lower():
                gz = True
        head = method == b"HEAD"
        if method not in (b"GET", b"HEAD"):
            await self._send(writer, 405, "text/plain; charset=utf-8", b"only GET and HEAD\n", head=False,
                             extra=b"Allow: GET, HEAD\r\n")
            return
        path = target.split(b"?", 1)[0]
        if path == b"/metrics":
            body = await self._exposition.body(gz)
            await self._send(writer, 200, CONTENT_TYPE_LATEST, body, head=head,
                             extra=b"Content-Encoding: gzip\r\n" if gz else b"")
        elif path == b"/healthz":
            ok, details = self._health()
            await self._send(writer, 200 if ok else 503, "application/json", orjson.dumps(details), head=head)
        else:
            await self._send(writer, 404, "text/plain; charset=utf-8", b"not found: try /metrics or /healthz\n",
                             head=head)

    @staticmethod
    async def _send(writer: asyncio.StreamWriter, code: int, ctype: str, body: bytes, *, head: bool,
                    extra: bytes = b"") -> None:
        writer.write(
            f"HTTP/1.1 {code} {_REASONS[code]}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
            f"Connection: close\r\n".encode() + extra + b"\r\n")
        if not head:
            writer.write(body)
        await writer.drain()
        writer.close()
        await writer.wait_closed()  # the whole answer delivered, within the connection's deadline
