"""Envelopes: what runtimes, journald, syslog, compose, kubectl and log viewers wrap around an app's line.

Recognised from content alone (file names lie: people copy logs around), peeled
repeatedly and in any order until none is left (`unwrap`): Docker json-file,
CRI, `journalctl -o json`, syslog in its forms (RFC 3164 with or without `<PRI>`,
RFC 5424, rsyslog's RFC 3339 stamps, busybox's `facility.level`, journald's
short output in any locale), `docker compose` prefixes with replica numbers,
`kubectl logs --prefix` and a bare `program[pid]: `. Each detector looks at a
character or two before any regex, so the common no-envelope line costs a
handful of comparisons.

Some prefixes are envelopes only if what follows is a line a parser knows: a log
viewer's timestamp (Docker Desktop, `docker logs -t`), a markdown quote or
indentation, a line-number gutter, a `[HH:MM:SS]` time of day, `MESSAGE=`, a
busybox `facility.level:`, stern's `[pod container]`. `peel` offers those one at
a time; the engine keeps a peel only when the line inside is recognised. A
wrapper's time is used only when the line inside has none (the engine's rule).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, NamedTuple

import orjson

from .timestamps import format_ts, parse_ts, stamp_at

__all__ = ["Envelope", "peel", "strip_ansi", "unwrap", "wrap_compose", "wrap_cri", "wrap_docker", "wrap_journald"]


class Envelope(NamedTuple):
    """What the envelopes around a line told about it."""

    text: str
    kind: str  # the innermost: docker | cri | journald-json | syslog | journald | compose | kubectl | tag | …
    ts: str | None = None
    stream: str | None = None
    container: str | None = None
    host: str | None = None
    partial: bool = False  # the runtime split a long line: join with the next piece
    app_hint: str | None = None
    level: str | None = None  # a level the envelope states (syslog PRI, facility.level, journald PRIORITY)
    chain: tuple[str, ...] = ()  # every envelope, outermost first


# Terminal escapes (ECMA-48): CSI `ESC [ params final` (colours), OSC `ESC ] text BEL|ESC \` (window
# titles, hyperlinks), DCS/SOS/PM/APC strings up to ESC \, `ESC ( B`-style charset designations and
# two-character escapes.
_ANSI = re.compile(
    r"\x1b(?:\[[0-9;?:<=>]*+[ -/]*+[@-~]|\][^\x07\x1b]*+(?:\x07|\x1b\\)?|[PX^_][^\x1b]*+(?:\x1b\\)?"
    r"|[ -/]++[0-~]|[@-Z\\^_])"
)


def strip_ansi(text: str) -> str:
    """Remove terminal escape sequences (GIN colours its status and method columns)."""
    return _ANSI.sub("", text) if "\x1b" in text else text


# Syslog severities 0–7 (RFC 5424 §6.2.1), and the names busybox and journald print.
_SEVERITY = ("error", "error", "error", "error", "warn", "info", "info", "debug")
_SEVERITY_NAMES = {"emerg": "error", "panic": "error", "alert": "error", "crit": "error", "err": "error",
                   "error": "error", "warn": "warn", "warning": "warn", "notice": "info", "info": "info",
                   "debug": "debug"}
_FACILITY = r"(?:kern|user|mail|daemon|auth|syslog|lpr|news|uucp|cron|authpriv|ftp|ntp|security|console|local[0-7])"
_FAC_LEVEL = rf"(?P<fac>{_FACILITY})\.(?P<sev>emerg|panic|alert|crit|err|error|warn|warning|notice|info|debug)"

_CRI = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)) (stdout|stderr) ([FP])(?: |$)")
# After a syslog stamp: a host, an optional busybox `facility.level`, then a tag: a program name (spaces,
# dots, slashes allowed: `Setup Assistant`, `com.apple.xpc.launchd`; cloud-init's `[CLOUDINIT] util.py`),
# `[pid]` (or `[DEBUG]`), an optional `(…)` note, and `: `. The host may be empty (two spaces) or missing
# (Docker's syslog driver).
_AFTER_STAMP = re.compile(
    rf" {{1,2}}(?:(?P<host>[^\s:\[\]]++) )?(?:{_FAC_LEVEL} )?"
    r"(?P<tag>(?:\[[^\]\s]{1,32}\] )?[^\s:\[\]][^:\[\]\n]{0,63}?)(?::?\[(?P<pid>[^\]\s]{0,32})\])?"
    r"(?: \([^)\n]{0,160}\))?:(?: |$)"
)
_AFTER_STAMP_NO_TAG = re.compile(rf" {{1,2}}(?P<host>[\w.-]++)(?: {_FAC_LEVEL})? (?=\S)")
_RFC5424 = re.compile(
    r"<(?P<pri>\d{1,3})>1 (?:-|(?P<ts>\d{4}-\d\d-\d\dT\S++)) (?P<host>\S++) (?P<app>\S++) (?P<pid>\S++) \S++ "
    r"(?:-|(?:\[(?:[^\]\\\"]|\\.|\"(?:[^\"\\]|\\.)*+\")*+\])++)(?: |$)"
)
# The same header without `<PRI>1 `, as rsyslog's RFC 5424 file templates write it: the host, app,
# procid (digits or `-`), msgid and structured data (`-` or `[…]`) prove it.
_RFC5424_BARE = re.compile(
    r"(?P<ts>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d++)?(?:Z|[+-]\d\d:\d\d)) (?P<host>[\w.-]++) (?P<app>[^\s=]++) "
    r"(?P<pid>\d++|-) [^\s=]++ (?:-|(?:\[(?:[^\]\\\"]|\\.|\"(?:[^\"\\]|\\.)*+\")*+\])++)(?: ++|$)"
)
_PRI = re.compile(r"<(?P<pri>\d{1,3})>")
_COMPOSE = re.compile(r"([A-Za-z0-9][\w.-]*?) *\| ?")
_KUBECTL = re.compile(r"\[pod/(?P<pod>[^/\]\s]++)/(?P<container>[^\]\s]++)\] ")
_TAG = re.compile(r"(?P<tag>[A-Za-z][\w.-]{0,63}+)\[(?P<pid>\d{1,10})\]: ")
_HOSTNAME = re.compile(r"[\w.-]+")
# llama.cpp's common logger (common/log.cpp): `M.SS.mmm.uuu L ` since process start, I/W/E/D/T; some
# launchers put `[PID] ` before it, and one fork printed a wall-clock stamp instead.
_LLAMA_LOG = re.compile(
    r"(?:\[\d{1,10}\] )?(?:\d{1,6}\.\d\d\.\d{3}\.\d{3}|(?P<ts>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3})) "
    r"(?P<level>[IWEDT]) "
)
_LLAMA_LEVELS = {"I": "info", "W": "warn", "E": "error", "D": "debug", "T": "debug"}


def _docker(line: str) -> Envelope | None:
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(obj, dict):
        return None
    log = obj.get("log")
    if not isinstance(log, str):
        return _journald_json(obj)
    partial = not log.endswith("\n")
    text = log[:-1] if not partial else log
    if text.endswith("\r"):
        text = text[:-1]
    stream = obj.get("stream")
    t = obj.get("time")
    return Envelope(
        text,
        "docker",
        ts=parse_ts(t, "iso") if isinstance(t, str) else None,
        stream=stream if stream in ("stdout", "stderr") else None,
        partial=partial,
    )


def _journald_json(obj: dict[str, Any]) -> Envelope | None:
    """`journalctl -o json`: MESSAGE (a string, or bytes as a list of numbers), its time, priority, unit."""
    msg = obj.get("MESSAGE")
    if isinstance(msg, list) and all(isinstance(b, int) and 0 <= b < 256 for b in msg):
        msg = bytes(msg).decode("utf-8", "replace")
    if not isinstance(msg, str) or ("__REALTIME_TIMESTAMP" not in obj and "_SOURCE_REALTIME_TIMESTAMP" not in obj):
        return None
    ts = None
    for key in ("_SOURCE_REALTIME_TIMESTAMP", "__REALTIME_TIMESTAMP"):
        us = obj.get(key)
        if isinstance(us, str) and us.isdigit():
            ts = format_ts(int(us) / 1_000_000)
            break
    pri = obj.get("PRIORITY")
    level = _SEVERITY[int(pri)] if isinstance(pri, str) and pri.isdigit() and int(pri) < 8 else None
    hint = next((obj[k] for k in ("SYSLOG_IDENTIFIER", "_SYSTEMD_UNIT", "_COMM") if isinstance(obj.get(k), str)),
                None)
    container = obj.get("CONTAINER_NAME")
    host = obj.get("_HOSTNAME")
    return Envelope(msg.rstrip("\n"), "journald-json", ts=ts, host=host if isinstance(host, str) else None,
                    container=container if isinstance(container, str) else None,
                    app_hint=hint.lower() if hint else None, level=level)


def _cri(line: str) -> Envelope | None:
    m = _CRI.match(line)
    if m is None:
        return None
    return Envelope(
        line[m.end():], "cri", ts=parse_ts(m.group(1), "iso"), stream=m.group(2), partial=m.group(3) == "P"
    )


def _pri_level(pri: str) -> str | None:
    n = int(pri)
    return _SEVERITY[n % 8] if n < 192 else None


def _syslog(line: str, now: Callable[[], float] | None, pos: int = 0, level: str | None = None,
            kind: str = "syslog") -> Envelope | None:
    """`STAMP host tag[pid]: msg` (journald's short output, rsyslog, busybox), the stamp at `pos`."""
    st = stamp_at(line, pos, now() if now is not None else None)
    if st is None or st.ts is None:
        return None
    if not st.yearless and line[pos: pos + 1].isdigit() and (
            line[pos + 10: pos + 11] != "T" or not any(c in line[pos + 19: st.end] for c in "Z+-")):
        return None  # rsyslog writes RFC 3339 with a zone; other numeric dates are an app's own
    m = _AFTER_STAMP.match(line, st.end)
    if m is not None and (m.group("host") is None or _HOSTNAME.fullmatch(m.group("host"))):
        tag = m.group("tag").strip()
        if "=" in tag or (not st.yearless and " " in tag):
            return None
        pid = m.group("pid") or ""
        lvl = _SEVERITY_NAMES.get(m.group("sev") or "") or _SEVERITY_NAMES.get(pid.lower()) or level
        host = m.group("host")
        if host is None and not st.yearless:
            return None
        return Envelope(line[m.end():], kind, ts=st.ts, host=host or None, app_hint=tag.lower(), level=lvl)
    if not st.yearless:
        return None
    m = _AFTER_STAMP_NO_TAG.match(line, st.end)  # a tag-less message
    if m is None:
        return None
    return Envelope(line[m.end():], kind, ts=st.ts, host=m.group("host"),
                    level=_SEVERITY_NAMES.get(m.group("sev") or "") or level)


def _pri(line: str, now: Callable[[], float] | None) -> Envelope | None:
    """`<PRI>` syslog: RFC 5424, or RFC 3164 with or without a stamp and host (Docker's syslog driver)."""
    m = _RFC5424.match(line)
    if m is not None:
        ts = parse_ts(m.group("ts"), "iso") if m.group("ts") else None
        nil = ("-", "")
        app = m.group("app")
        return Envelope(line[m.end():].removeprefix("\ufeff"), "syslog", ts=ts,
                        host=None if m.group("host") in nil else m.group("host"),
                        app_hint=None if app in nil else app.lower(), level=_pri_level(m.group("pri")))
    m = _PRI.match(line)
    if m is None:
        return None
    level = _pri_level(m.group("pri"))
    inner = _syslog(line, now, m.end(), level)
    if inner is not None:
        return inner
    t = _TAG.match(line, m.end())
    if t is not None:
        return Envelope(line[t.end():], "syslog", app_hint=t.group("tag").lower(), level=level)
    rest = line[m.end():]
    colon = rest.find(": ", 0, 64)
    if colon > 0 and " " not in rest[:colon]:
        return Envelope(rest[colon + 2:], "syslog", app_hint=rest[:colon].lower(), level=level)
    return Envelope(rest, "syslog", level=level)


def _compose(line: str) -> Envelope | None:
    bar = line.find("|", 0, 80) if "|" in line else -1
    if bar <= 0 or line[0] == "[" or not (line[bar - 1] == " " or line[bar + 1: bar + 2] == " "):
        return None
    m = _COMPOSE.match(line)
    if m is None:
        return None
    name = m.group(1)
    return Envelope(line[m.end():], "compose", container=name, app_hint=name.lower())


def _strict(text: str, now: Callable[[], float] | None) -> Envelope | None:
    """The envelope whose content proves it, if one starts `text`."""
    c0 = text[0]
    if (c0 == "[" or (c0.isdigit() and ("." in text[1:7] or text[10:11] == " "))) and text[1:2] in "0123456789.":
        m = _LLAMA_LOG.match(text)
        if m is not None:
            ts = parse_ts(m.group("ts"), "iso") if m.group("ts") else None
            return Envelope(text[m.end():], "llama-log", ts=ts, level=_LLAMA_LEVELS[m.group("level")],
                            app_hint="llamacpp")
    if c0 == "{":
        return _docker(text) if '"log"' in text or '"MESSAGE"' in text else None
    if c0 == "<":
        return _pri(text, now) if text[1:2].isdigit() else None
    if c0.isdigit():
        if text[4:5] == "-":
            if " std" in text[:48]:  # CRI: `<time> stdout|stderr F|P …`
                return _cri(text)
            if text[10:11] == "T":  # rsyslog's RFC 3339 / RFC 5424 headers, or a line with its own ISO time
                if ": " in text[:200]:
                    env = _syslog(text, now)
                    if env is not None:
                        return env
                m = _RFC5424_BARE.match(text)
                if m is None:
                    return None
                app = m.group("app")
                return Envelope(text[m.end():].removeprefix("\ufeff"), "syslog", ts=parse_ts(m.group("ts"), "iso"),
                                host=m.group("host"), app_hint=None if app == "-" else app.lower())
        if "月 " in text[:4] or "월 " in text[:4]:
            return _syslog(text, now, kind="journald")
    elif c0 == "[":
        m = _KUBECTL.match(text) if text.startswith("[pod/") else None
        if m is not None:
            return Envelope(text[m.end():], "kubectl", container=m.group("container"),
                            app_hint=f"{m.group('pod')} {m.group('container')}".lower())
        return None
    elif c0.isalpha():
        if (text[3:4] == " " or text[3:5] == ". " or text[4:6] == ". " or text[4:5] == " ") and ":" in text[9:22]:
            env = _syslog(text, now, kind="journald")
            if env is not None:
                return env
        if "]: " in text[:80]:
            m = _TAG.match(text)
            if m is not None:
                return Envelope(text[m.end():], "tag", app_hint=m.group("tag").lower())
    return _compose(text)


def unwrap(line: str, now: Callable[[], float] | None = None) -> Envelope | None:
    """Peel every envelope whose content proves it, repeatedly and in any order; None when there is none
    (the common case). Facts from outer envelopes survive when an inner one does not restate them."""
    env: Envelope | None = None
    text = line
    for _ in range(6):
        if not text:
            break
        inner = _strict(text, now)
        if inner is None or (inner.kind == "tag" and env is not None and env.kind in ("syslog", "journald")):
            break  # `tag[pid]: ` right inside a syslog header is the message's (`mcad: mcad[2910]: …`)
        env = _merge(env, inner)
        text = inner.text
    return env


# --- envelopes that need what is inside them to be recognised -----------------------------------------

_QUOTE = re.compile(r"(?:> ?)++")
_GUTTER = re.compile(r"\t?\d{1,6}(?:\t| (?=\S))")
_TIME_OF_DAY = re.compile(r"\[\d\d:\d\d:\d\d(?:[.,]\d+)?\] ")
_FIELD = re.compile(r"\s*+MESSAGE=")
_FAC_PREFIX = re.compile(rf"{_FAC_LEVEL}: ")
_STERN = re.compile(r"\[(?P<pod>[\w.-]++) (?P<container>[\w.-]++)\] ")


def peel(text: str, now: Callable[[], float] | None = None) -> Envelope | None:
    """One envelope that may be there (see the module's docstring), outermost first; None if none may be."""
    c0 = text[:1]
    if c0 == ">":
        m = _QUOTE.match(text)
        return Envelope(text[m.end():], "markdown") if m else None
    if c0 in (" ", "\t"):
        if text.lstrip().startswith("MESSAGE="):
            m = _FIELD.match(text)
            return Envelope(text[m.end():], "journald-field") if m else None
        m = _GUTTER.match(text)
        if m is not None:
            return Envelope(text[m.end():], "gutter")
        return Envelope(text.lstrip(), "markdown")
    if c0.isdigit():
        st = stamp_at(text, 0, now() if now is not None else None)
        if st is not None and st.ts is not None and not st.yearless:
            rest = text[st.end:].lstrip(" ")
            return Envelope(rest, "viewer", ts=st.ts) if rest else None
        m = _GUTTER.match(text)
        return Envelope(text[m.end():], "gutter") if m else None
    if c0 == "[":
        m = _TIME_OF_DAY.match(text)
        if m is not None:
            return Envelope(text[m.end():], "viewer")
        m = _STERN.match(text)
        if m is not None:
            return Envelope(text[m.end():], "stern", container=m.group("container"),
                            app_hint=f"{m.group('pod')} {m.group('container')}".lower())
        return None
    if text.startswith("MESSAGE="):
        return Envelope(text[8:], "journald-field")
    m = _FAC_PREFIX.match(text) if c0.isalpha() else None
    if m is not None:
        return Envelope(text[m.end():], "syslog", level=_SEVERITY_NAMES[m.group("sev")])
    return None


def merge(outer: Envelope | None, inner: Envelope) -> Envelope:
    """An envelope inside another: the inner's text and facts, the outer's where the inner has none."""
    return _merge(outer, inner)


def _merge(outer: Envelope | None, inner: Envelope) -> Envelope:
    if outer is None:
        return inner._replace(chain=(inner.kind,))
    return Envelope(
        inner.text,
        inner.kind,
        ts=outer.ts or inner.ts,
        stream=outer.stream or inner.stream,
        container=inner.container or outer.container,
        host=inner.host or outer.host,
        partial=outer.partial,
        app_hint=inner.app_hint or outer.app_hint,
        level=inner.level or outer.level,
        chain=(*outer.chain, inner.kind),
    )


# --- wrappers: the inverse, for tests, fixtures and the demo ---------------------


def wrap_docker(text: str, stream: str = "stdout", time: str = "2026-11-03T09:58:58.123456789Z") -> str:
    """A Docker json-file line holding `text` (what dockerd writes)."""
    return orjson.dumps({"log": text + "\n", "stream": stream, "time": time}).decode()


def wrap_cri(
    text: str, stream: str = "stdout", time: str = "2026-11-03T09:58:58.123456789Z", partial: bool = False
) -> str:
    """A CRI (containerd/CRI-O) log line holding `text`."""
    return f"{time} {stream} {'P' if partial else 'F'} {text}"


def wrap_journald(text: str, host: str = "gpu-box", program: str = "ollama", pid: int | None = 1543,
                  stamp: str = "Nov 03 09:58:58") -> str:
    """A `journalctl` short-format line holding `text`."""
    tag = f"{program}[{pid}]" if pid is not None else program
    return f"{stamp} {host} {tag}: {text}"


def wrap_compose(text: str, service: str = "ollama-1", width: int = 16) -> str:
    """A `docker compose logs` line holding `text`."""
    return f"{service.ljust(width)}| {text}"
