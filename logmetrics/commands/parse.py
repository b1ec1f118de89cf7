"""`logmetrics parse`: stdin → events, for trying a parser on a few lines.

Standard input is framed like any file (a 200 MB line costs max_line_bytes, not
200 MB) and each event goes through the same chain as `run` and `replay`, so
what `parse` shows is redacted too. Lines are handled as they arrive.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from ..pipeline import Pipeline
from ..sources.framing import Framer
from ..transforms.redact import redactor_for
from .common import settings_and_engine


class _Printer:
    """Events to stdout as JSON lines, highlighted with pygments when asked."""

    def __init__(self, color: bool) -> None:
        self.out = sys.stdout
        self.highlight: Any = None
        if color:
            from pygments import highlight
            from pygments.formatters import TerminalFormatter
            from pygments.lexers import JsonLexer

            lexer, formatter = JsonLexer(), TerminalFormatter()
            self.highlight = lambda text: highlight(text, lexer, formatter)

    def write(self, events: Sequence[dict[str, Any]]) -> None:
        for ev in events:
            text = orjson.dumps(ev).decode()
            self.out.write(self.highlight(text) if self.highlight is not None else text + "\n")
        self.out.flush()


def parse_command(*, force_app: str | None, color: bool | None, parsers: list[Path], config: Path | None) -> None:
    settings, engine = settings_and_engine(parsers, config, force_app=force_app)
    printer = _Printer(sys.stdout.isatty() if color is None else color)
    pipeline = Pipeline([printer], redact=redactor_for(settings, engine.stats))
    stream = engine.stream("-")
    framer = Framer(engine.stats, engine.max_line)
    fd = sys.stdin.fileno()
    # os.read returns what is there: interactive, each event shows as its line arrives.
    while data := os.read(fd, framer.want(1 << 16)):
        pipeline(stream.feed(framer.feed(data)))
    pipeline(stream.feed(framer.finish()) + stream.flush())
