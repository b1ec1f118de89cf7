"""The tailer driven in-process: real files in temp dirs, an injected clock, `step()` instead of sleeping.

One test per failure mode; each asserts on the events file, line by line.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from logmetrics.parse.engine import Engine
from logmetrics.pipeline import Pipeline
from logmetrics.sinks.jsonlines import EventOutput
from logmetrics.sources.files import watch_roots
from logmetrics.sources.positions import Position, load_positions, save_positions
from logmetrics.sources.tail import Tailer


class Clock:
    """Monotonic time that moves only when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Rig:
    """A tailer over `tmp/logs`, writing `tmp/events.jsonl`, with positions in `tmp/positions.json`."""

    def __init__(self, tmp: Path, patterns: list[str], **kw: Any) -> None:
        self.tmp = tmp
        self.patterns = patterns
        self.kw = kw
        self.clock = Clock()
        self.events_path = tmp / "events.jsonl"
        self.positions = tmp / "positions.json"
        self.out = EventOutput(str(self.events_path))
        self.engine = Engine()
        self.tailer = self._new()

    def _new(self) -> Tailer:
        kw = {"start_at": "beginning", **self.kw}
        return Tailer(self.engine, self.patterns, Pipeline([self.out]), positions=str(self.positions),
                      clock=self.clock, **kw)

    def restart(self, **kw: Any) -> None:
        """A new process: fresh engine and tailer, same output and positions files."""
        self.tailer.close()
        self.kw.update(kw)
        self.engine = Engine()
        self.tailer = self._new()

    def step(self, times: int = 1) -> None:
        for _ in range(times):
            while self.tailer.step():
                pass

    def events(self) -> list[dict[str, Any]]:
        if not self.events_path.exists():
            return []
        return [orjson.loads(x) for x in self.events_path.read_bytes().splitlines()]

    def lines(self) -> list[str]:
        return [e["line"] for e in self.events()]


@pytest.fixture
def tmp(tmp_path: Path) -> Path:
    (tmp_path / "logs").mkdir()
    return tmp_path


@pytest.fixture
def rig_for(tmp: Path) -> Iterator[Callable[..., Rig]]:
    made: list[Rig] = []

    def make(patterns: list[str] | None = None, **kw: Any) -> Rig:
        r = Rig(tmp, patterns or [str(tmp / "logs" / "*.log")], **kw)
        made.append(r)
        return r

    yield make
    for r in made:
        r.tailer.close()
        r.out.close()


def append(path: Path, data: str | bytes) -> None:
    with open(path, "ab") as f:
        f.write(data.encode() if isinstance(data, str) else data)


def numbered(prefix: str, n: int, start: int = 0) -> str:
    return "".join(f"{prefix} {i}\n" for i in range(start, start + n))


# -- rotation --------------------------------------------------------------------------------------


def test_rename_rotation_drains_late_writes_to_old_inode(tmp: Path, rig_for: Callable[..., Rig]) -> None:
    log = tmp / "logs" / "app.log"
    append(log, "one\ntwo\n")
    r = rig_for()
    r.step()
    os.rename(log, tmp / "logs" / "app.log.1")  # not matched by *.log: only the open descriptor reaches it
    append(tmp / "logs" / "app.log.1", "late to old\n")
    append(log, "new one\n")
    r.step()
    r.clock.advance(3)  # still draining: the writer had the old file open a bit longer
    append(tmp / "logs" / "app.log.1", "later to old\n")
    r.step()
    assert r.lines() == ["one", "two", "late to old", "new one", "later to old"]
    assert r.engine.stats.rotations["rename"] == 1
    assert len(r.tailer.files) == 2
    r.clock.advance(5.1)
    r.step()
    assert r.tailer.files == [str(log)], "the old file is closed once idle for drain_idle"
    assert [e["file"] for e in r.events()] == [str(log)] * 5


def test_rename_rotation_flushes_partial_last_line_of_old_file(tmp: Path, rig_for: Callable[..., Rig]) -> None:
    log = tmp / "logs" / "app.log"
    append(log, "whole\nno newline yet")
    r = rig_for()
    r.step()
    assert r.lines() == ["whole"]
    os.rename(log, tmp / "logs" / "app.log.1")
    r.step()
    r.clock.advance(5.1)
    r.step()
    assert r.lines() == ["whole", "no newline yet"]


def test_copytruncate_reads_again_from_zero(tmp: Path, rig_for: Callable[..., Rig]) -> None:
    log = tmp / "logs" / "app.log"
    append(log, numbered("before", 3))
    r = rig_for()
    r.step()
    shutil.copy(log, tmp / "logs" / "app.log.1")
    os.truncate(log, 0)
    append(log, "after 0\n")
    r.step()
    assert r.lines() == ["before 0", "before 1", "before 2", "after 0"]
    assert r.engine.stats.rotations["truncate"] == 1


def test_copytruncate_rewritten_past_old_offset_is_caught_by_fingerprint(
        tmp: Path, rig_for: Callable[..., Rig]) -> None:
    log = tmp / "logs" / "app.log"
    append(log, "short\n")
    r = rig_for()
    r.step()
    with open(log, "wb") as f:  # truncated and already longer than before when we look again
        f.write(b"completely different content\nand more\n")
    r.step()
    assert r.lines() == ["short", "completely different content", "and more"]
    assert r.engine.stats.rotations["truncate"] == 1


def test_delete_and_recreate(tmp: Path, rig_for: Callable[..., Rig]) -> None:
    log = tmp / "logs" / "app.log"
    append(log, "first file\n")
    r = rig_for()
    r.step()
    log.unlink()
    r.step()
    append(log, "second file\n")
    r.step()
    assert r.lines() == ["first file", "second file"]
    assert r.engine.stats.rotations["delete"] == 1
    r.clock.advance(5.1)
    r.step()
    assert r.tailer.files == [str(log)]


def test_symlink_rotation(tmp: Path, rig_for: Callable[..., Rig]) -> None:
    logs = tmp / "logs"
    append(logs / "app-1.txt", "one-a\n")
    (logs / "current").symlink_to("app-1.txt")
    r = rig_for([str(logs / "current")])
    r.step()
    append(logs / "app-2.txt", "two-a\n")
    (logs / "current.tmp").symlink_to("app-2.txt")
    os.replace(logs / "current.tmp", logs / "current")
    append(logs / "app-1.txt", "one-b late\n")
    r.step()
    assert r.lines() == ["one-a", "one-b late", "two-a"]
    assert {e["file"] for e in r.events()} == {str(logs / "current")}
    assert r.engine.stats.rotations["rename"] == 1


def test_glob_and_symlink_to_same_file_read_once(tmp: Path, rig_for: Callable[..., Rig]) -> None:
    logs = tmp / "logs"
    append(logs / "app-1.log", "only once\n")
    (logs / "current.log").symlink_to("app-1.log")
    r = rig_for()
    r.step()
    assert r.lines() == ["only once"]


# -- discovery -------------------------------------------------------------------------------------


def test_new_file_matching_glob_is_read_from_beginning(tmp: Path, rig_for: Callable[..., Rig]) -> None:
    append(tmp / "logs" / "old.log", "existing, skipped by start_at=end\n")
    r = rig_for(start_at="end")
    r.step()
    append(tmp / "logs" / "new.log", "new a\nnew b\n")
    append(tmp / "logs" / "new.txt", "not matched\n")
    r.step()
    append(tmp / "logs" / "old.log", "appended\n")
    r.step()
    assert r.lines() == ["new a", "new b", "appended"]


def test_folder_argument_is_recursive_and_picks_up_later_files(tmp: Path, rig_for: Callable[..., Rig]) -> None:
    root = tmp / "logs"
    r = rig_for([str(root)])
    r.step()
    (root / "deep" / "er").mkdir(parents=True)
    append(root / "deep" / "er" / "x.log", "deep line\n")
    append(root / "deep" / "rotated.log.1.gz", b"\x1f\x8b not followed")
    append(root / "deep" / ".hidden.log", "hidden\n")
    r.step()
    assert r.lines() == ["deep line"]


def test_start_at_end_starts_after_last_complete_line(tmp: Path, rig_for: Callable[..., Rig]) -> None:
    log = tmp / "logs" / "app.log"
    append(log, "old\nhalf")
    r = rig_for(start_at="end")
    r.step()
    append(log, " done\nnext\n")
    r.step()
    assert r.lines() == ["half done", "next"]


def test_docker_json_file_and_cri_pod_logs_get_container(tmp: Path, rig_for: Callable[..., Rig]) -> None:
    cid = "a" * 64
    cdir = tmp / "docker" / "containers" / cid
    cdir.mkdir(parents=True)
    (cdir / "config.v2.json").write_text('{"Name": "/ollama-1"}')
    append(cdir / f"{cid}-json.log",
           '{"log":"hello from docker\\n","stream":"stderr","time":"2026-11-03T09:58:58.123Z"}\n')
    pod = tmp / "pods" / "llm_ollama-0_fb7dc9f8-69d5-4a54-82f7-954560ad7ac4" / "ollama"
    pod.mkdir(parents=True)
    append(pod / "0.log", "2026-11-03T09:58:58.123456789Z stdout F hello from cri\n")
    r = rig_for([str(tmp / "docker" / "containers" / "*" / "*-json.log"), str(tmp / "pods" / "*" / "*" / "*.log")])
    r.step()
    evs = {e["line"]: e for e in r.events()}
    assert evs["hello from docker"]["container"] == "ollama-1"
    assert evs["hello from docker"]["stream"] == "stderr"
    assert evs["hello from cri"]["container"] == "ollama"
    assert evs["hello from cri"]["stream"] == "stdout"


def test_own_output_in_watched_folder_is_not_followed(tmp: Path) -> None:
    out = EventOutput(str(tmp / "logs" / "events.jsonl"))
    append(tmp / "logs" / "a.log", "one\n")
    t = Tailer(Engine(), [str(tmp / "logs")], Pipeline([out]), start_at="beginning", clock=Clock(),
               exclude=[str(tmp / "logs" / "events.jsonl")])
    for _ in range(3):
        t.step()
    assert [orjson.loads(x)["line"] for x in (tmp / "logs" / "events.jsonl").read_bytes().splitlines()] == ["one"]
    t.close()
    out.close()


def test_watch_roots(tmp: Path) -> None:
    logs, pods = tmp / "logs", tmp / "pods"
    pods.mkdir()
    rec, flat = watch_roots([str(logs / "*.log"), str(pods / "*" / "x.log"), str(tmp / "missing" / "a.log")])
    assert flat == {str(logs)}, "magic in the file name only: the folder itself"
    assert rec == {str(pods), str(tmp)}, "magic in a folder part, or a missing folder: a subtree"


# -- lines -----------------------------------------------------------------------------------------


def test_partial_line_completed_later(tmp: Path, rig_for: Callable[..., Rig]) -> None:
    log = tmp / "logs" / "app.log"
    append(log, "complete\npart")
    r = rig_for()
    r.step()
    r.clock.advance(10)
    r.step()
    assert r.lines() == ["complete"], "a partial line waits for its newline, however long"
    append(log, "ial\n")
    r.step()
    assert r.lines() == ["complete", "partial"]


def test_ten_megabyte_line_is_cut_and_counted(tmp: Path, rig_for: Callable[..., Rig]) -> None:
    log = tmp / "logs" / "app.log"
    append(log, b"x" * (10 << 20) + b"\nnext\n")
    r = rig_for()
    r.step()
    lines = r.lines()
    assert [len(x) for x in lines] == [1 << 20, 4]
    assert lines[0] == "x" * (1 << 20) and lines[1] == "next"
    assert r.engine.stats.malformed["oversized"] == 1


def test_long_line_arriving_in_pieces_is_cut_once(tmp: Path, rig_for: Callable[..., Rig]) -> None:
    log = tmp / "logs" / "app.log"
    r = rig_for()
    for _ in range(6):  # 6 × 256 KiB, no newline: the cap is crossed between steps
        append(log, b"y" * (256 * 1024))
        r.step()
    append(log, b"yyy\nafter\n")
    r.step()
    assert [len(x) for x in r.lines()] == [1 << 20, 5]
    assert r.engine.stats.malformed["oversized"] == 1


def test_invalid_utf8(tmp: Path, rig_for: Callable[..., Rig]) -> None:
    log = tmp / "logs" / "app.log"
    append(log, b"bad \xff\xfe bytes\ngood\n")
    r = rig_for()
    r.step()
    assert r.lines() == ["bad \ufffd\ufffd bytes", "good"]
    assert r.engine.stats.malformed["invalid_utf8"] == 1


def test_traceback_held_then_flushed_when_idle(tmp: Path, rig_for: Callable[..., Rig]) -> None:
    log = tmp / "logs" / "app.log"
    append(log, 'before\nTraceback (most recent call last):\n  File "x.py", line 1\n')
    r = rig_for()
    r.step()
    r.tailer.save()
    assert r.lines() == ["before"]
    saved = load_positions(r.positions)
    assert saved[0].offset <= len("before\n"), "positions never pass a held record"
    r.clock.advance(0.6)
    r.step()
    assert r.lines() == ["before", 'Traceback (most recent call last):\n  File "x.py", line 1']
    r.tailer.save()
    assert [p.offset for p in load_positions(r.positions)] == [log.stat().st_size]


# -- errors ----------------------------------------------------------------------------------------


def test_path_replaced_by_folder_is_counted_retried_and_others_go_on(tmp: Path, rig_for: Callable[..., Rig]
                                                                     ) -> None:
    a, b = tmp / "logs" / "a.log", tmp / "logs" / "b.log"
    append(a, "a1\n")
    append(b, "b1\n")
    r = rig_for([str(a), str(b)])
    r.step()
    a.unlink()
    a.mkdir()
    append(b, "b2\n")
    r.step(3)
    assert r.tailer.stats.read_errors["eisdir"] == 1, "counted once per failure, not per retry"
    a.rmdir()
    append(a, "a again\n")
    append(b, "b3\n")
    r.step()
    assert [(Path(e["file"]).name, e["line"]) for e in r.events()] == [
        ("a.log", "a1"), ("b.log", "b1"), ("b.log", "b2"), ("b.log", "b3"), ("a.log", "a again")]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file_is_retried(tmp: Path, rig_for: Callable[..., Rig]) -> None:
    a, b = tmp / "logs" / "a.log", tmp / "logs" / "b.log"
    append(a, "secret\n")
    a.chmod(0)
    append(b, "b1\n")
    r = rig_for()
    r.step()
    assert r.tailer.stats.read_errors["eacces"] == 1
    a.chmod(0o644)
    r.step()
    assert r.lines() == ["b1", "secret"]


def test_output_failure_pauses_reading_and_loses_nothing(tmp: Path) -> None:
    """A full disk (/dev/full) → reading pauses; once the output works again every line arrives once."""
    link = tmp / "events.jsonl"
    link.symlink_to("/dev/full")
    out = EventOutput(str(link))
    log = tmp / "logs" / "app.log"
    append(log, "one\ntwo\n")
    engine = Engine()
    clock = Clock()
    t = Tailer(engine, [str(log)], Pipeline([out]), start_at="beginning", clock=clock,
               positions=str(tmp / "pos.json"))
    t.step()
    assert t.output_blocked and out.error is not None
    assert engine.stats.output_errors["enospc"] == 1
    append(log, "three\n")
    t.step()
    assert engine.stats.lines == 2, "nothing more is read while the output refuses"
    clock.advance(2)
    t.save()
    assert [p.offset for p in load_positions(tmp / "pos.json")] == [0], "positions do not pass unwritten lines"
    link.unlink()
    t.request_reopen()
    out.reopen()
    t.step()
    t.close()
    out.close()
    assert [orjson.loads(x)["line"] for x in link.read_bytes().splitlines()] == ["one", "two", "three"]


# -- positions -------------------------------------------------------------------------------------


def test_restart_resumes_exactly_once(tmp: Path, rig_for: Callable[..., Rig]) -> None:
    log = tmp / "logs" / "app.log"
    append(log, numbered("l", 3) + "half")
    r = rig_for()
    r.step()
    r.restart(start_at="end")  # positions win over start_at
    append(log, " line\n" + numbered("l", 2, 3))
    r.step()
    assert r.lines() == ["l 0", "l 1", "l 2", "half line", "l 3", "l 4"]


def test_rotated_while_down_is_drained_from_its_saved_offset(tmp: Path, rig_for: Callable[..., Rig]) -> None:
    log = tmp / "logs" / "app.log"
    append(log, "a\n")
    r = rig_for()
    r.step()
    r.tailer.close()
    append(log, "b written before the rotation\n")
    os.rename(log, tmp / "logs" / "app.log.1")
    append(log, "c in the new file\n")
    r.restart()
    r.step()
    assert r.lines() == ["a", "c in the new file", "b written before the rotation"]


def test_corrupt_positions_file_warns_and_starts_afresh(tmp: Path, rig_for: Callable[..., Rig],
                                                        caplog: pytest.LogCaptureFixture) -> None:
    log = tmp / "logs" / "app.log"
    append(log, "old\n")
    (tmp / "positions.json").write_bytes(b'{"version": 1, "files": [{"path": "x", "dev"')  # truncated write
    r = rig_for(start_at="end")
    r.step()
    assert "ignoring positions file" in caplog.text
    assert r.tailer.positions_error is not None
    append(log, "new\n")
    r.step()
    r.tailer.save()
    assert r.lines() == ["new"]
    assert [p.offset for p in load_positions(r.positions)] == [log.stat().st_size], "replaced by a valid one"


def test_two_files_with_identical_first_lines_keep_their_own_positions(tmp: Path, rig_for: Callable[..., Rig]
                                                                       ) -> None:
    a, b = tmp / "logs" / "a.log", tmp / "logs" / "b.log"
    header = "2026-11-03 server starting version=1.2.3\n"
    append(a, header)
    append(b, header)
    r = rig_for()
    r.step()
    r.restart()
    saved = load_positions(r.positions)
    assert len(saved) == 2
    assert saved[0].fp == saved[1].fp and saved[0].ino != saved[1].ino, "same fingerprint, told apart by inode"
    append(a, "a1\n")
    r.step()
    r.restart()
    append(a, "a2\n")
    append(b, "b1\n")
    r.step()
    r.restart()
    r.step()
    by_file: dict[str, list[str]] = {}
    for e in r.events():
        by_file.setdefault(Path(e["file"]).name, []).append(e["line"])
    assert by_file == {"a.log": [header.strip(), "a1", "a2"], "b.log": [header.strip(), "b1"]}


def test_inode_reused_by_other_content_is_read_from_zero(tmp: Path, rig_for: Callable[..., Rig]) -> None:
    """Same device+inode as a saved position but different first bytes: a new file, not ours."""
    log = tmp / "logs" / "app.log"
    append(log, "new file content\nsecond\n")
    st = log.stat()
    save_positions(tmp / "positions.json", [
        Position(path=str(log), dev=st.st_dev, ino=st.st_ino, fp="00" * 16, fp_len=20, offset=17)])
    r = rig_for(start_at="end")
    r.step()
    assert r.lines() == ["new file content", "second"]


def test_positions_saved_every_second_while_reading(tmp: Path, rig_for: Callable[..., Rig]) -> None:
    log = tmp / "logs" / "app.log"
    append(log, "one\n")
    r = rig_for()
    r.step()
    assert not r.positions.exists()
    r.clock.advance(1.0)
    r.step()
    assert [p.offset for p in load_positions(r.positions)] == [4]


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_many_files_few_descriptors_every_line_exactly_once(tmp: Path, rig_for: Callable[..., Rig]) -> None:
    files = [tmp / "logs" / f"f{i:03d}.log" for i in range(120)]
    for i, f in enumerate(files):
        append(f, "".join(f"{i} first {j}\n" for j in range(3)))
    before = open_fds()
    r = rig_for(max_open=8)
    r.step()
    assert open_fds() - before <= 8 + 1  # the budget, plus the events output
    r.clock.advance(1)
    for i, f in enumerate(files[::7]):  # parked files grow: each is reopened and read
        append(f, f"{i} later\n")
    r.step()
    assert open_fds() - before <= 8 + 1
    expected = sorted([f"{i} first {j}" for i in range(120) for j in range(3)] + [f"{i} later" for i in range(18)])
    assert sorted(r.lines()) == expected
    assert r.tailer.health()["files_watched"] == 120 and r.tailer.health()["files_open"] <= 8


def test_parked_file_rotated_by_rename_is_drained_by_inode(tmp: Path, rig_for: Callable[..., Rig]) -> None:
    logs = tmp / "logs"
    for i in range(6):
        append(logs / f"f{i}.log", f"f{i} a\n")
    r = rig_for(max_open=2)
    r.step()
    r.clock.advance(1)
    r.step()  # idle now: most files are parked
    victim = r.tailer.parked[0]
    path = Path(victim)
    append(path, "written just before rotation\n")
    os.rename(path, str(path) + ".1")  # to a name no pattern matches
    append(path, "new file\n")
    r.step()
    r.clock.advance(10)  # past the drain idle time
    r.step()
    got = r.lines()
    assert "written just before rotation" in got and "new file" in got
    assert len(got) == len(set(got)) == 8
    assert r.tailer.stats.rotations["rename"] == 1


def test_out_of_descriptors_parks_instead_of_failing(tmp: Path) -> None:
    """With RLIMIT_NOFILE far below the number of files, a real `Tailer` still reads them all."""
    logs = tmp / "logs"
    for i in range(300):
        append(logs / f"f{i:03d}.log", f"line {i}\n")
    code = f"""
import resource, orjson
resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
from logmetrics.sinks.jsonlines import EventOutput
from logmetrics.parse.engine import Engine
from logmetrics.sources.tail import Tailer
from logmetrics.pipeline import Pipeline
out = EventOutput({str(tmp / "events.jsonl")!r})
t = Tailer(Engine(), [{str(logs / "*.log")!r}], Pipeline([out]), start_at="beginning", max_open=10_000)
while t.step():
    pass
t.step()
t.close()
out.close()
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = sorted(orjson.loads(x)["line"] for x in (tmp / "events.jsonl").read_bytes().splitlines())
    assert got == sorted(f"line {i}" for i in range(300))


def test_a_file_growing_faster_than_read_does_not_starve_the_others(tmp: Path, rig_for: Callable[..., Rig]) -> None:
    big, small = tmp / "logs" / "big.log", tmp / "logs" / "small.log"
    append(big, b"x" * 100 + b"\n")
    append(small, "first\n")
    r = rig_for(chunk=1024, chunks_per_step=4)  # a share of 4 KiB per file per pass (2 MiB by default)
    r.step()
    append(big, (b"y" * 99 + b"\n") * 600)  # 60 kB arrives at once: 15 shares
    append(small, "urgent\n")
    more = r.tailer.step()  # one pass: a bounded share of the big file, then the small one
    assert more, "the big file is not finished in one pass"
    assert "urgent" in r.lines()
    assert r.tailer.stats.read_lag_bytes > 50_000  # the backlog is visible, not hidden
    r.step()
    assert len(r.lines()) == 2 + 1 + 600 and r.tailer.stats.read_lag_bytes == 0
