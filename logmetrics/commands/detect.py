"""`logmetrics detect`: per file, the app, envelope chain and formats recognised, and what was not.

stdout carries the result (a block per file, or `--format json`); a file that could
not be read to its end is also named on stderr and makes the exit status 1, like
`replay`; a bad path, flag or setting is one line and exit status 2.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import orjson

from ..offline.detect import Detection, detect_paths, to_dict
from .common import settings_and_engine

__all__ = ["detect_command", "render_detections"]

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # shown escaped: an example must not drive the terminal
_SHOWN = 3  # envelope chains and formats listed per file in the table (the JSON has them all)


def _escape(m: re.Match[str]) -> str:
    return f"\\x{ord(m.group()):02x}"


def _n(x: int) -> str:
    return f"{x:,}"


def _chain(c: tuple[str, ...] | list[str]) -> str:
    return " > ".join(c) if c else "none"


def _block(d: Detection) -> list[str]:
    rows: list[tuple[str, str]] = [("app", d.app)]
    chains = d.envelope_chains
    if len(chains) <= 1:
        rows.append(("envelopes", _chain(d.envelopes)))
    else:
        more = f", {len(chains) - _SHOWN} more" if len(chains) > _SHOWN else ""
        rows.append(("envelopes", ", ".join(f"{_chain(c)} ({_n(n)})" for c, n in chains[:_SHOWN]) + more))
    if d.formats:
        more = f", {len(d.formats) - _SHOWN} more" if len(d.formats) > _SHOWN else ""
        rows.append(("format", ", ".join(f"{f.name} ({_n(f.lines)})" for f in d.formats[:_SHOWN]) + more))
    else:
        rows.append(("format", "none recognised"))
    read = f"{_n(d.lines_read)} lines" + ("" if d.complete else " (first lines only)")
    if d.lines_read:
        share = 100 * (d.lines_read - d.lines_unrecognized) / d.lines_read
        rows.append(("recognised", f"{share:.1f}% of {read}, {_n(d.lines_unrecognized)} unrecognised"))
    else:
        rows.append(("recognised", f"- ({read})"))
    if d.problem:
        rows.append(("problem", d.problem))
    out = [d.file] + [f"  {k:<11} {v}" for k, v in rows]
    if d.examples:
        out.append("  unrecognised, for example:")
        out += ["    " + _CONTROL.sub(_escape, x) for x in d.examples]
    return out


def render_detections(detections: list[Detection]) -> str:
    """The table: a block per file, in the order the files were found."""
    blocks = ["\n".join(_block(d)) for d in detections]
    return "\n\n".join(blocks) + "\n"


def detect_command(paths: list[str], fmt: str, *, max_lines: int, parsers: list[Path], config: Path | None) -> None:
    settings, engine = settings_and_engine(parsers, config, inherit_ts=True)
    detections = detect_paths(paths, max_lines=max_lines, settings=settings, engine=engine)
    out = sys.stdout.buffer
    if fmt == "json":
        out.write(orjson.dumps(to_dict(detections, max_lines), option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE))
    else:
        out.write(render_detections(detections).encode())
    out.flush()
    problems = [d for d in detections if d.problem]
    for d in problems:
        print(f"logmetrics: warning: {d.file}: {d.problem}", file=sys.stderr)
    if problems:
        raise SystemExit(1)
