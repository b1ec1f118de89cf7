"""The engine: every definition sample, hostile bytes, multiline records, split lines, stickiness."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from logmetrics import parse_lines
from logmetrics.core.events import validate_event
from logmetrics.parse.checking import SampleResult, run_samples, uncovered_patterns
from logmetrics.parse.engine import Engine
from logmetrics.parse.envelopes import wrap_cri, wrap_docker

_ENGINE = Engine(now=lambda: 1_700_000_000.0)
_SAMPLES = run_samples(_ENGINE)


@pytest.mark.parametrize("result", _SAMPLES, ids=[f"{r.definition.app}:{r.sample.line[:50]}" for r in _SAMPLES])
def test_definition_sample(result: SampleResult) -> None:
    """Every `[[sample]]` in parsers/*.toml is a test case."""
    assert result.ok, result.describe()


def test_every_pattern_has_a_sample() -> None:
    """A pattern nobody exercised is a pattern nobody knows works."""
    assert uncovered_patterns(_ENGINE) == []


lines = st.lists(st.binary(max_size=400) | st.text(max_size=200).map(str.encode), max_size=30)


@settings(max_examples=300)
@given(lines)
def test_any_bytes_become_valid_events(batch: list[bytes]) -> None:
    engine = Engine(now=lambda: 1_700_000_000.0)
    clean = [b.replace(b"\n", b" ") for b in batch]
    stream = engine.stream("fuzz.log")
    events = stream.feed(clean) + stream.flush()
    for ev in events:
        validate_event(ev)
    assert len(events) <= len(clean)
    assert bool(events) == bool(clean)
    assert engine.stats.lines == len(clean)


def test_one_event_per_plain_line_in_order(engine: Engine) -> None:
    raw = [f"plain line {i}".encode() for i in range(100)]
    events = engine.parse_lines(raw, "f.log")
    assert [e["msg"] for e in events] == [r.decode() for r in raw]


def test_invalid_utf8_nul_and_huge_lines_are_counted_not_dropped() -> None:
    engine = Engine(max_line=1 << 20)
    raw = [b"bad \xff\xfe bytes", b"nul\x00inside", b"x" * (3 << 20), b""]
    events = parse_lines(raw, file="f.log", engine=engine)
    assert len(events) == 4
    assert "\ufffd" in events[0]["line"] and "\x00" in events[1]["line"]
    assert len(events[2]["line"]) == 1 << 20
    assert engine.stats.malformed == {"invalid_utf8": 1, "oversized": 1}
    for ev in events:
        validate_event(ev)


def test_python_traceback_is_one_error_event(engine: Engine) -> None:
    raw = [
        b"2026-11-03 10:30:11.002 | ERROR    | open_webui.main:chat:900 - request failed",
        b"Traceback (most recent call last):",
        b'  File "/app/main.py", line 12, in chat',
        b"    resp = await client.post(url)",
        b"",
        b"The above exception was the direct cause of the following exception:",
        b"",
        b"Traceback (most recent call last):",
        b'  File "/app/x.py", line 3, in <module>',
        b"httpx.ReadTimeout: timed out",
        b"INFO:     127.0.0.1:1 - \"GET / HTTP/1.1\" 200 OK",
    ]
    events = engine.parse_lines(raw, "w.log")
    assert [e["kind"] for e in events] == ["error", "error", "request"]
    tb = events[1]
    assert tb["msg"] == tb["error"] == "httpx.ReadTimeout: timed out"
    assert tb["line"].count("\n") == 8 and tb["line"].startswith("Traceback")


def test_go_panic_with_goroutine_dump_is_one_error_event(engine: Engine) -> None:
    raw = [
        b"panic: runtime error: invalid memory address or nil pointer dereference",
        b"[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x5a1b2c]",
        b"",
        b"goroutine 1 [running]:",
        b"github.com/ollama/ollama/server.(*Server).GenerateHandler(0xc000123, 0xc000456)",
        b"\t/go/src/github.com/ollama/ollama/server/routes.go:120 +0x1d",
        b"main.main()",
        b"\t/go/src/main.go:12 +0x25",
        b"exit status 2",
        b"time=2026-11-03T10:40:00.000Z level=INFO source=routes.go:1 msg=\"Listening on 127.0.0.1:11434\"",
    ]
    events = engine.parse_lines(raw, "o.log")
    assert [e["kind"] for e in events] == ["error", "log"]
    assert events[0]["msg"].startswith("panic: runtime error")
    assert events[0]["line"].count("\n") == 8


def test_cri_partials_are_joined(engine: Engine) -> None:
    raw = [wrap_cri("[GIN] 2026/11/03 - 10:00:00 | 200 |", partial=True).encode(),
           wrap_cri('    1.5s |  10.0.0.1 | POST     "/api/chat"').encode()]
    events = engine.parse_lines(raw, "0.log")
    assert len(events) == 1 and events[0]["kind"] == "request" and events[0]["duration_ms"] == 1500.0
    assert events[0]["stream"] == "stdout"


def test_docker_split_line_is_joined_and_crlf_removed(engine: Engine) -> None:
    first = '{"log":"time=2026-11-03T10:00:00.000Z level=INFO source=a.go:1 msg=\\"llama runner ","stream":"stdout",' \
            '"time":"2026-11-03T10:00:00.1Z"}'
    raw = [first.encode(), wrap_docker('started in 5.65 seconds"\r').encode()]
    events = engine.parse_lines(raw, "c-json.log")
    assert len(events) == 1
    assert events[0]["kind"] == "model_load" and events[0]["duration_ms"] == 5650.0


def test_unmatched_lines_take_the_streams_app_and_read_time() -> None:
    engine = Engine(now=lambda: 1_700_000_000.25)
    stream = engine.stream("server.log")
    events = stream.feed([b'[GIN] 2026/11/03 - 10:00:00 | 200 |  1s | 1.2.3.4 | GET "/api/tags"',
                          b"ggml_cuda_init: found 2 CUDA devices:", b"  Device 0: NVIDIA GeForce RTX 3060"])
    assert [e["app"] for e in events] == ["ollama", "ollama", "ollama"]
    assert events[2]["ts"] == "2023-11-14T22:13:20.250Z" and events[2]["ts_source"] == "read"
    assert "ts_source" not in events[0]
    assert engine.stats.unrecognized == {"ollama": 1}


def test_container_and_host_from_envelopes(engine: Engine) -> None:
    events = engine.parse_lines([
        b"miner-ollama-1   | time=2024-12-17T09:07:21.637Z level=INFO source=download.go:370 msg=\"part 5 stalled\"",
        b"Dec 03 14:58:42 osm-server ollama[20658]: llama server listening at http://127.0.0.1:54457",
    ], "mixed.log")
    assert events[0]["container"] == "miner-ollama-1" and events[0]["app"] == "ollama"
    assert events[1]["host"] == "osm-server" and events[1]["line"] == "llama server listening at http://127.0.0.1:54457"


def test_ansi_colours_are_removed_from_line(engine: Engine) -> None:
    ev = engine.parse_lines([b"\x1b[31mERROR\x1b[0m something broke"], "f")[0]
    assert ev["line"] == "ERROR something broke" and ev["kind"] == "error"


def test_replay_inherits_the_previous_lines_time_and_the_tailer_reads_the_clock() -> None:
    lines = [b"time=2026-11-03T10:00:00.123Z level=INFO source=a.go:1 msg=\"load\"",
             b"llm_load_print_meta: n_ctx_train = 8192"]
    replay = Engine(now=lambda: 1_700_000_000.0, inherit_ts=True).parse_lines(lines, "a.log")
    assert replay[1]["ts"] == "2026-11-03T10:00:00.123Z" and replay[1]["ts_source"] == "previous"
    live = Engine(now=lambda: 1_700_000_000.0).parse_lines(lines, "a.log")
    assert live[1]["ts"] == "2023-11-14T22:13:20.000Z" and live[1]["ts_source"] == "read"
    first = Engine(now=lambda: 1_700_000_000.0, inherit_ts=True).parse_lines(lines[1:], "b.log")
    assert first[0]["ts_source"] == "read"  # nothing earlier to inherit from


def test_lines_that_become_empty_after_cleaning(engine: Engine) -> None:
    """A bare CR, or only a colour code: found by the property test after an optimisation."""
    events = engine.parse_lines([b"\r", b"\x1b[0m", b""], "f.log")
    assert [e["line"] for e in events] == ["", "", ""]


# --- first-character dispatch: an optimisation that must never change an event ----------------

_TRICKY_REGEXES = [
    r"^\[GIN\] (?P<ts>\d+)",
    r"^\s*(?:time=(?P<ts>\S+) )?level=(?P<level>[A-Za-z]+)",
    r"^(?:llm_load_\w+|llama_\w+|ggml_\w+):",
    r"^[^a-c\d]x?",
    r"^(?=ab)a|^b*c",
    r"^(?>a|b)c",
    r"^x*+y?",
    r"^(?:(a)|b)(?(1)c|d)",
    r"^(?i:abc)",
    r"^\W\w",
    r"^(?:)$",
    r"^.?z",
    r"^(?P<q>[\"'])\w+(?P=q)",
    r"^[\s\S]",
    r"^\D\S",
]


@settings(max_examples=400)
@given(st.sampled_from(_TRICKY_REGEXES), st.text(alphabet='abcdxyzABC019 \t"\'[]é_:=-', max_size=8))
def test_first_character_analysis_never_rules_out_a_match(regex: str, text: str) -> None:
    """`can_start_with` may say yes wrongly, never no wrongly: a wrong no would skip a matching pattern."""
    import re

    from logmetrics.parse.regexes import can_start_with

    if re.match(regex, text):
        assert can_start_with(regex, text[:1] or "a") or not text


def _full_order_events(lines: list[str]) -> list[dict[str, object]]:
    """The same engine with the dispatch switched off: every line tries every pattern."""
    from logmetrics.parse.compile import Matcher
    from logmetrics.parse.engine import _Order

    engine = Engine(now=lambda: 1_700_000_000.0)
    for app in (None, *engine.apps):
        full = engine.order_for(app)[""]

        def every(_cps: tuple[object, ...], full: Matcher = full) -> Matcher:
            return full  # each first character gets the full matcher

        engine._orders[app] = _Order((), every)
    return engine.parse_lines(lines)


def test_first_character_dispatch_gives_the_same_events_as_trying_every_pattern() -> None:
    import json
    from pathlib import Path

    corpus = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "real-lines.jsonl"
    lines = [r.sample.line for r in _SAMPLES]
    if corpus.exists():
        lines += [json.loads(x)["line"] for x in corpus.read_text().splitlines() if x.strip()]
    lines += [" " + x for x in lines[:50]] + ["", "x", "é", "[", "\t[GIN] x"]
    assert len(lines) > 50
    engine = Engine(now=lambda: 1_700_000_000.0)
    assert engine.parse_lines(lines) == _full_order_events(lines)


@settings(max_examples=400)
@given(st.sampled_from([*_TRICKY_REGEXES, r"(?P<a>x)?(?P<b>y)", r"(?:(?P<a>x)|y)(?P<b>z)+", r"(?P<a>x){0,2}(?P<b>q)"]),
       st.text(alphabet="abcdxyzqABC019 \t\"'[]_:=-", max_size=8))
def test_required_groups_take_part_in_every_match(regex: str, text: str) -> None:
    """Builders skip the None checks for these groups: each must be set whenever the regex matches."""
    import re

    from logmetrics.parse.regexes import required_groups

    m = re.search(regex, text)
    if m is not None:
        for name in required_groups(regex):
            assert m.group(name) is not None, name


def test_required_groups_of_the_builtin_patterns_are_set_on_their_samples() -> None:
    from logmetrics.parse.regexes import required_groups

    for app in (*_ENGINE.apps, "generic"):
        for cp in _ENGINE.patterns(app):
            if cp.search is None or cp.regex is None:
                continue
            for r in _SAMPLES:
                m = cp.search(r.sample.line)
                if m is not None:
                    assert all(m.group(g) is not None for g in required_groups(cp.regex)), (cp.name, r.sample.line)


def test_identical_lines_at_one_time_are_told_apart_by_repeat() -> None:
    """Loki keeps one of several identical entries of a stream: the n-th repeat says `repeat: n`."""
    gin = '[GIN] 2024/12/11 - 09:58:58 | 500 |       29m59s |      172.18.0.5 | POST     "/api/chat"'
    other = gin.replace("09:58:58", "09:58:59")
    evs = parse_lines([gin, gin, "untimed", gin, "untimed", other, other], engine=Engine(inherit_ts=True))
    assert [e.get("repeat") for e in evs] == [None, 1, None, 2, 1, None, 1]
    assert evs[4]["ts_source"] == "previous"


def test_lines_of_one_opening_character_are_events() -> None:
    """Regression: a line that is only `[` (or `{`, `<`, a digit) must not fail the envelope probe."""
    evs = parse_lines(["[", "{", "<", "9", "p", "[p", "|"])
    assert [e["line"] for e in evs] == ["[", "{", "<", "9", "p", "[p", "|"]


def test_a_stream_restored_from_its_state_continues_as_one_stream() -> None:
    """Parallel replay joins chunks by the state at the seam: it must hold everything the next line
    depends on, the pattern order per first character included (interleaved apps)."""
    gin = '[GIN] 2024/12/11 - 09:58:{:02d} | 200 |  1.2ms |  10.0.0.1 | GET "/api/tags"'
    dc = '2024-12-11T09:58:{:02d}.000Z level=info msg="chat completion" status=200 duration=12.5ms'
    lines = [f.format(i) for i in range(20) for f in (gin, dc, f"untimed {i}", gin)]
    engine = Engine(inherit_ts=True)
    whole = engine.stream("x")
    expected = whole.feed(lines) + whole.flush()
    first = engine.stream("x")
    head = first.feed(lines[:37])
    second = engine.stream("x")
    second.restore(*first.state()[:5])
    assert not first.holding and second.state() == first.state()
    assert head + second.feed(lines[37:]) + second.flush() == expected
