"""`logmetrics parse`: stdin → events, for trying a parser on a few lines."""

from __future__ import annotations

import sys
from pathlib import Path

import orjson

from .common import settings_and_engine


def parse_command(*, force_app: str | None, color: bool | None, parsers: list[Path], config: Path | None) -> None:
    settings, engine = settings_and_engine(parsers, config, force_app=force_app)
    redact = settings.redactor(engine.stats)
    stream = engine.stream("-")
    use_color = sys.stdout.isatty() if color is None else color
    out = sys.stdout
    if use_color:
        from pygments import highlight
        from pygments.formatters import TerminalFormatter
        from pygments.lexers import JsonLexer

        lexer, formatter = JsonLexer(), TerminalFormatter()

        def write(ev: dict[str, object]) -> None:
            out.write(highlight(orjson.dumps(ev).decode(), lexer, formatter))
    else:

        def write(ev: dict[str, object]) -> None:
            out.write(orjson.dumps(ev).decode() + "\n")

    # Line by line (not batched): `parse` is interactive, each event shows as its line arrives.
    for raw in sys.stdin.buffer:
        for ev in redact(stream.feed([raw.rstrip(b"\n")])):
            write(ev)
        out.flush()
    for ev in redact(stream.flush()):
        write(ev)
    out.flush()
