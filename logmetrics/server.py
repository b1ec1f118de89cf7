"""The HTTP side of `run`: /metrics for Prometheus and /healthz for liveness probes.

A small threaded http.server in a daemon thread: the two endpoints are cheap
reads of state the tailer keeps, so no framework is worth its weight here.
Scrapes never block reading: the metrics sink aggregates under its own lock and
builds families only when asked.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry

from .metrics import exposition

__all__ = ["HealthFn", "MetricsServer", "parse_listen"]

HealthFn = Callable[[], tuple[bool, dict[str, Any]]]  # (healthy, details)

log = logging.getLogger("logmetrics.server")


def parse_listen(listen: str) -> tuple[str, int]:
    """`HOST:PORT` (or `[::1]:PORT`) → (host, port); Settings has validated the shape already."""
    host, _, port = listen.rpartition(":")
    return host.strip("[]") or "0.0.0.0", int(port)


class MetricsServer:
    """Serves /metrics and /healthz on `listen` until `close()`."""

    def __init__(self, listen: str, registry: CollectorRegistry, health: HealthFn) -> None:
        host, port = parse_listen(listen)
        registry_ = registry
        health_ = health

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # http.server's naming
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    self._send(200, CONTENT_TYPE_LATEST, exposition(registry_))
                elif path == "/healthz":
                    ok, details = health_()
                    self._send(200 if ok else 503, "application/json", orjson.dumps(details))
                else:
                    self._send(404, "text/plain; charset=utf-8", b"not found: try /metrics or /healthz\n")

            def _send(self, code: int, ctype: str, body: bytes) -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # the base's signature
                log.debug("http " + format % args)

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.address = self.httpd.server_address
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.2},
                                        name="logmetrics-http", daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self.address[1])

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=1.0)
