"""Secret redaction: tokens, API keys and URL passwords never leave the process.

Applied to every event before any sink writes it (JSON lines, replay output).
A cheap probe of literal triggers (`in` on the lowercased line; triggers that
share a rare character are looked for only when it is there) says which rules
can apply at all — for most lines none, and a regex alternation over them costs
several times more; only those rules run, on every string value of the event.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .parsing import Stats

__all__ = ["BUILTIN_RULES", "MARKER", "Redactor", "Rule"]

MARKER = "[REDACTED]"


@dataclass(frozen=True)
class Rule:
    """A named regex; the `secret` group (or the whole match) is replaced by the marker."""

    name: str
    pattern: str
    triggers: tuple[str, ...] = ()  # lowercase literals one of which every match contains (cheap probe)
    marker: str = MARKER
    confirm: str | None = None  # a cheap regex on the lowercased line that every match also needs

    def compile(self) -> re.Pattern[str]:
        return re.compile(self.pattern)


_KEY_NAMES = (
    r"(?:api[_-]?key|apikey|API[_-]?KEY|Api[_-]?Key|x-api-key|X-Api-Key|access_token|refresh_token|id_token|"
    r"token|Token|TOKEN|password|Password|PASSWORD|passwd|secret|Secret|SECRET|client_secret)"
)

BUILTIN_RULES: tuple[Rule, ...] = (
    Rule("authorization", r"(?:Authorization|authorization|AUTHORIZATION)[\"']?\s*[:=]\s*[\"']?"
                          r"(?:Bearer |Basic |bearer |basic |Token )?(?P<secret>[^\s\"',;]+)", ("authorization",)),
    Rule("bearer", r"(?:Bearer|bearer) (?P<secret>[A-Za-z0-9._~+/=-]{8,})", ("bearer ",)),
    Rule("openai_key", r"\b(?P<secret>sk-(?:proj-|ant-|live-)?[A-Za-z0-9_-]{16,})", ("sk-",)),
    Rule("huggingface_token", r"\b(?P<secret>hf_[A-Za-z0-9]{20,})", ("hf_",)),
    Rule("github_token", r"\b(?P<secret>(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})",
         ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_")),
    Rule("aws_key", r"\b(?P<secret>AKIA[0-9A-Z]{16})\b", ("akia",)),
    Rule("key_value",
         r"(?<![\w-])" + _KEY_NAMES + r"(?:\\?[\"'])?\s*[:=]\s*(?:\\?[\"'])?(?P<secret>[^\s\"'&,;\\}]{3,})",
         ("key", "token", "passw", "secret"),
         confirm=r"(?:key|token|passw\w*|secret)\\?[\"']?\s*[:=]"),
    Rule("url_password", r"[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]+:(?P<secret>[^@\s/]+)@", ("://",)),
)
# Not a secret, but private: prompt bodies that Ollama logs at debug level (opt in with drop_prompts).
PROMPT_RULE = Rule("prompt", r"\bprompt=(?P<secret>\"[^\"\\]*(?:\\.[^\"\\]*)*\"|\S+)", ("prompt=",),
                   marker='"[DROPPED]"')

_SKIP_KEYS = frozenset({"ts", "ts_source", "app", "kind", "level", "file", "stream"})


# Characters in fewer than about a third of real LLM-service log lines (shared/corpus, samples), rarest
# first ('z' is common: timestamps end in Z). A trigger is looked for only when such a character it
# shares with other triggers is in the line (`in`, a memchr: near free when absent).
_RARE = "jqyxkw_zb"

_Candidate = tuple[str, re.Pattern[str], Callable[[re.Match[str]], str], Callable[[str], Any] | None]


class Redactor:
    """Rewrites events in place; counts each rule that fired in `stats.redactions`."""

    def __init__(self, rules: Iterable[Rule] = BUILTIN_RULES, stats: Stats | None = None) -> None:
        rules = list(rules)
        self.rules: list[_Candidate] = [
            (r.name, r.compile(), functools.partial(_mask, marker=r.marker),
             re.compile(r.confirm).search if r.confirm else None) for r in rules]
        self.stats = stats if stats is not None else Stats()
        # The probe: every rule's trigger literals, looked for in the lowercased line; it returns the
        # rules that may apply as bits (0, the common case: none). A rule without triggers (a
        # user's) always applies.
        self._always = sum(1 << i for i, r in enumerate(rules) if not r.triggers)
        self._probe = _probe_function([(t, i) for i, r in enumerate(rules) for t in r.triggers])
        self._candidates: dict[int, list[_Candidate]] = {}
        self._msg_bits: dict[str, int] = {}
        self._active = bool(rules)

    @classmethod
    def from_settings(cls, enabled: bool, extra: dict[str, str], disabled: Iterable[str], drop_prompts: bool,
                      stats: Stats | None = None) -> Redactor:
        if not enabled:
            return cls([], stats)
        off = set(disabled)
        rules = [r for r in BUILTIN_RULES if r.name not in off]
        rules += [Rule(name, pattern) for name, pattern in extra.items()]
        if drop_prompts:
            rules.append(PROMPT_RULE)
        return cls(rules, stats)

    def _live(self, lowered: str, bits: int) -> list[_Candidate]:
        """The candidate rules (in rule order) whose confirmation, if any, is found too."""
        cands = self._candidates.get(bits)
        if cands is None:
            cands = self._candidates[bits] = [r for i, r in enumerate(self.rules) if bits >> i & 1]
        return [c for c in cands if c[3] is None or c[3](lowered)]

    def _sub(self, text: str, count: bool, live: list[_Candidate]) -> str:
        for name, rx, mask, _confirm in live:
            new, n = rx.subn(mask, text)
            if n:
                text = new
                if count:
                    self.stats.redactions[name] += n
        return text

    def __call__(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not self._active:
            return events
        always, probe, seen = self._always, self._probe, self._msg_bits
        for ev in events:
            line = ev["line"]
            lowered = line.lower()
            bits = probe(lowered) | always
            msg = ev["msg"]
            if msg is not line and msg not in line:
                # A message made from parts of the line (`GET /api/tags 200`): messages repeat, so
                # their own probe is remembered.
                mb = seen.get(msg)
                if mb is None:
                    if len(seen) >= 4096:
                        seen.clear()
                    mb = seen[msg] = probe(msg.lower())
                if mb:
                    bits |= mb
                    lowered += "\n" + msg.lower()
            if not bits:
                continue  # the common case
            live = self._live(lowered, bits)
            if not live:
                continue
            for k, v in ev.items():
                if type(v) is str and k not in _SKIP_KEYS:
                    # Secrets are counted once, on `line`; msg/error/path repeat parts of it.
                    ev[k] = self._sub(v, k == "line", live)
        return events


def _gate(trigger: str, triggers: list[str]) -> str:
    """The rare character `trigger` is looked for behind: the one most other triggers share
    (one memchr then answers for all of them), the rarer on a tie; "" for none (looked for directly)."""
    rare = [c for c in dict.fromkeys(trigger) if c in _RARE]
    if not rare:
        return ""
    return max(rare, key=lambda c: (sum(c in t for t in triggers), -_RARE.index(c)))


def _probe_function(triggers: list[tuple[str, int]]) -> Callable[[str], int]:
    """A generated `s -> bits of the rules whose triggers are in s`: straight-line `in` tests, the
    triggers that share a rare character behind one test of it, those that also share their first
    two characters behind one test of those (the literals go through `repr`; the code holds nothing
    else from outside)."""
    names = [t for t, _ in triggers]
    gates: dict[str, dict[str, int]] = {}  # gate ("": none) -> trigger -> bits of its rules
    for t, i in triggers:
        members = gates.setdefault(_gate(t, names), {})
        members[t] = members.get(t, 0) | 1 << i
    groups: dict[str, dict[str, dict[str, int]]] = {}  # gate -> shared prefix ("": none) -> trigger -> bits
    for g, members in sorted(gates.items()):
        if g and len(members) == 1:  # a gate that answers for one trigger only costs a test
            groups.setdefault("", {}).setdefault("", {}).update(members)
            continue
        prefixes: dict[str, dict[str, int]] = {}
        for t, bits in sorted(members.items()):
            prefixes.setdefault(t[:2], {})[t] = bits
        for pre, ts in prefixes.items():
            key = pre if len(ts) > 1 and len(pre) == 2 else ""
            groups.setdefault(g, {}).setdefault(key, {}).update(ts)
    lines = ["def probe(s):", "    c = 0"]

    def tests(ts: dict[str, int], pad: str) -> None:
        by_bits: dict[int, list[str]] = {}
        for t, bits in sorted(ts.items()):
            by_bits.setdefault(bits, []).append(t)
        for bits, same in sorted(by_bits.items()):
            lines.append(f"{pad}if {' or '.join(f'{t!r} in s' for t in same)}:")
            lines.append(f"{pad}    c |= {bits}")

    for g, by in sorted(groups.items()):
        pad = "    "
        if g:
            lines.append(f"    if {g!r} in s:")
            pad = "        "
        for pre, ts in sorted(by.items()):
            if pre:
                lines.append(f"{pad}if {pre!r} in s:")
                tests(ts, pad + "    ")
            else:
                tests(ts, pad)
    lines.append("    return c")
    ns: dict[str, Any] = {}
    exec("\n".join(lines) + "\n", ns)
    probe: Callable[[str], int] = ns["probe"]
    return probe


def _mask(m: re.Match[str], marker: str) -> str:
    """The match with its `secret` group (or all of it) replaced by the marker."""
    if "secret" not in m.re.groupindex or m.group("secret") is None:
        return marker
    whole, base = m.group(0), m.start()
    return whole[: m.start("secret") - base] + marker + whole[m.end("secret") - base:]
