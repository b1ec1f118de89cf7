"""`logmetrics replay`: read a pile of logs once and report on it in the chosen format."""

from __future__ import annotations

import sys
from pathlib import Path

import orjson

from ..replay import EventFilter, iter_events
from ..sources import expand_paths
from .common import settings_and_engine

_OPT = orjson.OPT_APPEND_NEWLINE


def replay_command(
    paths: list[str],
    fmt: str,
    *,
    emit: Path | None,
    only_app: str | None,
    since: str | None,
    until: str | None,
    progress: bool,
    jobs: int | None,
    parsers: list[Path],
    config: Path | None,
) -> None:
    settings, engine = settings_and_engine(parsers, config)
    files = expand_paths(paths)
    flt = EventFilter.build(only_app, since, until)
    emit_f = open(emit, "wb") if emit is not None else None  # noqa: SIM115 - closed below
    out = sys.stdout.buffer
    dumps = orjson.dumps
    try:
        for batch in iter_events(engine, files, flt):
            if fmt == "events":
                out.write(b"".join([dumps(e, option=_OPT) for e in batch]))
            if emit_f is not None:
                emit_f.write(b"".join([dumps(e, option=_OPT) for e in batch]))
        if fmt != "events":
            raise SystemExit(f"logmetrics: error: --format {fmt} is not available yet")
    finally:
        if emit_f is not None:
            emit_f.close()
        out.flush()
