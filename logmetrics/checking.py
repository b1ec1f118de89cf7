"""Running parser definitions' sample lines: what `check` and the test suite share."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from .definitions import Definition, Sample
from .events import validate_event
from .parsing import Engine

__all__ = ["SampleResult", "run_samples", "slow_patterns", "uncovered_patterns"]


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


def _first_pattern(engine: Engine, d: Definition, line: str) -> str | None:
    for cp in engine.patterns(d.app):
        if cp.first is not None and cp.first not in line:
            continue
        if not all(lit in line for lit in cp.literals):
            continue
        m = cp.search(line) if cp.search is not None else None
        if cp.search is not None and m is None:
            continue
        try:
            if cp.build(m, line) is not None:
                return cp.name
        except ValueError:
            continue
    return None


def uncovered_patterns(engine: Engine) -> list[str]:
    """`file: pattern` for every pattern that no sample of its definition reaches first."""
    out = []
    for d in engine.definitions:
        hit = {_first_pattern(engine, d, s.line) for s in d.samples}
        out += [f"{d.source}: pattern {p.name!r} has no sample line" for p in d.patterns if p.name not in hit]
    return out


def _adversarial(samples: list[str], size: int) -> list[str]:
    """Lines built to make a badly written regex backtrack: long runs and repeats of its samples."""
    runs = [c * size for c in ("a", " ", "=", "|", '"', "\\", "0", ".", ":", "/", "-")]
    out = runs + [r + "!" for r in runs] + [r + "\x00" for r in runs]
    out += ["a=b " * (size // 4), "[GIN] " + " |" * (size // 2), "time=" + "x" * size]
    for s in samples[:5]:
        out += [(s * (size // max(len(s), 1) + 1))[:size], s + "x" * size, s.replace(" ", " " * 200)[:size * 2]]
        out += [s[:i] + s[i:i + 1] * size for i in range(0, len(s), max(len(s) // 6, 1))]
    return out


def _probe(cp: Any, lines: list[str]) -> None:  # runs in a forked child
    literals = [x for x in (cp.first, *cp.literals) if x]
    glue = "".join(literals)
    for base in lines:
        # As the engine would: only lines holding the pattern's literals reach its regex.
        for line in (base, glue + base, base + glue, glue + base + glue):
            if not all(lit in line for lit in literals):
                continue
            m = cp.search(line) if cp.search is not None else None
            if cp.search is not None and m is None:
                continue
            try:
                cp.build(m, line)
            except ValueError:
                pass


def slow_patterns(engine: Engine, budget_s: float = 2.0, size: int = 20_000) -> list[str]:
    """`file: pattern` for every pattern that cannot get through adversarial lines within the budget.

    A catastrophic regex cannot be interrupted inside Python, so each pattern runs in a
    forked child that is killed when the budget is spent.
    """
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    problems = []
    for d in engine.definitions:
        lines = _adversarial([s.line for s in d.samples], size)
        for cp in engine.patterns(d.app):
            proc = ctx.Process(target=_probe, args=(cp, lines), daemon=True)
            proc.start()
            proc.join(budget_s)
            if proc.is_alive():
                proc.kill()
                proc.join()
                problems.append(f"{d.source}: pattern {cp.name!r}: key 'regex': backtracks catastrophically "
                                f"(a {size}-character adversarial line took over {budget_s:g}s)")
    return problems
