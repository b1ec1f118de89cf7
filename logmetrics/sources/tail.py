"""Following log files live, with rotation, truncation and restarts hidden from the engine.

A `Tailer` turns "paths and globs" into a set of open files, each with its own
engine stream, and `step()` reads everything new once: the whole pipeline is
deterministic and testable without sleeping (tests write, call `step()`, read
the events file). `run()` adds the waiting — woken by the watcher (inotify, or
polling for NFS/Docker Desktop mounts) and by a periodic re-stat, so a missed
notification delays a line by at most `rescan` seconds, never stalls it.

Files are tracked by identity (device, inode), not by name: a name is just how
an identity was found. When a name starts pointing elsewhere (rename, delete +
recreate, symlink re-pointed) the new file is read from its beginning and the
old one keeps being read ("draining": a writer may still append for a moment)
until it has been idle `drain_idle` seconds, then closed. A file that shrank
below the read offset, or whose first bytes changed, was truncated in place
(copytruncate) and is read again from 0.

Reading goes through the one framer (framing.py): reads of `chunk` bytes (as
big as a pending partial line, when that is longer), at most `chunks_per_step`
per file per step so one busy file cannot starve the others; a partial last
line waits for its newline (and is emitted as a line when its file is rotated
away and drained).

Events go through the one chain (pipeline.py). Positions (positions.py) record,
per file, the first byte not yet turned into a *written* event: they advance
only after every sink took the events (and never past a record the engine still
holds), and are saved at most every `save_every` seconds — after syncing the
sinks — and at `close()`. A sink that refuses a batch pauses reading until it
takes it (back-pressure); nothing is re-parsed or counted twice.
"""

from __future__ import annotations

import logging
import os
import stat
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..core.errors import errno_label
from ..parse.engine import Engine, Stream
from ..pipeline import DeliveryError, Event, Pipeline
from .budget import OpenFiles
from .files import describe_file, discover, watch_roots
from .framing import CHUNK, Framer
from .positions import FINGERPRINT_BYTES, Position, PositionsError, digest, fingerprint, load_positions, save_positions
from .watcher import Roots, Watcher

__all__ = ["Tailer"]

Ident = tuple[int, int]

CHUNKS_PER_STEP = 128  # per file per step (2 MiB): one busy file cannot starve the others
SUB_BATCH = 32  # lines per engine feed: a crash re-reads < this many lines before a held record
SKIPPED_LOGGED = 100  # names in the one start-up line about files not named like logs (then a count)

log = logging.getLogger("logmetrics.tailing")


class _Blocked(Exception):
    """A sink refused a batch: stop reading until it takes it."""


class _Tail:
    """One open file (one identity), however many watched names point at it."""

    __slots__ = ("backlog_end", "committed", "committed_skip", "drain_since", "draining", "fd", "fp", "fp_len",
                 "framer", "ident", "last_data", "names", "path", "read_off", "size", "stream")

    def __init__(self, path: str, fd: int, ident: Ident, stream: Stream, framer: Framer, offset: int,
                 now: float) -> None:
        self.path = path  # the name it was opened under: the events' `file`
        self.fd = fd
        self.ident = ident
        self.stream = stream
        self.framer = framer  # the bytes after the last newline, and whether an over-long line is being skipped
        self.names: set[str] = set()
        self.read_off = offset  # next byte to read
        self.committed = offset  # first byte not yet in a written event (what positions save)
        self.committed_skip = framer.skipping
        self.fp = ""
        self.fp_len = 0
        self.size = 0
        self.last_data = now
        self.draining = False
        self.drain_since = now
        self.backlog_end = 0  # the file's size when opened: what lies before it was not written live

    @property
    def parked(self) -> bool:
        """Closed to stay under the open-files budget; its state is kept, its file watched by stat()."""
        return self.fd < 0

    @property
    def holding(self) -> bool:
        return self.stream.holding

    @property
    def line_off(self) -> tuple[int, bool]:
        """Start of the bytes not yet fed to the engine (and whether they continue a skipped line)."""
        if self.framer.skipping:
            return self.read_off, True
        return self.read_off - len(self.framer.pending), False


class _Retry:
    """A batch a sink refused: the sink to retry from, and the position the batch would commit."""

    __slots__ = ("events", "offset", "sink", "skip", "tail")

    def __init__(self, events: list[Event], sink: int, tail: _Tail, offset: int, skip: bool) -> None:
        self.events, self.sink, self.tail, self.offset, self.skip = events, sink, tail, offset, skip


def _find_by_inode(folder: str, ident: Ident) -> list[str]:
    """Regular files in `folder` with this identity (a file renamed while we were not looking)."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    found = []
    for entry in entries:
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if (st.st_dev, st.st_ino) == ident and stat.S_ISREG(st.st_mode):
            found.append(entry.path)
    return found


class Tailer:
    """Follows paths/globs/folders; `step()` does one read-everything-new pass, `run()` loops on it."""

    def __init__(
        self,
        engine: Engine,
        patterns: Sequence[str],
        pipeline: Pipeline,
        *,
        positions: str | None = None,
        start_at: str = "end",
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        idle_flush: float = 0.5,
        drain_idle: float = 5.0,
        save_every: float = 1.0,
        rescan: float = 0.25,
        discover_every: float = 1.0,
        host: str | None = None,
        exclude: Sequence[str] = (),
        max_open: int = 1000,
        follow_symlinks: bool = False,
        chunk: int = CHUNK,
        chunks_per_step: int = CHUNKS_PER_STEP,
    ) -> None:
        """`exclude`: our own output (and its rotations) and positions, never followed even inside a
        watched folder. `chunk`/`chunks_per_step`: read sizes (small ones let a test show fairness)."""
        self.engine = engine
        self.stats = engine.stats
        self.patterns = list(patterns)
        self.pipeline = pipeline
        self.positions_path = positions
        self.start_at = start_at
        self.clock = clock
        self.wall = wall
        self.idle_flush = idle_flush
        self.drain_idle = drain_idle
        self.save_every = save_every
        self.rescan = rescan
        self.discover_every = discover_every
        self.host = host
        self.follow_symlinks = follow_symlinks
        self.chunk = chunk
        self.chunks_per_step = chunks_per_step
        self.budget = OpenFiles(lambda: self._tails.values(), max_open, idle_flush)
        self._exclude = [p for p in exclude if p and p != "-"]
        self.last_read: float | None = None  # wall time of the last bytes read
        self.positions_saved: float | None = None  # wall time
        self.positions_error: str | None = None
        self._tails: dict[Ident, _Tail] = {}
        self._paths: dict[str, Ident] = {}
        self._saved: dict[Ident, Position] = {}
        self._saved_paths: set[str] = set()
        self._failing: dict[str, str] = {}  # path → reason already logged (log once per failure)
        self._refused: set[str] = set()  # symlinks outside the roots, already warned about
        self._unmatched: set[str] = set()  # arguments that match nothing, already warned about
        self._retry: _Retry | None = None
        self._started = False
        self._closed = False
        self._dirty = False
        self._last_save = clock()
        self._wake = threading.Event()
        self._need_discover = threading.Event()
        self._reopen = threading.Event()
        self._halt: threading.Event | None = None

    # -- the public surface ------------------------------------------------------------------

    @property
    def files(self) -> list[str]:
        """Names of the files open now (draining ones by the name they had)."""
        return sorted(t.path for t in self._tails.values())

    @property
    def parked(self) -> list[str]:
        """Names of the followed files closed to stay under the open-files budget."""
        return sorted(t.path for t in self._tails.values() if t.parked)

    @property
    def output_blocked(self) -> bool:
        return self._retry is not None

    def step(self, *, discover: bool = True) -> bool:
        """Read everything new once (discovering new files when `discover`); True if data is left over."""
        now = self.clock()
        if not self._started:
            self._startup()
        if self._retry is not None and not self._retry_delivery():
            self._maybe_save(now)
            return False
        try:
            if discover:
                self._discover(initial=False)
            else:
                for path in list(self._paths):
                    self._track(path, initial=False)
            more = False
            halt = self._halt
            self.budget.queued = 0
            for tail in list(self._tails.values()):
                if halt is not None and halt.is_set():
                    break  # stopping: the rest is read after the restart, from the saved positions
                if tail.parked and not self._unpark_if_grown(tail):
                    continue
                more |= self._read(tail, now)
                self._idle(tail, now)
            self.budget.park_idle(now)
        except _Blocked:
            more = False
        self._gauges()
        self._maybe_save(now)
        return more

    def close(self) -> None:
        """Stop: emit held multiline records, save positions, close files.

        A partial last line (no newline yet) is *not* emitted: its position is saved at its
        start, so after a restart the completed line is read whole.
        """
        if self._closed:
            return
        self._closed = True
        if self._retry is None or self._retry_delivery():
            try:
                for tail in list(self._tails.values()):
                    if tail.stream.holding:
                        off, skip = tail.line_off
                        self._emit(tail, tail.stream.flush(), off, skip)
            except _Blocked:
                pass
        self.save()
        for tail in self._tails.values():
            if not tail.parked:
                os.close(tail.fd)
        self._tails.clear()
        self._paths.clear()
        self._gauges()

    def save(self) -> None:
        """Persist positions now (sinks synced first, so positions are never ahead of them)."""
        self._last_save = self.clock()
        self._dirty = False
        if self.positions_path is None:
            return
        try:
            self.pipeline.sync()
            save_positions(self.positions_path, self._positions())
        except OSError as e:
            if self.positions_error is None:
                log.warning("cannot save positions", extra={"path": self.positions_path, "error": str(e)})
            self.positions_error = f"{self.positions_path}: {e.strerror or e}"
            self._dirty = True
            return
        self.positions_error = None
        self.positions_saved = self.wall()

    def health(self) -> dict[str, Any]:
        """What /healthz reports: `ok`, or why not (a sink refuses events, positions cannot be saved)."""
        status = "ok"
        if self._retry is not None:
            status = "output_failing"
        elif self.positions_error is not None:
            status = "positions_failing"
        return {
            "status": status,
            "files_watched": len(self._tails),
            "files_open": self.budget.count(),
            "files_queued": self.budget.queued,
            "files": self.files,
            "last_read": self.last_read,
            "lines_read": self.stats.lines,
            "bytes_read": self.stats.bytes,
            "read_lag_bytes": self.stats.read_lag_bytes,
            "read_errors": dict(self.stats.read_errors),
            "positions_saved": self.positions_saved,
            "positions_error": self.positions_error,
        }

    def wake(self, discover: bool = False) -> None:
        """Make `run()` step now (the watcher calls this); `discover`: files came or went."""
        if discover:
            self._need_discover.set()
        self._wake.set()

    def request_reopen(self) -> None:
        """Reopen file sinks at the next loop turn (SIGHUP: an external logrotate moved them)."""
        self._reopen.set()
        self._wake.set()

    def run(self, stop: threading.Event, *, poll: bool = False) -> None:
        """Follow until `stop` is set, then `close()`; wakes on file changes and every `rescan` s."""
        self._halt = stop
        watcher: Watcher | None = None
        next_discover = 0.0
        roots = self._roots()
        try:
            while not stop.is_set():
                if self._reopen.is_set():
                    self._reopen.clear()
                    self._reopen_sinks()
                self._wake.clear()
                now = self.clock()
                discover = self._need_discover.is_set() or now >= next_discover
                if discover:
                    self._need_discover.clear()
                    next_discover = now + self.discover_every
                more = self.step(discover=discover)
                if discover:
                    roots = self._roots()
                stale = watcher is not None and not watcher.alive and now - watcher.started > 5
                if watcher is None or watcher.roots != roots or stale:
                    if watcher is not None:
                        watcher.close()
                    watcher = Watcher(roots, self.wake, poll=poll, started=now)
                if not more:
                    self._wake.wait(self.rescan)
        finally:
            if watcher is not None:
                watcher.close()
            self.close()

    # -- discovery -------------------------------------------------------------------------

    def _startup(self) -> None:
        self._started = True
        if self.positions_path is not None:
            try:
                saved = load_positions(self.positions_path)
            except PositionsError as e:
                log.warning("ignoring positions file; starting afresh",
                            extra={"error": str(e), "start_at": self.start_at})
                self.positions_error = str(e)
                saved = []
            self._saved = {p.ident: p for p in saved}
            self._saved_paths = {p.path for p in saved}
        self._discover(initial=True)
        # Files rotated away while we were down, to names no pattern matches: drain their unread end.
        for pos in list(self._saved.values()):
            self._recover_rotated(pos)
        self._saved.clear()
        self._saved_paths.clear()
        self._dirty = True

    def _discover(self, *, initial: bool) -> None:
        found = discover(self.patterns, follow_symlinks=self.follow_symlinks, live=True, exclude=self._exclude)
        for path, why in found.skipped:
            if why.startswith("symlink") and path not in self._refused:
                self._refused.add(path)
                log.warning("not following a symlink", extra={"path": path, "why": why})
        if initial:  # once, at start: what a folder walk or glob passes over (not logs by their name)
            names = sorted(path for path, why in found.skipped if not why.startswith("symlink"))
            if names:
                log.info("skipping files not named like logs", extra={"paths": names[:SKIPPED_LOGGED],
                                                                      "count": len(names)})
        for pat in found.unmatched:
            if pat not in self._unmatched:
                self._unmatched.add(pat)
                log.warning("nothing matches yet; watching for it", extra={"path": pat})
        for path in found.files:
            self._track(path, initial=initial)
        for path in set(self._paths).difference(found.files):
            self._track(path, initial=False)  # no longer matched: gone, or replaced by a folder

    def _track(self, path: str, *, initial: bool) -> None:
        """Make `path` point at the right open file: open new identities, notice rotations."""
        try:
            st = os.stat(path)
        except FileNotFoundError:
            self._failing.pop(path, None)
            self._lose(path)
            return
        except OSError as e:
            self._fail(path, e)
            self._lose(path)
            return
        if not stat.S_ISREG(st.st_mode):
            self._fail(path, OSError(21, "not a regular file"))  # EISDIR: e.g. replaced by a folder
            self._lose(path)
            return
        ident = (st.st_dev, st.st_ino)
        if self._paths.get(path) == ident:
            return
        if path in self._paths:
            self._lose(path)
        tail = self._tails.get(ident)
        if tail is None:
            tail = self._open(path, initial=initial)
            if tail is None:
                return
        self._failing.pop(path, None)
        self._paths[path] = tail.ident
        tail.names.add(path)
        tail.draining = False

    def _lose(self, path: str) -> None:
        """`path` no longer names the file it did: count the rotation; drain the file if now nameless."""
        ident = self._paths.pop(path, None)
        if ident is None:
            return
        tail = self._tails.get(ident)
        if tail is None:
            return
        tail.names.discard(path)
        if tail.parked and not tail.names:
            self._reattach(tail)  # renamed or deleted while parked: find it by inode to drain its end
            if tail.ident not in self._tails:
                return
        try:
            nlink = os.fstat(tail.fd).st_nlink if not tail.parked else 0
        except OSError:
            nlink = 0
        self.stats.rotations["delete" if nlink == 0 else "rename"] += 1
        if not tail.names:
            tail.draining = True
            tail.drain_since = self.clock()

    def _open(self, path: str, *, initial: bool, draining_from: Position | None = None) -> _Tail | None:
        if not self.budget.make_room(self.clock()):
            return None  # every open file is busy: this one waits for the next discovery
        try:
            fd = self.budget.open(path, self.clock())
        except FileNotFoundError:
            return None
        except OSError as e:
            self._fail(path, e)
            return None
        try:
            st = os.fstat(fd)
            ident = (st.st_dev, st.st_ino)
            if ident in self._tails:  # raced with a rename: the name now shows a file we follow
                os.close(fd)
                return self._tails[ident]
            offset, skip = self._start_offset(path, fd, st.st_size, ident, initial, draining_from)
            fp, fp_len = fingerprint(fd, st.st_size)
        except OSError as e:
            os.close(fd)
            self._fail(path, e)
            return None
        src = describe_file(Path(path))
        stream = self.engine.stream(path, container=src.container, app_hint=src.app_hint, host=self.host,
                                    file_time=st.st_mtime)
        # A backlog (what was there before we came) is old: its untimed lines never take the read time.
        stream.inherit_ts = offset < st.st_size
        framer = Framer(self.stats, self.engine.max_line, skipping=skip)
        tail = _Tail(path, fd, ident, stream, framer, offset, self.clock())
        tail.fp, tail.fp_len, tail.size = fp, fp_len, st.st_size
        tail.backlog_end = st.st_size
        self._tails[ident] = tail
        return tail

    def _start_offset(self, path: str, fd: int, size: int, ident: Ident, initial: bool,
                      pos: Position | None) -> tuple[int, bool]:
        """Saved position (same identity + fingerprint), else 0 for a new or successor file, else start_at."""
        pos = pos or self._saved.pop(ident, None)
        if pos is not None:
            fp, n = fingerprint(fd, pos.fp_len)
            if fp == pos.fp and n == pos.fp_len:
                if size < pos.offset:  # copytruncate while we were down
                    log.warning("saved position is beyond the end of the file (truncated while stopped); "
                                "reading it from the start",
                                extra={"path": path, "offset": pos.offset, "size": size})
                    self.stats.rotations["truncate"] += 1
                    return 0, False
                return pos.offset, pos.skip
            log.warning("saved position is for other content (the file was replaced while stopped); "
                        "reading it from the start", extra={"path": path, "offset": pos.offset, "size": size})
            return 0, False  # same inode, other content: a new file reusing it
        if not initial or path in self._saved_paths:
            return 0, False  # appeared while we follow, or replaced a file we followed: read it all
        if self.start_at == "beginning" or size == 0:
            return 0, False
        n = min(size, 64 * 1024)
        tail = os.pread(fd, n, size - n)
        k = tail.rfind(b"\n")
        start, skip = (size - n + k + 1, False) if k >= 0 else ((0, False) if n == size else (size, True))
        if start and self.positions_path is not None:
            self._log_skipped(path, fd, start)
        return start, skip

    def _log_skipped(self, path: str, fd: int, upto: int) -> None:
        """Starting at the end of a file we have no position for: say what is not read."""
        lines = 0
        off = 0
        while off < upto:
            data = os.pread(fd, min(1 << 20, upto - off), off)
            if not data:
                break
            lines += data.count(b"\n")
            off += len(data)
        log.warning("no saved position: starting at the end (start_at = end); these are not read",
                    extra={"path": path, "skipped_bytes": upto, "skipped_lines": lines})

    def _recover_rotated(self, pos: Position) -> None:
        """Find a file we were reading (renamed while we were down) next to its old name."""
        for path in _find_by_inode(os.path.dirname(pos.path) or ".", pos.ident):
            tail = self._open(path, initial=True, draining_from=pos)
            if tail is not None and not tail.names:
                tail.path = pos.path
                tail.stream.file = pos.path
                tail.draining = True
            return

    # -- parked files (the open-files budget) -------------------------------------------------

    def _unpark_if_grown(self, t: _Tail) -> bool:
        """A parked file: reopen it when it grew (or shrank); True if it is open again."""
        name = next(iter(t.names), None)
        if name is None:
            return False
        try:
            st = os.stat(name)
        except OSError:
            return False  # discovery notices a vanished name (and `_lose` finds the file by inode)
        if (st.st_dev, st.st_ino) != t.ident or st.st_size == t.read_off:
            t.size = max(t.size, st.st_size) if (st.st_dev, st.st_ino) == t.ident else t.size
            return False
        if not self.budget.make_room(self.clock()):
            return False
        return self._reopen_tail(t, name)

    def _reopen_tail(self, t: _Tail, path: str) -> bool:
        """Open `path` for parked tail `t` if it still is the same file (identity and first bytes)."""
        try:
            fd = self.budget.open(path, self.clock())
        except OSError:
            return False
        try:
            st = os.fstat(fd)
            same = (st.st_dev, st.st_ino) == t.ident and fingerprint(fd, t.fp_len) == (t.fp, t.fp_len)
        except OSError:
            same = False
        if not same:  # inode reused by another file while parked: that one is discovered on its own
            os.close(fd)
            return False
        t.fd = fd
        return True

    def _reattach(self, t: _Tail) -> None:
        """A parked file lost its last name: find it by inode in its folder and drain it; else forget it."""
        for path in _find_by_inode(os.path.dirname(t.path) or ".", t.ident):
            if self._reopen_tail(t, path):
                return
        # Deleted while parked: what it held past our offset cannot be read any more.
        log.warning("file deleted while parked; its unread end is lost", extra={"path": t.path})
        self.stats.dropped["deleted_while_parked"] += 1
        events = self._final_events(t)
        self._emit(t, events, t.read_off, False)
        del self._tails[t.ident]
        self._dirty = True

    def _fail(self, path: str, e: OSError) -> None:
        """Count and log a file that cannot be read — once per failure, not once per retry."""
        reason = errno_label(e)
        if self._failing.get(path) != reason:
            self._failing[path] = reason
            self.stats.read_errors[reason] += 1
            log.warning("cannot read file; will retry", extra={"path": path, "error": e.strerror or str(e)})

    def _roots(self) -> Roots:
        recursive, flat = watch_roots(self.patterns)
        for path in self._paths:
            if os.path.islink(path):  # a re-pointed symlink's target changes in another folder
                flat.add(os.path.dirname(os.path.realpath(path)))
        return frozenset(recursive), frozenset(flat - recursive)

    # -- reading ----------------------------------------------------------------------------

    def _read(self, t: _Tail, now: float) -> bool:
        try:
            size = os.fstat(t.fd).st_size
            if size < t.read_off or (size > t.read_off and self._rewritten(t, size)):
                self._truncated(t)
            budget = self.chunk * self.chunks_per_step  # bytes per file per step, long lines included
            got = 0
            halt = self._halt
            while got < budget and (halt is None or not halt.is_set()):
                want = t.framer.want(self.chunk)
                data = os.pread(t.fd, want, t.read_off)
                if not data:
                    break
                got += len(data)
                t.read_off += len(data)
                t.last_data = now
                self._consume(t, data)
                if t.stream.inherit_ts and t.read_off >= t.backlog_end:
                    # Caught up: from here lines are read as they are written; held untimed ones go now.
                    settled = t.stream.settle()
                    if settled:
                        off, skip = (t.committed, t.committed_skip) if t.stream.holding else t.line_off
                        self._emit(t, settled, off, skip)
                if len(data) < want:
                    break
            t.size = max(size, t.read_off)
            if got:
                self.last_read = self.wall()
            return got >= budget
        except _Blocked:
            raise
        except OSError as e:
            self._fail(t.path, e)
            return False

    def _rewritten(self, t: _Tail, size: int) -> bool:
        """First bytes changed (copytruncate, then rewritten past us)? Also grows a short fingerprint."""
        if t.fp_len == 0 and t.read_off == 0:
            t.fp, t.fp_len = fingerprint(t.fd, size)
            return False
        head = os.pread(t.fd, FINGERPRINT_BYTES, 0)
        if digest(head[: t.fp_len]) != t.fp:
            return True
        if len(head) > t.fp_len:
            t.fp, t.fp_len = digest(head), len(head)
        return False

    def _truncated(self, t: _Tail) -> None:
        """Copytruncate: what was pending is final, then start over from byte 0."""
        self.stats.rotations["truncate"] += 1
        events = self._final_events(t)
        t.read_off = 0
        t.framer = Framer(self.stats, self.engine.max_line)
        t.fp, t.fp_len = fingerprint(t.fd, os.fstat(t.fd).st_size)
        self._emit(t, events, 0, False)

    def _final_events(self, t: _Tail) -> list[Event]:
        """The pending partial line as a line, then whatever the stream holds: the file ends here."""
        return t.stream.feed(t.framer.finish()) + t.stream.flush()

    def _consume(self, t: _Tail, data: bytes) -> None:
        """Frame into lines, feed the engine in sub-batches, deliver the events, advance the position."""
        framer = t.framer
        was_skipping = framer.skipping
        before = len(framer.pending)
        lines = framer.feed(data)
        stream = t.stream
        if was_skipping and not lines and framer.skipping:
            if not stream.holding:  # the skipped bytes belong to a line already written
                t.committed, t.committed_skip = t.read_off, True
                self._dirty = True
            return
        # Where the first of these lines starts: after the skipped rest of a cut line, or at what was pending.
        skipped = data.find(b"\n") + 1 if was_skipping else -before
        base = t.read_off - len(data) + skipped
        cut = framer.skipping and not (was_skipping and not lines)  # this data ended in a line just cut
        full = lines[:-1] if cut else lines
        events: list[Event] = []
        off = base
        safe, safe_skip = t.committed, t.committed_skip
        if not stream.holding:
            safe, safe_skip = base, False
        for i in range(0, len(full), SUB_BATCH):
            sub = full[i:i + SUB_BATCH]
            events += stream.feed(sub)
            off += sum(map(len, sub)) + len(sub)
            if not stream.holding:
                safe, safe_skip = off, False
        if cut:
            events += stream.feed(lines[-1:])
            if not stream.holding:
                safe, safe_skip = t.read_off, True
        self._emit(t, events, safe, safe_skip)

    def _idle(self, t: _Tail, now: float) -> None:
        """Emit held records of a quiet file; close a drained rotated one."""
        quiet = now - t.last_data
        if t.draining and now - max(t.last_data, t.drain_since) >= self.drain_idle:
            events = self._final_events(t)
            self._emit(t, events, t.read_off, False)
            os.close(t.fd)
            del self._tails[t.ident]
            self._dirty = True
        elif quiet >= self.idle_flush and t.stream.holding:
            off, skip = t.line_off
            self._emit(t, t.stream.flush(), off, skip)

    # -- delivery ----------------------------------------------------------------------------

    def _emit(self, t: _Tail, events: list[Event], offset: int, skip: bool) -> None:
        """Events through the chain; only when every sink took them may the position move to `offset`."""
        if events:
            events = self.pipeline.transform(events)  # secrets never reach a sink
            try:
                self.pipeline.deliver(events)
            except DeliveryError as e:
                self._delivery_failed(e.error)
                self._retry = _Retry(events, e.index, t, offset, skip)
                raise _Blocked from None
        if (offset, skip) != (t.committed, t.committed_skip):
            t.committed, t.committed_skip = offset, skip
            self._dirty = True

    def _delivery_failed(self, e: OSError) -> None:
        self.stats.output_errors[errno_label(e)] += 1
        if self._retry is None:
            log.error("cannot write events; reading paused until the output accepts them",
                      extra={"error": e.strerror or str(e)})

    def _retry_delivery(self) -> bool:
        r = self._retry
        assert r is not None
        try:
            self.pipeline.deliver(r.events, r.sink)
        except DeliveryError as e:
            self._delivery_failed(e.error)
            r.sink = e.index
            return False
        self._retry = None
        log.info("output writable again")
        if r.tail.ident in self._tails:
            r.tail.committed, r.tail.committed_skip = r.offset, r.skip
            self._dirty = True
        return True

    def _reopen_sinks(self) -> None:
        try:
            self.pipeline.reopen()
        except OSError as e:
            self._delivery_failed(e)
            return
        log.info("output reopened")

    # -- positions and gauges --------------------------------------------------------------

    def _positions(self) -> list[Position]:
        return [Position(path=t.path, dev=t.ident[0], ino=t.ident[1], fp=t.fp, fp_len=t.fp_len,
                         offset=t.committed, skip=t.committed_skip) for t in self._tails.values()]

    def _maybe_save(self, now: float) -> None:
        if self._dirty and now - self._last_save >= self.save_every:
            self.save()

    def _gauges(self) -> None:
        self.stats.files_watched = len(self._tails)
        self.stats.read_lag_bytes = sum(max(t.size - t.read_off, 0) for t in self._tails.values())
