"""`logmetrics check`: settings and definitions valid, every sample gives its expected event, user regexes linear."""

from __future__ import annotations

from pathlib import Path

from ..config import ConfigError
from ..parse.checking import run_samples, slow_rules, uncovered_patterns
from .common import settings_and_engine


def check_command(*, parsers: list[Path], config: Path | None) -> None:
    settings, engine = settings_and_engine(parsers, config)
    results = run_samples(engine)
    problems = [r.describe() for r in results if not r.ok]
    problems += slow_rules(engine, settings.redact_rules)
    for problem in problems:
        print(problem)  # one line each, naming the file, pattern or rule
    for warning in uncovered_patterns(engine):
        print(f"warning: {warning}")
    n_patterns = sum(len(d.patterns) for d in engine.definitions)
    ok = sum(r.ok for r in results)
    print(f"{len(engine.definitions)} definitions, {n_patterns} patterns, {ok}/{len(results)} samples ok")
    if problems:
        raise ConfigError(f"check: {len(problems)} problem{'s' if len(problems) != 1 else ''} (listed above)")
