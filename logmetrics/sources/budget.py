"""The open-files budget: at most `max_open` followed files hold a descriptor.

A host with hundreds of container logs must not run out of descriptors. The
least recently written idle files are closed ("parked") and watched by stat();
one that grows is reopened — if it is still the same file — when there is room.
A file is parked only when every byte read from it has become an event (or
waits as a partial line): nothing held can be lost by closing it.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterable
from typing import Protocol

__all__ = ["OpenFiles"]


class Parkable(Protocol):
    fd: int
    draining: bool
    last_data: float
    names: set[str]

    @property
    def parked(self) -> bool: ...

    @property
    def holding(self) -> bool: ...


class OpenFiles:
    """Which followed files keep a descriptor; `tails` is the tailer's live collection."""

    def __init__(self, tails: Callable[[], Iterable[Parkable]], max_open: int, idle_s: float) -> None:
        self._tails = tails
        self.max_open = max(1, max_open)
        self.idle_s = idle_s
        self.queued = 0  # files found but waiting for a descriptor (all open ones busy)

    def count(self) -> int:
        return sum(1 for t in self._tails() if not t.parked)

    def open(self, path: str, now: float) -> int:
        """os.open, parking an idle file and trying again when the process is out of descriptors."""
        try:
            return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as e:
            if e.errno not in (errno.EMFILE, errno.ENFILE) or not self.park_one(now, force=True):
                raise
            return os.open(path, os.O_RDONLY | os.O_CLOEXEC)

    def make_room(self, now: float) -> bool:
        """Park files until one more may open; False when none can be parked (the caller queues)."""
        while self.count() >= self.max_open:
            if not self.park_one(now) and not self.park_one(now, force=True):
                self.queued += 1
                return False
        return True

    def park_idle(self, now: float) -> None:
        """Keep at most `max_open` files open: park the idle ones beyond it."""
        while self.count() > self.max_open and self.park_one(now):
            pass

    def park_one(self, now: float, force: bool = False) -> bool:
        """Close the least recently written parkable file; False when none can be."""
        candidates = [t for t in self._tails() if self._parkable(t, now, force)]
        if not candidates:
            return False
        t = min(candidates, key=lambda x: x.last_data)
        os.close(t.fd)
        t.fd = -1
        return True

    def _parkable(self, t: Parkable, now: float, force: bool) -> bool:
        return (not t.parked and not t.draining and bool(t.names) and not t.holding
                and (force or now - t.last_data >= self.idle_s))
