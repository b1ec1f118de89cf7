"""Running parser definitions' sample lines: what `check` and the test suite share."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from ..core.events import validate_event
from ..core.linear import MAX_RATIO, adversarial, literals_of, scaling
from .definitions import Definition, Sample, is_builtin
from .engine import Engine

__all__ = ["SampleResult", "run_samples", "slow_rules", "uncovered_patterns"]


@dataclass(frozen=True)
class SampleResult:
    definition: Definition
    sample: Sample
    event: dict[str, Any]
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    def describe(self) -> str:
        """One line per problem, naming the file and the sample line (a diff a person can act on)."""
        head = f"{self.definition.source}: sample {self.sample.line[:70]!r}"
        return "\n".join(f"{head}: {p}" for p in self.problems)


def _same(got: Any, want: Any) -> bool:
    if isinstance(want, float) or isinstance(got, float):
        try:
            return math.isclose(float(got), float(want), rel_tol=1e-9, abs_tol=1e-9)
        except (TypeError, ValueError):
            return False
    return bool(got == want)


def run_samples(engine: Engine) -> list[SampleResult]:
    """Every sample of every definition through a fresh stream of `engine`: expected keys and model validity."""
    results = []
    for d in engine.definitions:
        for s in d.samples:
            events = engine.parse_lines([s.line], file=f"sample:{d.app}")
            ev = events[0] if events else {}
            problems = []
            if len(events) != 1:
                problems.append(f"gave {len(events)} events, expected 1")
            for k, want in s.expect.items():
                if not _same(ev.get(k), want):
                    problems.append(f"key {k!r}: got {ev.get(k)!r}, expected {want!r}")
            try:
                validate_event(ev)
            except ValidationError as e:
                err = e.errors()[0]
                problems.append(f"event does not validate: {'.'.join(map(str, err['loc']))}: {err['msg']}")
            results.append(SampleResult(d, s, ev, tuple(problems)))
    return results


def uncovered_patterns(engine: Engine) -> list[str]:
    """`file: pattern` for every pattern that no sample of its definition reaches first."""
    out = []
    for d in engine.definitions:
        hit = {engine.first_pattern(d.app, s.line) for s in d.samples}
        out += [f"{d.source}: pattern {p.name!r} has no sample line" for p in d.patterns if p.name not in hit]
    return out


def _measure_child(fn: Callable[[str], object], hints: list[str], conn: Any) -> None:  # in a forked child
    result = scaling(fn, lambda n: adversarial(n, hints), small=4_096, large=16_384, screen=1_024)
    conn.send((result.ratio, result.large_s, result.sample[:60]))


def _linear_or_why(fn: Callable[[str], object], hints: list[str], deadline_s: float) -> str | None:
    """None when `fn` is linear on adversarial lines; else why not. In a child: a catastrophic regex
    cannot be interrupted inside Python, so the child is killed when the deadline passes."""
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_measure_child, args=(fn, hints, child), daemon=True)
    proc.start()
    got = parent.recv() if parent.poll(deadline_s) else None
    proc.join(1.0)
    if proc.is_alive():
        proc.kill()
        proc.join()
    if got is None:
        return f"takes over {deadline_s:g}s on lines of a few kB (catastrophic backtracking)"
    ratio, _large_s, sample = got
    if ratio == float("inf") or ratio >= MAX_RATIO:
        return (f"not linear: its time grows {ratio:.0f}x when the line grows 4x "
                f"(e.g. on {sample[:30]!r}…)")
    return None


def slow_rules(engine: Engine, redact_rules: dict[str, str] | None = None, deadline_s: float = 10.0) -> list[str]:
    """One line per user regex that is not linear in the line's length (built-ins are, by test).

    Parser patterns are measured as the regex alone, then with the event builder (conversions), so
    the message names the part that is slow.
    """
    problems = []
    for d in engine.definitions:
        if is_builtin(d):
            continue
        samples = [s.line for s in d.samples][:5]
        for cp in engine.patterns(d.app):
            raw = cp.raw_search
            if raw is None:
                continue
            hints = samples + literals_of(cp.regex or "")
            why = _linear_or_why(raw, hints, deadline_s)
            if why is not None:
                problems.append(f"{d.source}: pattern {cp.name!r}: key 'regex': {why}")
                continue

            def whole(text: str, cp: Any = cp, raw: Callable[[str], Any] = raw) -> None:
                m = raw(text)
                if m is not None:
                    cp.build(m, text)

            why = _linear_or_why(whole, hints, deadline_s)
            if why is not None:
                problems.append(f"{d.source}: pattern {cp.name!r}: converting its groups is {why}")
    for name, pattern in (redact_rules or {}).items():
        import regex

        rx = regex.compile(pattern)

        def sub(text: str, rx: Any = rx) -> object:
            return rx.subn("x", text)

        why = _linear_or_why(sub, literals_of(pattern), deadline_s)
        if why is not None:
            problems.append(f"redact_rules.{name}: {why}")
    return problems
