"""Offline replay: files → events, in batches, with the `--app/--since/--until` filters.

The summary, metrics and JSON sinks consume the same batches, so every output
format sees exactly the same events.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .conversions import parse_ts
from .parsing import Engine
from .sources import SourceError, describe_file, open_log, read_batches

__all__ = ["EventFilter", "iter_events", "iter_file_events"]

Event = dict[str, Any]


@dataclass(frozen=True)
class EventFilter:
    """Which events a replay keeps; timestamps compare as normalised RFC 3339 strings."""

    app: str | None = None
    since: str | None = None
    until: str | None = None

    @classmethod
    def build(cls, app: str | None, since: str | None, until: str | None) -> EventFilter:
        def norm(flag: str, v: str | None) -> str | None:
            if v is None:
                return None
            # Accept what people type: a full stamp, minutes without seconds, or a bare date.
            ts = parse_ts(v, "auto") or parse_ts(v + ":00", "auto") or parse_ts(v + "T00:00:00", "auto")
            if ts is None:
                raise SourceError(f"{flag} {v!r}: not a timestamp (use e.g. 2026-11-03T10:00:00Z)")
            return ts
        return cls(app, norm("--since", since), norm("--until", until))

    @property
    def active(self) -> bool:
        return bool(self.app or self.since or self.until)

    def apply(self, events: list[Event]) -> list[Event]:
        app, since, until = self.app, self.since, self.until
        return [
            e for e in events
            if (app is None or e["app"] == app)
            and (since is None or e["ts"] >= since)
            and (until is None or e["ts"] < until)
        ]


def iter_file_events(engine: Engine, path: Path, on_bytes: Callable[[int], None] | None = None
                     ) -> Iterator[list[Event]]:
    """One file's events in batches (its own stream: stickiness and multiline state per file)."""
    src = describe_file(path)
    stream = engine.stream(str(path), container=src.container, app_hint=src.app_hint)
    stats = engine.stats
    with open_log(path) as f:
        before = stats.bytes
        for batch in read_batches(f, stats, engine.max_line):
            if on_bytes is not None:
                on_bytes(stats.bytes - before)
                before = stats.bytes
            yield stream.feed(batch)
    tail = stream.flush()
    if tail:
        yield tail


def iter_events(engine: Engine, paths: list[Path], flt: EventFilter | None = None,
                on_bytes: Callable[[int], None] | None = None,
                redact: Callable[[list[Event]], list[Event]] | None = None) -> Iterator[list[Event]]:
    """All files' events, file after file, redacted, then filtered."""
    for p in paths:
        for batch in iter_file_events(engine, p, on_bytes):
            if redact is not None:
                batch = redact(batch)
            if flt is not None and flt.active:
                batch = flt.apply(batch)
            if batch:
                yield batch
