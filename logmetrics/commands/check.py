"""`logmetrics check`: settings and definitions valid, every sample gives its expected event."""

from __future__ import annotations

from pathlib import Path

from ..checking import run_samples, slow_patterns, uncovered_patterns
from .common import settings_and_engine


def check_command(*, parsers: list[Path], config: Path | None) -> None:
    _, engine = settings_and_engine(parsers, config)
    results = run_samples(engine)
    bad = [r for r in results if not r.ok]
    for r in bad:
        print(r.describe())
        print(f"    got: {r.event}")
    slow = slow_patterns(engine)
    for problem in slow:
        print(problem)
    for warning in uncovered_patterns(engine):
        print(f"warning: {warning}")
    n_patterns = sum(len(d.patterns) for d in engine.definitions)
    print(f"{len(engine.definitions)} definitions, {n_patterns} patterns, "
          f"{len(results) - len(bad)}/{len(results)} samples ok")
    if bad or slow:
        raise SystemExit(1)
