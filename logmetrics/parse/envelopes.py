"""Envelopes: what container runtimes, journald and compose wrap around an app's line.

Recognised from content alone (file names lie: people copy logs around), and
cheaply: each detector first looks at a character or two before any regex, so
the common no-envelope line costs a handful of comparisons.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NamedTuple

import orjson

from .conversions import parse_ts

__all__ = ["Envelope", "strip_ansi", "unwrap", "wrap_compose", "wrap_cri", "wrap_docker", "wrap_journald"]


class Envelope(NamedTuple):
    """What an envelope told us about the line inside it."""

    text: str
    kind: str  # docker | cri | journald | compose | prefix
    ts: str | None = None
    stream: str | None = None
    container: str | None = None
    host: str | None = None
    partial: bool = False  # the runtime split a long line: join with the next piece
    app_hint: str | None = None


# Terminal escapes (ECMA-48): CSI `ESC [ params final` (colours), OSC `ESC ] text BEL|ESC \` (window
# titles, hyperlinks), DCS/SOS/PM/APC strings up to ESC \, `ESC ( B`-style charset designations and
# two-character escapes.
_ANSI = re.compile(
    r"\x1b(?:\[[0-9;?:<=>]*+[ -/]*+[@-~]|\][^\x07\x1b]*+(?:\x07|\x1b\\)?|[PX^_][^\x1b]*+(?:\x1b\\)?"
    r"|[ -/]++[0-~]|[@-Z\\^_])"
)


def strip_ansi(text: str) -> str:
    """Remove ANSI colour/control sequences (GIN colours its status and method columns)."""
    return _ANSI.sub("", text) if "\x1b" in text else text


_CRI = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)) (stdout|stderr) ([FP])(?: |$)")
_SYSLOG = re.compile(
    r"([A-Z][a-z]{2} [ \d]?\d \d\d:\d\d:\d\d(?:\.\d+)?) (\S*) ?([\w.@/-]+?)(?:\[(\d+)\])?: ?"
)
_SYSLOG_ISO = re.compile(
    r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)) (\S+) ([\w.@/-]+)\[(\d+)\]: ?"
)
_COMPOSE = re.compile(r"([A-Za-z0-9][\w.-]*?) *\| ?")
# A viewer's time prefix (Docker Desktop, `docker logs -t` copies) before a line that has its own time.
_TS_PREFIX = re.compile(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?) +(?=time=|\[GIN\]|\d{4}/\d\d/\d\d[ -])")


def _docker(line: str) -> Envelope | None:
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(obj, dict):
        return None
    log = obj.get("log")
    if not isinstance(log, str):
        return None
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


def _cri(line: str) -> Envelope | None:
    m = _CRI.match(line)
    if m is None:
        return None
    return Envelope(
        line[m.end():], "cri", ts=parse_ts(m.group(1), "iso"), stream=m.group(2), partial=m.group(3) == "P"
    )


def _journald(line: str, now: Callable[[], float] | None) -> Envelope | None:
    m = _SYSLOG.match(line) if line[0].isupper() else _SYSLOG_ISO.match(line)
    if m is None:
        return None
    stamp, host, program, _pid = m.groups()
    ts = parse_ts(stamp, "syslog", now() if now else None) if line[0].isupper() else parse_ts(stamp, "iso")
    return Envelope(line[m.end():], "journald", ts=ts, host=host or None, app_hint=program.lower())


def _compose(line: str) -> Envelope | None:
    m = _COMPOSE.match(line)
    if m is None:
        return None
    name = m.group(1)
    return Envelope(line[m.end():], "compose", container=name, app_hint=name.lower())


def unwrap(line: str, now: Callable[[], float] | None = None) -> Envelope | None:
    """Peel every envelope around `line`; None when there is none (the common case).

    Order: a runtime envelope (docker json-file or CRI) outermost, then a journald
    prefix, then a compose prefix. Facts from outer envelopes survive when an inner
    one does not restate them.
    """
    if not line:
        return None
    env: Envelope | None = None
    c0 = line[0]
    if c0 == "{" and '"log"' in line:
        env = _docker(line)
    elif c0.isdigit() and line[4:5] == "-" and " std" in line[:48]:  # CRI: `<time> stdout|stderr F|P …`
        env = _cri(line)
    text = env.text if env is not None else line
    if text and (
        (text[0].isupper() and text[3:4] == " " and text[6:7] == " ")
        or (text[0].isdigit() and text[10:11] == "T" and "]: " in text[:120])
    ):
        inner = _journald(text, now)
        if inner is not None:
            env = _merge(env, inner)
            text = inner.text
    if text[:1].isdigit() and text[10:11] == " " and text[4:5] == "-":
        pm = _TS_PREFIX.match(text)
        if pm is not None:
            env = _merge(env, Envelope(text[pm.end():], "prefix", ts=parse_ts(pm.group(1), "iso")))
            text = env.text
    bar = text.find("|", 0, 80) if "|" in text else -1
    if bar > 0 and text[0] != "[" and (text[bar - 1] == " " or text[bar + 1: bar + 2] == " "):
        inner = _compose(text)
        if inner is not None:
            env = _merge(env, inner)
    return env


def _merge(outer: Envelope | None, inner: Envelope) -> Envelope:
    if outer is None:
        return inner
    return Envelope(
        inner.text,
        inner.kind,
        ts=outer.ts or inner.ts,
        stream=outer.stream or inner.stream,
        container=inner.container or outer.container,
        host=inner.host or outer.host,
        partial=outer.partial,
        app_hint=inner.app_hint or outer.app_hint,
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
