"""Real tracebacks and Go panics, as people posted them in Ollama and Open WebUI issues, joined into one event.

Each case of `tests/realworld/multiline/cases.jsonl` is a file of lines copied from an issue (its URL is in
the case, the line shape in `shape`): a few ordinary lines, then the record from `record_starts_at_line` to
the end of the file (where the issue's excerpt stopped, the record is cut there too). Read as one file, the
ordinary lines are `events_before` events of their own and the record is exactly one `error` event whose
`msg` is the panic's or signal's first line, or a traceback's last unindented line: its (final) exception
line, or a `Traceback (most recent call last):` where the excerpt stops inside a traceback.

A case with `known_gap` is a line shape the joiner (logmetrics/parse/stream.py) does not handle yet; the gap
says which. It is an expected failure, strictly: once the joiner handles it, the test says so.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from logmetrics.api import parse_lines

HERE = Path(__file__).resolve().parent / "realworld" / "multiline"
CASES = [json.loads(line) for line in (HERE / "cases.jsonl").read_text(encoding="utf-8").splitlines() if line]


def _param(case: dict[str, Any]) -> Any:
    gap = case.get("known_gap")
    marks = [pytest.mark.xfail(reason=gap, strict=True)] if gap else []
    return pytest.param(case, id=case["file"], marks=marks)


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_a_real_record_is_one_error_event(case: dict[str, Any]) -> None:
    lines = (HERE / case["file"]).read_text(encoding="utf-8").splitlines()
    events = parse_lines(lines, file=case["file"], redact=False)
    before = case["events_before"]
    shown = "\n".join(f"  {e['kind']:>8} {e['msg'][:100]!r}" for e in events)
    want = f"{case['file']} ({case['url']}): {len(events)} events, want {before + 1}\n{shown}"
    assert len(events) == before + 1, want
    record = events[-1]
    assert record["kind"] == "error" and record["level"] == "error", shown
    assert record["msg"] == case["msg"], shown
    last = lines[-1].strip()
    assert record["line"].rstrip().endswith(last[-40:]), f"the record does not reach the file's last line\n{shown}"


def test_cases_name_their_source_and_files_exist() -> None:
    assert len(CASES) >= 10
    for c in CASES:
        assert c["url"].startswith("https://github.com/"), c
        assert (HERE / c["file"]).is_file(), c
        lines = (HERE / c["file"]).read_text(encoding="utf-8").splitlines()
        assert 1 <= c["record_starts_at_line"] <= len(lines), c
