"""Secret redaction: tokens, API keys and URL passwords never leave the process.

Applied to every event before any sink writes it (JSON lines, replay output).
A cheap probe of literal triggers (`in` on the lowercased line, each gated by
its rarest character) decides whether a line can hold anything at all — most
lines do not, and a regex alternation over them costs several times more; only
then are the matching rules applied, to every string value of the event.
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


# Letters from rarest to most common in real LLM-service logs (shared/corpus): a trigger is gated
# by its rarest character, looked for with `in` (memchr: near free when absent).
_RARITY = "jqzyxwkb_hfvudgcpmnrialsote"
_SHORT = 6  # shorter literals are gated

_Live = list[tuple[str, re.Pattern[str], Callable[[re.Match[str]], str]]]


class Redactor:
    """Rewrites events in place; counts each rule that fired in `stats.redactions`."""

    def __init__(self, rules: Iterable[Rule] = BUILTIN_RULES, stats: Stats | None = None) -> None:
        rules = list(rules)
        self.rules = [(r.name, r.compile(), functools.partial(_mask, marker=r.marker), r.triggers,
                       re.compile(r.confirm).search if r.confirm else None) for r in rules]
        self.stats = stats if stats is not None else Stats()
        # The probe: every rule's trigger literals, checked with `in` on the lowercased line. Most
        # lines hold none, so the probe is what every event pays. A long literal is scanned fast
        # (the search skips ahead by its length); a short one (`sk-`, `key`, `ghp_`) is scanned
        # only when its rarest character is in the line (a memchr). A rule without triggers (a
        # user's) runs on every event.
        direct: dict[str, set[int]] = {}
        gated: dict[str, dict[str, set[int]]] = {}
        for i, r in enumerate(rules):
            for t in r.triggers:
                rare = [c for c in t if c in _RARITY]
                if len(t) >= _SHORT or not rare:
                    direct.setdefault(t, set()).add(i)
                else:
                    anchor = min(rare, key=_RARITY.index)
                    gated.setdefault(anchor, {}).setdefault(t, set()).add(i)
        # Long literals sit behind the empty gate, which every line passes.
        self._gates = tuple((a, tuple((t, tuple(sorted(idx))) for t, idx in sorted(ts.items())))
                            for a, ts in sorted({"": direct, **gated}.items()) if ts)
        self._always = tuple(i for i, r in enumerate(rules) if not r.triggers)
        self._any = _probe_function(self._gates)
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

    def _live(self, lowered: str, candidates: set[int]) -> _Live:
        """The candidate rules (in rule order) whose confirmation, if any, is found too."""
        return [(name, rx, mask) for i, (name, rx, mask, _triggers, confirm) in enumerate(self.rules)
                if i in candidates and (confirm is None or confirm(lowered))]

    def _sub(self, text: str, count: bool, live: _Live) -> str:
        for name, rx, mask in live:
            new, n = rx.subn(mask, text)
            if n:
                text = new
                if count:
                    self.stats.redactions[name] += n
        return text

    def __call__(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not self._active:
            return events
        gates, always, probe = self._gates, self._always, self._any
        for ev in events:
            line = ev["line"]
            lowered = line.lower()
            msg = ev["msg"]
            if msg is not line and msg not in line:
                lowered += "\n" + msg.lower()
            if not always and not probe(lowered):
                continue  # the common case, decided by one generated expression
            candidates: set[int] | None = None
            for anchor, triggers in gates:
                if anchor in lowered:
                    for t, idx in triggers:
                        if t in lowered:
                            if candidates is None:
                                candidates = set(idx)
                            else:
                                candidates.update(idx)
            if always:
                candidates = set(always) if candidates is None else candidates | set(always)
            if candidates is None:
                continue
            live = self._live(lowered, candidates)
            if not live:
                continue
            for k, v in ev.items():
                if type(v) is str and k not in _SKIP_KEYS:
                    # Secrets are counted once, on `line`; msg/error/path repeat parts of it.
                    ev[k] = self._sub(v, k == "line", live)
        return events


def _probe_function(gates: tuple[tuple[str, tuple[tuple[str, tuple[int, ...]], ...]], ...]
                    ) -> Callable[[str], bool]:
    """`any trigger in s`, as one generated boolean expression: no loop, no unpacking per line
    (the literals go through `repr`; the code holds nothing else from outside)."""
    terms = []
    for anchor, triggers in gates:
        alts = " or ".join(f"{t!r} in s" for t, _ in triggers)
        terms.append(f"({alts})" if not anchor else f"({anchor!r} in s and ({alts}))")
    ns: dict[str, Any] = {}
    exec(f"def probe(s):\n    return {' or '.join(terms) or 'False'}\n", ns)
    probe: Callable[[str], bool] = ns["probe"]
    return probe


def _mask(m: re.Match[str], marker: str) -> str:
    """The match with its `secret` group (or all of it) replaced by the marker."""
    if "secret" not in m.re.groupindex or m.group("secret") is None:
        return marker
    whole, base = m.group(0), m.start()
    return whole[: m.start("secret") - base] + marker + whole[m.end("secret") - base:]
