"""Pipeline counters: one object every stage counts into, merged across replay workers.

Its own module because every stage (sources, parse, transforms, sinks) counts
and none of them should import another stage to do so.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Stats"]

_COUNTERS = ("unrecognized", "malformed", "dropped", "rotations", "output_errors", "redactions", "read_errors",
             "budget_exceeded", "file_lines", "file_unrecognized")


@dataclass
class Stats:
    """Pipeline counters, shared by all streams of an engine and merged across workers."""

    lines: int = 0
    bytes: int = 0
    unrecognized: Counter[str] = field(default_factory=Counter)  # by app
    malformed: Counter[str] = field(default_factory=Counter)  # by reason: oversized, invalid_utf8
    dropped: Counter[str] = field(default_factory=Counter)  # by reason
    rotations: Counter[str] = field(default_factory=Counter)  # by mode: rename, truncate, delete
    output_errors: Counter[str] = field(default_factory=Counter)  # by reason
    redactions: Counter[str] = field(default_factory=Counter)  # by rule
    read_errors: Counter[str] = field(default_factory=Counter)  # by errno name (live tailer)
    budget_exceeded: Counter[str] = field(default_factory=Counter)  # by user rule: over its time budget
    # By file: lines read, and those no pattern explained (the same as `unrecognized`, by file). The
    # replay summary names the files mostly unrecognised; `logmetrics detect` counts the same way.
    file_lines: Counter[str] = field(default_factory=Counter)
    file_unrecognized: Counter[str] = field(default_factory=Counter)
    files_watched: int = 0  # gauge (live tailer)
    read_lag_bytes: int = 0  # gauge (live tailer)

    def __getstate__(self) -> dict[str, Any]:
        # Parallel replay sends one Stats per head line back to the parent: only what is non-zero.
        return {k: v for k, v in self.__dict__.items() if v}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__()  # type: ignore[misc]
        self.__dict__.update(state)

    def merge(self, other: Stats) -> None:
        """Add another worker's counters (gauges are the live tailer's own and are not merged)."""
        self.lines += other.lines
        self.bytes += other.bytes
        for name in _COUNTERS:
            getattr(self, name).update(getattr(other, name))

    def copy(self) -> Stats:
        """An independent copy (counters included)."""
        out = Stats(lines=self.lines, bytes=self.bytes, files_watched=self.files_watched,
                    read_lag_bytes=self.read_lag_bytes)
        for name in _COUNTERS:
            getattr(out, name).update(getattr(self, name))
        return out

    def since(self, before: Stats) -> Stats:
        """What was counted after `before` was copied (gauges: the values now)."""
        out = Stats(lines=self.lines - before.lines, bytes=self.bytes - before.bytes,
                    files_watched=self.files_watched, read_lag_bytes=self.read_lag_bytes)
        for name in _COUNTERS:
            mine, theirs = getattr(self, name), getattr(before, name)
            getattr(out, name).update({k: n - theirs.get(k, 0) for k, n in mine.items() if n != theirs.get(k, 0)})
        return out

    def reset_to(self, before: Stats) -> None:
        """Forget what was counted after `before` was copied."""
        self.lines, self.bytes = before.lines, before.bytes
        for name in _COUNTERS:
            c = getattr(self, name)
            c.clear()
            c.update(getattr(before, name))

