"""`logmetrics run`: the live tailer — files → events (JSON lines) + /metrics + /healthz.

Wiring only: the tailer (tailing.py) reads, the output (output.py) writes, the
metrics sink (metrics.py) aggregates, the server (server.py) serves. Signals:
SIGTERM/SIGINT stop (flush, save positions, exit 0), SIGHUP reopens the output
file for an external logrotate.
"""

from __future__ import annotations

import logging
import resource
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from ..config import ConfigError, Settings
from ..stats import Stats
from .common import keep_heap, settings_and_engine

Event = dict[str, Any]

log = logging.getLogger("logmetrics.run")


def configure_logging(level: int = logging.INFO) -> None:
    """logmetrics' own operational logs: JSON lines on stderr (stdout may be the events)."""
    from pythonjsonlogger.json import JsonFormatter

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(
        "{levelname}{name}{message}", style="{", timestamp="time",
        rename_fields={"levelname": "level", "name": "logger", "message": "msg"},
    ))
    root = logging.getLogger("logmetrics")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def redaction_hook(settings: Settings, stats: Stats) -> Callable[[list[Event]], list[Event]] | None:
    """Applied to every batch of events before output and metrics: secrets never leave the process."""
    return settings.redactor(stats) if settings.redact else None


def _raise_fd_limit() -> None:
    """One descriptor per followed file: use the hard limit (container hosts have hundreds of logs)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        except (ValueError, OSError):
            pass


def run_command(*, paths: list[str] | None, output: str | None, positions: str | None, listen: str | None,
                start_at: str | None, poll: bool | None, parsers: list[Path], config: Path | None) -> None:
    from prometheus_client import CollectorRegistry

    keep_heap(16 << 20)  # a daemon: keep less of a burst's heap than a replay does

    from ..metrics import MetricsSink, exposition
    from ..output import EventOutput
    from ..server import MetricsServer
    from ..tailing import Tailer

    settings, engine = settings_and_engine(parsers, config, paths=paths, output=output, positions=positions,
                                           listen=listen, start_at=start_at, poll=poll)
    if not settings.paths:
        raise ConfigError("run: nothing to follow: give files, folders or globs (arguments, LOGMETRICS_PATHS "
                          "or `paths` in --config)")
    configure_logging()
    _raise_fd_limit()
    out = EventOutput(settings.output, max_bytes=settings.output_max_bytes, backups=settings.output_backups)
    registry = CollectorRegistry()
    sink = MetricsSink(registry, buckets=settings.buckets, label_limit=settings.label_limit,
                       series_limit=settings.series_limit,
                       stats=engine.stats)
    tailer = Tailer(engine, settings.paths, out, positions=settings.positions, start_at=settings.start_at,
                    observe=sink.observe, redact=redaction_hook(settings, engine.stats),
                    exclude=[settings.output, *([settings.positions] if settings.positions else [])],
                    max_open=settings.max_open_files)

    def health() -> tuple[bool, dict[str, Any]]:
        details = tailer.health()
        ok = not tailer.output_blocked and out.error is None
        details.update(status="ok" if ok else "output_failing", output=settings.output,
                       output_error=out.error)
        return ok, details

    server = None
    if settings.listen:
        try:
            server = MetricsServer(settings.listen, lambda: exposition(registry), health)
        except OSError as e:
            out.close()
            raise ConfigError(f"--listen {settings.listen}: cannot listen: {e.strerror or e}") from None

    stop = threading.Event()

    def on_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()
        tailer.wake()

    def on_hup(signum: int, frame: FrameType | None) -> None:
        tailer.request_reopen()

    signal.signal(signal.SIGTERM, on_stop)
    signal.signal(signal.SIGINT, on_stop)
    signal.signal(signal.SIGHUP, on_hup)
    log.info("following", extra={"paths": settings.paths, "output": settings.output,
                                 "positions": settings.positions, "listen": settings.listen,
                                 "port": server.port if server else None, "poll": settings.poll})
    try:
        tailer.run(stop, poll=settings.poll)
    finally:
        if server is not None:
            server.close()
        out.close()
        log.info("stopped", extra={"lines": engine.stats.lines, "files": engine.stats.files_watched})
