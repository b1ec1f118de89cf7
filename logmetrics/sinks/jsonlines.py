"""The events sink: JSON lines to a size-rotated file, stdout, or any binary stream.

One encoding (`encode`, orjson, newline-terminated) for every writer. The live
output is a `logging.Handler` (`EventOutput`) with a python-json-logger formatter
(`EventFormatter`, orjson-backed) configured so that the event dict logged as
the record's message IS the line — no logger name, level or time added. The
tailer does not pay for a `LogRecord` per event, though: it hands whole batches
to `EventOutput.write`, which encodes them with the same options and writes
them with one system call (a test checks both paths give identical bytes).
Replay writes to stdout and `--emit` through `JsonLines`.

Writes go straight to the file descriptor (no userspace buffer), so "written"
means "in the kernel": a crash of this process loses nothing that was written,
and `sync()` makes it durable before positions that cover it are saved. A
failed write is rolled back (the file truncated to where the batch began) so a
retry neither duplicates nor tears lines.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import orjson
from pythonjsonlogger.orjson import OrjsonFormatter

__all__ = ["EventFormatter", "EventOutput", "JsonLines", "encode"]

_OPTIONS = 0  # event keys are always str: OPT_NON_STR_KEYS (the formatter's default) only costs time
_LINE = orjson.OPT_APPEND_NEWLINE


def encode(events: Sequence[dict[str, Any]]) -> bytes:
    """Events as JSON lines, each newline-terminated: the one encoding of every events output."""
    dumps = orjson.dumps
    return b"".join([dumps(e, option=_LINE) for e in events])


class JsonLines:
    """Events as JSON lines to a binary stream (replay's stdout, `--emit`, a worker's spool file)."""

    __slots__ = ("stream",)

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream

    def write(self, events: Sequence[dict[str, Any]]) -> None:
        if events:
            self.stream.write(encode(events))


class EventFormatter(OrjsonFormatter):  # type: ignore[misc]
    """python-json-logger's orjson formatter with no fields of its own: the record's dict is the line."""

    def __init__(self) -> None:
        # fmt=[]: no required fields; the default reserved attributes keep every LogRecord field out,
        # and the record's message (a dict) is copied into the line as-is.
        super().__init__(fmt=[], json_indent=False)

    def jsonify_log_record(self, log_data: dict[str, Any]) -> str:
        """The logging path's serialisation, with the batch path's options (identical bytes)."""
        return orjson.dumps(log_data, default=self.json_default, option=_OPTIONS).decode()

    def format_batch(self, events: Sequence[dict[str, Any]]) -> bytes:
        """The same bytes `format` gives one record per event, newline-terminated, for a whole batch."""
        return encode(events)


class EventOutput(logging.Handler):
    """Events as JSON lines to `path` (size-rotated, `backups` kept) or to stdout for `-`."""

    def __init__(self, path: str, *, max_bytes: int = 0, backups: int = 5) -> None:
        super().__init__()
        self.setFormatter(EventFormatter())
        self.path = path
        self.max_bytes = max_bytes if path != "-" else 0
        self.backups = backups
        self.error: str | None = None  # why the last write failed; None once one succeeds
        self._fd: int | None = None
        self._regular = False
        self._size = 0
        self._open()

    @property
    def formatter_(self) -> EventFormatter:
        fmt = self.formatter
        assert isinstance(fmt, EventFormatter)
        return fmt

    # -- writing ----------------------------------------------------------------------------

    def write(self, events: Sequence[dict[str, Any]]) -> None:
        """Write a batch of events as lines; OSError (after rollback) when it cannot be written."""
        if events:
            self.write_bytes(self.formatter_.format_batch(events))

    def write_bytes(self, data: bytes) -> None:
        """Write whole lines at once, rotating first if they would overflow the size limit."""
        with self._locked():
            try:
                if self._fd is None:
                    self._open()
                if self.max_bytes and self._size and self._size + len(data) > self.max_bytes:
                    self._rotate()
                self._write_all(data)
            except OSError as e:
                self.error = f"{self.path}: {e.strerror or e}"
                raise
            self.error = None

    def emit(self, record: logging.LogRecord) -> None:
        """The logging-API path (one record, one line); the tailer uses `write` instead."""
        try:
            self.write_bytes(self.format(record).encode() + b"\n")
        except Exception:
            self.handleError(record)

    def sync(self) -> None:
        """Make what was written durable (regular files; pipes and terminals have nothing to sync)."""
        with self._locked():
            if self._fd is not None and self._regular:
                os.fsync(self._fd)

    def reopen(self) -> None:
        """Close and open the path again (SIGHUP after an external logrotate moved the file)."""
        with self._locked():
            self._close_fd()
            try:
                self._open()
            except OSError as e:
                self.error = f"{self.path}: {e.strerror or e}"
                raise
            self.error = None

    def close(self) -> None:
        with self._locked():
            self._close_fd()
        super().close()

    # -- internals --------------------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """The handler's own lock (logging.Handler.acquire/release), as a `with` block."""
        self.acquire()
        try:
            yield
        finally:
            self.release()

    def _open(self) -> None:
        if self.path == "-":
            self._fd = 1
            self._regular = stat.S_ISREG(os.fstat(1).st_mode)
            self._size = 0
            return
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
        st = os.fstat(fd)
        self._fd, self._regular, self._size = fd, stat.S_ISREG(st.st_mode), st.st_size

    def _close_fd(self) -> None:
        if self._fd is not None and self._fd != 1:
            os.close(self._fd)
        self._fd = None

    def _write_all(self, data: bytes) -> None:
        fd = self._fd
        assert fd is not None
        start = self._size
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(fd, view):]
        except OSError:
            if self._regular and len(view) != len(data):
                try:  # take back the torn batch: a retry must not duplicate or split lines
                    os.ftruncate(fd, start)
                except OSError:
                    pass
            raise
        self._size = start + len(data)

    def _rotate(self) -> None:
        """events.jsonl → events.jsonl.1 → ... → .N (the oldest dropped), then a fresh file."""
        self._close_fd()
        base = Path(self.path)
        if self.backups > 0:
            for i in range(self.backups - 1, 0, -1):
                src = base.with_name(f"{base.name}.{i}")
                if src.exists():
                    os.replace(src, base.with_name(f"{base.name}.{i + 1}"))
            if base.exists():
                os.replace(base, base.with_name(f"{base.name}.1"))
        else:
            base.unlink(missing_ok=True)
        self._open()
