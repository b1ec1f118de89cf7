"""`logmetrics run`: the live tailer — files → events (JSON lines) + /metrics + /healthz.

Wiring only: the tailer (tailing.py) reads, the output (output.py) writes, the
metrics sink (metrics.py) aggregates, the server (server.py) serves. Signals:
SIGTERM/SIGINT stop (flush, save positions, exit 0), SIGHUP reopens the output
file for an external logrotate.
"""

from __future__ import annotations

import logging
import os
import resource
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from ..config import ConfigError
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


def check_output_and_positions(output: str, positions: str | None, backups: int) -> None:
    """Refuse settings that would destroy data: positions saved over the events (each save renames the
    positions file over it), a positions path that is a folder, a folder that does not exist."""
    if output != "-":
        out = os.path.realpath(output)
        if os.path.isdir(out):
            raise ConfigError(f"--output {output}: is a folder, not a file")
        if not os.path.isdir(os.path.dirname(out)):
            raise ConfigError(f"--output {output}: folder {os.path.dirname(out)} does not exist")
    if positions is None:
        return
    pos = os.path.realpath(positions)
    if os.path.isdir(pos):
        raise ConfigError(f"--positions {positions}: is a folder, not a file")
    if not os.path.isdir(os.path.dirname(pos)):
        raise ConfigError(f"--positions {positions}: folder {os.path.dirname(pos)} does not exist")
    if output != "-":
        rotations = {out} | {f"{out}.{i}" for i in range(1, max(backups, 1) + 1)}
        if pos in rotations:
            raise ConfigError(f"--positions {positions}: is the events output (or one of its rotations); "
                              "each save would replace the events with positions")


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

    from ..pipeline import Pipeline
    from ..sinks.jsonlines import EventOutput
    from ..sinks.metrics import MetricsSink, exposition
    from ..sinks.server import MetricsServer
    from ..sources.tail import Tailer
    from ..transforms.redact import redactor_for

    settings, engine = settings_and_engine(parsers, config, paths=paths, output=output, positions=positions,
                                           listen=listen, start_at=start_at, poll=poll)
    if not settings.paths:
        raise ConfigError("run: nothing to follow: give files, folders or globs (arguments, LOGMETRICS_PATHS "
                          "or `paths` in --config)")
    check_output_and_positions(settings.output, settings.positions, settings.output_backups)
    configure_logging()
    _raise_fd_limit()
    out = EventOutput(settings.output, max_bytes=settings.output_max_bytes, backups=settings.output_backups)
    registry = CollectorRegistry()
    sink = MetricsSink(registry, buckets=settings.buckets, label_limit=settings.label_limit,
                       series_limit=settings.series_limit, stats=engine.stats)
    pipeline = Pipeline([sink, out], redact=redactor_for(settings, engine.stats))
    tailer = Tailer(engine, settings.paths, pipeline, positions=settings.positions, start_at=settings.start_at,
                    exclude=[settings.output, *([settings.positions] if settings.positions else [])],
                    max_open=settings.max_open_files, follow_symlinks=settings.follow_symlinks)

    def health() -> tuple[bool, dict[str, Any]]:
        details = tailer.health()
        if out.error is not None and details["status"] == "ok":
            details["status"] = "output_failing"
        details.update(output=settings.output, output_error=out.error)
        return details["status"] == "ok", details

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
