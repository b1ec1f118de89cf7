"""Every per-line function runs in linear time: no line, however hostile, can stall reading.

Each built-in redaction rule, conversion, envelope and parser pattern — and the engine and the
redactor as wholes — is timed on adversarial lines (long runs of each character class, `://` and
other literals followed by long runs, digits without units, unbalanced quotes, real lines with a
run spliced in) at 16 kB and 64 kB; the time may grow at most 6× (linear is 4×, quadratic 16×).
A measurement that looks super-linear is repeated before it fails: this machine is shared.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import pytest

from logmetrics.core.linear import Scaling, adversarial, literals_of, scaling
from logmetrics.parse import conversions as conv
from logmetrics.parse import timestamps as stamps
from logmetrics.parse.compile import parse_logfmt
from logmetrics.parse.engine import Engine
from logmetrics.parse.envelopes import strip_ansi, unwrap
from logmetrics.sinks.normalise import normalise_message, normalise_path
from logmetrics.transforms.redact import BUILTIN_RULES, PROMPT_RULE, Redactor

ENGINE = Engine(now=lambda: 1_700_000_000.0)
SAMPLES = [s.line for d in ENGINE.definitions for s in d.samples]
Target = tuple[Callable[[str], object], list[str]]


def _event(text: str) -> dict[str, object]:
    return {"ts": "2026-11-03T10:00:00.000Z", "app": "x", "kind": "log", "level": "info", "msg": text,
            "line": text, "file": "f", "error": text}


def _duration(text: str, unit: str) -> float:
    return conv.duration_ms(text, unit)


def _stamp(text: str, fmt: str) -> str | None:
    return stamps.parse_ts(text, fmt, 1_700_000_000.0)


def _targets() -> dict[str, Target]:
    out: dict[str, Target] = {}
    for r in (*BUILTIN_RULES, PROMPT_RULE):
        out[f"redact:{r.name}"] = (r.compile(), literals_of(r.pattern))
    redactor = Redactor()
    out["redactor"] = ((lambda t: redactor([_event(t)])), [])
    for unit in ("go", "ms", "s", "us", "auto"):
        out[f"duration_ms:{unit}"] = (functools.partial(_duration, unit=unit), ["1h2m3.5s", "4.709180529s"])
    out["go_ms"] = (conv.go_ms, ["28.205µs", "1m30s"])
    for fmt in stamps.TIMESTAMP_FORMATS:
        out[f"parse_ts:{fmt}"] = (functools.partial(_stamp, fmt=fmt), [])
    out["iso_converter"] = (stamps.iso_converter(), ["2026-11-03T10:00:00.000Z"])
    out["unwrap"] = ((lambda t: unwrap(t, lambda: 1_700_000_000.0)), [])
    out["strip_ansi"] = (strip_ansi, [])
    out["normalise_path"] = (normalise_path, ["/api/v1/chats/3f2b"])
    out["normalise_message"] = (normalise_message, ["client: 10.0.4.14 (111: refused) 1.5s"])
    out["parse_logfmt"] = (parse_logfmt, ['level=info msg="a b" x=1'])
    out["engine.fallback"] = (ENGINE.fallback, [])
    out["engine.classify"] = ((lambda t: ENGINE.classify({"kind": "log", "level": "info", "msg": t})), [])
    for d in ENGINE.definitions:
        hints = [s.line for s in d.samples][:6]
        for cp in ENGINE.patterns(d.app):
            def run(t: str, cp=cp) -> None:  # type: ignore[no-untyped-def]
                m = cp.search(t) if cp.search is not None else None
                if cp.search is None or m is not None:
                    try:
                        cp.build(m, t)
                    except ValueError:
                        pass
            out[f"pattern:{d.app}.{cp.name}"] = (run, hints + literals_of(cp.regex or ""))
    out["engine"] = ((lambda t: ENGINE.stream("x").feed([t])), SAMPLES)
    return out


TARGETS = _targets()


def _measure(fn: Callable[[str], object], hints: list[str]) -> Scaling:
    result = scaling(fn, lambda n: adversarial(n, hints))
    for _ in range(2):  # noise makes ratios jump; a super-linear function stays super-linear
        if result.linear:
            break
        result = scaling(fn, lambda n: adversarial(n, hints), repeat=5)
    return result


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_linear_in_line_length(name: str) -> None:
    fn, hints = TARGETS[name]
    result = _measure(fn, hints)
    assert result.linear, f"{name}: {result!r}"


# --- the lines that stalled the tailer, one regression test each ------------------------------------


def _pipeline(text: str) -> None:
    Redactor()(ENGINE.stream("x").feed([text]))


def test_url_userinfo_without_an_at_sign() -> None:
    """`https://` + a×n + `:` + b×n stalled `run` for 27.5 s at n = 100,000 (quadratic)."""
    result = scaling(_pipeline, lambda n: ["https://" + "a" * (n // 2) + ":" + "b" * (n // 2)])
    assert result.linear, result


def test_go_duration_of_digits_without_a_unit() -> None:
    """A GIN line with a 40,000-digit duration took 32.5 s (the duration parser retried every digit)."""
    def line(n: int) -> list[str]:
        return [f'[GIN] 2026/11/03 - 10:00:00 | 200 | {"1" * n} |  127.0.0.1 | GET "/api/tags"']
    assert scaling(_pipeline, line).linear
    assert scaling(conv.go_ms, lambda n: ["1" * n]).linear
    with pytest.raises(ValueError):
        conv.go_duration_ns("1" * 40_000)


@pytest.mark.parametrize("start", ["panic: boom", "Traceback (most recent call last):"])
def test_lines_inside_a_multiline_record(start: str) -> None:
    """Continuation checks (Go frames, Python exception lines) on hostile lines: `((((…`, `a(a(…`, `Error`×n."""
    def lines(n: int) -> list[str]:
        return ["(" * n, "a(" * (n // 2), "pkg.(*T)" * (n // 8) + "(", "a" * n + ": ", "Error" * (n // 5),
                "a." * (n // 2) + "Exception", "\t" + "(" * n]

    def feed(t: str) -> None:
        ENGINE.stream("x").feed([start, t, "end"])

    assert scaling(feed, lines).linear
