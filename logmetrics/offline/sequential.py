"""Offline replay in one process: files → events, in batches, through the chain.

Each file has its own stream (stickiness, multiline and time state per file); the
summary, metrics and JSON sinks consume the same batches, so every output format
sees exactly the same events.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

from ..core.errors import errno_label
from ..parse.engine import Engine
from ..pipeline import Event, Pipeline
from ..sources.files import describe_file, open_log
from ..sources.framing import Framer, read_batches

__all__ = ["damage", "file_events", "replay_files"]


def damage(e: BaseException) -> str:
    """What was wrong with a file, in a few words (a damaged gzip, a read error)."""
    if isinstance(e, EOFError):
        return "compressed file ends early (truncated)"
    if isinstance(e, zlib.error | gzip.BadGzipFile):
        return f"compressed data is corrupt ({e})"
    if isinstance(e, OSError):
        return f"cannot read: {e.strerror or e}"
    return str(e)


def file_events(engine: Engine, path: Path, on_bytes: Callable[[int], None] | None = None,
                problems: list[str] | None = None) -> Iterator[list[Event]]:
    """One file's events in batches (its own stream: stickiness and multiline state per file).

    A file that cannot be read to its end (a corrupt or truncated gzip, a read error) gives the
    events of what could be read; `problems` gets one line naming it and what was wrong, and
    `stats.read_errors` counts it.
    """
    src = describe_file(path)
    stream = engine.stream(str(path), container=src.container, app_hint=src.app_hint, file_time=src.mtime)
    stats = engine.stats
    framer = Framer(stats, engine.max_line)
    before = stats.bytes
    try:
        with open_log(path) as f:
            for batch in read_batches(f, framer):
                if on_bytes is not None:
                    on_bytes(stats.bytes - before)
                    before = stats.bytes
                yield stream.feed(batch)
    except (OSError, EOFError, zlib.error) as e:
        plain_os_error = isinstance(e, OSError) and not isinstance(e, gzip.BadGzipFile)
        stats.read_errors[errno_label(e) if plain_os_error else "damaged"] += 1  # type: ignore[arg-type]
        if problems is not None:
            problems.append(f"{path}: {damage(e)}; the part before it was read")
        pending = framer.finish()  # a partial line read before the damage is still a line
        if pending:
            yield stream.feed(pending)
    tail = stream.flush()
    if tail:
        yield tail


def replay_files(engine: Engine, files: list[Path], pipeline: Pipeline,
                 on_bytes: Callable[[int], None] | None = None, problems: list[str] | None = None) -> None:
    """All files' events, file after file, through the chain."""
    for p in files:
        for batch in file_events(engine, p, on_bytes, problems):
            pipeline(batch)
