"""The events sink: exactly the event's keys, the logging path and the batch path agree, rotation, reopen."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import orjson

from logmetrics.sinks.jsonlines import EventFormatter, EventOutput

EVENT = {"ts": "2026-11-03T09:58:58.000Z", "app": "ollama", "kind": "request", "level": "info",
         "msg": "POST /api/chat 200", "status": 200, "method": "POST", "path": "/api/chat", "duration_ms": 12.5,
         "line": "[GIN] ... \u00e9", "file": "/var/log/ollama.log"}


def test_line_is_exactly_the_event() -> None:
    logger = logging.getLogger("test.output.exact")
    record = logger.makeRecord(logger.name, logging.INFO, __file__, 1, EVENT, (), None)
    line = EventFormatter().format(record)
    assert orjson.loads(line) == EVENT
    assert list(orjson.loads(line)) == list(EVENT), "key order kept"


def test_logging_path_and_batch_path_give_the_same_bytes(tmp_path: Path) -> None:
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    via_logging = EventOutput(str(a))
    logger = logging.getLogger("test.output.paths")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(via_logging)
    try:
        logger.info(EVENT)
        logger.info({**EVENT, "msg": "second"})
    finally:
        logger.removeHandler(via_logging)
        via_logging.close()
    batch = EventOutput(str(b))
    batch.write([EVENT, {**EVENT, "msg": "second"}])
    batch.close()
    assert a.read_bytes() == b.read_bytes()
    assert [orjson.loads(x)["msg"] for x in b.read_bytes().splitlines()] == ["POST /api/chat 200", "second"]


def test_size_rotation_keeps_backups(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    out = EventOutput(str(path), max_bytes=600, backups=2)
    for i in range(12):
        out.write([{**EVENT, "msg": str(i)}])
    out.close()
    files = sorted(os.listdir(tmp_path))
    assert files == ["events.jsonl", "events.jsonl.1", "events.jsonl.2"]
    sizes = [(tmp_path / f).stat().st_size for f in files]
    assert all(0 < s <= 600 for s in sizes)
    msgs = [orjson.loads(x)["msg"] for f in reversed(files) for x in (tmp_path / f).read_bytes().splitlines()]
    assert msgs == [str(i) for i in range(12 - len(msgs), 12)], "newest last, whole lines, nothing reordered"


def test_reopen_after_external_rotation(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    out = EventOutput(str(path))
    out.write([{**EVENT, "msg": "before"}])
    os.rename(path, tmp_path / "events.jsonl.1")
    out.write([{**EVENT, "msg": "still old fd"}])
    out.reopen()
    out.write([{**EVENT, "msg": "after"}])
    out.close()
    assert [orjson.loads(x)["msg"] for x in (tmp_path / "events.jsonl.1").read_bytes().splitlines()] == [
        "before", "still old fd"]
    assert [orjson.loads(x)["msg"] for x in path.read_bytes().splitlines()] == ["after"]


def test_write_error_is_reported_and_cleared(tmp_path: Path) -> None:
    link = tmp_path / "events.jsonl"
    link.symlink_to("/dev/full")
    out = EventOutput(str(link))
    try:
        out.write([EVENT])
    except OSError as e:
        assert e.errno is not None
    else:
        raise AssertionError("/dev/full accepted a write")
    assert out.error is not None and "events.jsonl" in out.error
    link.unlink()
    out.reopen()
    out.write([EVENT])
    assert out.error is None
    out.close()
    assert orjson.loads(link.read_bytes()) == EVENT
