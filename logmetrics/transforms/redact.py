"""Secret redaction: keys, tokens, cookies, passwords and private keys never leave the process.

Applied to every event in the one output chain (pipeline.py), before any sink
writes, counts or summarises it. The rules are our own, informed by what the
established secret scanners look for (gitleaks' and detect-secrets' public rule
sets): provider key shapes (OpenAI/Anthropic, Hugging Face, GitHub, GitLab,
Slack, Google, AWS, Stripe, npm), JWTs, PEM private keys, HTTP credentials
(Authorization, Cookie), URL userinfo, and any `name=value` / `name: value` /
`"name": "value"` whose name says secret (password, passwd, pwd, secret, token,
api key, auth, credential, private key, session), with any prefix, header or
URL-encoded spelling and quoted values with spaces.

Every built-in rule runs in linear time (tests/test_linear_time.py measures each
one on adversarial lines). A user's rule (`redact_rules`) runs on the `regex`
engine with a time budget: if it is slow on a line anyway, the field is replaced
whole (fail closed) and `logmetrics_rule_budget_exceeded_total` counts it.

Cost: a probe of literal triggers (`in` on the lowercased line; triggers sharing
a rare character are looked for only when it is there) says which rules can
apply at all — for most lines none; only those rules run, on every string field.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from ..core.memo import Memo
from ..core.stats import Stats

__all__ = ["BUILTIN_RULES", "MARKER", "USER_RULE_BUDGET_S", "Redactor", "Rule", "UserRuleError", "compile_user_rule",
           "redactor_for"]

MARKER = "[REDACTED]"
USER_RULE_BUDGET_S = 0.05  # per field; the regex engine honours it to within a few times that



Apply = Callable[[str], tuple[str, int]]  # text -> (redacted text, replacements)


@dataclass(frozen=True)
class Rule:
    """A named regex; the `secret` group (or the whole match) is replaced by the marker.

    `triggers`: lowercase literals one of which every match contains (the cheap probe); a rule
    without triggers runs on every line. `scan`: a replacement of its own instead of `re.subn`
    (key_value decides by the key's name whether the value is a secret).
    """

    name: str
    pattern: str
    triggers: tuple[str, ...] = ()
    marker: str = MARKER
    scan: Callable[[re.Pattern[str], str], tuple[str, int]] | None = None

    def compile(self) -> Apply:
        """`text -> (redacted text, replacements)`."""
        rx = re.compile(self.pattern)
        if self.scan is not None:
            scan = self.scan
            return lambda text: scan(rx, text)
        marker = self.marker

        def mask(m: re.Match[str]) -> str:
            return _mask(m, marker)

        return lambda text: rx.subn(mask, text)


def _mask(m: re.Match[str], marker: str = MARKER) -> str:
    """The match with its `secret` group (or all of it) replaced by the marker."""
    if "secret" not in m.re.groupindex or m.group("secret") is None:
        return marker
    whole, base = m.group(0), m.start()
    return whole[: m.start("secret") - base] + marker + whole[m.end("secret") - base:]


# --- key = value: the name decides ---------------------------------------------------------------

# A name says "secret" when it ENDS in one of these words, perhaps with a short suffix (`DB_PASSWORD`,
# `x-api-key`, `oauth_token`, `client_secret`, `session_id`, `api%5Fkey`); `password_policy`,
# `secret_name`, `private_key_path`, `first_token_after`, `n_tokens` and a bare `key` do not.
_SECRET_NAME = re.compile(
    r"(?:passw(?:or)?d|passphrase|pwd|secret|token|credentials?|api(?:[_-]|%5f)?key|apikey"
    r"|(?:access|private|account|encryption|signing|master|client|service|auth|secret)(?:[_-]|%5f)?key"
    r"|(?<![a-z])auth|session(?:id)?)"
    r"(?:[_.-]?(?:id|key|value|hash|b64|base64|enc|encrypted|plain|text|str|string|hex|data))?$"
)
# Tokens of a model's vocabulary, and times to a token, are not credentials.
_NOT_SECRET_NAME = re.compile(r"(?:eos|bos|pad|unk|sep|cls|mask|eot|first|last|next|start|end)[_-]?token")
# `name=`, `name: `, `"name": `, `name%3D` (a URL-encoded `%5F` counts as a name character). Only the
# name and its separator are matched: a value is read (and skipped) only after a secret name, so the
# scan stays linear however many `a=b` pairs a value holds.
_KV_NAME = re.compile(
    r"(?<![\w.%-])(?P<name>(?:[\w.-]++|%(?!3[DdAa])[0-9A-Fa-f]{2})++)(?:\\?[\"'])?[ \t]*+(?::|=|%3[DdAa])[ \t]*+"
)
# The value: double-quoted (spaces and escapes inside), single-quoted, inside an escaped JSON string,
# or bare up to a separator; the group `v` is what is masked.
_KV_VALUE = re.compile(
    r"\"(?P<dq>(?:[^\"\\\n]++|\\.)*+)\"?"
    r"|'(?P<sq>[^'\n]*+)'?"
    r"|\\\"(?P<eq>(?:[^\\\n]++|\\(?!\"))*+)(?:\\\")?"
    r"|(?P<bare>[^\s\"'&,;}\]\\<>]++)"
)


def _scan_key_values(rx: re.Pattern[str], text: str) -> tuple[str, int]:
    parts: list[str] = []
    done = pos = n = 0
    search, value = rx.search, _KV_VALUE.match
    while True:
        m = search(text, pos)
        if m is None:
            break
        pos = m.end()
        name = m.group("name").lower()
        if _SECRET_NAME.search(name) is None or _NOT_SECRET_NAME.search(name) is not None:
            continue
        v = value(text, pos)
        if v is None:
            continue
        g = v.lastgroup or ""
        start, end = v.span(g)
        secret = text[start:end]
        pos = max(v.end(), pos + 1) if v.end() > pos else pos
        if not secret or text.startswith(MARKER, start) or (secret.isdigit() and "token" in name):
            continue  # nothing there, already masked, or a token *id* (`EOS token = 128009`)
        parts += (text[done:start], MARKER)
        done = end
        n += 1
    if not n:
        return text, 0
    parts.append(text[done:])
    return "".join(parts), n


BUILTIN_RULES: tuple[Rule, ...] = (
    # Multi-line PEM blocks (joined into one event by the engine) and PEM bodies inside JSON strings.
    Rule("private_key", r"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----(?P<secret>(?:[^-]++|-(?!----END))*+)",
         ("private key",)),
    Rule("authorization", r"(?i:\b(?:proxy-)?authorization)[\"']?[ \t]*+[:=][ \t]*+[\"']?"
                          r"(?:(?i:bearer|basic|token|digest|negotiate|apikey)[ \t]++)?(?P<secret>[^\s\"',;]++)",
         ("authorization",)),
    Rule("cookie", r"(?i:\b(?:set-)?cookie)[\"']?[ \t]*+[:=][ \t]*+[\"']?(?P<secret>[^\r\n\"']++)", ("cookie",)),
    Rule("bearer", r"\b(?i:bearer)[ \t]++(?P<secret>[A-Za-z0-9._~+/=-]{8,}+)", ("bearer",)),
    Rule("jwt", r"\b(?P<secret>eyJ[A-Za-z0-9_-]{8,}+\.[A-Za-z0-9_-]{8,}+\.[A-Za-z0-9_-]*+)", ("eyj",)),
    Rule("openai_key", r"\b(?P<secret>sk-(?:proj-|ant-|svcacct-|admin-|live-)?[A-Za-z0-9_-]{16,}+)", ("sk-",)),
    Rule("stripe_key", r"\b(?P<secret>[sr]k_(?:live|test)_[A-Za-z0-9]{16,}+)", ("k_live_", "k_test_")),
    Rule("huggingface_token", r"\b(?P<secret>hf_[A-Za-z0-9]{20,}+|api_org_[A-Za-z0-9]{20,}+)", ("hf_", "api_org_")),
    Rule("github_token", r"\b(?P<secret>gh[pousr]_[A-Za-z0-9]{20,}+|github_pat_[A-Za-z0-9_]{20,}+)",
         ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_")),
    Rule("gitlab_token", r"\b(?P<secret>glpat-[A-Za-z0-9_-]{20,}+)", ("glpat-",)),
    Rule("slack_token", r"\b(?P<secret>xox[abposr]-[A-Za-z0-9-]{10,}+|xapp-[0-9]-[A-Za-z0-9-]{10,}+)",
         ("xox", "xapp-")),
    Rule("slack_webhook", r"hooks\.slack\.com/services/(?P<secret>[A-Za-z0-9/_-]{20,}+)", ("hooks.slack.com",)),
    Rule("google_api_key", r"\b(?P<secret>AIza[0-9A-Za-z_-]{35})(?![0-9A-Za-z_-])", ("aiza",)),
    Rule("google_oauth_token", r"\b(?P<secret>ya29\.[0-9A-Za-z_-]{20,}+)", ("ya29.",)),
    Rule("aws_key", r"\b(?P<secret>(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16})(?![0-9A-Z])", ("akia", "asia", "abia", "acca")),
    Rule("aws_secret", r"(?i:secret[_-]?access[_-]?key)[\"']?(?:[ \t]*+[:=][ \t]*+|[ \t]++)[\"']?"
                       r"(?P<secret>[A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])",
         ("secret_access_key", "secretaccesskey", "secret-access-key")),
    Rule("npm_token", r"\b(?P<secret>npm_[A-Za-z0-9]{36})(?![A-Za-z0-9])", ("npm_",)),
    # scheme://user:password@host, the user possibly empty (redis://:pw@host); the password runs to the last @
    Rule("url_password",
         r"(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]*+://[^/\s:@?#]*+:(?P<secret>[^\s/?#]+)@", ("://",)),
    Rule("key_value", _KV_NAME.pattern,
         ("passw", "passp", "pwd", "secret", "token", "key", "auth", "credential", "session"), scan=_scan_key_values),
)
# Not a secret, but private: prompt bodies that Ollama logs at debug level (opt in with drop_prompts).
PROMPT_RULE = Rule("prompt", r"\bprompt=(?P<secret>\"(?:[^\"\\]++|\\.)*+\"|\S++)", ("prompt=",),
                   marker='"[DROPPED]"')

_SKIP_KEYS = frozenset({"ts", "ts_source", "app", "kind", "level", "file", "stream"})


# --- users' rules: the regex engine, with a time budget --------------------------------------------


class UserRuleError(ValueError):
    """A user's redaction rule that cannot be used (bad syntax, or not linear in the line's length)."""


class _Budgeted:
    """A user's rule on the `regex` engine, with a time budget; over it, the value is masked whole."""

    def __init__(self, name: str, pattern: str, stats: Stats) -> None:
        import regex

        self.name = name
        self.rx = regex.compile(pattern)
        self.stats = stats

    def __call__(self, text: str) -> tuple[str, int]:
        try:
            new: str
            n: int
            new, n = self.rx.subn(self._mask, text, timeout=USER_RULE_BUDGET_S, concurrent=True)
        except TimeoutError:
            self.stats.budget_exceeded[f"redact:{self.name}"] += 1
            return MARKER, 1  # fail closed: a secret may be anywhere in it
        return new, n

    @staticmethod
    def _mask(m: Any) -> str:
        return _mask(m)


def compile_user_rule(name: str, pattern: str) -> None:
    """Raise UserRuleError when `pattern` cannot be a redaction rule (syntax; linearity is `check`'s)."""
    try:
        import regex

        regex.compile(pattern)
        re.compile(pattern)
    except Exception as e:  # both engines' errors
        raise UserRuleError(f"{name}: bad regular expression: {e}") from None


# --- the redactor --------------------------------------------------------------------------------

# Characters in fewer than about a third of real LLM-service log lines (shared/corpus, samples), rarest
# first ('z' is common: timestamps end in Z). A trigger is looked for only when such a character it
# shares with other triggers is in the line (`in`, a memchr: near free when absent).
_RARE = "jqyxkw_zb"

_Candidate = tuple[str, Apply]


class Redactor:
    """Rewrites events in place; counts each rule that fired in `stats.redactions`."""

    def __init__(self, rules: Iterable[Rule] = BUILTIN_RULES, stats: Stats | None = None,
                 user_rules: dict[str, str] | None = None) -> None:
        rules = list(rules)
        self.stats = stats if stats is not None else Stats()
        self.rules: list[_Candidate] = [(r.name, r.compile()) for r in rules]
        for name, pattern in (user_rules or {}).items():
            rules.append(Rule(name, pattern))
            self.rules.append((name, _Budgeted(name, pattern, self.stats)))
        # The probe: every rule's trigger literals, looked for in the lowercased line; it returns the
        # rules that may apply as bits (0, the common case: none). A rule without triggers (a
        # user's) always applies.
        self._always = sum(1 << i for i, r in enumerate(rules) if not r.triggers)
        self._probe = _probe_function([(t, i) for i, r in enumerate(rules) for t in r.triggers])
        self._candidates: dict[int, list[_Candidate]] = {}
        self._msg_bits: Memo[str, int] = Memo(lambda msg: self._probe(msg.lower()), 4096)
        self._active = bool(rules)

    @classmethod
    def configured(cls, *, disable: Iterable[str] = (), extra: dict[str, str] | None = None,
                   drop_prompts: bool = False, stats: Stats | None = None) -> Redactor:
        """The built-in rules but `disable`d ones, users' `extra` rules, and the prompt rule if asked."""
        off = set(disable)
        rules = [r for r in BUILTIN_RULES if r.name not in off]
        if drop_prompts:
            rules.append(PROMPT_RULE)
        return cls(rules, stats, user_rules=extra)

    def _live(self, bits: int) -> list[_Candidate]:
        """The candidate rules (in rule order) whose bits are set."""
        cands = self._candidates.get(bits)
        if cands is None:
            cands = self._candidates[bits] = [r for i, r in enumerate(self.rules) if bits >> i & 1]
        return cands

    def _sub(self, text: str, count: bool, live: list[_Candidate]) -> str:
        for name, apply in live:
            new, n = apply(text)
            if n and new != text:
                text = new
                if count:
                    self.stats.redactions[name] += n
        return text

    def redact_text(self, text: str) -> str:
        """One string, as it would be redacted inside an event (for outputs that are not events)."""
        bits = self._probe(text.lower()) | self._always if self._active else 0
        return self._sub(text, False, self._live(bits)) if bits else text

    def __call__(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not self._active:
            return events
        always, probe, seen = self._always, self._probe, self._msg_bits
        for ev in events:
            line = ev["line"]
            bits = probe(line.lower()) | always
            msg = ev["msg"]
            if msg is not line and msg not in line:
                # A message made from parts of the line (`GET /api/tags 200`): messages repeat, so
                # their own probe is remembered.
                bits |= seen[msg]
            err = ev.get("error")
            if err is not None and err is not msg and err not in line:
                bits |= probe(err.lower())
            if not bits:
                continue  # the common case
            live = self._live(bits)
            # Secrets are counted once, on `line`; msg/error/path repeat parts of it (a field that is the
            # line itself, as `msg` often is, takes the line's result).
            clean = ev["line"] = self._sub(line, True, live)
            for k, v in ev.items():
                if type(v) is str and k not in _SKIP_KEYS and k != "line":
                    ev[k] = clean if v == line else self._sub(v, False, live)
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


class RedactSettings(Protocol):
    """What redaction reads of the settings (config.Settings has it)."""

    redact: bool
    redact_disable: list[str]
    redact_rules: dict[str, str]
    drop_prompts: bool


def redactor_for(settings: RedactSettings, stats: Stats) -> Redactor | None:
    """The redaction `settings` ask for (`redact = false`: none), counting into `stats`."""
    if not settings.redact:
        return None
    return Redactor.configured(disable=settings.redact_disable, extra=settings.redact_rules,
                               drop_prompts=settings.drop_prompts, stats=stats)
