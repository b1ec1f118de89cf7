"""Following log files live, with rotation, truncation and restarts hidden from the engine.

A `Tailer` turns "paths and globs" into a set of open files, each with its own
engine stream, and `step()` reads everything new once: the whole pipeline is
deterministic and testable without sleeping (tests write, call `step()`, read
the events file). `run()` adds the waiting — woken by watchfiles (inotify, or
polling for NFS/Docker Desktop mounts) and by a periodic re-stat, so a missed
notification delays a line by at most `rescan` seconds, never stalls it.

Files are tracked by identity (device, inode), not by name: a name is just how
an identity was found. When a name starts pointing elsewhere (rename, delete +
recreate, symlink re-pointed) the new file is read from its beginning and the
old one keeps being read ("draining": a writer may still append for a moment)
until it has been idle `drain_idle` seconds, then closed. A file that shrank
below the read offset, or whose first bytes changed, was truncated in place
(copytruncate) and is read again from 0.

Nothing is buffered without bound: reads are `CHUNK`-sized (as big as a pending
partial line, when that is longer), a line longer than the engine's `max_line`
is cut there (and counted) and the rest skipped to its newline; a partial last
line waits for its newline (and is emitted as a line when its file is rotated
away and drained).

Positions (see positions.py) record, per file, the first byte not yet turned
into a *written* event: they advance only after the output accepted the events
(and never past a record the engine still holds), and are saved at most every
`save_every` seconds — after fsyncing the output — and at `close()`.
"""

from __future__ import annotations

import errno
import glob
import hashlib
import logging
import os
import stat
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from .parsing import Engine, Stream
from .positions import (
    FINGERPRINT_BYTES,
    Position,
    PositionsError,
    fingerprint,
    load_positions,
    save_positions,
)
from .sources import describe_file, is_log_name

__all__ = ["CHUNK", "Sink", "Tailer", "watch_roots"]

Event = dict[str, Any]
Ident = tuple[int, int]

CHUNK = 16 * 1024  # bytes per read: ~150 lines, whose events stay in the CPU cache until written
CHUNKS_PER_STEP = 128  # per file per step (2 MiB): one busy file cannot starve the others
SUB_BATCH = 32  # lines per engine feed: a crash re-reads < this many lines before a held record
_COMPRESSED = (".gz", ".bz2", ".xz", ".zst", ".lz4", ".zip")

log = logging.getLogger("logmetrics.tailing")


class Sink(Protocol):
    """Where events go (output.EventOutput): `write_events` raises OSError when they cannot be written."""

    def write_events(self, events: Sequence[Event]) -> None: ...

    def sync(self) -> None: ...


class _OutputBlocked(Exception):
    """The output refused a batch: stop reading until it accepts it again."""


class _Tail:
    """One open file (one identity), however many watched names point at it."""

    __slots__ = ("committed", "committed_skip", "drain_since", "draining", "fd", "fp", "fp_len", "ident",
                 "last_data", "names", "path", "pending", "read_off", "size", "skipping", "stream")

    def __init__(self, path: str, fd: int, ident: Ident, stream: Stream, offset: int, skip: bool,
                 now: float) -> None:
        self.path = path  # the name it was opened under: the events' `file`
        self.fd = fd
        self.ident = ident
        self.stream = stream
        self.names: set[str] = set()
        self.read_off = offset  # next byte to read
        self.pending = b""  # bytes after the last newline (a line still being written)
        self.skipping = skip  # discarding the rest of an over-long line
        self.committed = offset  # first byte not yet in a written event (what positions save)
        self.committed_skip = skip
        self.fp = ""
        self.fp_len = 0
        self.size = 0
        self.last_data = now
        self.draining = False
        self.drain_since = now

    @property
    def parked(self) -> bool:
        """Closed to stay under the open-files budget; its state is kept, its file watched by stat()."""
        return self.fd < 0

    @property
    def line_off(self) -> tuple[int, bool]:
        """Start of the bytes not yet fed to the engine (and whether they continue a skipped line)."""
        if self.skipping:
            return self.read_off, True
        return self.read_off - len(self.pending), False


class _Retry:
    """A batch the output refused, and the position it would commit."""

    __slots__ = ("events", "offset", "skip", "tail")

    def __init__(self, events: list[Event], tail: _Tail, offset: int, skip: bool) -> None:
        self.events, self.tail, self.offset, self.skip = events, tail, offset, skip


def watch_roots(patterns: Sequence[str]) -> tuple[set[str], set[str]]:
    """Folders to watch for these patterns: (recursive, flat). Missing folders → nearest existing parent."""
    recursive: set[str] = set()
    flat: set[str] = set()
    for pat in patterns:
        if glob.has_magic(pat):
            parts = Path(pat).parts
            fixed: list[str] = []
            for part in parts:
                if glob.has_magic(part):
                    break
                fixed.append(part)
            base = str(Path(*fixed)) if fixed else "."
            deep = len(fixed) < len(parts) - 1  # magic in a folder part (or **): watch the subtree
            target = recursive if deep else flat
        elif os.path.isdir(pat):
            base, target = pat, recursive
        else:
            base, target = os.path.dirname(pat) or ".", flat
        probe = base
        while not os.path.isdir(probe):
            parent = os.path.dirname(probe.rstrip("/")) or "."
            if parent == probe:
                break
            probe, target = parent, recursive  # the missing folders will appear below it
        target.add(probe)
    flat -= recursive
    return recursive, flat


def _wanted(name: str) -> bool:
    """Log-looking names in a walked folder (compressed rotations are finished files, not followed)."""
    return not name.endswith(_COMPRESSED) and is_log_name(name)


def _reason(e: OSError) -> str:
    return errno.errorcode.get(e.errno or 0, "oserror").lower()


class Tailer:
    """Follows paths/globs/folders; `step()` does one read-everything-new pass, `run()` loops on it."""

    def __init__(
        self,
        engine: Engine,
        patterns: Sequence[str],
        output: Sink,
        *,
        positions: str | None = None,
        start_at: str = "end",
        observe: Callable[[list[Event]], None] | None = None,
        redact: Callable[[list[Event]], list[Event]] | None = None,
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
    ) -> None:
        self.engine = engine
        self.stats = engine.stats
        self.patterns = list(patterns)
        self.output = output
        self.positions_path = positions
        self.start_at = start_at
        self.observe = observe
        self.redact = redact
        self.clock = clock
        self.wall = wall
        self.idle_flush = idle_flush
        self.drain_idle = drain_idle
        self.save_every = save_every
        self.rescan = rescan
        self.discover_every = discover_every
        self.host = host
        self.max_open = max(1, max_open)  # open descriptors for followed files; idle ones beyond are parked
        self.queued = 0  # files found but waiting for a descriptor (all open ones busy)
        # Our own output (+ its rotations) and positions: never followed, even inside a watched folder.
        self._exclude = {os.path.realpath(p) for p in exclude if p and p != "-"}
        self.last_read: float | None = None  # wall time of the last bytes read
        self.positions_saved: float | None = None  # wall time
        self.positions_error: str | None = None
        self._tails: dict[Ident, _Tail] = {}
        self._paths: dict[str, Ident] = {}
        self._saved: dict[Ident, Position] = {}
        self._saved_paths: set[str] = set()
        self._failing: dict[str, str] = {}  # path → reason already logged (log once per failure)
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
    def output_blocked(self) -> bool:
        return self._retry is not None

    def step(self, *, discover: bool = True) -> bool:
        """Read everything new once (discovering new files when `discover`); True if data is left over."""
        now = self.clock()
        if not self._started:
            self._startup()
        if self._retry is not None and not self._retry_output():
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
            self.queued = 0
            for tail in list(self._tails.values()):
                if halt is not None and halt.is_set():
                    break  # stopping: the rest is read after the restart, from the saved positions
                if tail.parked and not self._unpark_if_grown(tail):
                    continue
                more |= self._read(tail, now)
                self._idle(tail, now)
            self._park_idle(now)
        except _OutputBlocked:
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
        if self._retry is None or self._retry_output():
            try:
                for tail in list(self._tails.values()):
                    if tail.stream.holding:
                        off, skip = tail.line_off
                        self._emit(tail, tail.stream.flush(), off, skip)
            except _OutputBlocked:
                pass
        self.save()
        for tail in self._tails.values():
            if not tail.parked:
                os.close(tail.fd)
        self._tails.clear()
        self._paths.clear()
        self._gauges()

    def save(self) -> None:
        """Persist positions now (output synced first, so positions are never ahead of it)."""
        self._last_save = self.clock()
        self._dirty = False
        if self.positions_path is None:
            return
        try:
            self.output.sync()
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
        """What /healthz reports."""
        return {
            "status": "ok" if self._retry is None else "output_failing",
            "files_watched": len(self._tails),
            "files_open": self._open_count(),
            "files_queued": self.queued,
            "files": self.files,
            "last_read": self.last_read,
            "lines_read": self.stats.lines,
            "bytes_read": self.stats.bytes,
            "read_lag_bytes": self.stats.read_lag_bytes,
            "read_errors": dict(self.stats.read_errors),
            "positions_saved": self.positions_saved,
            "positions_error": self.positions_error,
        }

    def wake(self) -> None:
        """Make `run()` step now (the watcher calls this)."""
        self._wake.set()

    def request_reopen(self) -> None:
        """Reopen the output at the next loop turn (SIGHUP: an external logrotate moved it)."""
        self._reopen.set()
        self._wake.set()

    def run(self, stop: threading.Event, *, poll: bool = False) -> None:
        """Follow until `stop` is set, then `close()`; wakes on file changes and every `rescan` s."""
        self._halt = stop
        watcher: _Watcher | None = None
        next_discover = 0.0
        roots = self._roots()
        try:
            while not stop.is_set():
                if self._reopen.is_set():
                    self._reopen.clear()
                    self._reopen_output()
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
                    watcher = _Watcher(self, roots, poll, now)
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

    def _candidates(self) -> list[str]:
        found: dict[str, None] = {}
        for pat in self.patterns:
            matches = sorted(glob.glob(pat, recursive=True)) if glob.has_magic(pat) else [pat]
            for m in matches:
                if os.path.isdir(m):
                    for root, dirs, names in os.walk(m):
                        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                        for n in sorted(names):
                            if _wanted(n):
                                found[os.path.join(root, n)] = None
                elif m.endswith(_COMPRESSED) and m != pat:
                    continue
                else:
                    found[m] = None
        if self._exclude:
            return [p for p in found if not self._excluded(p)]
        return list(found)

    def _excluded(self, path: str) -> bool:
        real = os.path.realpath(path)
        return real in self._exclude or any(real.startswith(x + ".") for x in self._exclude)

    def _discover(self, *, initial: bool) -> None:
        seen = self._candidates()
        for path in seen:
            self._track(path, initial=initial)
        for path in set(self._paths).difference(seen):
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
            self._fail(path, OSError(errno.EISDIR, "not a regular file"))  # e.g. replaced by a folder
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
        if not self._make_room():
            self.queued += 1  # every open file is busy: this one waits for the next discovery
            return None
        try:
            fd = self._open_fd(path)
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
        stream = self.engine.stream(path, container=src.container, app_hint=src.app_hint, host=self.host)
        tail = _Tail(path, fd, ident, stream, offset, skip, self.clock())
        tail.fp, tail.fp_len, tail.size = fp, fp_len, st.st_size
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
                    self.stats.rotations["truncate"] += 1
                    return 0, False
                return pos.offset, pos.skip
            return 0, False  # same inode, other content: a new file reusing it
        if not initial or path in self._saved_paths:
            return 0, False  # appeared while we follow, or replaced a file we followed: read it all
        if self.start_at == "beginning" or size == 0:
            return 0, False
        n = min(size, 64 * 1024)
        tail = os.pread(fd, n, size - n)
        k = tail.rfind(b"\n")
        if k >= 0:
            return size - n + k + 1, False  # after the last complete line: a partial one is read whole
        return (0, False) if n == size else (size, True)

    def _recover_rotated(self, pos: Position) -> None:
        """Find a file we were reading (renamed while we were down) next to its old name."""
        folder = os.path.dirname(pos.path) or "."
        try:
            entries = list(os.scandir(folder))
        except OSError:
            return
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if (st.st_dev, st.st_ino) == pos.ident and stat.S_ISREG(st.st_mode):
                tail = self._open(entry.path, initial=True, draining_from=pos)
                if tail is not None and not tail.names:
                    tail.path = pos.path
                    tail.stream.file = pos.path
                    tail.draining = True
                return

    # -- the open-files budget ----------------------------------------------------------------

    def _open_count(self) -> int:
        return sum(1 for t in self._tails.values() if not t.parked)

    def _open_fd(self, path: str) -> int:
        """os.open, parking an idle file and trying again when the process is out of descriptors."""
        try:
            return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as e:
            if e.errno not in (errno.EMFILE, errno.ENFILE) or not self._park_one(self.clock(), force=True):
                raise
            return os.open(path, os.O_RDONLY | os.O_CLOEXEC)

    def _parkable(self, t: _Tail, now: float, force: bool) -> bool:
        """Only a file whose every read byte is turned into events (or waits as a partial line)."""
        return (not t.parked and not t.draining and bool(t.names) and not t.stream.holding
                and (force or now - t.last_data >= self.idle_flush))

    def _park_one(self, now: float, force: bool = False) -> bool:
        """Close the least recently written parkable file; False when none can be."""
        candidates = [t for t in self._tails.values() if self._parkable(t, now, force)]
        if not candidates:
            return False
        t = min(candidates, key=lambda x: x.last_data)
        os.close(t.fd)
        t.fd = -1
        return True

    def _make_room(self) -> bool:
        now = self.clock()
        while self._open_count() >= self.max_open:
            if not self._park_one(now) and not self._park_one(now, force=True):
                return False
        return True

    def _park_idle(self, now: float) -> None:
        """Keep at most `max_open` files open: park the idle ones beyond it."""
        while self._open_count() > self.max_open and self._park_one(now):
            pass

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
        if not self._make_room():
            self.queued += 1
            return False
        return self._reopen_tail(t, name)

    def _reopen_tail(self, t: _Tail, path: str) -> bool:
        """Open `path` for parked tail `t` if it still is the same file (identity and first bytes)."""
        try:
            fd = self._open_fd(path)
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
        folder = os.path.dirname(t.path) or "."
        try:
            entries = list(os.scandir(folder))
        except OSError:
            entries = []
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if (st.st_dev, st.st_ino) == t.ident and stat.S_ISREG(st.st_mode) and self._reopen_tail(t, entry.path):
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
        reason = _reason(e)
        if self._failing.get(path) != reason:
            self._failing[path] = reason
            self.stats.read_errors[reason] += 1
            log.warning("cannot read file; will retry", extra={"path": path, "error": e.strerror or str(e)})

    def _roots(self) -> tuple[frozenset[str], frozenset[str]]:
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
            chunks = 0
            while chunks < CHUNKS_PER_STEP:
                want = max(CHUNK, len(t.pending))  # a long pending line: joining it stays linear
                data = os.pread(t.fd, want, t.read_off)
                if not data:
                    break
                chunks += 1
                t.read_off += len(data)
                t.last_data = now
                self.stats.bytes += len(data)
                self._consume(t, data)
                if len(data) < want:
                    break
            t.size = max(size, t.read_off)
            if chunks:
                self.last_read = self.wall()
            return chunks == CHUNKS_PER_STEP
        except _OutputBlocked:
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
        if hashlib.blake2b(head[: t.fp_len], digest_size=16).hexdigest() != t.fp:
            return True
        if len(head) > t.fp_len:
            t.fp, t.fp_len = hashlib.blake2b(head, digest_size=16).hexdigest(), len(head)
        return False

    def _truncated(self, t: _Tail) -> None:
        """Copytruncate: what was pending is final, then start over from byte 0."""
        self.stats.rotations["truncate"] += 1
        events = self._final_events(t)
        t.read_off, t.pending, t.skipping = 0, b"", False
        t.fp, t.fp_len = fingerprint(t.fd, os.fstat(t.fd).st_size)
        self._emit(t, events, 0, False)

    def _final_events(self, t: _Tail) -> list[Event]:
        """The pending partial line as a line, then whatever the stream holds: the file ends here."""
        events: list[Event] = []
        if t.pending:
            events = t.stream.feed([t.pending])
            t.pending = b""
        return events + t.stream.flush()

    def _consume(self, t: _Tail, data: bytes) -> None:
        """Split into lines, feed the engine in sub-batches, write the events, advance the position."""
        max_line = self.engine.max_line
        if t.skipping:
            nl = data.find(b"\n")
            if nl < 0:
                if not t.stream.holding:  # the skipped bytes belong to a line already written
                    t.committed, t.committed_skip = t.read_off, True
                    self._dirty = True
                return
            data = data[nl + 1:]
            t.skipping = False
        base = t.read_off - len(data) - len(t.pending)
        if t.pending:
            data = t.pending + data
        lines = data.split(b"\n")
        pending = lines.pop()
        cut: bytes | None = None
        if len(pending) > max_line:
            cut = pending[:max_line]
            pending = b""
            self.stats.malformed["oversized"] += 1
        t.pending = pending
        stream = t.stream
        events: list[Event] = []
        off = base
        safe, safe_skip = t.committed, t.committed_skip
        if not stream.holding:
            safe, safe_skip = base, False
        for i in range(0, len(lines), SUB_BATCH):
            sub = lines[i:i + SUB_BATCH]
            events += stream.feed(sub)
            off += sum(map(len, sub)) + len(sub)
            if not stream.holding:
                safe, safe_skip = off, False
        if cut is not None:
            events += stream.feed([cut])
            t.skipping = True
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

    # -- output ----------------------------------------------------------------------------

    def _emit(self, t: _Tail, events: list[Event], offset: int, skip: bool) -> None:
        """Write events; only then may the tail's position move to `offset`."""
        if events:
            if self.redact is not None:  # secrets never reach the output or the metrics
                events = self.redact(events)
            if self.observe is not None:
                self.observe(events)
            try:
                self.output.write_events(events)
            except OSError as e:
                self._output_failed(e)
                self._retry = _Retry(events, t, offset, skip)
                raise _OutputBlocked from None
        if (offset, skip) != (t.committed, t.committed_skip):
            t.committed, t.committed_skip = offset, skip
            self._dirty = True

    def _output_failed(self, e: OSError) -> None:
        self.stats.output_errors[_reason(e)] += 1
        if self._retry is None:
            log.error("cannot write events; reading paused until the output accepts them",
                      extra={"error": e.strerror or str(e)})

    def _retry_output(self) -> bool:
        r = self._retry
        assert r is not None
        try:
            self.output.write_events(r.events)
        except OSError as e:
            self._output_failed(e)
            return False
        self._retry = None
        log.info("output writable again")
        if r.tail.ident in self._tails:
            r.tail.committed, r.tail.committed_skip = r.offset, r.skip
            self._dirty = True
        return True

    def _reopen_output(self) -> None:
        reopen = getattr(self.output, "reopen", None)
        if reopen is None:
            return
        try:
            reopen()
        except OSError as e:
            self._output_failed(e)
            return
        log.info("output reopened")

    # -- positions and gauges --------------------------------------------------------------

    def _positions(self) -> list[Position]:
        out = []
        for t in self._tails.values():
            out.append(Position(path=t.path, dev=t.ident[0], ino=t.ident[1], fp=t.fp, fp_len=t.fp_len,
                                offset=t.committed, skip=t.committed_skip))
        return out

    def _maybe_save(self, now: float) -> None:
        if self._dirty and now - self._last_save >= self.save_every:
            self.save()

    def _gauges(self) -> None:
        self.stats.files_watched = len(self._tails)
        self.stats.read_lag_bytes = sum(max(t.size - t.read_off, 0) for t in self._tails.values())


class _Watcher:
    """watchfiles in a thread: any change wakes the tailer; added/deleted paths also trigger discovery."""

    def __init__(self, tailer: Tailer, roots: tuple[frozenset[str], frozenset[str]], poll: bool,
                 now: float) -> None:
        self.roots = roots
        self.started = now
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._watch, args=(tailer, sorted(paths), deep, poll),
                             name="logmetrics-watch", daemon=True)
            for paths, deep in ((roots[0], True), (roots[1], False)) if paths
        ]
        self._dead = False
        for th in self._threads:
            th.start()

    @property
    def alive(self) -> bool:
        return not self._dead

    def _watch(self, tailer: Tailer, paths: list[str], recursive: bool, poll: bool) -> None:
        from watchfiles import Change, watch

        try:
            for changes in watch(*paths, watch_filter=None, debounce=50, step=10, rust_timeout=1000,
                                 stop_event=self._stop, force_polling=poll, poll_delay_ms=100,
                                 recursive=recursive, raise_interrupt=False, ignore_permission_denied=True):
                if any(c != Change.modified for c, _ in changes):
                    tailer._need_discover.set()
                tailer.wake()
        except Exception as e:  # a watched folder vanished, inotify limits...: the re-stat loop carries on
            if not self._stop.is_set():
                log.warning("file watcher stopped; restarting", extra={"error": str(e)})
                self._dead = True

    def close(self) -> None:
        self._stop.set()
        for th in self._threads:
            th.join(timeout=1.0)
