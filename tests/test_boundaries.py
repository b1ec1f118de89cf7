"""Nothing read that was not asked for, nothing destroyed by a careless flag, damaged input only data.

One test per failure mode a black-box attack found: a symlink to a root-only file in a watched
folder, positions saved over the events file, a folder where the positions file should be, an
offset beyond a file's end, a corrupt or truncated .gz, a 200 MB line on stdin, a hostile line while
Prometheus scrapes, SIGTERM in the middle of it.
"""

from __future__ import annotations

import gzip
import json
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from logmetrics.sources.files import discover

from .conftest import LOGMETRICS, run_cli
from .test_run_cli import Run, events, lines, wait_until

SECRET = "root:$6$saltsalt$hashhashhash:19000:0:99999:7:::"


@pytest.fixture
def tmp(tmp_path: Path) -> Path:
    (tmp_path / "logs").mkdir()
    return tmp_path


def _outside(tmp: Path) -> Path:
    """A root-only file outside the watched folder, linked into it as evil.log."""
    secret = tmp / "outside" / "shadow"
    secret.parent.mkdir()
    secret.write_text(SECRET + "\n")
    secret.chmod(0o600)
    (tmp / "logs" / "evil.log").symlink_to(secret)
    (tmp / "logs" / "app.log").write_text("a real line\n")
    return secret


# --- symlinks -------------------------------------------------------------------------------------


def test_replay_does_not_follow_a_symlink_out_of_the_folder(tmp: Path) -> None:
    _outside(tmp)
    r = run_cli("replay", str(tmp / "logs"), "--format", "events", "--no-progress")
    assert r.returncode == 0, r.stderr
    assert SECRET not in r.stdout.decode() and b"a real line" in r.stdout


def test_run_does_not_follow_a_symlink_out_of_the_folder_and_says_so(tmp: Path) -> None:
    _outside(tmp)
    r = Run(tmp)  # follows tmp/logs/*.log
    wait_until(lambda: "a real line" in lines(tmp), what="the real line")
    code, _ = r.stop()
    assert code == 0
    assert SECRET not in (tmp / "events.jsonl").read_text()
    assert "not following a symlink" in (tmp / "stderr.log").read_text()


def test_a_symlink_inside_the_roots_or_named_directly_is_followed(tmp: Path) -> None:
    secret = _outside(tmp)
    (tmp / "logs" / "current.log").symlink_to(tmp / "logs" / "app.log")
    found = discover([str(tmp / "logs")])
    assert str(tmp / "logs" / "current.log") in found.files  # its target is under the folder asked for
    assert str(tmp / "logs" / "evil.log") not in found.files
    assert [p for p, _ in found.skipped] == [str(tmp / "logs" / "evil.log")]
    assert discover([str(tmp / "logs" / "evil.log")]).files == [str(tmp / "logs" / "evil.log")]  # named: read
    assert discover([str(tmp / "logs"), str(secret)]).files[-1] == str(secret)  # a named root admits it
    assert str(tmp / "logs" / "evil.log") in discover([str(tmp / "logs")], follow_symlinks=True).files


def test_a_folder_walk_skips_what_is_not_a_log_and_says_why(tmp: Path) -> None:
    for name in ("readme.txt", "README", "notes.md", "config.v2.json", "app.log", "app.log.1", "app.log-20260101",
                 "app.2.gz", "syslog", "x-json.log"):
        (tmp / "logs" / name).write_text("x\n")
    found = discover([str(tmp / "logs")])
    assert sorted(Path(p).name for p in found.files) == sorted(
        ["app.log", "app.log.1", "app.log-20260101", "app.2.gz", "syslog", "x-json.log"])
    assert sorted(Path(p).name for p, why in found.skipped if why == "not a log file name") == sorted(
        ["readme.txt", "README", "notes.md", "config.v2.json"])


# --- positions and output -------------------------------------------------------------------------


@pytest.mark.parametrize("positions", ["events.jsonl", "events.jsonl.2", "posdir", "nowhere/positions.json"])
def test_positions_that_would_destroy_data_are_refused(tmp: Path, positions: str) -> None:
    (tmp / "posdir").mkdir()
    r = run_cli("run", str(tmp / "logs"), "--output", str(tmp / "events.jsonl"), "--positions",
                str(tmp / positions), "--listen", "")
    err = r.stderr.decode()
    assert r.returncode == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith(f"logmetrics: error: --positions {tmp / positions}: ")


def test_an_offset_beyond_the_file_is_logged_with_the_file(tmp: Path) -> None:
    log = tmp / "logs" / "app.log"
    log.write_text("".join(f"line {i}\n" for i in range(100)))
    r = Run(tmp)
    wait_until(lambda: len(lines(tmp)) == 100, what="100 events")
    r.stop()
    with open(log, "r+") as f:  # truncated in place (same inode, same first bytes) while we were down
        f.truncate(len("".join(f"line {i}\n" for i in range(50))))
    r = Run(tmp)
    wait_until(lambda: lines(tmp).count("line 0") == 2, what="the file read again")
    r.stop()
    logs = [json.loads(x) for x in (tmp / "stderr.log").read_text().splitlines() if x.startswith("{")]
    beyond = [x for x in logs if "beyond the end" in x["msg"]]
    assert beyond and beyond[0]["path"] == str(log) and beyond[0]["offset"] > beyond[0]["size"]


def test_starting_afresh_says_how_much_is_skipped(tmp: Path) -> None:
    log = tmp / "logs" / "app.log"
    log.write_text("".join(f"line {i}\n" for i in range(10)))
    (tmp / "positions.json").write_text("{ not json")
    r = subprocess.Popen([LOGMETRICS, "run", str(log), "--output", str(tmp / "events.jsonl"), "--positions",
                          str(tmp / "positions.json"), "--listen", "", "--start-at", "end"],
                         stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    try:
        wait_until(lambda: (tmp / "positions.json").read_text().startswith('{"version"'), what="a save")
    finally:
        r.send_signal(signal.SIGTERM)
        _, err = r.communicate(timeout=10)
    logs = [json.loads(x) for x in err.decode().splitlines()]
    assert any("corrupt positions file" in x.get("error", "") for x in logs)
    skipped = next(x for x in logs if "skipped_lines" in x)
    assert skipped["path"] == str(log) and skipped["skipped_lines"] == 10 and skipped["skipped_bytes"] == 70


def test_healthz_says_when_positions_cannot_be_saved(tmp: Path) -> None:
    (tmp / "logs" / "app.log").write_text("one\n")
    r = Run(tmp)
    wait_until(lambda: lines(tmp) == ["one"] and (tmp / "positions.json").exists(), what="the event, saved")
    os.remove(tmp / "positions.json")
    (tmp / "positions.json").mkdir()  # a folder where the file was: every save now fails
    (tmp / "logs" / "app.log").write_text("one\ntwo\n")
    wait_until(lambda: r.get("/healthz")[0] == 503, what="503")
    body = json.loads(r.get("/healthz")[1])
    assert body["status"] == "positions_failing" and body["positions_error"]
    r.stop()


# --- damaged input --------------------------------------------------------------------------------


def test_a_corrupt_or_truncated_gzip_is_one_line_and_the_rest_is_read(tmp: Path) -> None:
    n = 50_000  # several deflate blocks: a truncated stream still gives its first lines
    good = gzip.compress(b"".join(b"line %d %x\n" % (i, i * 2654435761 % 2**32) for i in range(n)))
    (tmp / "logs" / "truncated.log.1.gz").write_bytes(good[: len(good) // 2])
    (tmp / "logs" / "corrupt.log.2.gz").write_bytes(good[:20] + b"\x00" * 200 + good[220:])
    (tmp / "logs" / "fine.log").write_text("still read\n")
    r = run_cli("replay", str(tmp / "logs"), "--format", "events", "--no-progress", "--jobs", "1")
    err = r.stderr.decode().splitlines()
    assert r.returncode == 1 and len(err) == 2 and "Traceback" not in r.stderr.decode(), err
    assert any("truncated.log.1.gz: compressed file ends early" in x for x in err)
    assert any("corrupt.log.2.gz: compressed data is corrupt" in x for x in err)
    got = [json.loads(x)["line"] for x in r.stdout.splitlines()]
    assert "still read" in got and 0 < sum(x.startswith("line ") for x in got) < n  # the readable part
    r2 = run_cli("replay", str(tmp / "logs"), "--format", "prom", "--no-progress", "--jobs", "2")
    assert r2.returncode == 1
    assert 'logmetrics_read_errors_total{reason="damaged"} 2.0' in r2.stdout.decode()


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_an_unreadable_file_in_a_folder_is_named_and_the_rest_read(tmp: Path) -> None:
    (tmp / "logs" / "secret.log").write_text("x\n")
    (tmp / "logs" / "secret.log").chmod(0)
    (tmp / "logs" / "fine.log").write_text("still read\n")
    r = run_cli("replay", str(tmp / "logs"), "--format", "events", "--no-progress")
    assert r.returncode == 1 and b"secret.log: cannot read: Permission denied" in r.stderr
    assert b"still read" in r.stdout


def test_parse_holds_a_long_line_in_bounded_memory(tmp: Path) -> None:
    """200 MB without a newline on stdin: cut at max_line_bytes while reading, never held whole."""
    out = tmp / "out.jsonl"
    feed = [sys.executable, "-c", "import sys\nfor _ in range(200): sys.stdout.buffer.write(b'a' * (1 << 20))"]
    with open(out, "wb") as sink:
        producer = subprocess.Popen(feed, stdout=subprocess.PIPE)
        parse = subprocess.Popen(["/usr/bin/time", "-f", "%M", LOGMETRICS, "parse"], stdin=producer.stdout,
                                 stdout=sink, stderr=subprocess.PIPE)
        assert producer.stdout is not None
        producer.stdout.close()
        _, err = parse.communicate(timeout=120)
        producer.wait(timeout=10)
    peak_mb = int(err.decode().split()[-1]) // 1024
    events_ = [json.loads(x) for x in out.read_bytes().splitlines()]
    assert len(events_) == 1 and len(events_[0]["line"]) == 1 << 20  # one event, its line cut at 1 MiB
    assert peak_mb < 120, peak_mb  # not 2 x 200 MB


# --- one hostile line never stalls the endpoints or shutdown ----------------------------------------


def test_endpoints_answer_and_sigterm_ends_while_hostile_lines_are_processed(tmp: Path) -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, resource.getrlimit(resource.RLIMIT_NOFILE))
    hostile = "https://" + "a" * 500_000 + ":" + "b" * 500_000 + "\n"  # 1 MB: the old url rule took minutes
    with open(tmp / "logs" / "evil.log", "w") as f:
        for _ in range(30):
            f.write(hostile)
    r = Run(tmp)
    slowest = 0.0
    stop = threading.Event()

    def scrape() -> None:
        nonlocal slowest
        while not stop.is_set():
            for path in ("/healthz", "/metrics"):
                t0 = time.monotonic()
                code, _ = r.get(path)
                slowest = max(slowest, time.monotonic() - t0)
                assert code in (200, 503)

    th = threading.Thread(target=scrape)
    th.start()
    try:
        wait_until(lambda: len(events(tmp)) >= 5, timeout=60, what="some hostile lines processed")
    except BaseException:
        r.stop()  # no process left behind when the wait fails
        raise
    finally:
        stop.set()
        th.join()
    code, took = r.stop()
    assert code == 0 and took < 2.0, (code, took)
    assert slowest < 1.0, slowest
