"""The peers' exam: lines from other log tools' public test data (lnav, VRL, Vector, mtail), scored.

Each row of `tests/peers/*.jsonl` (schema and annotation rules: tests/peers/README.md) is written to
a file of its own — so only its content tells its format; a multi-line record (a traceback, a panic,
tab-continued syslog) stays one file — and the folder is replayed the way `logmetrics replay
--format events` replays it (the library's `replay`, no redaction: the exam scores the parse, and
redaction is tested on its own in tests/test_secrets.py). A row is right when its file gives exactly
one event and that event has the row's kind, level (unless the row says `null`: nothing in the
record states one), time and fields:

- `ts`: the same instant to the millisecond; `ts_yearless` (a stamp without a year): the same
  month, day and time, whatever year was guessed; both `null` (nothing in the record is a time):
  the event says its time is not the line's own (`ts_source` is set);
- `fields`: each one equal (`msg` on both sides trimmed of surrounding whitespace, numbers to 1e-3,
  `path` without its query string).

`python -m tests.test_peers` prints the per-format and per-peer table and every wrong row.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from logmetrics.api import replay

PEERS = Path(__file__).resolve().parent / "peers"

# The formats logmetrics claims, each with the floor it must reach on its own (the overall bar is
# 0.98). A format of a handful of rows of one shape, stated outright by a built-in definition, has
# no room for a miss (1.0); one of 20 rows or more may miss one in twenty (0.95); the generic JSON
# family is open-ended (every JSON logger names its keys its own way), 0.9.
CLAIMED: dict[str, float] = {
    "syslog_rfc3164": 0.95,
    "syslog_rfc5424": 1.0,
    "linux_auth": 1.0,
    "clf": 1.0,
    "combined": 0.95,
    "nginx_error": 1.0,
    "apache_error": 1.0,
    "caddy_json": 1.0,
    "haproxy_http": 1.0,
    "klog": 1.0,
    "glog": 1.0,
    "journald_json": 1.0,
    "docker_json": 1.0,
    "cri": 1.0,
    "uwsgi": 1.0,
    "werkzeug": 1.0,
    "python_traceback": 1.0,
    "go_panic": 1.0,
    "logfmt": 1.0,
    "json_generic": 0.9,
}
# Formats of the exam's schema that logmetrics does not claim, and why (none: every format of the
# schema is claimed; `syslog_iso`, `traefik_clf` and `traefik_json` have no peer rows, see
# tests/peers/README.md, and are tested by the samples of their definitions instead).
UNCLAIMED: dict[str, str] = {}
OVERALL = 0.98

_ENVELOPES = "logmetrics/parse/envelopes.py"
_JSON = "generic JSON body (parsers/generic.toml, logmetrics/parse/compile.py)"
# The rows that fail today, by key (see `key`), each with the gap behind it and where it lies. Every
# other row must pass, and a row listed here must still fail (so this list only shrinks: remove a row
# when its gap is closed). The bar and the floors below are expected failures while these rows keep
# a claimed format under its floor or the whole under 0.98.
KNOWN: dict[str, str] = {
    "595b97629edb": f"{_ENVELOPES}: a tag without a colon (`master apache_error [Tue …]`) is not peeled "
                    "(RFC 3164 allows it; a space-separated word after the host is too often the message's)",
    "3189f2485e71": "logmetrics/parse/stream.py: the tab-continued lines of a syslog message are events of their own",
    "5c49794f4195": "logmetrics/parse/stream.py: the tab-continued lines of a syslog message are events of their own",
    "6d9478263661": "logmetrics/parse/stream.py: a traceback opened at the end of a header line "
                    "(`… (run) Traceback (most recent call last):`), its `File` lines unindented, is not joined",
}


@dataclass
class Result:
    row: dict[str, Any]
    events: list[dict[str, Any]]
    why: list[str] = field(default_factory=list)


def rows() -> list[dict[str, Any]]:
    out = []
    for f in sorted(PEERS.glob("*.jsonl")):
        with f.open(encoding="utf-8") as fh:
            out += [json.loads(line) for line in fh if line.strip()]
    return out


def key(row: dict[str, Any]) -> str:
    """A row's stable name: the first 12 hex digits of the SHA-1 of its path and input."""
    return hashlib.sha1(f"{row['path']}\n{row['input']}".encode()).hexdigest()[:12]


def _close(got: Any, want: Any) -> bool:
    if isinstance(want, float) or isinstance(got, float):
        try:
            return math.isclose(float(got), float(want), rel_tol=1e-6, abs_tol=1e-3)
        except (TypeError, ValueError):
            return False
    return bool(got == want)


def judge(row: dict[str, Any], events: list[dict[str, Any]]) -> list[str]:
    """What is wrong with the events of one row's file (empty: right)."""
    if len(events) != 1:
        return [f"events {len(events)}!=1"]
    ev, want = events[0], row["expect"]
    why = []
    if ev.get("kind") != want["kind"]:
        why.append(f"kind {ev.get('kind')}!={want['kind']}")
    if want["level"] is not None and ev.get("level") != want["level"]:
        why.append(f"level {ev.get('level')}!={want['level']}")
    ts = str(ev.get("ts"))
    if want["ts"] is not None:
        if ts != want["ts"] or "ts_source" in ev:
            why.append(f"ts {ts}{'/' + ev['ts_source'] if 'ts_source' in ev else ''}!={want['ts']}")
    elif want["ts_yearless"] is not None:
        if ts[5:23] != want["ts_yearless"] or "ts_source" in ev:
            why.append(f"ts_yearless {ts}!={want['ts_yearless']}")
    elif "ts_source" not in ev:
        why.append(f"ts {ts} (the record has no time)")
    for k, v in want["fields"].items():
        got = ev.get(k)
        if k == "msg" and isinstance(got, str):  # surrounding whitespace is not scored (README: trimmed)
            got, v = got.strip(), str(v).strip()
        elif k == "path" and isinstance(got, str):
            got, v = got.partition("?")[0], str(v).partition("?")[0]
        if not _close(got, v):
            why.append(f"{k} {got!r}!={v!r}")
    return why


def score(tmp: Path, selected: list[dict[str, Any]] | None = None) -> list[Result]:
    """Every row's file replayed and judged."""
    selected = rows() if selected is None else selected
    logs = tmp / "peers"
    logs.mkdir()
    for i, row in enumerate(selected):
        (logs / f"{i:05d}.log").write_text(row["input"] + "\n", encoding="utf-8")
    by_file: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for ev in replay(logs, redact=False):
        by_file[int(Path(ev["file"]).stem)].append(ev)
    results = [Result(row, by_file.get(i, [])) for i, row in enumerate(selected)]
    for r in results:
        r.why = judge(r.row, r.events)
    return results


def table(results: list[Result]) -> str:
    """Per format (claimed first) and per peer: right / rows."""
    peers = sorted({r.row["peer"] for r in results})
    cells: dict[str, Counter[str]] = defaultdict(Counter)
    for r in results:
        f, p = r.row["format"], r.row["peer"]
        cells[f][p + ":n"] += 1
        cells[f][p + ":ok"] += not r.why
    lines = [f"| format | claimed | {' | '.join(peers)} | right | score |", "|---|---|" + "---:|" * (len(peers) + 2)]
    total_ok = total_n = 0
    for f in sorted(cells, key=lambda f: (f not in CLAIMED, list(CLAIMED).index(f) if f in CLAIMED else f)):
        c = cells[f]
        n = sum(c[p + ":n"] for p in peers)
        ok = sum(c[p + ":ok"] for p in peers)
        if f in CLAIMED:
            total_ok, total_n = total_ok + ok, total_n + n
        per = " | ".join(f"{c[p + ':ok']}/{c[p + ':n']}" if c[p + ":n"] else "–" for p in peers)
        lines.append(f"| `{f}` | {'yes' if f in CLAIMED else 'no'} | {per} | {ok}/{n} | {ok / n:.2f} |")
    by_peer = " | ".join(
        f"{sum(not r.why for r in results if r.row['peer'] == p and r.row['format'] in CLAIMED)}/"
        f"{sum(r.row['peer'] == p and r.row['format'] in CLAIMED for r in results)}" for p in peers)
    lines.append(f"| **claimed** | | {by_peer} | {total_ok}/{total_n} | "
                 f"**{total_ok / max(total_n, 1):.3f}** |")
    return "\n".join(lines)


def report(results: list[Result]) -> str:
    wrong = [f"- {r.row['format']} ({r.row['peer']} {r.row['path']}): {'; '.join(r.why)}\n"
             f"    {r.row['input'][:200]!r}" for r in results if r.why]
    unclaimed = [f"- `{f}`: {why}" for f, why in UNCLAIMED.items()] or ["- none: every format of the schema is claimed"]
    return "\n".join([table(results), "", f"wrong ({len(wrong)}):", *wrong, "", "not claimed:", *unclaimed])


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> list[Result]:
    return score(tmp_path_factory.mktemp("exam"))


def test_every_format_of_the_schema_is_claimed_or_says_why(results: list[Result]) -> None:
    formats = {r.row["format"] for r in results}
    assert formats <= set(CLAIMED) | set(UNCLAIMED), formats - set(CLAIMED) - set(UNCLAIMED)
    assert not set(CLAIMED) & set(UNCLAIMED)


def _expected_share(fmt: str | None) -> float:
    """The share of rows of `fmt` (all claimed formats: None) that pass when exactly KNOWN fail."""
    mine = [r for r in rows() if (r["format"] == fmt if fmt else r["format"] in CLAIMED)]
    return sum(key(r) not in KNOWN for r in mine) / max(len(mine), 1)


def _gaps_in(fmt: str | None) -> str:
    gaps = {KNOWN[key(r)].split(":")[0] for r in rows()
            if key(r) in KNOWN and (fmt is None or r["format"] == fmt)}
    return "; ".join(sorted(gaps))


def test_every_row_passes_but_the_known_gaps(results: list[Result]) -> None:
    failing = {key(r.row) for r in results if r.why}
    new = [r for r in results if r.why and key(r.row) not in KNOWN]
    fixed = sorted(set(KNOWN) - failing)
    assert not new, "rows that fail and are not known gaps:\n" + "\n".join(
        f"{key(r.row)} {r.row['format']}: {'; '.join(r.why)} :: {r.row['input'][:160]!r}" for r in new)
    assert not fixed, f"these known gaps pass now, remove them from KNOWN: {fixed}"


@pytest.mark.xfail(_expected_share(None) < OVERALL, strict=True,
                   reason=f"{_expected_share(None):.3f} while the known gaps stay open ({_gaps_in(None)})")
def test_the_claimed_formats_score_at_least_the_bar(results: list[Result]) -> None:
    print("\n" + report(results))
    claimed = [r for r in results if r.row["format"] in CLAIMED]
    right = sum(not r.why for r in claimed)
    assert right / len(claimed) >= OVERALL, report(results)


@pytest.mark.parametrize("fmt", [
    pytest.param(f, marks=[pytest.mark.xfail(strict=True, reason=f"known gaps: {_gaps_in(f)}")]
                 if _expected_share(f) < floor else [])
    for f, floor in sorted(CLAIMED.items())])
def test_each_claimed_format_reaches_its_floor(results: list[Result], fmt: str) -> None:
    mine = [r for r in results if r.row["format"] == fmt]
    if not mine:
        pytest.skip(f"no peer rows for {fmt}")
    right = sum(not r.why for r in mine)
    wrong = "\n".join(f"{'; '.join(r.why)} :: {r.row['input'][:160]!r}" for r in mine if r.why)
    assert right / len(mine) >= CLAIMED[fmt], f"{fmt}: {right}/{len(mine)}\n{wrong}"


def test_rows_are_well_formed() -> None:
    keys = ["format", "peer", "repo", "path", "commit", "input", "expect", "source"]
    for row in rows():
        assert list(row) == keys, row
        assert set(row["expect"]) == {"kind", "level", "ts", "ts_yearless", "fields"}, row
        assert len(row["commit"]) == 40 and not row["input"].endswith("\n"), row


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        print(report(score(Path(d))))
    sys.exit(0)
