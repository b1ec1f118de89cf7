"""Parallel replay: files, and large files by byte ranges, on every core — same numbers as one process.

A large plain file is cut into chunks; a line belongs to the chunk its first byte
is in. What makes the parts merge *exactly* is the seam between two chunks of a
file, where the single-process reader would carry state across:

- a worker warms its stream up on the bytes just before its chunk (sticky app,
  last own time) and discards those events;
- a worker keeps reading past its chunk's end while a multiline record or a
  runtime-split line is still held (the *overrun*);
- a chunk's first lines (its *head*) come back one by one, each with the stream
  state before it, so the parent can drop the lines the previous worker already
  consumed and check that the state at the seam is exactly what the previous
  worker ended with. When it is not, the parent recomputes that chunk from the
  true state. The result is always what one process would have produced.
"""

from __future__ import annotations

import itertools
import multiprocessing as mp
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from ..config import Settings
from ..core.stats import Stats
from ..parse.definitions import Definition
from ..parse.engine import Engine
from ..parse.stream import Orders, Repeats, State
from ..pipeline import Event, Pipeline, Sink
from ..sinks.jsonlines import JsonLines
from ..sources.files import describe_file, is_gzip
from ..sources.framing import Framer, read_batches, read_lines_at
from ..transforms.filter import EventFilter
from ..transforms.redact import redactor_for
from .formats import aggregate_for
from .sequential import file_events

__all__ = ["Unit", "plan_units", "run_parallel"]

HEAD_LINES = 1_024  # more than a multiline record may hold (1000 lines)
WARMUP_BYTES = 64 * 1024


@dataclass(frozen=True)
class Unit:
    """A whole file (`end` None) or the lines starting in [start, end) of a plain file."""

    index: int
    path: Path
    start: int = 0
    end: int | None = None


def plan_units(files: list[Path], jobs: int, split_bytes: int) -> list[Unit]:
    """Work units in output order: small files whole, large plain files in about `2 × jobs` chunks."""
    units: list[Unit] = []
    for p in files:
        size = p.stat().st_size
        if jobs < 2 or size < 2 * split_bytes or is_gzip(p):
            units.append(Unit(len(units), p))
            continue
        n = min(2 * jobs, size // split_bytes)
        cuts = [size * i // n for i in range(n + 1)]
        for a, b in itertools.pairwise(cuts):
            units.append(Unit(len(units), p, a, b))
    return units


@dataclass
class HeadLine:
    """One of a chunk's first lines: where it starts, the state before it, what it produced."""

    offset: int
    before: tuple[str | None, str | None, float | None, Repeats, Orders, bool]
    events: list[Event]
    stats: Stats


@dataclass
class UnitResult:
    index: int
    head: list[HeadLine] = field(default_factory=list)
    sink: Any = None  # the format's aggregate (Summary / MetricsSink) of everything after the head
    events_path: str | None = None  # events after the head, as JSON lines
    stats: Stats = field(default_factory=Stats)
    final: State = (None, None, None, (None, ()), ())
    overrun: int = 0  # offset just after the last line this unit consumed
    problems: list[str] = field(default_factory=list)  # files that could not be read to their end
    owned: tuple[int, int] = (0, 0)  # [first line start, first line start of the next unit)


# --- the worker side ------------------------------------------------------------------------

_W: dict[str, Any] = {}


def _init_worker(settings: Settings, definitions: list[Definition], fmt: str, flt: EventFilter,
                 write_events: bool, tmpdir: str) -> None:
    _W.update(settings=settings, definitions=definitions, fmt=fmt, flt=flt, write_events=write_events, tmpdir=tmpdir)


def chain(settings: Settings, stats: Stats, flt: EventFilter, sinks: list[Sink], *, redact: bool = True) -> Pipeline:
    """The replay's chain: redaction (unless the events are redacted already), the filter, these sinks."""
    return Pipeline(sinks, redact=redactor_for(settings, stats) if redact else None,
                    keep=flt if flt.active else None)


def _line_start(f: BinaryIO, pos: int) -> int:
    """Offset of the first line starting at or after `pos`."""
    if pos == 0:
        return 0
    f.seek(pos - 1)
    f.readline()
    return f.tell()


class _Bounded:
    """A file read only up to a limit (a chunk's end), for `read_batches`."""

    def __init__(self, f: BinaryIO, limit: int) -> None:
        self._f, self._left = f, limit

    def read(self, n: int = -1, /) -> bytes:
        n = self._left if n < 0 else min(n, self._left)
        data = self._f.read(n) if n > 0 else b""
        self._left -= len(data)
        return data


def run_chunk(engine: Engine, unit: Unit, pipeline: Pipeline, *, start_at: int | None = None,
              initial: State | None = None) -> UnitResult:
    """Process one chunk through `pipeline`. With `initial` (the true state at `start_at`) it is exact on
    its own; without, it warms up on the bytes before it and reports its first lines as a head for the
    parent to join (redacted, not yet filtered or delivered)."""
    assert unit.end is not None
    src = describe_file(unit.path)
    stats = engine.stats  # the engine and the pipeline's redactor count into the same object
    res = UnitResult(unit.index, stats=stats)
    stream = engine.stream(str(unit.path), container=src.container, app_hint=src.app_hint,
                           file_time=src.mtime)
    max_line = engine.max_line
    with open(unit.path, "rb") as f:
        begin, stop = _line_start(f, unit.start), _line_start(f, unit.end)
        res.owned = (begin, stop)
        stats.bytes = stop - begin  # the bytes this chunk owns, counted once
        with_head = initial is None and begin > 0
        if initial is not None:
            stream.restore(*initial)
        elif begin > 0:  # warm up: learn the state, count and emit nothing
            before = stats.copy()
            w0 = _line_start(f, max(0, begin - WARMUP_BYTES))
            lines = read_lines_at(f, w0, Framer(Stats(), max_line, count_bytes=False))
            stream.feed([ln for _, _, ln in itertools.takewhile(lambda x: x[0] < begin, lines)])
            stream.restore(*stream.state()[:5])
            stats.reset_to(before)
        pos = begin if start_at is None else max(start_at, begin)
        res.overrun = pos
        if with_head:  # the first lines one by one, each with the state before it and what it counted
            for off, nxt, line in read_lines_at(f, pos, Framer(stats, max_line, count_bytes=False)):
                if off >= stop and not stream.holding:
                    break
                state, before = stream.state(), stats.copy()
                events = stream.feed([line])
                if pipeline.redact is not None:
                    events = pipeline.redact(events)
                res.head.append(HeadLine(off, state, events, stats.since(before)))
                stats.reset_to(before)
                res.overrun = nxt
                if len(res.head) >= HEAD_LINES:
                    break
        if res.overrun < stop:  # the body: every line that starts before `stop`, in batches
            f.seek(res.overrun)
            for batch in read_batches(_Bounded(f, stop - res.overrun), Framer(stats, max_line, count_bytes=False)):
                pipeline(stream.feed(batch))
            res.overrun = stop
        if stream.holding:  # past the end: line by line while a record or split line is still open
            for _off, nxt, line in read_lines_at(f, res.overrun, Framer(stats, max_line, count_bytes=False)):
                pipeline(stream.feed([line]))
                res.overrun = nxt
                if not stream.holding:
                    break
        if stream.holding:  # the file ended inside a record
            pipeline(stream.flush())
    res.final = stream.state()[:5]
    return res


def _work(unit: Unit) -> UnitResult:
    settings: Settings = _W["settings"]
    engine = _W.get("engine")
    if engine is None:  # one per worker: its compiled patterns and caches serve every unit
        engine = _W["engine"] = Engine(_W["definitions"], max_line=settings.max_line_bytes, inherit_ts=True)
    stats = Stats()
    aggregate = aggregate_for(_W["fmt"], settings, stats)
    out: BinaryIO | None = None
    path = None
    sinks: list[Sink] = [aggregate] if aggregate is not None else []
    if _W["write_events"]:
        fd, path = tempfile.mkstemp(prefix=f"unit{unit.index:05d}-", suffix=".jsonl", dir=_W["tmpdir"])
        out = os.fdopen(fd, "wb")
        sinks.append(JsonLines(out))
    try:
        if unit.end is None:
            engine.stats = stats
            pipeline = chain(settings, stats, _W["flt"], sinks)
            res = UnitResult(unit.index, stats=stats)
            for batch in file_events(engine, unit.path, problems=res.problems):
                pipeline(batch)
        else:
            engine.stats = stats
            res = run_chunk(engine, unit, chain(settings, stats, _W["flt"], sinks))
    finally:
        if out is not None:
            out.close()
    res.sink, res.events_path = aggregate, path
    return res


# --- the parent side ----------------------------------------------------------------------------


def run_parallel(
    units: list[Unit], *, jobs: int, fmt: str, settings: Settings, definitions: list[Definition],
    flt: EventFilter, writers: list[BinaryIO], on_bytes: Callable[[int], None] | None = None,
    problems: list[str] | None = None,
) -> tuple[Any, Stats]:
    """Process units on `jobs` workers and merge them in order; returns (merged aggregate, merged stats).
    Files that could not be read to their end are named in `problems`."""
    total = Stats()
    merged = aggregate_for(fmt, settings, total)
    # Events the parent itself delivers (kept head lines, recomputed chunks) go to the same sinks.
    sinks: list[Sink] = ([merged] if merged is not None else []) + [JsonLines(w) for w in writers]

    def absorb(res: UnitResult) -> None:
        if merged is not None and res.sink is not None:
            merged.merge(res.sink)  # merges res.stats too
        else:
            total.merge(res.stats)
        if res.events_path is not None:
            for out in writers:
                with open(res.events_path, "rb") as f:
                    _copy(f, out)
            os.unlink(res.events_path)

    with tempfile.TemporaryDirectory(prefix="logmetrics-replay-") as tmpdir:
        ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context()
        with ctx.Pool(jobs, _init_worker, (settings, definitions, fmt, flt, bool(writers), tmpdir)) as pool:
            prev: UnitResult | None = None
            for unit, res in zip(units, pool.imap(_work, units), strict=True):
                if unit.end is not None and unit.start > 0 and prev is not None:
                    res = _join(res, prev, unit, definitions, settings, total, flt, sinks)
                absorb(res)
                if problems is not None:
                    problems += res.problems
                if on_bytes is not None:
                    on_bytes(res.owned[1] - res.owned[0] if unit.end is not None else unit.path.stat().st_size)
                prev = res
    return merged, total


def _copy(src: BinaryIO, out: BinaryIO) -> None:
    """A worker's events file onto the output: in the kernel (sendfile) when the output is a file
    descriptor, else through a buffer."""
    try:
        fd = out.fileno()
    except (AttributeError, OSError, ValueError):
        fd = -1
    if fd >= 0:
        out.flush()
        size = os.fstat(src.fileno()).st_size
        offset = 0
        try:
            while offset < size:
                sent = os.sendfile(fd, src.fileno(), offset, size - offset)
                if sent == 0:
                    break
                offset += sent
            return
        except OSError:
            if offset:
                raise
            # sendfile not supported for this pair: fall through, nothing written yet
    shutil.copyfileobj(src, out, 1 << 20)


def _join(res: UnitResult, prev: UnitResult, unit: Unit, definitions: list[Definition], settings: Settings,
          total: Stats, flt: EventFilter, sinks: list[Sink]) -> UnitResult:
    """Join a chunk to the one before it: keep the head lines the previous chunk did not consume — when
    the stream state there is exactly the previous chunk's final state — else recompute the chunk."""
    kept = [h for h in res.head if h.offset >= prev.overrun]
    seam = (*prev.final, False)
    if kept and kept[0].before == seam:
        deliver = chain(settings, total, flt, sinks, redact=False)  # head lines come redacted
        for h in kept:
            total.merge(h.stats)
            deliver(h.events)
        return res
    if not res.head and prev.overrun <= res.owned[0] and res.final == prev.final:
        return res  # an empty chunk
    # The rare case (a seam inside a record longer than the head, or a warm-up that guessed wrong):
    # recompute from the true state, here, and deliver its events in order.
    if res.events_path is not None:
        os.unlink(res.events_path)
    engine = Engine(definitions, max_line=settings.max_line_bytes, inherit_ts=True)
    redone = run_chunk(engine, unit, chain(settings, engine.stats, flt, sinks), start_at=prev.overrun,
                       initial=prev.final)
    redone.overrun = max(redone.overrun, prev.overrun)
    return redone
