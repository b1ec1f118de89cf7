"""`logmetrics replay`: read a pile of logs once and report on it in the chosen format.

stdout carries the result and nothing else (the progress bar goes to stderr, and
only on a terminal), so `replay ... --format prom > file` is always clean. What a
folder walk or glob passed over is part of the result (table and json), not stderr.
`-` reads standard input (then everything is read in this process).
"""

from __future__ import annotations

import os
import struct
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson

from ..core.errors import UserError
from ..offline.formats import aggregate_for, write_report
from ..offline.parallel import chain
from ..offline.sequential import replay_files
from ..parse.engine import UNKNOWN
from ..pipeline import Sink
from ..sinks.jsonlines import JsonLines
from ..sources.files import is_gzip, resolve_paths
from ..transforms.filter import EventFilter
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
                if is_gzip(p) and size >= 18:
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
    if only_app is not None:
        known = sorted({d.app for d in engine.definitions if not d.fallback} | {UNKNOWN})
        if only_app not in known:
            raise UserError(f"--app {only_app!r}: no such app (known: {', '.join(known)})")
    found = resolve_paths(paths, follow_symlinks=settings.follow_symlinks)
    files = [Path(f) for f in found.files]
    stdin = "-" in found.files  # read once, in this process
    flt = EventFilter.build(only_app, since, until)
    out = sys.stdout.buffer
    emit_f = open(emit, "wb") if emit is not None else None  # noqa: SIM115 - closed below
    writers = ([out] if fmt == "events" else []) + ([emit_f] if emit_f is not None else [])
    workers = jobs or os.cpu_count() or 1
    problems: list[str] = []
    try:
        with _progress(files, progress) as on_bytes:
            if (workers > 1 and not stdin
                    and sum(p.stat().st_size for p in files) >= settings.replay_parallel_min_bytes):
                from ..offline.parallel import plan_units, run_parallel

                units = plan_units(files, workers, settings.replay_split_bytes)
                aggregate, _ = run_parallel(units, jobs=min(workers, len(units)), fmt=fmt, settings=settings,
                                            definitions=engine.definitions, flt=flt, writers=writers,
                                            on_bytes=on_bytes, problems=problems)
            else:
                aggregate = aggregate_for(fmt, settings, engine.stats)
                sinks: list[Sink] = ([aggregate] if aggregate is not None else []) + [JsonLines(w) for w in writers]
                replay_files(engine, files, chain(settings, engine.stats, flt, sinks), on_bytes, problems)
    finally:
        if emit_f is not None:
            emit_f.close()
    write_report(fmt, aggregate, out, skipped=found.skipped)
    out.flush()
    for problem in problems:  # the output covers what could be read; the exit status says it is not all
        print(f"logmetrics: warning: {problem}", file=sys.stderr)
    if problems:
        raise SystemExit(1)
