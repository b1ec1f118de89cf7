"""Linear time, measured: adversarial lines and a scaling check for any per-line function.

Every regex, conversion and redaction rule runs once per line, on lines up to
`max_line_bytes` long that anyone can write. One super-linear rule turns a
200 kB line into a stall of minutes. Nobody can prove that of an arbitrary
regex by reading it, so we measure: build lines that make a badly written rule
backtrack (long runs of each character class, runs behind the literals the rule
looks for, alternations of two classes, unbalanced quotes, digits without a
unit), time the rule at two sizes four times apart, and call it linear when the
time grows by less than `MAX_RATIO` (linear is 4×, quadratic 16×).

The test suite runs this on every built-in rule, conversion and parser; `check`
runs it on users' regexes in a child process it can kill.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Sequence

__all__ = ["MAX_RATIO", "Scaling", "adversarial", "literals_of", "scaling"]

MAX_RATIO = 6.0
# One character of each class a regex distinguishes, and the separators log lines are made of.
CLASS_CHARS = ("a", "Z", "0", " ", "\t", "=", ":", "/", ".", "-", "_", ",", ";", "|", '"', "'", "\\", "[", "]",
               "{", "}", "(", ")", "@", "%", "+", "µ", "\x1b", "é")
# Prefixes that walk a line into the regions where rules do their work.
PREFIXES = ("://", "https://", "a://b:", "time=", "level=", "msg=\"", "[GIN] ", "token=", "password=",
            '"password": "', "Authorization: Bearer ", "Cookie: ", "sk-", "eyJ", "eyJa.eyJb.",
            "-----BEGIN PRIVATE KEY-----", "AKIA", "xoxb-", "AIza", "1h", "1.5", "2024-01-02T03:04:05",
            "2024/01/02 03:04:05 ", "[03/Nov/2026:10:00:00 +0000] \"", "Nov  3 10:00:00 host app[1]: ",
            "\x1b[", "\x1b]", "{\"log\":\"", "  File \"", "goroutine ", "Traceback (most recent call last):")
TAILS = ("", "!", "@", "s", ":", "\"", "=", "\n")


def literals_of(regex: str) -> list[str]:
    """The literal runs a regex looks for (`\\[GIN\\] ` → `[GIN] `): prefixes that reach its hard parts."""
    out: list[str] = []
    cur: list[str] = []
    i = 0
    while i < len(regex):
        c = regex[i]
        if c == "\\" and i + 1 < len(regex) and not regex[i + 1].isalnum():
            cur.append(regex[i + 1])
            i += 2
            continue
        if c.isalnum() or c in " =:/-_,;@%\"'<>!#&~`":
            cur.append(c)
        else:
            if len(cur) >= 2:
                out.append("".join(cur))
            cur = []
        i += 1
    if len(cur) >= 2:
        out.append("".join(cur))
    return out[:12]


def adversarial(size: int, hints: Iterable[str] = ()) -> list[str]:
    """Lines of about `size` characters built to make a badly written rule work super-linearly."""
    runs = [c * size for c in CLASS_CHARS]
    out: list[str] = list(runs)
    pairs = ("a:", "a=", "a ", "0.", "1h", '\\"', "a\"", "ab", "a-", "a/", "0 ", ": ", "=\"", "|a", "a@", ":a")
    out += [(p * (size // len(p) + 1))[:size] for p in pairs]
    out += ["0" * size + "x", "1" * size + ".", "." + "1" * size]
    heads = [*PREFIXES, *hints]
    for head in heads:
        for run in ("a", "0", " ", "=", ":", '"', "/", "aZ0"):
            body = (run * (size // len(run) + 1))[:size]
            for tail in ("", "!", "@"):
                out.append(head + body + tail)
        out.append(head + "a" * (size // 2) + ":" + "b" * (size // 2))  # `user:pass` with no `@`
        out.append((head * (size // max(len(head), 1) + 1))[:size])
    for hint in hints:  # a real line with a long run spliced in at several places
        step = max(len(hint) // 6, 1)
        for i in range(0, len(hint), step):
            c = hint[i]
            out.append(hint[:i] + c * size + hint[i:])
    return out


class Scaling:
    """How a function's time grew from `small` to `large` inputs, on the input where it grew most."""

    __slots__ = ("large_s", "ratio", "sample", "small_s")

    def __init__(self, ratio: float, small_s: float, large_s: float, sample: str) -> None:
        self.ratio, self.small_s, self.large_s, self.sample = ratio, small_s, large_s, sample

    @property
    def linear(self) -> bool:
        # Below ~2 ms at the large size, timer noise decides the ratio: nothing super-linear is that fast.
        return self.ratio < MAX_RATIO or self.large_s < 0.002

    def __repr__(self) -> str:
        return (f"Scaling(ratio={self.ratio:.1f}, small={self.small_s * 1e3:.2f}ms, large={self.large_s * 1e3:.2f}ms, "
                f"sample={self.sample[:40]!r}…)")


def _pair(fn: Callable[[str], object], a: str, b: str, repeat: int) -> tuple[float, float]:
    """The best time of `fn` on `a` and on `b`, measured in turns (a burst of noise hits both alike)."""
    ta = tb = float("inf")
    for _ in range(repeat):
        ta = min(ta, _best_of(fn, a, 1))
        tb = min(tb, _best_of(fn, b, 1))
    return ta, tb


def _best_of(fn: Callable[[str], object], text: str, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        try:
            fn(text)
        except (ValueError, OverflowError, re.error):
            pass
        best = min(best, time.perf_counter() - t0)
    return best


def scaling(fn: Callable[[str], object], make: Callable[[int], Sequence[str]], *, small: int = 16_384,
            large: int = 65_536, screen: int = 2_048, screen_budget: float = 0.05, top: int = 4,
            repeat: int = 3) -> Scaling:
    """Time `fn` on `make(n)` at `small` and `large` sizes; the worst ratio over the slowest inputs.

    A screening pass at `screen` characters finds the inputs that cost most; a function already
    slower than `screen_budget` there is reported at once (ratio inf) instead of being run on lines
    where a quadratic rule would take minutes.
    """
    try:  # caches and lazily compiled code are built once, not timed
        fn("warm-up line")
    except (ValueError, OverflowError, re.error):
        pass
    screened = make(screen)
    costs = sorted(((_best_of(fn, t, 1), i) for i, t in enumerate(screened)), reverse=True)
    if costs and costs[0][0] > screen_budget:
        return Scaling(float("inf"), costs[0][0], costs[0][0], screened[costs[0][1]])
    small_in, large_in = make(small), make(large)
    larger_in: Sequence[str] | None = None
    found: list[Scaling] = []
    for _, i in costs[:top]:
        if i < len(small_in) and i < len(large_in):
            ts, tl = _pair(fn, small_in[i], large_in[i], repeat)
            got = Scaling(tl / max(ts, 1e-7), ts, tl, large_in[i])
            if not got.linear and tl * got.ratio < 1.0:
                # One step can cross a cache size (a 16 kB line fits the L1 cache, 64 kB does not), and a
                # shared machine is noisy: the next step tells growth from a cliff. Super-linear code grows
                # as fast again (and a step that would take long is growth already).
                larger_in = larger_in or make(large * 4)
                if i < len(larger_in):
                    tl, t4 = _pair(fn, large_in[i], larger_in[i], repeat + 2)
                    if t4 / max(tl, 1e-7) < got.ratio:
                        got = Scaling(t4 / max(tl, 1e-7), tl, t4, larger_in[i])
            found.append(got)
    if not found:
        return Scaling(0.0, 0.0, 0.0, "")
    timed = [s for s in found if s.large_s >= 0.002]
    return max(timed, key=lambda s: s.ratio) if timed else max(found, key=lambda s: s.large_s)
