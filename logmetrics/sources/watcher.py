"""watchfiles in a thread: a change wakes the tailer; a file added or removed also asks for discovery.

The tailer does not depend on it: a periodic re-stat finds everything anyway, so
a missed notification (NFS, a full inotify table) delays a line by at most the
rescan interval. The watcher is told what to call, and knows nothing else.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

__all__ = ["Roots", "Watcher"]

Roots = tuple[frozenset[str], frozenset[str]]  # (watched recursively, watched flat)

log = logging.getLogger("logmetrics.watcher")


class Watcher:
    """Watches `roots`; calls `on_change(discover)` for every batch of changes (discover: files came or went)."""

    def __init__(self, roots: Roots, on_change: Callable[[bool], None], *, poll: bool, started: float) -> None:
        self.roots = roots
        self.started = started
        self._on_change = on_change
        self._stop = threading.Event()
        self._dead = False
        self._threads = [
            threading.Thread(target=self._watch, args=(sorted(paths), deep, poll), name="logmetrics-watch",
                             daemon=True)
            for paths, deep in ((roots[0], True), (roots[1], False)) if paths
        ]
        for th in self._threads:
            th.start()

    @property
    def alive(self) -> bool:
        return not self._dead

    def _watch(self, paths: list[str], recursive: bool, poll: bool) -> None:
        from watchfiles import Change, watch

        try:
            for changes in watch(*paths, watch_filter=None, debounce=50, step=10, rust_timeout=1000,
                                 stop_event=self._stop, force_polling=poll, poll_delay_ms=100,
                                 recursive=recursive, raise_interrupt=False, ignore_permission_denied=True):
                self._on_change(any(c != Change.modified for c, _ in changes))
        except Exception as e:  # a watched folder vanished, inotify limits...: the re-stat loop carries on
            if not self._stop.is_set():
                log.warning("file watcher stopped; restarting", extra={"error": str(e)})
                self._dead = True

    def close(self) -> None:
        self._stop.set()
        for th in self._threads:
            th.join(timeout=1.0)
