"""The library API: what `logmetrics/__init__.py` exports, for using logmetrics from Python.

The command line is a thin layer over these same pieces; everything here goes
through the one chain (redaction included), like `logmetrics parse` and
`logmetrics replay --format events`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from .config import Settings
from .offline.detect import DEFAULT_LINES, Detection, detect_paths
from .offline.sequential import file_events
from .parse.engine import Engine
from .pipeline import Event, Pipeline
from .sources.files import resolve_paths
from .sources.framing import Framer
from .transforms.redact import Redactor

__all__ = ["detect", "parse_line", "parse_lines", "replay"]


class _Collect:
    """A sink that keeps what it is given."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def write(self, events: Iterable[Event]) -> None:
        self.events.extend(events)


def parse_lines(lines: Iterable[str | bytes], *, file: str = "-", redact: bool = True,
                engine: Engine | None = None) -> list[Event]:
    """Events for lines of one file, in order (a traceback's lines become one event); secrets redacted."""
    engine = engine or Engine()
    out = _Collect()
    framed = Framer(engine.stats, engine.max_line).cut(lines)  # a line longer than max_line is cut, as in a file
    Pipeline([out], redact=Redactor(stats=engine.stats) if redact else None)(engine.parse_lines(framed, file))
    return out.events


def parse_line(line: str | bytes, *, redact: bool = True, engine: Engine | None = None) -> Event:
    """The event for one line."""
    return parse_lines([line], redact=redact, engine=engine)[0]


def replay(*paths: str | Path, redact: bool = True, settings: Settings | None = None) -> Iterator[Event]:
    """Every event of these files, folders (recursive) and globs, file after file, as `replay` sees
    them: a line without its own time takes the time of the line before it."""
    settings = settings or Settings()
    engine = Engine(max_line=settings.max_line_bytes, inherit_ts=True)
    redactor = Redactor(stats=engine.stats) if redact else None
    found = resolve_paths([str(p) for p in paths], follow_symlinks=settings.follow_symlinks)
    for f in found.files:
        for batch in file_events(engine, Path(f)):
            yield from (redactor(batch) if redactor is not None else batch)


def detect(*paths: str | Path, lines: int = DEFAULT_LINES, settings: Settings | None = None) -> list[Detection]:
    """What `logmetrics detect` finds in each file of these files, folders and globs (its first `lines`
    lines): app, envelope chain, formats, share of lines recognised, redacted unrecognised examples."""
    return detect_paths(paths, max_lines=lines, settings=settings)
