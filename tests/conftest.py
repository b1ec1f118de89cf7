"""Shared fixtures: a fresh engine per test, the repo root, and the CLI as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from logmetrics.parse.engine import Engine

# `HYPOTHESIS_PROFILE=fuzz pytest tests/test_hostile.py` for the long run (10k examples per target).
settings.register_profile("default", max_examples=300, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("fuzz", max_examples=10_000, deadline=None, suppress_health_check=list(HealthCheck))
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

ROOT = Path(__file__).resolve().parent.parent
LOGMETRICS = str(Path(sys.executable).with_name("logmetrics"))


def replay_batches(engine: Engine, *paths: str) -> list[list[dict[str, Any]]]:
    """Every file's events in batches, as `replay` reads them (no redaction, no filter)."""
    from logmetrics.offline.sequential import file_events
    from logmetrics.sources.files import resolve_paths

    return [b for f in resolve_paths(list(paths)).files for b in file_events(engine, Path(f))]


@pytest.fixture
def engine() -> Engine:
    return Engine(now=lambda: 1_700_000_000.0)


def run_cli(*args: str, stdin: bytes | None = None, cwd: Path | None = None,
            env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[bytes]:
    """Run the installed `logmetrics` console script (the real entry point, not the typer test runner)."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([LOGMETRICS, *args], input=stdin, capture_output=True, cwd=cwd, env=full_env,
                          timeout=timeout, check=False)
