"""The one line framer: bytes in, lines out, memory bounded whatever the input.

Every runner frames through it — replay's batches, the tailer's reads, parallel
replay's seams, `parse` on standard input — so a line means the same bytes
everywhere: split at `\\n`, without it; a line longer than `max_line` is cut
there (counted in `stats.malformed["oversized"]`) and the rest of it skipped up
to its newline; the bytes after the last newline wait for more (`pending`).
A read as large as what is pending keeps joining a long line linear.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol

from ..core.stats import Stats

__all__ = ["CHUNK", "Framer", "Readable", "read_batches", "read_lines_at"]

# ~150 lines a batch: a batch's events (and their JSON) stay in the CPU's cache from parsing through
# redaction to output. 256 KiB batches (~2.5k events, a few MB) were ~10% slower end to end, from
# cache misses alone (benchmarks/compare.py); below ~16 KiB per-batch costs start to show.
CHUNK = 16 * 1024


class Framer:
    """Frames a byte stream into lines; `feed` what was read, `finish` at the end of the stream.

    `pending` and `skipping` are the state a reader must know to say where the next unframed byte
    is (the tailer's positions): the next line starts at `read - len(pending)` unless `skipping`.
    """

    __slots__ = ("count_bytes", "max_line", "pending", "skipping", "stats")

    def __init__(self, stats: Stats, max_line: int = 1 << 20, *, count_bytes: bool = True,
                 pending: bytes = b"", skipping: bool = False) -> None:
        self.stats = stats
        self.max_line = max_line
        self.count_bytes = count_bytes  # False where the caller counts a range itself (parallel chunks)
        self.pending = pending
        self.skipping = skipping

    def want(self, chunk: int = CHUNK) -> int:
        """How much to read next: a chunk, or as much as is pending (joining a long line stays linear)."""
        return max(chunk, len(self.pending))

    def feed(self, data: bytes) -> list[bytes]:
        """The complete lines in `data` (after what was pending); the rest waits."""
        if self.count_bytes:
            self.stats.bytes += len(data)
        if self.skipping:
            nl = data.find(b"\n")
            if nl < 0:
                return []
            data = data[nl + 1:]
            self.skipping = False
        if self.pending:
            data = self.pending + data
        lines = data.split(b"\n")
        pending = lines.pop()
        if len(pending) > self.max_line:
            lines.append(pending[: self.max_line])
            self.stats.malformed["oversized"] += 1
            pending = b""
            self.skipping = True
        self.pending = pending
        return lines

    def cut(self, lines: Iterable[bytes | str]) -> list[bytes | str]:
        """Lines already split (in memory: tests, samples, the library API), cut to `max_line` like any."""
        max_line, out = self.max_line, []
        for line in lines:
            if len(line) > max_line:
                line = line[:max_line]
                self.stats.malformed["oversized"] += 1
            out.append(line)
        return out

    def finish(self) -> list[bytes]:
        """The end of the stream: a last line without its newline is still a line."""
        last, self.pending, self.skipping = self.pending, b"", False
        return [last] if last else []


class Readable(Protocol):
    """What the readers need of a file: `read(n)`."""

    def read(self, n: int = -1, /) -> bytes: ...


def read_batches(f: Readable, framer: Framer, chunk: int = CHUNK) -> Iterator[list[bytes]]:
    """Lines without their newline, in batches of about `chunk` bytes, to the end of `f`."""
    feed = framer.feed
    while True:
        data = f.read(framer.want(chunk))
        if not data:
            break
        lines = feed(data)
        if lines:
            yield lines
    last = framer.finish()
    if last:
        yield last


class Seekable(Readable, Protocol):
    def seek(self, pos: int, whence: int = 0, /) -> int: ...

    def readline(self, limit: int = -1, /) -> bytes: ...


def read_lines_at(f: Seekable, pos: int, framer: Framer) -> Iterator[tuple[int, int, bytes]]:
    """(start offset, offset after it, line) one line at a time from `pos` — for parallel replay's
    seams, where each line's place matters. The same framing as `read_batches`: a cut line's end
    is after the rest that was skipped."""
    f.seek(pos)
    start = pos
    while True:
        data = f.readline(framer.max_line + 1)  # at most one line, or the first max_line+1 bytes of it
        if not data:
            for line in framer.finish():
                yield start, pos, line
            return
        pos += len(data)
        lines = framer.feed(data)
        if not lines:
            continue
        if framer.skipping:  # a cut line: its end is where the rest of it ends
            while framer.skipping:
                rest = f.readline(1 << 20)
                if not rest:
                    framer.skipping = False
                    break
                pos += len(rest)
                framer.feed(rest)
        yield start, pos, lines[0]
        start = pos
