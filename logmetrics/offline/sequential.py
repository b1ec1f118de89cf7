"""Offline replay in one process: files → events, in batches, through the chain.

Each file has its own stream (stickiness, multiline and time state per file); the
summary, metrics and JSON sinks consume the same batches, so every output format
sees exactly the same events.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from ..parse.engine import Engine
from ..pipeline import Event, Pipeline
from ..sources.files import describe_file, open_log
from ..sources.framing import Framer, read_batches

__all__ = ["file_events", "replay_files"]


def file_events(engine: Engine, path: Path, on_bytes: Callable[[int], None] | None = None
                ) -> Iterator[list[Event]]:
    """One file's events in batches (its own stream: stickiness and multiline state per file)."""
    src = describe_file(path)
    stream = engine.stream(str(path), container=src.container, app_hint=src.app_hint)
    stats = engine.stats
    framer = Framer(stats, engine.max_line)
    with open_log(path) as f:
        before = stats.bytes
        for batch in read_batches(f, framer):
            if on_bytes is not None:
                on_bytes(stats.bytes - before)
                before = stats.bytes
            yield stream.feed(batch)
    tail = stream.flush()
    if tail:
        yield tail


def replay_files(engine: Engine, files: list[Path], pipeline: Pipeline,
                 on_bytes: Callable[[int], None] | None = None) -> None:
    """All files' events, file after file, through the chain."""
    for p in files:
        for batch in file_events(engine, p, on_bytes):
            pipeline(batch)
