"""Hostile input through the whole offline pipeline: never a crash, bounded memory, everything counted."""

from __future__ import annotations

import io
import json
import resource
from pathlib import Path

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from logmetrics.core.events import validate_event
from logmetrics.parse.engine import Engine, Stats
from logmetrics.sources.framing import Framer, read_batches
from logmetrics.transforms.redact import Redactor
from tests.conftest import ROOT

# Real shapes of every format the built-in parsers know, from the definitions' own samples.
REAL = [s.line for d in Engine().definitions for s in d.samples]


ENGINE = Engine(now=lambda: 1_700_000_000.0)
REDACT = Redactor(stats=ENGINE.stats)


def pipeline(lines: list[bytes]) -> list[dict[str, object]]:
    """envelopes → parsers → events → redaction → JSON, as `replay --format events` does it."""
    stream = ENGINE.stream("hostile.log")  # a fresh stream: no state leaks between examples
    events = REDACT(stream.feed(lines) + stream.flush())
    for ev in events:
        validate_event(ev)
        assert json.loads(orjson.dumps(ev)) == ev  # always valid JSON, round-trips
    return events


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    line = draw(st.sampled_from(REAL)).encode()
    for _ in range(draw(st.integers(0, 4))):
        i = draw(st.integers(0, len(line)))
        op = draw(st.sampled_from(["insert", "delete", "replace", "dup"]))
        chunk = draw(st.binary(min_size=1, max_size=8))
        if op == "insert":
            line = line[:i] + chunk + line[i:]
        elif op == "delete":
            line = line[:i] + line[i + len(chunk):]
        elif op == "replace":
            line = line[:i] + chunk + line[i + len(chunk):]
        else:
            line = line[:i] + line[i:] * 2
    return line.replace(b"\n", b" ")


@settings(deadline=None)
@given(st.lists(mutated(), min_size=1, max_size=10))
def test_mutated_real_lines(lines: list[bytes]) -> None:
    assert pipeline(lines)


@settings(deadline=None)
@given(st.lists(st.binary(max_size=300).map(lambda b: b.replace(b"\n", b"")), min_size=1, max_size=10))
def test_arbitrary_bytes(lines: list[bytes]) -> None:
    assert pipeline(lines)


def test_deep_and_huge_json_in_a_docker_envelope() -> None:
    deep = '{"log":"x\\n","stream":"stdout","time":"2026-11-03T10:00:00Z","a":' + "[" * 5000 + "]" * 5000 + "}"
    huge = orjson.dumps({"log": "y" * 2_000_000 + "\n", "stream": "stdout", "time": "2026-11-03T10:00:00Z"}).decode()
    nested_line = orjson.dumps({"level": "info", "msg": "m", "x": [[[[{"a": {"b": [1] * 1000}}]]]]}).decode()
    events = pipeline([deep.encode(), huge.encode(), nested_line.encode(), ("[" * 100_000).encode()])
    assert len(events) == 4
    assert events[2]["msg"] == "m"


def test_a_100_mb_file_without_newline_is_read_in_bounded_memory(tmp_path: Path) -> None:
    class Endless(io.RawIOBase):
        """100 MB of 'a' with no newline, produced on the fly (never held whole)."""

        left = 100 << 20

        def readinto(self, b: memoryview) -> int:  # type: ignore[override]
            n = min(len(b), self.left)
            b[:n] = b"a" * n
            self.left -= n
            return n

        def readable(self) -> bool:
            return True

    stats = Stats()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    batches = list(read_batches(io.BufferedReader(Endless()), Framer(stats, max_line=1 << 20)))
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert [len(line) for b in batches for line in b] == [1 << 20]  # cut once, the rest skipped
    assert stats.malformed["oversized"] == 1 and stats.bytes == 100 << 20
    assert grown_mb < 40, grown_mb


def test_sample_logs_replay_without_unknown_failures() -> None:
    for path in sorted((ROOT / "samples").rglob("*.log")):
        engine = Engine()
        with path.open("rb") as f:
            for batch in read_batches(f, Framer(engine.stats)):
                for ev in engine.stream(str(path)).feed(batch):
                    validate_event(ev)


def test_a_users_catastrophic_rules_cost_a_budget_not_a_stall(tmp_path: Path) -> None:
    """`(a+)+$`-like user regexes pass no `check`, but if one runs anyway, a line costs its budget."""
    from tests.conftest import run_cli

    parsers = tmp_path / "parsers"
    parsers.mkdir()
    (parsers / "evil.toml").write_text(
        'app = "evil"\n[[pattern]]\nname = "nested"\nkind = "log"\nregex = \'^(a|aa)+$\'\n')
    cfg = tmp_path / "c.toml"
    cfg.write_text("redact_rules = { evil = '(a|aa)+$' }\n")
    log = tmp_path / "x.log"
    log.write_text("a" * 40 + "!\n" + "a" * 2000 + "!\n")
    r = run_cli("replay", str(log), "--format", "prom", "--parsers", str(parsers), "--config", str(cfg),
                "--no-progress", timeout=60)
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert 'logmetrics_rule_budget_exceeded_total{rule="parser:evil.nested"} 2.0' in out, out[-2000:]
    assert 'logmetrics_rule_budget_exceeded_total{rule="redact:evil"} 2.0' in out
    events = run_cli("replay", str(log), "--format", "events", "--parsers", str(parsers), "--config", str(cfg),
                     "--no-progress", timeout=60).stdout.decode().splitlines()
    assert json.loads(events[0])["line"] == "[REDACTED]"  # the rule ran out of time: masked whole
