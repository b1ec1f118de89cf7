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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from .config import Settings
from .definitions import Definition
from .parsing import Engine
from .replay import EventFilter, iter_file_events
from .sources import describe_file, read_batches
from .stats import Stats

__all__ = ["Unit", "plan_units", "run_parallel"]

Event = dict[str, Any]
State = tuple[str | None, str | None]  # sticky app, last own time
HEAD_LINES = 1_024  # more than a multiline record may hold (1000 lines)
WARMUP_BYTES = 64 * 1024
_OPT = orjson.OPT_APPEND_NEWLINE


@dataclass(frozen=True)
class Unit:
    """A whole file (`end` None) or the lines starting in [start, end) of a plain file."""

    index: int
    path: Path
    start: int = 0
    end: int | None = None


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == b"\x1f\x8b"


def plan_units(files: list[Path], jobs: int, split_bytes: int) -> list[Unit]:
    """Work units in output order: small files whole, large plain files in about `2 × jobs` chunks."""
    units: list[Unit] = []
    for p in files:
        size = p.stat().st_size
        if jobs < 2 or size < 2 * split_bytes or _is_gzip(p):
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
    before: tuple[str | None, str | None, bool]
    events: list[Event]
    stats: Stats


@dataclass
class UnitResult:
    index: int
    head: list[HeadLine] = field(default_factory=list)
    sink: Any = None  # the format's aggregate (Summary / MetricsSink) of everything after the head
    events_path: str | None = None  # events after the head, as JSON lines
    stats: Stats = field(default_factory=Stats)
    final: State = (None, None)
    overrun: int = 0  # offset just after the last line this unit consumed
    owned: tuple[int, int] = (0, 0)  # [first line start, first line start of the next unit)


# --- the worker side ------------------------------------------------------------------------

_W: dict[str, Any] = {}


def _init_worker(settings: Settings, definitions: list[Definition], fmt: str, flt: EventFilter,
                 write_events: bool, tmpdir: str) -> None:
    _W.update(settings=settings, definitions=definitions, fmt=fmt, flt=flt, write_events=write_events, tmpdir=tmpdir)


def make_sink(fmt: str, settings: Settings, stats: Stats) -> tuple[Any, Callable[[list[Event]], None] | None]:
    """The aggregate a format needs (None for `events`) and its observe function."""
    if fmt in ("table", "json"):
        from .summary import Summary

        s = Summary(stats, buckets=settings.buckets)
        return s, s.observe
    if fmt == "prom":
        from .metrics import MetricsSink

        m = MetricsSink(None, buckets=settings.buckets, label_limit=settings.label_limit,
                        series_limit=settings.series_limit, stats=stats, use_read_time=False)
        return m, m.observe
    return None, None


def consumer(flt: EventFilter, observe: Callable[[list[Event]], None] | None,
             outputs: list[BinaryIO]) -> Callable[[list[Event]], None]:
    """Where a unit's (or the parent's) events go: the filter, then the aggregate, then JSON lines."""
    dumps = orjson.dumps

    def consume(events: list[Event]) -> None:
        if flt.active:
            events = flt.apply(events)
        if observe is not None:
            observe(events)
        if events and outputs:
            data = b"".join([dumps(e, option=_OPT) for e in events])
            for out in outputs:
                out.write(data)

    return consume


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


def _lines_from(f: BinaryIO, pos: int, max_line: int, stats: Stats) -> Iterator[tuple[int, int, bytes]]:
    """(offset, offset of the next line, line without newline) from `pos`; long lines cut (and counted)."""
    f.seek(pos)
    while True:
        line = f.readline(max_line + 1)
        if not line:
            return
        off = pos
        pos += len(line)
        if line.endswith(b"\n"):
            yield off, pos, line[:-1]
        elif len(line) > max_line:  # cut here, skip the rest of it
            stats.malformed["oversized"] += 1
            while True:
                rest = f.readline(1 << 20)
                pos += len(rest)
                if not rest or rest.endswith(b"\n"):
                    break
            yield off, pos, line[:max_line]
        else:
            yield off, pos, line  # the last line, without a newline


def run_chunk(engine: Engine, unit: Unit, settings: Settings, on_events: Callable[[list[Event]], None], *,
              start_at: int | None = None, initial: State | None = None) -> UnitResult:
    """Process one chunk. With `initial` (the true state at `start_at`) it is exact on its own; without,
    it warms up on the bytes before it and reports its first lines as a head for the parent to join."""
    assert unit.end is not None
    src = describe_file(unit.path)
    res = UnitResult(unit.index)
    rest_stats = engine.stats = res.stats
    redactor = settings.redactor(rest_stats)
    stream = engine.stream(str(unit.path), container=src.container, app_hint=src.app_hint)
    with open(unit.path, "rb") as f:
        begin, stop = _line_start(f, unit.start), _line_start(f, unit.end)
        res.owned = (begin, stop)
        rest_stats.bytes = stop - begin
        with_head = initial is None and begin > 0
        if initial is not None:
            stream.restore(*initial)
        elif begin > 0:  # warm up: learn the state, count and emit nothing
            engine.stats = Stats()
            w0 = _line_start(f, max(0, begin - WARMUP_BYTES))
            warm = itertools.takewhile(lambda x: x[0] < begin, _lines_from(f, w0, engine.max_line, Stats()))
            stream.feed([ln for _, _, ln in warm])  # only the lines before the chunk, not the rest of the file
            stream.restore(*stream.state()[:2])
            engine.stats = rest_stats
        pos = begin if start_at is None else max(start_at, begin)
        res.overrun = pos
        if with_head:  # the first lines one by one, each with the state before it
            for off, nxt, line in _lines_from(f, pos, engine.max_line, rest_stats):
                if off >= stop and not stream.holding:
                    break
                before = stream.state()
                head_stats = engine.stats = redactor.stats = Stats()
                res.head.append(HeadLine(off, before, redactor(stream.feed([line])), head_stats))
                engine.stats = redactor.stats = rest_stats
                res.overrun = nxt
                if len(res.head) >= HEAD_LINES:
                    break
        if res.overrun < stop:  # the body: every line that starts before `stop`, in batches
            bytes_before = rest_stats.bytes  # counted above, once, as the owned range
            f.seek(res.overrun)
            for batch in read_batches(_Bounded(f, stop - res.overrun), rest_stats, engine.max_line):
                on_events(redactor(stream.feed(batch)))
            rest_stats.bytes = bytes_before
            res.overrun = stop
        if stream.holding:  # past the end: line by line while a record or split line is still open
            for _off, nxt, line in _lines_from(f, res.overrun, engine.max_line, rest_stats):
                on_events(redactor(stream.feed([line])))
                res.overrun = nxt
                if not stream.holding:
                    break
        if stream.holding:  # the file ended inside a record
            on_events(redactor(stream.flush()))
    res.final = stream.state()[:2]
    return res


def _work(unit: Unit) -> UnitResult:
    settings: Settings = _W["settings"]
    flt: EventFilter = _W["flt"]
    engine = _W.get("engine")
    if engine is None:  # one per worker: its compiled patterns and caches serve every unit
        engine = _W["engine"] = Engine(_W["definitions"], max_line=settings.max_line_bytes, inherit_ts=True)
    stats = Stats()
    sink, observe = make_sink(_W["fmt"], settings, stats)
    out: BinaryIO | None = None
    path = None
    if _W["write_events"]:
        fd, path = tempfile.mkstemp(prefix=f"unit{unit.index:05d}-", suffix=".jsonl", dir=_W["tmpdir"])
        out = os.fdopen(fd, "wb")
    on_events = consumer(flt, observe, [out] if out is not None else [])
    try:
        if unit.end is None:
            engine.stats = stats
            redactor = settings.redactor(stats)
            for batch in iter_file_events(engine, unit.path):
                on_events(redactor(batch))
            res = UnitResult(unit.index, stats=stats)
        else:
            res = run_chunk(engine, unit, settings, on_events)
            stats.merge(res.stats)  # the sink holds `stats`: keep one object
            res.stats = stats
    finally:
        if out is not None:
            out.close()
    res.sink, res.events_path = sink, path
    return res


# --- the parent side ----------------------------------------------------------------------------


def run_parallel(
    units: list[Unit], *, jobs: int, fmt: str, settings: Settings, definitions: list[Definition],
    flt: EventFilter, write_events: list[BinaryIO], on_bytes: Callable[[int], None] | None = None,
) -> tuple[Any, Stats]:
    """Process units on `jobs` workers and merge them in order; returns (merged aggregate, merged stats)."""
    total = Stats()
    merged, merged_observe = make_sink(fmt, settings, total)
    # Events the parent itself holds (kept head lines, recomputed chunks) take the same way.
    deliver = consumer(flt, merged_observe, write_events)

    def absorb(res: UnitResult) -> None:
        if merged is not None and res.sink is not None:
            merged.merge(res.sink)  # merges res.stats too
        else:
            total.merge(res.stats)
        if res.events_path is not None:
            for out in write_events:
                with open(res.events_path, "rb") as f:
                    _copy(f, out)
            os.unlink(res.events_path)

    with tempfile.TemporaryDirectory(prefix="logmetrics-replay-") as tmpdir:
        ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context()
        with ctx.Pool(jobs, _init_worker, (settings, definitions, fmt, flt, bool(write_events), tmpdir)) as pool:
            prev: UnitResult | None = None
            for unit, res in zip(units, pool.imap(_work, units), strict=True):
                if unit.end is not None and unit.start > 0 and prev is not None:
                    res = _join(res, prev, unit, definitions, settings, total, deliver)
                absorb(res)
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
          total: Stats, deliver: Callable[[list[Event]], None]) -> UnitResult:
    """Join a chunk to the one before it: keep the head lines the previous chunk did not consume — when
    the stream state there is exactly the previous chunk's final state — else recompute the chunk."""
    kept = [h for h in res.head if h.offset >= prev.overrun]
    seam = (*prev.final, False)
    if kept and kept[0].before == seam:
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
    redone = run_chunk(engine, unit, settings, deliver, start_at=prev.overrun, initial=prev.final)
    redone.overrun = max(redone.overrun, prev.overrun)
    return redone
