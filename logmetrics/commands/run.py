"""`logmetrics run`: the live tailer (being built)."""

from __future__ import annotations

from pathlib import Path


def run_command(*, paths: list[str] | None, output: str | None, positions: str | None, listen: str | None,
                start_at: str | None, poll: bool | None, parsers: list[Path], config: Path | None) -> None:
    raise SystemExit("logmetrics: error: run is not available yet")
