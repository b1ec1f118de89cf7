"""What logmetrics recognises in a file: its app, envelopes, formats, and the lines nothing explained.

`logmetrics detect` is how a user finds out why a file's events are `kind: log`.
Each file is read — at most `max_lines` lines, so a huge file takes a moment —
through the engine's own stream, exactly as `replay` reads it; the stream is
only watched (`_Watched`), so what detect reports is what a replay does. A line
is *unrecognised* when no pattern explained it and it went to the heuristic
fallback: the very count `logmetrics_lines_unrecognized_total` and the replay
summary use (a traceback's or panic's first line included). Example lines pass
through the configured redaction before anyone sees them, then are cut.
"""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import Settings
from ..core.stats import Stats
from ..parse.engine import Engine
from ..parse.envelopes import Envelope
from ..parse.stream import Stream
from ..sources.files import describe_file, open_log, resolve_paths
from ..sources.framing import Framer, read_batches
from ..transforms.redact import Redactor, redactor_for
from .sequential import damage

if TYPE_CHECKING:
    from ..parse.compile import CompiledPattern

__all__ = ["DEFAULT_LINES", "EXAMPLES", "EXAMPLE_CHARS", "SCHEMA_VERSION", "Detection", "FormatCount", "detect_file",
           "detect_paths", "to_dict"]

SCHEMA_VERSION = 1
DEFAULT_LINES = 10_000  # lines read per file
EXAMPLES = 3  # unrecognised lines shown per file
EXAMPLE_CHARS = 200  # an example is cut to this many characters (after redaction)


@dataclass(frozen=True)
class FormatCount:
    """A pattern that matched lines of the file: its definition (`app`), its name, how many lines."""

    app: str
    pattern: str
    lines: int

    @property
    def name(self) -> str:
        """`ollama/gin`: definition and pattern, as `logmetrics check` names them."""
        return f"{self.app}/{self.pattern}"


@dataclass(frozen=True)
class Detection:
    """What was found in one file (its first `lines_read` lines)."""

    file: str
    app: str  # the stream's app at the end (sticky), `unknown` when no app's pattern matched
    envelopes: tuple[str, ...]  # the envelope chain most lines came in, outermost first; () for none
    envelope_chains: tuple[tuple[tuple[str, ...], int], ...]  # every chain seen, with its lines, most first
    formats: tuple[FormatCount, ...]  # patterns that matched, most lines first
    lines_read: int
    complete: bool  # False: the file has more lines than were read
    lines_unrecognized: int
    examples: tuple[str, ...]  # the first EXAMPLES distinct non-blank unrecognised single lines, redacted, cut
    problem: str | None = None  # why the file could not be read to its end (or at all)

    @property
    def recognized_ratio(self) -> float | None:
        """Share of the lines read that a pattern explained; None for a file without lines."""
        if not self.lines_read:
            return None
        return round((self.lines_read - self.lines_unrecognized) / self.lines_read, 3)

    @property
    def format(self) -> str | None:
        """The pattern that matched most lines (`app/pattern`), None when none matched."""
        return self.formats[0].name if self.formats else None

    def to_dict(self) -> dict[str, Any]:
        """This file's entry of the stable JSON shape (docs/parsers.md, "Detection")."""
        return {
            "file": self.file,
            "app": self.app,
            "envelopes": list(self.envelopes),
            "envelope_chains": [{"envelopes": list(c), "lines": n} for c, n in self.envelope_chains],
            "format": self.format,
            "formats": [{"app": f.app, "pattern": f.pattern, "lines": f.lines} for f in self.formats],
            "lines_read": self.lines_read,
            "complete": self.complete,
            "lines_unrecognized": self.lines_unrecognized,
            "recognized_ratio": self.recognized_ratio,
            "unrecognized_examples": list(self.examples),
            "problem": self.problem,
        }


def to_dict(detections: Sequence[Detection], max_lines: int) -> dict[str, Any]:
    """The whole JSON document of `logmetrics detect --format json`."""
    return {
        "schema": "logmetrics.detect",
        "version": SCHEMA_VERSION,
        "max_lines": max_lines,
        "files": [d.to_dict() for d in detections],
    }


class _Watched(Stream):
    """A stream that notes, per record, the envelopes it came in and the pattern that explained it
    (None: the fallback). It parses exactly as a Stream: it only looks at what `_event` decided."""

    __slots__ = ("_in_record", "chains", "examples", "formats")

    def __init__(self, engine: Engine, file: str, container: str | None, app_hint: str | None,
                 file_time: float | None) -> None:
        super().__init__(engine, file, container, app_hint, None, file_time)
        self.chains: Counter[tuple[str, ...]] = Counter()
        self.formats: Counter[tuple[str, str]] = Counter()
        self.examples: list[str] = []
        self._in_record = False

    _fast = False  # every line through `_event` (the stream's inlined common case skips it)

    def _ml_flush(self) -> None:
        # A traceback, panic or private key: its first line counts like any, but is never an example
        # (the record is one event, and a key's first line alone may not be redactable).
        self._in_record = True
        try:
            super()._ml_flush()
        finally:
            self._in_record = False

    def _event(self, text: str, env: Envelope | None,
               matched: tuple[dict[str, Any] | None, CompiledPattern | None] | None = None
               ) -> tuple[dict[str, Any], CompiledPattern | None, Envelope | None, str]:
        ev, cp, env, inner = super()._event(text, env, matched)
        self.chains[(env.chain or (env.kind,)) if env is not None else ()] += 1
        if cp is None:
            if (len(self.examples) < EXAMPLES and not self._in_record and inner.strip()
                    and inner not in self.examples):
                self.examples.append(inner)
        else:
            self.formats[(cp.app, cp.name)] += 1
        return ev, cp, env, inner


def _example(text: str, redactor: Redactor | None) -> str:
    """An unrecognised line as it may be shown: redacted (before the cut, so no secret is half-kept), cut."""
    if redactor is not None:
        text = redactor.redact_text(text)
    return text if len(text) <= EXAMPLE_CHARS else text[: EXAMPLE_CHARS - 1] + "…"


def detect_file(engine: Engine, path: Path, *, max_lines: int = DEFAULT_LINES,
                redactor: Redactor | None = None) -> Detection:
    """Read the first `max_lines` lines of `path` through a stream of `engine` and say what was found.
    A file that cannot be read to its end gives what was read, and `problem` says why."""
    if max_lines < 1:
        raise ValueError("max_lines must be at least 1")
    src = describe_file(path)
    file = str(path)
    stream = _Watched(engine, file, src.container, src.app_hint, src.mtime)
    stats = engine.stats
    lines0, bad0 = stats.file_lines[file], stats.file_unrecognized[file]
    framer = Framer(stats, engine.max_line)
    left, complete, problem = max_lines, True, None
    try:
        with open_log(path) as f:
            batches = read_batches(f, framer)
            for batch in batches:
                if len(batch) >= left:
                    stream.feed(batch[:left])
                    complete = len(batch) == left and next(batches, None) is None
                    break
                stream.feed(batch)
                left -= len(batch)
    except (OSError, EOFError, zlib.error) as e:
        problem, complete = damage(e), False
    stream.flush()
    chains = sorted(stream.chains.items(), key=lambda kv: (-kv[1], kv[0]))
    formats = sorted(stream.formats.items(), key=lambda kv: (-kv[1], kv[0]))
    return Detection(
        file=file,
        app=stream.app,
        envelopes=chains[0][0] if chains else (),
        envelope_chains=tuple(chains),
        formats=tuple(FormatCount(app, name, n) for (app, name), n in formats),
        lines_read=stats.file_lines[file] - lines0,
        complete=complete,
        lines_unrecognized=stats.file_unrecognized[file] - bad0,
        examples=tuple(dict.fromkeys(_example(x, redactor) for x in stream.examples)),
        problem=problem,
    )


def detect_paths(paths: Sequence[str | Path], *, max_lines: int = DEFAULT_LINES, settings: Settings | None = None,
                 engine: Engine | None = None) -> list[Detection]:
    """`detect_file` for every file of these files, folders (recursive) and globs, found as `replay` finds
    them (a path that names nothing readable raises SourceError); redaction as `settings` say. `engine`:
    one with your definitions (default: the built-in ones, as `replay` reads)."""
    settings = settings or Settings()
    found = resolve_paths([str(p) for p in paths], follow_symlinks=settings.follow_symlinks)
    engine = engine or Engine(max_line=settings.max_line_bytes, inherit_ts=True)
    redactor = redactor_for(settings, Stats())
    return [detect_file(engine, Path(f), max_lines=max_lines, redactor=redactor) for f in found.files]
