"""`logmetrics replay`: read a pile of logs once and report on it in the chosen format.

stdout carries the result and nothing else (the progress bar goes to stderr, and
only on a terminal), so `replay ... --format prom > file` is always clean.
"""

from __future__ import annotations

import os
import shutil
import struct
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from ..config import Settings
from ..parsing import Engine
from ..replay import EventFilter, iter_events
from ..sources import expand_paths
from .common import keep_heap, settings_and_engine

_OPT = orjson.OPT_APPEND_NEWLINE
PROGRESS_MIN_BYTES = 8 << 20  # smaller inputs finish before a bar would help


def _input_size(files: list[Path]) -> int:
    """Bytes the reader will count: a gzip file's uncompressed size comes from its trailer (mod 4 GiB)."""
    total = 0
    for p in files:
        try:
            size = p.stat().st_size
            with open(p, "rb") as f:
                if f.read(2) == b"\x1f\x8b" and size >= 18:
                    f.seek(-4, 2)
                    size = max(size, struct.unpack("<I", f.read(4))[0])
        except OSError:
            continue
        total += size
    return total


@contextmanager
def _progress(files: list[Path], enabled: bool) -> Iterator[Callable[[int], None] | None]:
    """A rich progress bar on stderr for large inputs on a terminal; otherwise nothing at all."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    total = _input_size(files)
    if total < PROGRESS_MIN_BYTES:
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    with Progress(TextColumn("replay"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                  TimeRemainingColumn(), console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("replay", total=total)
        yield lambda n: bar.advance(task, n)


def replay_command(
    paths: list[str],
    fmt: str,
    *,
    emit: Path | None,
    only_app: str | None,
    since: str | None,
    until: str | None,
    progress: bool,
    jobs: int | None,
    parsers: list[Path],
    config: Path | None,
) -> None:
    keep_heap()
    # Old files: a line without its own time takes its predecessor's, not today's date.
    settings, engine = settings_and_engine(parsers, config, inherit_ts=True)
    redact = settings.redactor(engine.stats)
    files = expand_paths(paths)
    flt = EventFilter.build(only_app, since, until)
    out = sys.stdout.buffer
    emit_f = open(emit, "wb") if emit is not None else None  # noqa: SIM115 - closed below
    workers = jobs or os.cpu_count() or 1
    try:
        with _progress(files, progress) as on_bytes:
            if workers > 1 and sum(p.stat().st_size for p in files) >= settings.replay_parallel_min_bytes:
                aggregate = _parallel(files, fmt, settings, engine, flt, workers, out, emit_f, on_bytes)
            else:
                aggregate = _sequential(files, fmt, settings, engine, flt, redact, out, emit_f, on_bytes)
    finally:
        if emit_f is not None:
            emit_f.close()
    _write_result(fmt, aggregate, out)
    out.flush()


def _sequential(files: list[Path], fmt: str, settings: Settings, engine: Engine, flt: EventFilter,
                redact: Callable[[list[dict[str, Any]]], list[dict[str, Any]]], out: BinaryIO,
                emit_f: BinaryIO | None, on_bytes: Callable[[int], None] | None) -> Any:
    from ..parallel import consumer, make_sink

    aggregate, observe = make_sink(fmt, settings, engine.stats)
    outputs = ([out] if fmt == "events" else []) + ([emit_f] if emit_f is not None else [])
    consume = consumer(EventFilter(), observe, outputs)  # iter_events has filtered already
    for batch in iter_events(engine, files, flt, on_bytes, redact):
        consume(batch)
    return aggregate


def _parallel(files: list[Path], fmt: str, settings: Settings, engine: Engine, flt: EventFilter, workers: int,
              out: BinaryIO, emit_f: BinaryIO | None, on_bytes: Callable[[int], None] | None) -> Any:
    from ..parallel import plan_units, run_parallel

    units = plan_units(files, workers, settings.replay_split_bytes)
    writers = ([out] if fmt == "events" else []) + ([emit_f] if emit_f is not None else [])
    aggregate, _stats = run_parallel(units, jobs=min(workers, len(units)), fmt=fmt, settings=settings,
                                     definitions=engine.definitions, flt=flt, write_events=writers,
                                     on_bytes=on_bytes)
    return aggregate


def _write_result(fmt: str, aggregate: Any, out: BinaryIO) -> None:
    if fmt in ("table", "json"):
        data = aggregate.to_dict()
        if fmt == "json":
            out.write(orjson.dumps(data, option=orjson.OPT_INDENT_2 | _OPT))
        else:
            from ..render import WIDTH, render_table

            tty = sys.stdout.isatty()
            width = shutil.get_terminal_size((WIDTH, 24)).columns if tty else WIDTH
            out.write(render_table(data, width=width, color=tty).encode())
    elif fmt == "prom":
        from prometheus_client import CollectorRegistry

        from ..metrics import exposition

        registry = CollectorRegistry()
        registry.register(aggregate)
        out.write(exposition(registry))
