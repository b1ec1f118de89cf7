"""Scoring annotated lines the way ../shared/tools/score_corpus.py does, for the sets kept in tests/.

Each line goes to a file of its own (only its content tells the format), the folder is replayed
with `--format events`, and the first event of each file is compared with the annotation: kind,
level, time (within a second) and the annotated fields (floats to 0.2 %, paths without query).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from tests.conftest import run_cli


def same_ts(got: object, want: str) -> bool:
    try:
        g = datetime.fromisoformat(str(got).replace("Z", "+00:00"))
        w = datetime.fromisoformat(want.replace("Z", "+00:00"))
    except ValueError:
        return False
    if w.tzinfo is None:
        w = w.replace(tzinfo=UTC)
    return g.tzinfo is not None and abs((g - w).total_seconds()) < 1.0


def close(got: object, want: object) -> bool:
    if isinstance(got, float) or isinstance(want, float):
        try:
            return math.isclose(float(got), float(want), rel_tol=2e-3, abs_tol=1e-3)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return False
    return got == want


def mismatches(ev: dict[str, Any] | None, kind: str, level: str | None, ts: str | None,
               fields: dict[str, Any]) -> list[str]:
    """What differs between an event and its annotation (empty: right)."""
    if ev is None:
        return ["no event"]
    why = []
    if ev.get("kind") != kind:
        why.append(f"kind {ev.get('kind')}!={kind}")
    if level and ev.get("level") != level:
        why.append(f"level {ev.get('level')}!={level}")
    if ts and not same_ts(ev.get("ts"), ts):
        why.append(f"ts {ev.get('ts')}!={ts}")
    for k, v in fields.items():
        if k == "operation" or v is None:
            continue
        got = ev.get(k)
        if k == "path":  # the contract removes the query string
            got, v = str(got).split("?")[0], str(v).split("?")[0]
        if not close(got, v):
            why.append(f"{k} {ev.get(k)!r}!={v!r}")
    return why


def first_events(texts: list[str], folder: Path) -> dict[int, dict[str, Any]]:
    """The first event of each text, each written to a file of its own and replayed together."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, text in enumerate(texts):
        (folder / f"{i:05d}.log").write_text(text + "\n", encoding="utf-8")
    proc = run_cli("replay", str(folder), "--format", "events", "--no-progress", timeout=300)
    assert proc.returncode == 0, proc.stderr.decode()[-800:]
    events: dict[int, dict[str, Any]] = {}
    for line in proc.stdout.splitlines():
        ev = orjson.loads(line)
        events.setdefault(int(Path(ev["file"]).name.split(".")[0]), ev)
    return events
