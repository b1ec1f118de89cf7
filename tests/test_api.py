"""The library API: its documentation's examples run, and it gives what the command line gives."""

from __future__ import annotations

import doctest
import json

import logmetrics
from logmetrics import api

from .conftest import ROOT, run_cli


def test_docstring_examples_run() -> None:
    for module in (logmetrics, api):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0


def test_every_export_resolves() -> None:
    for name in logmetrics.__all__:
        assert getattr(logmetrics, name) is not None


def test_replay_gives_the_events_replay_prints() -> None:
    folder = ROOT / "samples" / "nginx"
    ours = list(logmetrics.replay(folder))
    cli = run_cli("replay", str(folder), "--format", "events", "--no-progress", "--jobs", "1")
    assert [json.loads(x) for x in cli.stdout.splitlines()] == ours
